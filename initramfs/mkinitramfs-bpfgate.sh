#!/usr/bin/env bash
#! Builds an initramfs in which bpfgate is /init (embedded init mode): bpfgate, /dev/console, the mount points,
#! and optionally kernel modules (loaded in the order given, before the gate and the root mount).
#! Usage: initramfs/mkinitramfs-bpfgate.sh [-o OUT.cpio] [-p POLICY] [-k KVER -m MODDIR] BPFGATE [MODULE...]
#!   MODULE: a path to a .ko/.ko.xz/.ko.zst, or a module name looked up under MODDIR (e.g. /lib/modules/$KVER).
#!   POLICY: a policy config file (docs/policy.md), checked with `BPFGATE policy` and installed as
#!   /etc/bpfgate/policy.conf; a file with any warning is refused.
#! Must run as root (it creates the /dev/console node). Output: an uncompressed newc cpio.
set -euo pipefail
out=initramfs-bpfgate.cpio; moddir=""; policy=""
while getopts "o:p:k:m:h" opt; do
    case $opt in
    o) out=$OPTARG ;;
    p) policy=$OPTARG ;;
    k) kver=$OPTARG ;;
    m) moddir=$OPTARG ;;
    *) sed -n 's/^#! \{0,1\}//p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n 's/^#! \{0,1\}//p' "$0"; exit 2; }
bpfgate=$1; shift
[ -x "$bpfgate" ] || { echo "mkinitramfs-bpfgate: $bpfgate is not an executable" >&2; exit 1; }
file "$bpfgate" | grep -q "statically linked" || { echo "mkinitramfs-bpfgate: $bpfgate must be static (make)" >&2; exit 1; }
[ -z "${kver:-}" ] || [ -n "$moddir" ] || moddir=/lib/modules/$kver
if [ -n "$policy" ] && ! "$bpfgate" policy --config "$policy" --cmdline "" >/dev/null; then
    echo "mkinitramfs-bpfgate: $policy: fix the warnings above (docs/policy.md)" >&2; exit 1
fi

stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{dev,proc,sys,root,etc/bpfgate,lib/modules}
cp "$bpfgate" "$stage/init"
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3
: >"$stage/etc/bpfgate/modules"
[ -z "$policy" ] || install -m 0644 "$policy" "$stage/etc/bpfgate/policy.conf"
for m in "$@"; do
    src=$m
    if [ ! -f "$src" ]; then
        [ -n "$moddir" ] || { echo "mkinitramfs-bpfgate: module $m: not a file and no -m MODDIR" >&2; exit 1; }
        src=$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -1)
        [ -n "$src" ] || { echo "mkinitramfs-bpfgate: module $m not found under $moddir" >&2; exit 1; }
    fi
    name=$(basename "$src"); name=${name%.xz}; name=${name%.zst}
    case $src in
    *.xz) xz -dc "$src" >"$stage/lib/modules/$name" ;;
    *.zst) zstd -dqc "$src" >"$stage/lib/modules/$name" ;;
    *) cp "$src" "$stage/lib/modules/$name" ;;
    esac
    echo "/lib/modules/$name" >>"$stage/etc/bpfgate/modules"
done
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out"
echo "$out: $(du -h "$out" | cut -f1), init=$(basename "$bpfgate"), $(wc -l <"$stage/etc/bpfgate/modules") module(s)${policy:+, policy $policy}"
