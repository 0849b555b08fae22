#!/usr/bin/env bash
# Build the qemu-dash demo guest: a Debian cloud kernel and a busybox initramfs
# whose /init loads the virtio drivers, answers the ACPI power button, prints
# "qemu-dash guest ready" on the console and keeps the disk and the CPU busy in bursts.
#
# Usage: assets/guest/build.sh [OUTPUT_DIR]
#   OUTPUT_DIR defaults to ${QEMU_DASH_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-dash/guest}
# Produces OUTPUT_DIR/vmlinuz, OUTPUT_DIR/initrd.gz and OUTPUT_DIR/VERSION.
# Needs Debian's apt-get/apt-cache/dpkg-deb (packages are downloaded, not installed;
# root is not needed as long as the apt package lists are present).
# Boot it with:  -kernel vmlinuz -initrd initrd.gz -append "console=ttyS0 quiet"
# Kernel command line extra: qemu_dash.workload=off  (no disk or CPU workload)
set -euo pipefail

# Bump whenever the guest changes: an existing guest with another VERSION is rebuilt.
GUEST_VERSION=1
KERNEL_META=linux-image-cloud-amd64
# Modules to load, in this order; their dependencies are loaded before them.
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
    virtio_blk button evdev virtio_balloon)

log() { printf 'guest build: %s\n' "$*" >&2; }
die() { printf 'guest build: error: %s\n' "$*" >&2; exit 1; }

out=${1:-${QEMU_DASH_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-dash/guest}}

is_built() {
    [[ -s $out/vmlinuz && -s $out/initrd.gz && -r $out/VERSION ]] &&
        [[ $(head -n1 "$out/VERSION") == "GUEST_VERSION=$GUEST_VERSION" ]]
}

if is_built; then
    log "up to date in $out"
    exit 0
fi

for cmd in apt-get apt-cache dpkg-deb; do
    command -v "$cmd" >/dev/null 2>&1 ||
        die "building the demo guest needs Debian's apt-get, apt-cache and dpkg-deb ($cmd not found); build it on Debian 12 or in a debian:12 container, or pass your own -kernel/-initrd"
done
for cmd in gzip find; do
    command -v "$cmd" >/dev/null 2>&1 || die "building the demo guest needs $cmd"
done
arch=$(dpkg --print-architecture 2>/dev/null || true)
[[ $arch == amd64 ]] || die "the demo guest is built from amd64 packages; this system is '${arch:-unknown}'"

mkdir -p "$out"
out=$(cd "$out" && pwd)

# One build at a time per output folder; a waiting build then finds the result ready.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.build.lock"
    flock 9
    if is_built; then
        log "up to date in $out (built meanwhile)"
        exit 0
    fi
fi

tmp=$(mktemp -d)
vm_tmp='' rd_tmp='' ver_tmp=''
cleanup() { rm -rf "$tmp"; rm -f ${vm_tmp:+"$vm_tmp"} ${rd_tmp:+"$rd_tmp"} ${ver_tmp:+"$ver_tmp"}; }
trap cleanup EXIT

# --- download ---------------------------------------------------------------------

