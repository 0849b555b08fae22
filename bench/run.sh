#!/usr/bin/env bash
# qemu-dash benchmark suite: QMP round trip, collector CPU per VM-poll, cost to QEMU,
# rendering, bytes written to the terminal, key-to-effect latency, peak memory.
#
#   bench/run.sh                 # ~28 minutes at 5 rounds (BENCH_ROUNDS=4: ~24); writes bench/RESULTS.md
#   BENCH_LONG=1 bench/run.sh    # longer windows, more rounds, 10-minute memory run
#   bench/run.sh --quick         # ~2-3 minutes, 10 VMs, short windows: for catching
#                                # regressions before stopping work; writes
#                                # target/bench/RESULTS-quick.md and compares every figure with
#                                # the previous quick run (bench/compare.py, moves over 20 %)
#
# Knobs (environment): BENCH_WINDOW (measured seconds per collector window, default 10),
# BENCH_ROUNDS (collector rounds, 5), BENCH_MEMORY_MINUTES (2), BENCH_VMS (largest VM count,
# 100), BENCH_COUNTS (collector VM counts, 1,10,50,BENCH_VMS), BENCH_STEPS (the steps to run,
# comma-separated: rtt,render,collector,plain,exporter,bytes,fleet,keys,memory; default all),
# BENCH_APPEND=1 (add to the raw figures of the previous run instead of starting afresh, so
# a long run can be split into several shorter ones on a shared machine), BENCH_PYTHON (the
# interpreter of the Python baselines, /usr/bin/python3: the distribution's optimised build),
# BENCH_RESULTS (output, bench/RESULTS.md), CARGO_TARGET_DIR, QEMU_DASH_QEMU,
# QEMU_DASH_QEMU_IMG, QEMU_DASH_GUEST_DIR.
#
# Needs qemu-system-x86_64, qemu-img, python3 with venv (qemu.qmp is installed from PyPI into
# a venv under the target dir) and, for the busy-terminal figure, the tiny guest
# (bash assets/guest/build.sh). Every QEMU it starts is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}
qemu=${QEMU_DASH_QEMU:-qemu-system-x86_64}
qemu_img=${QEMU_DASH_QEMU_IMG:-qemu-img}
guest=${QEMU_DASH_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-dash/guest}
long=${BENCH_LONG:-0}
quick=0
[[ ${1:-} == --quick ]] && quick=1
if [[ $quick == 1 ]]; then
    window=${BENCH_WINDOW:-4} rounds=${BENCH_ROUNDS:-1} memory_minutes=${BENCH_MEMORY_MINUTES:-0.25}
elif [[ $long == 1 ]]; then
    window=${BENCH_WINDOW:-20} rounds=${BENCH_ROUNDS:-3} memory_minutes=${BENCH_MEMORY_MINUTES:-10}
else
    window=${BENCH_WINDOW:-10} rounds=${BENCH_ROUNDS:-5} memory_minutes=${BENCH_MEMORY_MINUTES:-2}
fi
if [[ $quick == 1 ]]; then
    many=${BENCH_VMS:-10}
    results_md=${BENCH_RESULTS:-$target_dir/bench/RESULTS-quick.md}
else
    many=${BENCH_VMS:-100}
    results_md=${BENCH_RESULTS:-$root/bench/RESULTS.md}
fi
steps=${BENCH_STEPS:-rtt,render,collector,plain,exporter,bytes,fleet,keys,memory}
wants() { [[ ,$steps, == *,$1,* ]]; }
base_python=${BENCH_PYTHON:-/usr/bin/python3}
[[ -x $base_python ]] || base_python=$(command -v python3)

