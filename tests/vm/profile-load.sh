#!/usr/bin/env bash
#! Where `bpfgate load` spends its time, without the tracer's own cost inflating small functions: boots SUITE's
#! kernel (icount) with the staged initramfs, its default scenario replaced by tests/vm/profile-load-guest.sh, which
#! traces a fixed list of functions with the function-graph tracer (durations summed by caller > callee) and records
#! every btf_find_by_name_kind name with a kprobe. Not part of `make test`; docs/performance.md has its findings.
#! Usage: tests/vm/profile-load.sh STAGEDIR [SUITE]   (needs cpio; STAGEDIR from `make stage`)
set -euo pipefail
vm=$1; suite=${2:-trixie}
here=$(cd "$(dirname "$0")" && pwd)
command -v cpio >/dev/null || { echo "profile-load: needs cpio (apt-get install cpio)" >&2; exit 1; }
cache=${BPFGATE_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/kernels}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/root"; cp "$here/profile-load-guest.sh" "$work/root/scenarios.sh"
(cd "$work/root" && echo scenarios.sh | cpio -o -H newc 2>/dev/null) >"$work/extra.cpio"
# A later archive's file replaces an earlier one's: the kernel unpacks both.
cat "$vm/initramfs.cpio" "$work/extra.cpio" >"$work/initramfs.cpio"
cp "$vm/disk.img" "$work/disk.img"
timeout 900 qemu-system-x86_64 -accel tcg -icount shift=0,sleep=off -m 1024 -smp 1 -nographic -no-reboot \
    -nodefaults -serial stdio -kernel "$cache/$suite/vmlinuz" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 loglevel=1" -drive "file=$work/disk.img,format=raw,if=none,id=d0" \
    -device nvme,drive=d0,serial=profile </dev/null >"$work/out.log" 2>&1 || true
tr -d '\r' <"$work/out.log" | grep -o '@@ .*' | sed 's/^@@ //' >"$work/obs"
grep -q '^load bpfgate: active' "$work/obs" || { echo "profile-load: the guest did not load the gate:" >&2; cat "$work/obs" >&2; exit 1; }
echo "== $suite: time by caller > callee (ms, guest clock; only the traced functions)"
sed -n 's/^prof //p' "$work/obs" | sort -t= -k3 -rn | head -45
echo "== btf_find_by_name_kind, by name (calls)"
sed -n 's/^name //p' "$work/obs" | head -30
echo "== one attach (bpf_trampoline_update), call by call; the kernel has $(sed -n 's/^ftrace_records //p' "$work/obs") ftrace records"
sed -n "s/^raw //p" "$work/obs"
