#!/usr/bin/env bash
#! Enables fs-verity on the distro image's listed files (tests/guest/distro-prep.sh in the VM-test initramfs, on
#! the cached trixie kernel). Usage: tests/distro/prep.sh VMDIR DISTRODIR
set -euo pipefail
vm=$1; d=$2
kernel=${BPFGATE_KERNEL_CACHE:-$HOME/.cache/bpfgate/kernels}/trixie/vmlinuz
timeout 900 qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
    -kernel "$kernel" -initrd "$vm/initramfs.cpio" -append "console=ttyS0 panic=-1 loglevel=4 bpfgate_distro_prep" \
    -drive "file=$d/root.img,format=raw,if=none,id=d0" -device nvme,drive=d0,serial=bpfgate \
    </dev/null >"$d/prep.log" 2>&1 || true
line=$(grep -a '@@ distro_enrolled' "$d/prep.log" | tr -d '\r' || true)
echo "distro prep: ${line#*@@ }"
case $line in
*"bad=0"*) touch "$d/.prepared" ;;
*) grep -a '@@ enroll_failed' "$d/prep.log" | head -5 >&2; echo "distro prep failed; log: $d/prep.log" >&2; exit 1 ;;
esac
