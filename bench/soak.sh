#!/usr/bin/env bash
# Soak: watch a real VM (the tiny guest, busy disk and CPU) in the real dashboard at a 0.25 s
# interval for MINUTES (default 10), sampling qemu-dash's resident memory every 10 s.
# Memory must stay flat: histories and the event log are bounded.
#
#   bench/soak.sh [MINUTES]
#
# Needs: qemu-system-x86_64 and qemu-img (or QEMU_DASH_QEMU), tmux, and the guest
# (bash assets/guest/build.sh). Prints a table and a summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
qemu=${QEMU_DASH_QEMU:-qemu-system-x86_64}
guest=${QEMU_DASH_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-dash/guest}
command -v tmux >/dev/null || { echo "soak: needs tmux (apt-get install tmux)" >&2; exit 1; }
[[ -f $guest/vmlinuz ]] || { echo "soak: build the guest first: bash assets/guest/build.sh" >&2; exit 1; }
cargo build --release --locked -q
bin=$PWD/target/release/qemu-dash

work=$(mktemp -d)
session=qemu-dash-soak-$$
tmux_() { tmux -L "$session" "$@"; }
qemu_pid=
cleanup() {
    tmux_ kill-server 2>/dev/null || true
    [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

qemu-img create -q -f qcow2 "$work/disk.qcow2" 64M
"$qemu" -accel tcg -m 256 -nodefaults -display none -name soak \
    -kernel "$guest/vmlinuz" -initrd "$guest/initrd.gz" -append "console=ttyS0 quiet" \
    -serial "file:$work/serial.log" -device virtio-balloon \
    -drive "file=$work/disk.qcow2,if=virtio,id=disk0" \
    -qmp "unix:$work/qmp.sock,server=on,wait=off" &
qemu_pid=$!
for _ in $(seq 100); do [[ -S $work/qmp.sock ]] && break; sleep 0.1; done

tmux_ new-session -d -s "$session" -x 160 -y 45 "$bin --interval 0.25 $work/qmp.sock"
sleep 1
dash_pid=$(pgrep -n -f "$bin --interval 0.25 $work/qmp.sock")

printf '%8s %10s %10s\n' elapsed rss_kib qemu_cpu_s
samples=$((minutes * 6))
first= last= max=0
for i in $(seq 0 "$samples"); do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$dash_pid/status")
    qcpu=$(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$qemu_pid/stat")
    printf '%7ss %10s %10s\n' $((i * 10)) "$rss" "$qcpu"
    first=${first:-$rss}; last=$rss; (( rss > max )) && max=$rss
    (( i < samples )) && sleep 10
done
screen=$(tmux_ capture-pane -p -t "$session" | head -n 3)
echo "$screen"
echo "soak: ${minutes} min at 0.25 s: qemu-dash RSS first ${first} KiB, last ${last} KiB, max ${max} KiB"
