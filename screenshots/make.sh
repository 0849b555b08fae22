#!/usr/bin/env bash
# Makes PNG screenshots of the real dashboard watching the demo VM (`qemu-dash demo`), then
# three VMs it starts itself (the fleet, a devices screen, a snapshot save in progress):
# a virtual X server (Xvfb), an xterm running the dashboard, keys sent with xdotool and the
# window captured with ImageMagick's `import`.
#
#   screenshots/make.sh            # from anywhere in the repo
#
# Needs (Debian/Ubuntu): xvfb xterm xdotool imagemagick x11-utils fonts-dejavu-core
#                        and optionally optipng (smaller PNGs).
# Plus what `qemu-dash demo` needs: qemu-system-x86 qemu-utils (the guest is built once).
#
# Environment:
#   QEMU_DASH_BIN    the binary (default: target/release/qemu-dash, built with cargo if missing;
#                    honours CARGO_TARGET_DIR)
#   SHOTS_DIR        where the PNGs go (default: screenshots/)
#   SHOTS_WARMUP     seconds to let the guest boot and the graphs move (default 25)
#   SHOTS_FONT       xterm font (default "DejaVu Sans Mono"), SHOTS_FONT_PIXELS its size in
#                    pixels (default 16, about 12 pt: at this size DejaVu's block characters
#                    fill the 10x19 cell exactly, so stacked sparkline rows show no seams)
#   SHOTS_GEOMETRY   xterm size in cells for the large shots (default 200x55; main-80x24.png
#                    is taken at 80x24)
#   SHOTS_TEXT=1     also write NAME.txt, the screen as text, beside each NAME.png
#   QEMU_DASH_QEMU, QEMU_DASH_QEMU_IMG, QEMU_DASH_GUEST_DIR: as for `qemu-dash demo`, for
#                    the three VMs started after the demo
#
# To add a shot, add a line below: `shot NAME [KEY...]` sends the keys (xdotool key names:
# question, r, n, Escape, Tab, shift+P ...), waits, and writes NAME.png; `wait_for SECONDS
# REGEX` first waits until a line of the screen (as text) matches; `shot_while NAME SECONDS
# REGEX` catches a state that does not last.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${SHOTS_DIR:-$here}
warmup=${SHOTS_WARMUP:-25}
font=${SHOTS_FONT:-DejaVu Sans Mono}
font_px=${SHOTS_FONT_PIXELS:-16}
geometry=${SHOTS_GEOMETRY:-200x55}

