#!/usr/bin/env bash
#! Signs what a distro test root needs trusted: PID 1 (systemd) and its executor, every shared library and the
#! dynamic loader, udevadm and kmod (they load the real root's modules), and /usr/local/bin/probe-signed. The
#! signatures go to ROOT/var/lib/bpfgate-test/sig, listed as "SIGFILE PATH" in ROOT/var/lib/bpfgate-test/enroll.list
#! for tests/guest/distro-prep.sh (fs-verity itself can only be enabled by a kernel). Prints the number signed.
#! Usage: tests/distro/sign-root.sh ROOT KEYDIR
set -euo pipefail
root=$1; keys=$2
sigdir=$root/var/lib/bpfgate-test/sig
mkdir -p "$sigdir"
: >"$root/var/lib/bpfgate-test/enroll.list"
n=0
while read -r f; do
    rel=${f#"$root"}
    s=$(echo "$rel" | tr '/' '_').sig
    fsverity sign "$f" "$sigdir/$s" --key "$keys/signer.key" --cert "$keys/signer.pem" \
        --hash-alg sha256 --block-size 4096 >/dev/null
    echo "/var/lib/bpfgate-test/sig/$s $rel" >>"$root/var/lib/bpfgate-test/enroll.list"
    n=$((n + 1))
done < <( (find "$root/usr/lib/systemd/systemd" "$root/usr/lib/systemd/systemd-executor" \
             "$root/usr/local/bin/probe-signed" "$root/usr/lib/x86_64-linux-gnu" "$root/usr/lib/systemd" \
             "$root/usr/lib64" -type f \( -name '*.so*' -o -path '*/systemd/systemd' \
             -o -path '*/systemd/systemd-executor' -o -name probe-signed -o -name 'ld-linux*' \) 2>/dev/null
         echo "$root/usr/bin/udevadm"; echo "$root/usr/bin/kmod") | sort -u)
echo "$n"