step() { printf '\n== [%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
for tool in "$qemu" "$qemu_img" python3 cargo; do
    command -v "$tool" >/dev/null || die "needs $tool"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/qemu-dash-bench.XXXXXX")
qemu_pids=()
job_pids=()
cleanup() {
    local pid
    for pid in "${job_pids[@]}" "${qemu_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${job_pids[@]}" "${qemu_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_qemu LIST NAME ARGS...: a QEMU with a qcow2 disk and two QMP sockets (one for the
# program under test, one for an observer); appends "PID SOCKET OBSERVER" to LIST.
start_qemu() {
    local list=$1 name=$2
    shift 2
    local dir=$work/$name
    mkdir -p "$dir"
    "$qemu_img" create -q -f qcow2 "$dir/disk.qcow2" 64M
    "$qemu" -accel tcg -nodefaults -display none -name "$name" "$@" \
        -qmp "unix:$dir/qmp.sock,server=on,wait=off" \
        -qmp "unix:$dir/obs.sock,server=on,wait=off" \
        </dev/null >"$dir/qemu.log" 2>&1 &
    qemu_pids+=("$!")
    echo "$! $dir/qmp.sock $dir/obs.sock" >>"$list"
}

wait_sockets() {
    local list=$1 pid socket observer
    while read -r pid socket observer; do
        for _ in $(seq 200); do
            [[ -S $socket && -S $observer ]] && break
            kill -0 "$pid" 2>/dev/null || die "QEMU $pid exited: $(cat "$(dirname "$socket")/qemu.log")"
            sleep 0.05
        done
        [[ -S $socket ]] || die "no QMP socket at $socket"
    done <"$list"
}

stop_qemus() {
    local list=$1 pid rest
    while read -r pid rest; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done <"$list"
}

mkdir -p "$target_dir/bench"
if [[ $quick == 1 ]]; then
    results=$target_dir/bench/quick.jsonl
    [[ -s $results ]] && mv "$results" "$target_dir/bench/quick.prev.jsonl"
else
    results=$target_dir/bench/results.jsonl
fi
[[ ${BENCH_APPEND:-0} == 1 ]] || : >"$results"
cat /proc/loadavg >"$work/load-start"
date -R >"$work/date"

step "python venv with qemu.qmp"
venv=$target_dir/bench-venv
if ! "$venv/bin/python" -c 'import qemu.qmp' 2>/dev/null; then
    "$base_python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'qemu.qmp==0.0.6'
fi
py=$venv/bin/python

step "build (release)"
cargo build --release --locked -q
suite=$(cargo bench --no-run --locked -q --bench suite --message-format=json |
    "$py" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "suite":
        print(m["executable"])')
dash=$target_dir/release/qemu-dash
[[ -x $suite && -x $dash ]] || die "build did not produce the binaries"

step "start $many QEMUs (-M none, qcow2 disk), one plain VM (pc, 1 vCPU, virtio disk, no OS), one for round trips"
wants collector || wants exporter || wants memory || wants fleet || many=1
for i in $(seq 0 $((many - 1))); do
    start_qemu "$work/none.list" "none$i" -M none \
        -drive "file=$work/none$i/disk.qcow2,format=qcow2,if=none,id=disk0"
done
start_qemu "$work/plain.list" plain -m 128 \
    -drive "file=$work/plain/disk.qcow2,format=qcow2,if=virtio,id=disk0"
# The round-trip QEMU: one socket per client (a QMP socket serves one client at a time).
start_qemu "$work/rtt.list" rtt -M none $(for s in c d e f; do
    printf -- '-qmp unix:%s,server=on,wait=off ' "$work/rtt/$s.sock"
done)
wait_sockets "$work/none.list"
wait_sockets "$work/plain.list"
wait_sockets "$work/rtt.list"
sleep 2 # let the plain VM's firmware give up looking for a boot disk
plain_socket=$(awk '{print $2}' "$work/plain.list")
plain_observer=$(awk '{print $3}' "$work/plain.list")

step "1. QMP round trip (query-status): qemu-dash client vs raw socket vs qemu.qmp"
for _ in $(seq 100); do [[ -S $work/rtt/f.sock ]] && break; sleep 0.05; done
wants rtt && "$suite" rtt --socket "$work/rtt/qmp.sock" --socket "$work/rtt/obs.sock" --socket "$work/rtt/c.sock" \
    --socket "$work/rtt/d.sock" --socket "$work/rtt/e.sock" --python-socket "$work/rtt/f.sock" \
    --python "$py $root/bench/qmp_rtt.py" >>"$results"

step "4a. rendering: time and bytes per frame"
wants render && "$suite" render >>"$results"

counts=${BENCH_COUNTS:-1,10,50,$many}
((many > 50)) || counts=${BENCH_COUNTS:-1,10,$many}
((many > 10)) || counts=${BENCH_COUNTS:-1,$many}
if wants collector; then
    step "2+3. collector CPU per VM-poll and cost to QEMU: $counts x -M none, ${rounds}x${window} s each (floor, qemu-dash, Python on $base_python)"
    "$suite" collector --binary "$dash" --vms "$work/none.list" --counts "$counts" \
        --label="-M none + qcow2" --python "$base_python $root/bench/monitor.py" \
        --window "$window" --rounds "$rounds" >>"$results"
fi
if wants plain; then
    step "2+3. the same on the plain VM"
    "$suite" collector --binary "$dash" --vms "$work/plain.list" --counts 1 \
        --label="pc, idle, no OS" --python "$base_python $root/bench/monitor.py" \
        --window "$window" --rounds "$rounds" >>"$results"
fi

if wants exporter; then
    step "7. exporter: time per scrape watching $many VMs"
    "$suite" exporter --binary "$dash" --vms "$work/none.list" --count "$many" >>"$results"
fi

if wants bytes; then
    step "4b. bytes written to the terminal, idle VM"
    "$suite" bytes --binary "$dash" --socket "$plain_socket" --label idle >>"$results"
fi

if wants fleet; then
    fleet_vms=$((many < 50 ? many : 50))
    step "4c. the fleet table: $fleet_vms VMs at 0.25 s, 240x67, the dashboard's CPU and frames"
    "$suite" fleet --binary "$dash" --vms "$work/none.list" --count "$fleet_vms" --interval 0.25 \
        --seconds "$window" --rounds "$rounds" >>"$results"
fi

if wants keys; then
    step "5. key to effect: p / space"
    "$suite" keys --binary "$dash" --socket "$plain_socket" --observer "$plain_observer" >>"$results"
fi

if wants memory; then
step "6. memory: 1 and $many VMs for $memory_minutes min at 0.25 s (and 4b busy meanwhile)"
seconds=$(awk -v m="$memory_minutes" 'BEGIN {print m * 60}')
"$suite" memory --binary "$dash" --vms "$work/plain.list" --count 1 --seconds "$seconds" \
    >"$work/memory1.jsonl" &
job_pids+=("$!")
"$suite" memory --binary "$dash" --vms "$work/none.list" --count "$many" --seconds "$seconds" \
    >"$work/memory-many.jsonl" &
job_pids+=("$!")
if [[ $quick == 0 && -f $guest/vmlinuz && -f $guest/initrd.gz ]]; then
    start_qemu "$work/guest.list" guest -m 256 -kernel "$guest/vmlinuz" \
        -initrd "$guest/initrd.gz" -append "console=ttyS0 quiet" \
        -serial "file:$work/guest/serial.log" -device virtio-balloon \
        -drive "file=$work/guest/disk.qcow2,format=qcow2,if=virtio,id=disk0"
    wait_sockets "$work/guest.list"
    for _ in $(seq 600); do
        grep -q "qemu-dash guest ready" "$work/guest/serial.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "qemu-dash guest ready" "$work/guest/serial.log" || die "the guest did not boot"
    sleep 2 # the workload starts after the ready line
    "$suite" bytes --binary "$dash" --socket "$(awk '{print $2}' "$work/guest.list")" \
        --label="busy (guest with disk I/O)" >>"$results"
    stop_qemus "$work/guest.list"
else
    echo "bench: no guest in $guest (bash assets/guest/build.sh): busy figure skipped" >&2
fi
for pid in "${job_pids[@]}"; do
    wait "$pid"
done
job_pids=()
cat "$work/memory1.jsonl" "$work/memory-many.jsonl" >>"$results"
fi

step "report"
cat /proc/loadavg >"$work/load-end"
"$py" "$root/bench/report.py" --results "$results" --out "$results_md" \
    --qemu "$qemu" --date "$(cat "$work/date")" \
    --load-start "$(cat "$work/load-start")" --load-end "$(cat "$work/load-end")" \
    --seconds "$SECONDS" --settings "window ${window} s, rounds ${rounds}, memory ${memory_minutes} min, up to ${many} VMs"
step "done: $results_md (raw figures in $results)"
if [[ $quick == 1 ]]; then
    if [[ -s $target_dir/bench/quick.prev.jsonl ]]; then
        step "compared with the previous quick run"
        "$py" "$root/bench/compare.py" "$target_dir/bench/quick.prev.jsonl" "$results"
    else
        echo "bench: first quick run here; the next one is compared with it" >&2
    fi
fi