say() { printf 'make.sh: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

# --- what we need ---------------------------------------------------------------------------
missing=()
need() { # need COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need Xvfb xvfb
need xterm xterm
need xdotool xdotool
need import imagemagick
need xdpyinfo x11-utils
need fc-list fontconfig
if command -v fc-list >/dev/null 2>&1 && [[ -z $(fc-list "$font") ]]; then
    if [[ $font == "DejaVu Sans Mono" ]]; then missing+=(fonts-dejavu-core); else die "font '$font' not found (fc-list)"; fi
fi
if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    die "missing packages; install them with: sudo apt-get install ${missing[*]}"
fi
command -v optipng >/dev/null 2>&1 || say "optipng not found: PNGs will be a bit larger (apt-get install optipng)"

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$repo/$target_dir # cargo reads it from the repo
bin=${QEMU_DASH_BIN:-$target_dir/release/qemu-dash}
if [[ ! -x $bin ]]; then
    [[ -z ${QEMU_DASH_BIN:-} ]] || die "QEMU_DASH_BIN=$bin is not an executable"
    say "building $bin"
    (cd "$repo" && cargo build --release --quiet)
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

# --- clean up on every exit ---------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qemu-dash-shots.XXXXXX")
xvfb_pid=
xterm_pid=
fleet_pids=()
alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }
# stop_demo: if the dashboard is still running (it did not take `q`, or we failed early), stop
# the demo's QEMU ourselves (it runs in its own process group, so killing the xterm would
# leave it behind) and remove the demo's temp dir, found from QEMU's -qmp argument.
stop_demo() {
    local dash qemu arg dir
    dash=$(cat "$tmp/dash.pid" 2>/dev/null) || return 0
    alive "$dash" || return 0
    for qemu in $(ps -o pid= --ppid "$dash" 2>/dev/null); do
        dir=
        while IFS= read -r -d '' arg; do
            [[ $arg == unix:*/qmp.sock* ]] && dir=$(dirname "${arg#unix:}")
        done <"/proc/$qemu/cmdline" || true
        kill "$qemu" 2>/dev/null || true
        if [[ -n $dir && $(basename "$dir") == qemu-dash-demo-* ]]; then
            sleep 0.5
            rm -rf "$dir"
        fi
    done
    kill "$dash" 2>/dev/null || true
}
cleanup() {
    local status=$?
    if alive "$xterm_pid"; then
        # Ask the dashboard to quit first so the demo stops its VM and removes its files.
        [[ -z ${win:-} ]] || press q >/dev/null 2>&1 || true
        for _ in $(seq 100); do alive "$xterm_pid" || break; sleep 0.1; done
        stop_demo
        kill "$xterm_pid" 2>/dev/null || true
        wait "$xterm_pid" 2>/dev/null || true
    fi
    local vm
    for vm in "${fleet_pids[@]}"; do
        kill "$vm" 2>/dev/null || true
        wait "$vm" 2>/dev/null || true
    done
    if alive "$xvfb_pid"; then
        kill "$xvfb_pid" 2>/dev/null || true
        wait "$xvfb_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- X server on a free display --------------------------------------------------------------
# Xvfb picks a free display itself and writes its number on the -displayfd descriptor.
# -noreset: without it the server resets when its last client leaves (the xdpyinfo check
# below), and an xterm started during the reset cannot open the display.
exec {dfd}>"$tmp/display"
Xvfb -displayfd "$dfd" -screen 0 2560x1440x24 -nolisten tcp -noreset \
    >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
exec {dfd}>&-
for _ in $(seq 100); do
    [[ -s $tmp/display ]] && break
    alive "$xvfb_pid" || die "Xvfb failed: $(cat "$tmp/xvfb.log")"
    sleep 0.1
done
[[ -s $tmp/display ]] || die "Xvfb did not report a display"
DISPLAY=":$(head -n1 "$tmp/display")"
export DISPLAY
for _ in $(seq 50); do
    xdpyinfo >/dev/null 2>&1 && break
    alive "$xvfb_pid" || die "Xvfb failed: $(cat "$tmp/xvfb.log")"
    sleep 0.1
done
xdpyinfo >/dev/null 2>&1 || die "cannot connect to Xvfb on $DISPLAY: $(cat "$tmp/xvfb.log")"
say "Xvfb on $DISPLAY"

# --- the dashboard in an xterm -----------------------------------------------------------------
# run BIN DIR ARGS...: records its pid (the dashboard's, after exec) and keeps stderr out of
# the screen.
cat >"$tmp/run" <<'EOF'
#!/usr/bin/env bash
export TERM=xterm-256color
unset COLORTERM
echo $$ >"$2/dash.pid"
exec "$1" "${@:3}" 2>"$2/demo.log"
EOF
chmod +x "$tmp/run"
# start_xterm COLSxROWS ARGS...: the dashboard with ARGS in a new xterm of that size.
start_xterm() {
    local cells=$1
    shift
    xterm -title qemu-dash-shot -geometry "$cells+0+0" -fa "$font:pixelsize=$font_px" \
        -bg '#1c1c1c' -fg '#d0d0d0' -b 0 -bw 0 +sb -xrm 'XTerm*cursorBlink: false' \
        -xrm 'XTerm*renderFont: true' -xrm 'XTerm*forceBoxChars: true' -xrm 'XTerm*termName: xterm-256color' \
        -xrm "XTerm*printFileImmediate: $tmp/screen." -xrm 'XTerm*printAttributes: 0' \
        -xrm 'XTerm*VT100.translations: #override Ctrl Shift<Key>F12: print-immediate()' \
        -e "$tmp/run" "$bin" "$tmp" "$@" >"$tmp/xterm.log" 2>&1 &
    xterm_pid=$!
    win=
    for _ in $(seq 100); do
        win=$(xdotool search --limit 1 --name '^qemu-dash-shot$' 2>/dev/null | head -n1) || true
        [[ -n $win ]] && break
        alive "$xterm_pid" || die "xterm exited: $(cat "$tmp/xterm.log")"
        sleep 0.1
    done
    [[ -n $win ]] || die "the xterm window did not appear"
}
# quit_xterm: q to the dashboard, then wait for its xterm to close.
quit_xterm() {
    press q
    for _ in $(seq 100); do alive "$xterm_pid" || break; sleep 0.1; done
    if alive "$xterm_pid"; then die "the dashboard did not quit on q"; fi
    xterm_pid=
}
start_xterm "$geometry" demo

# press KEY: type a key into the xterm. Sent through XTEST to the focused window (xterm
# ignores synthetic events from `xdotool key --window`); there is no window manager.
press() {
    xdotool windowfocus --sync "$win" key "$1"
}

# screen: print the xterm's screen as plain text (xterm's print-immediate, bound above to a
# key the dashboard never sees).
screen() {
    local dump
    rm -f "$tmp"/screen.*
    press ctrl+shift+F12
    for _ in $(seq 30); do
        dump=$(compgen -G "$tmp/screen.*" | head -n1) || true
        if [[ -n $dump ]]; then
            sleep 0.1
            cat "$dump"
            rm -f "$dump"
            return 0
        fi
        sleep 0.1
    done
    die "xterm did not print its screen"
}

# wait_for SECONDS REGEX: wait until a line of the screen matches REGEX (grep -E); false if it
# did not within SECONDS.
wait_for() {
    local deadline=$((SECONDS + $1))
    while ((SECONDS < deadline)); do
        alive "$xterm_pid" || die "the dashboard exited: $(cat "$tmp/demo.log" 2>/dev/null)"
        screen | grep -Eq -- "$2" && return 0
        sleep 0.5
    done
    return 1
}

# shot NAME [KEY...]: send the keys (xdotool key names), let the screen redraw, save NAME.png.
shot() {
    local name=$1
    shift
    local key
    if (($#)); then
        for key in "$@"; do
            press "$key"
            sleep 0.4
        done
        sleep 1.2
    fi
    alive "$xterm_pid" || die "the dashboard exited before $name.png"
    import -window "$win" -strip "$tmp/$name.png"
    keep "$name"
}

# keep NAME: optimise the captured $tmp/NAME.png and move it to the output folder.
keep() {
    if command -v optipng >/dev/null 2>&1; then optipng -quiet -o2 "$tmp/$1.png"; fi
    mv "$tmp/$1.png" "$out/$1.png"
    [[ -z ${SHOTS_TEXT:-} ]] || screen >"$out/$1.txt"
    say "wrote $out/$1.png ($(($(stat -c %s "$out/$1.png") / 1024)) KiB)"
}

# shot_while NAME SECONDS REGEX: save NAME.png as soon as the screen shows REGEX, for a
# state that does not last (a job in progress): the capture counts only when the screen
# showed REGEX both before and after it. False if that did not happen within SECONDS.
shot_while() {
    local name=$1 deadline=$((SECONDS + $2)) regex=$3
    while ((SECONDS < deadline)); do
        alive "$xterm_pid" || die "the dashboard exited before $name.png"
        if screen | grep -Eq -- "$regex"; then
            import -window "$win" -strip "$tmp/$name.png"
            if screen | grep -Eq -- "$regex"; then
                keep "$name"
                return 0
            fi
        fi
    done
    return 1
}

wait_for 30 ' running ' || die "the demo VM is not running: $(cat "$tmp/demo.log" 2>/dev/null)"
say "waiting ${warmup}s for the guest to boot and the graphs to move"
for _ in $(seq "$warmup"); do
    alive "$xterm_pid" || die "the dashboard exited early: $(cat "$tmp/demo.log" 2>/dev/null)"
    sleep 1
done
# The guest's disk load comes in bursts: take the main view while disk0 reads something.
busy='disk0 .* [0-9.]+ [KMG]iB/s '
wait_for 20 "$busy" || say "disk0 shows no I/O: main.png will show 0 B/s"

# size COLSxROWS: resize the xterm (in cells; the dashboard redraws for the new size).
size() {
    xdotool windowsize --sync --usehints "$win" "${1%x*}" "${1#*x}" >/dev/null 2>&1 ||
        xdotool windowsize --usehints "$win" "${1%x*}" "${1#*x}"
    sleep 1
}

# Add a line here for a new shot, e.g. `wait_for 10 REGEX` then `shot NAME KEY...`.
shot main
size 80x24
shot main-80x24
size "$geometry"
shot help question
shot confirm question r
press n
sleep 0.5
# The monitor console after a command, then the devices screen's media tab.
press colon
sleep 0.5
for key in i n f o space b l o c k Return; do press "$key"; done
wait_for 10 'disk0' || say "info block printed nothing"
shot console
press Escape
sleep 0.5
# The snapshot view after a save: the new snapshot in the list.
press s
sleep 1
press c
sleep 0.5
press Return
wait_for 30 "save '.*': done" || say "the save did not finish"
shot snapshots
# Quit the dashboard: the demo stops its VM and removes its temp dir.
quit_xterm

# --- three VMs started here, watched together ------------------------------------------------
# web-frontend runs the demo's guest (its disk busy) with a CD-ROM. build-cache and
# ci-runner-02 have no OS; one is paused from the dashboard. build-cache has 16 GiB of guest
# RAM (untouched, so it costs the host nothing): QEMU scans every page when it saves the VM
# state, so a snapshot save lasts about a second, long enough to be seen.
# Each has its QMP socket in the temp dir; cleanup stops them.
qemu=${QEMU_DASH_QEMU:-qemu-system-x86_64}
qemu_img=${QEMU_DASH_QEMU_IMG:-qemu-img}
guest=${QEMU_DASH_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-dash/guest}
fleet=$tmp/fleet
mkdir -p "$fleet"
# fleet_vm NAME QEMU-ARGS...: a VM with a QMP socket, its output in NAME.log.
fleet_vm() {
    local name=$1
    shift
    "$qemu" -name "$name" -accel tcg -nodefaults -display none \
        -qmp "unix:$fleet/$name.qmp,server=on,wait=off" "$@" >"$fleet/$name.log" 2>&1 &
    fleet_pids+=("$!")
}
for name in web-frontend build-cache ci-runner-02; do
    "$qemu_img" create -q -f qcow2 "$fleet/$name.qcow2" 1G
done
"$qemu_img" create -q -f raw "$fleet/tools.iso" 4M
os=()
if [[ -f $guest/vmlinuz && -f $guest/initrd.gz ]]; then
    os=(-kernel "$guest/vmlinuz" -initrd "$guest/initrd.gz" -append "console=ttyS0 quiet"
        -serial "file:$fleet/web-frontend.serial")
else
    say "no guest in $guest: every VM runs without an OS"
fi
fleet_vm web-frontend -m 256 -smp 2 "${os[@]}" \
    -drive "file=$fleet/web-frontend.qcow2,if=virtio,id=disk0" \
    -drive "if=none,id=cd0,media=cdrom,format=raw,readonly=on,file=$fleet/tools.iso" \
    -device ide-cd,drive=cd0,id=cdrom0
fleet_vm build-cache -m 16G -smp 4 -drive "file=$fleet/build-cache.qcow2,if=virtio,id=disk0"
fleet_vm ci-runner-02 -m 1024 -smp 2 -drive "file=$fleet/ci-runner-02.qcow2,if=virtio,id=disk0"
for name in web-frontend build-cache ci-runner-02; do
    for _ in $(seq 100); do [[ -S $fleet/$name.qmp ]] && break; sleep 0.1; done
    [[ -S $fleet/$name.qmp ]] || die "the VM $name did not start: $(cat "$fleet/$name.log")"
done
start_xterm 120x18 "unix:$fleet/web-frontend.qmp" "unix:$fleet/build-cache.qmp" \
    "unix:$fleet/ci-runner-02.qmp"
wait_for 30 '3 connected' || die "the VMs did not connect: $(screen)"
say "waiting ${warmup}s for the fleet's figures to move"
sleep "$warmup"
# Mark ci-runner-02 (the second row: sorted by name) and pause it, which asks first: the
# fleet shows a paused VM beside running ones.
for key in Home Down space p y; do
    press "$key"
    sleep 0.4
done
wait_for 10 'paused' || say "no VM shows paused"
sleep 2
shot fleet
# web-frontend's devices screen (its CD-ROM), then build-cache's snapshot view while a save
# runs.
for key in slash w e b Return Return; do
    press "$key"
    sleep 0.4
done
size 160x36
wait_for 10 'Block devices' || die "web-frontend did not open"
press m
wait_for 10 'tools.iso' || say "the CD-ROM's medium is not shown"
shot devices
# Back to the fleet (devices, dashboard, fleet), and open build-cache.
for key in Escape Escape Escape slash ctrl+u b u i l d Return Return; do
    press "$key"
    sleep 0.4
done
wait_for 10 'build-cache' || say "build-cache did not open"
press s
sleep 1
press c
sleep 0.5
press Return
shot_while snapshots-job 30 "save '[^']*' \(" ||
    say "the save ran too quickly to be seen: no snapshots-job.png"
wait_for 60 "save '.*': done" || say "the save did not finish"
quit_xterm
