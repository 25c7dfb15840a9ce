#!/usr/bin/env bash
#! Makes the throwaway test signing keys (RSA-2048, self-signed): signer (baked into test builds) and foreign
#! (a valid signature from a key the gate does not trust), and second (a rotation key, baked as DER).
#! Usage: tests/make-test-keys.sh DIR
set -euo pipefail
dir=$1; mkdir -p "$dir"
for k in signer foreign second; do
    [ -f "$dir/$k.pem" ] && [ -f "$dir/$k.key" ] && continue
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/$k.key" -out "$dir/$k.pem" \
        -subj "/CN=bpfgate test $k" -days 3650 2>/dev/null
done
[ -f "$dir/second.der" ] || openssl x509 -in "$dir/second.pem" -outform DER -out "$dir/second.der"