kernel_pkg() {
    apt-cache depends "$KERNEL_META" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
kpkg=$(kernel_pkg)
if [[ -z $kpkg && $EUID -eq 0 ]]; then
    log "apt does not know $KERNEL_META: running apt-get update"
    apt-get update -qq >"$tmp/apt.log" 2>&1 || { tail -n 20 "$tmp/apt.log" >&2; die "apt-get update failed"; }
    kpkg=$(kernel_pkg)
fi
[[ -n $kpkg ]] || die "apt does not know $KERNEL_META (run 'apt-get update' as root first)"

log "downloading $kpkg and busybox-static"
mkdir "$tmp/debs"
# As root, apt downloads as the unprivileged _apt user: let it write there.
if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$tmp/debs"; fi
if ! (cd "$tmp/debs" && apt-get download "$kpkg" busybox-static) >"$tmp/apt.log" 2>&1; then
    tail -n 20 "$tmp/apt.log" >&2
    die "apt-get download $kpkg busybox-static failed"
fi

log "extracting"
dpkg-deb -x "$tmp/debs/$kpkg"_*.deb "$tmp/kernel"
dpkg-deb -x "$tmp/debs"/busybox-static_*.deb "$tmp/busybox"
kver=$(find "$tmp/kernel/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n1)
[[ -n $kver && -f $tmp/kernel/boot/vmlinuz-$kver ]] || die "no kernel found in $kpkg"
busybox=$tmp/busybox/bin/busybox
[[ -x $busybox ]] || die "no busybox found in busybox-static"

# --- initramfs tree -----------------------------------------------------------------

root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,var/log,lib/modules,etc/acpi/PWRF}
cp "$busybox" "$root/bin/busybox"

# Kernel modules: resolve dependencies from each module's "depends=" field, so
# that every module comes after the ones it needs (virtio_ring before virtio, ...).
moddir=$tmp/kernel/lib/modules/$kver
declare -A modfile=() seen=()
while IFS= read -r f; do
    name=$(basename "$f" .ko)
    modfile[${name//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko')
order=()
add_module() {
    local m=${1//-/_} dep deps
    [[ -n ${seen[$m]:-} ]] && return 0
    seen[$m]=1
    if [[ -z ${modfile[$m]:-} ]]; then
        if grep -q "/${m}.ko\$" "$moddir/modules.builtin" 2>/dev/null; then return 0; fi
        log "warning: kernel $kver has no module $m; the guest will do without it"
        return 0
    fi
    deps=$(tr '\0' '\n' <"${modfile[$m]}" | sed -n 's/^depends=//p' | head -n1)
    for dep in ${deps//,/ }; do add_module "$dep"; done
    order+=("$m")
}
for m in "${MODULES[@]}"; do add_module "$m"; done
for m in "${order[@]}"; do cp "${modfile[$m]}" "$root/lib/modules/$m.ko"; done
printf '%s\n' "${order[@]}" >"$root/etc/modules"
log "modules: ${order[*]}"

cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# Run by busybox acpid on an ACPI power button press (QMP system_powerdown).
echo "qemu-dash guest: power button pressed, powering off" >/dev/console
sync
poweroff -f
EOF

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# /init of the qemu-dash demo guest (written by assets/guest/build.sh).
/bin/busybox --install -s
mount -t devtmpfs devtmpfs /dev
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
hostname qemu-dash-guest

say() { echo "qemu-dash guest: $*"; }

for m in $(cat /etc/modules); do
    insmod "/lib/modules/$m.ko" 2>/dev/null || say "warning: could not load module $m"
done

# ACPI power button -> busybox acpid -> /etc/acpi/PWRF/00000080 -> poweroff -f.
# acpid opens /dev/input/event0, event1, ... when it starts: wait for those nodes.
i=0
while [ $i -lt 30 ]; do
    missing=
    for e in /sys/class/input/event*; do
        [ -e "$e" ] && [ ! -e "/dev/input/${e##*/}" ] && missing=1
    done
    [ -z "$missing" ] && break
    sleep 0.1
    i=$((i + 1))
done
acpid -l /var/log/acpid.log || say "warning: acpid did not start"

# Bursts of disk I/O on /dev/vda: direct reads here and there, direct writes always
# to the same 1..5 MiB region (so a qcow2 disk does not grow), then a pause.
disk_load() {
    [ -b /dev/vda ] || { say "no /dev/vda: no disk workload"; return; }
    mib=$(($(cat /sys/block/vda/size) / 2048))
    while :; do
        n=$((1 + RANDOM % 8))
        if [ "$mib" -gt "$n" ]; then skip=$((RANDOM % (mib - n))); else skip=0; fi
        dd if=/dev/vda of=/dev/null bs=1M count=$n skip=$skip iflag=direct 2>/dev/null
        if [ "$mib" -ge 5 ]; then
            dd if=/dev/zero of=/dev/vda bs=1M count=$((1 + RANDOM % 4)) seek=1 \
                oflag=direct conv=notrunc 2>/dev/null
        fi
        sleep 1
    done
}

# CPU bursts: a busy loop for 0.3..0.9 s every 2..4 s.
cpu_load() {
    while :; do
        sleep $((2 + RANDOM % 3))
        (while :; do :; done) &
        busy=$!
        sleep 0.$((3 + RANDOM % 7))
        kill $busy
        wait $busy 2>/dev/null
    done
}

say "kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPU(s), $(($(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1024)) MiB, up $(cut -d' ' -f1 /proc/uptime) s"
case " $(cat /proc/cmdline) " in
*" qemu_dash.workload=off "*) say "workload off (qemu_dash.workload=off)" ;;
*) disk_load & cpu_load & ;;
esac
echo "qemu-dash guest ready"

# A shell on the console; if it ends, start another.
while :; do
    setsid cttyhack sh -l
    sleep 1
done
EOF
chmod 755 "$root/init" "$root/etc/acpi/PWRF/00000080"
"$busybox" sh -n "$root/init" || die "syntax error in /init"

log "packing the initramfs"
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 --renumber-inodes --ignore-devno 2>/dev/null) |
    gzip -9n >"$tmp/initrd.gz"

# --- install atomically ----------------------------------------------------------------

vm_tmp=$(mktemp "$out/.vmlinuz.XXXXXX")
rd_tmp=$(mktemp "$out/.initrd.gz.XXXXXX")
ver_tmp=$(mktemp "$out/.VERSION.XXXXXX")
cp "$tmp/kernel/boot/vmlinuz-$kver" "$vm_tmp"
cp "$tmp/initrd.gz" "$rd_tmp"
chmod 644 "$vm_tmp" "$rd_tmp" "$ver_tmp"
printf 'GUEST_VERSION=%s\nkernel=%s\nbusybox=%s\n' "$GUEST_VERSION" "$kpkg $(dpkg-deb -f "$tmp/debs/$kpkg"_*.deb Version)" \
    "$(dpkg-deb -f "$tmp/debs"/busybox-static_*.deb Version)" >"$ver_tmp"
rm -f "$out/VERSION"
mv -f "$vm_tmp" "$out/vmlinuz"
mv -f "$rd_tmp" "$out/initrd.gz"
mv -f "$ver_tmp" "$out/VERSION"
log "built $out/vmlinuz ($(du -k "$out/vmlinuz" | cut -f1) KiB) and $out/initrd.gz ($(du -k "$out/initrd.gz" | cut -f1) KiB), kernel $kver"
