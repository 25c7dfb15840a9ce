#!/usr/bin/env bash
#! Enables fs-verity on the distro image's listed files (tests/guest/distro-prep.sh in the VM-test initramfs, on
#! the cached trixie kernel). Usage: tests/distro/prep.sh VMDIR DISTRODIR [IMAGE]   (IMAGE: default root.img)
set -euo pipefail
vm=$1; d=$2; img=${3:-root.img}
# One marker per image: .prepared for root.img (the trixie root), .prepared-IMAGE for the others.
marker=$d/.prepared; [ "$img" = root.img ] || marker=$d/.prepared-$img
rm -f "$marker"
kernel=${BPFGATE_KERNEL_CACHE:-$HOME/.cache/bpfgate/kernels}/trixie/vmlinuz
timeout 900 qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
    -kernel "$kernel" -initrd "$vm/initramfs.cpio" -append "console=ttyS0 panic=-1 loglevel=4 bpfgate_distro_prep" \
    -drive "file=$d/$img,format=raw,if=none,id=d0" -device nvme,drive=d0,serial=bpfgate \
    </dev/null >"$d/prep-$img.log" 2>&1 || true
line=$(grep -a '@@ distro_enrolled' "$d/prep-$img.log" | tr -d '\r' || true)
echo "distro prep ($img): ${line#*@@ }"
case $line in
*"bad=0"*) touch "$marker" ;;
*) grep -a '@@ enroll_failed' "$d/prep-$img.log" | head -5 >&2; echo "distro prep failed; log: $d/prep-$img.log" >&2; exit 1 ;;
esac
