#!/usr/bin/env bash
#! The scale part of `make bench`: N distinct signed binaries and N threads, gate detached vs attached in one boot
#! per kernel; reports the kernel memory the gate's inode and task storage take (SUnreclaim deltas), the cost of a
#! first and a cached verification at that scale, and what happens when the fixed-size protected-map table fills.
#! Usage: tests/vm/scale.sh STAGEDIR N      (keys: STAGEDIR/../keys; the image is cached per N in STAGEDIR)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vm=$1; n=$2
keys=${BPFGATE_TEST_KEYS:-$(dirname "$vm")/keys}
# shellcheck source=tests/vm/guest.sh
. "$(dirname "$0")/guest.sh"
img=$vm/scale-$n.img
if [ ! -f "$img" ] || [ "$img" -ot "$vm/disk.img" ]; then
    work=$vm/scale-$n; rm -rf "$work"; mkdir -p "$work"
    cp -a "$vm/disk/." "$work/"
    gcc -nostdlib -static -Os -s -Wl,--build-id=none -Wl,-N -Wl,--no-warn-rwx-segments \
        -o "$work/tiny" "$here/../guest/scale/tiny.c"
    # Two sets of N distinct binaries (a trailing number each): one run detached, one attached.
    python3 - "$work" "$n" <<'PY'
import os, sys
work, n = sys.argv[1], int(sys.argv[2])
tiny = open(os.path.join(work, "tiny"), "rb").read()
for s in "ab":
    os.makedirs(os.path.join(work, s)); os.makedirs(os.path.join(work, "sig-" + s))
    for i in range(n):
        p = os.path.join(work, s, "%s%05d" % (s, i))
        with open(p, "wb") as f:
            f.write(tiny + b"%s%08d" % (s.encode(), i))
        os.chmod(p, 0o755)
PY
    rm "$work/tiny"
    (cd "$work" && find a b -type f) |
        xargs -P "$(nproc)" -I{} sh -c 'f={}; fsverity sign "$0/$f" "$0/sig-${f%%/*}/${f#*/}.sig" \
            --key "$1/signer.key" --cert "$1/signer.pem" --hash-alg sha256 --block-size 4096 >/dev/null' \
            "$work" "$keys"
    size=$(( (n * 2 * 24 / 1024) + 160 ))
    rm -f "$img" "$img.tmp"
    mkfs.ext4 -q -O verity,ea_inode -b 4096 -N $((n * 4 + 4096)) -L bpfgate-test -d "$work" "$img.tmp" "${size}M"
    mv "$img.tmp" "$img"
    rm -rf "$work"
fi
status=0
for suite in ${BPFGATE_BENCH_KERNELS:-trixie sid trixie-backports}; do
    log=$vm/scale-$suite.log
    boot_guest "$suite" "$vm" "$img" "scale-$suite" 3072 3600 "bpfgate_scale bpfgate_scale_n=$n"
    if ! grep -q '^done' "$log.obs" || grep -q 'scale_error\|failed=[1-9]' "$log.obs" ||
        [ "$(grep -c '^scale ' "$log.obs")" -lt 9 ]; then
        echo "scale: the $suite guest did not complete; see $log" >&2
        grep 'scale_error\|failed=[1-9]' "$log.obs" >&2 || true
        status=1; continue
    fi
    echo "== scale, $(sed -n 's/^booted kernel=//p' "$log.obs"): $n distinct signed binaries, $n threads"
    awk -v n="$n" '
    function kv(line, key,   i, a, m) { m = split(line, a, " "); for (i = 1; i <= m; i++) if (index(a[i], key "=") == 1) return substr(a[i], length(key) + 2); return "" }
    $1 == "scale" { l[$2] = $0 }
    END {
        da = kv(l["detached_execall"], "sunreclaim_delta_kb"); db = kv(l["attached_execall"], "sunreclaim_delta_kb")
        printf "first exec of each binary:  detached %s us, attached %s us (each verified once)\n", \
            kv(l["detached_execall"], "ns_per_exec") / 1000, kv(l["attached_execall"], "ns_per_exec") / 1000
        printf "second exec (cached):       attached %s us\n", kv(l["attached_execall_cached"], "ns_per_exec") / 1000
        printf "inode storage:              %d kB for %d binaries = %.0f bytes each (SUnreclaim, attached minus detached)\n", \
            db - da, n, (db - da) * 1024 / n
        td = kv(l["detached_threads"], "sunreclaim_during_kb") - kv(l["detached_threads"], "sunreclaim_before_kb")
        ta = kv(l["attached_threads"], "sunreclaim_during_kb") - kv(l["attached_threads"], "sunreclaim_before_kb")
        printf "task storage:               %d kB for %d threads of a trusted process = %.0f bytes each\n", \
            ta - td, n, (ta - td) * 1024 / n
        printf "protected maps table:       %s created, then %s; after closing them: %s\n", \
            kv(l["attached_fillmaps"], "created"), kv(l["attached_fillmaps"], "refused"), kv(l["attached_fillmaps"], "after_close")
        printf "untrusted bpf() at the end: %s\n", (l["attached_untrusted_map"] ~ /failed/ ? "denied (enforcing)" : "ALLOWED")
    }' "$log.obs"
    echo
done
exit $status
