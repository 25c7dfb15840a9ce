#!/usr/bin/env bash
#! `make demo`: boots trixie's 6.12 kernel (or $BPFGATE_DEMO_KERNEL: trixie|sid) in QEMU with the gate and
#! shows trusted vs untrusted loaders. Usage: tests/vm/demo.sh STAGEDIR (from tests/vm/prepare.sh)
set -euo pipefail
vm=$1
suite=${BPFGATE_DEMO_KERNEL:-trixie}
cache=${BPFGATE_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/kernels}
cp "$vm/disk.img" "$vm/disk-demo.img"
log=$vm/demo.log
timeout 600 qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
    -kernel "$cache/$suite/vmlinuz" -initrd "$vm/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 loglevel=1 bpfgate_demo" \
    -drive "file=$vm/disk-demo.img,format=raw,if=none,id=d0" -device nvme,drive=d0,serial=demo \
    </dev/null >"$log" 2>&1 || true
tr -d '\r' <"$log" | sed -n 's/^| \{0,1\}//p'
grep -q '^@@ done' <(tr -d '\r' <"$log") || { echo "demo: the guest did not finish; see $log" >&2; exit 1; }
