#!/usr/bin/env bash
#! Regenerates bpf/vmlinux-<version>.h from a Debian kernel's vmlinuz (the oldest kernel we support: CO-RE relocates
#! the one object onto newer kernels). Usage: scripts/gen-vmlinux-h.sh [VMLINUZ]
#! Default VMLINUZ: trixie's kernel fetched by tests/fetch-kernels.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${BPFGATE_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/kernels}
vmlinuz=${1:-$CACHE/trixie/vmlinuz}
ver=${2:-$(cat "$(dirname "$vmlinuz")/version")}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The payload of a Debian x86 bzImage is zstd; find its magic and decompress from there.
off=$(LC_ALL=C grep -aobUP '\x28\xb5\x2f\xfd' "$vmlinuz" | head -1 | cut -d: -f1)
tail -c +"$((off + 1))" "$vmlinuz" | zstd -dqc >"$tmp/vmlinux" 2>/dev/null || true  # trailing data after the frame makes zstd exit 1
file "$tmp/vmlinux" | grep -q ELF || { echo "gen-vmlinux-h: no ELF payload found in $vmlinuz" >&2; exit 1; }
bpftool btf dump file "$tmp/vmlinux" format c >"bpf/vmlinux-$ver.h"
ln -sf "vmlinux-$ver.h" bpf/vmlinux.h
echo "bpf/vmlinux-$ver.h ($(wc -l <"bpf/vmlinux-$ver.h") lines)"
