#!/bin/sh
#! Signs files into a bpfgate signature store, for CI or an image build: each FILE's `fsverity sign` signature
#! (sha256, 4096-byte blocks: what `bpfgate enroll` enables) lands in STORE/sha256/DIGEST.sig, keyed by the
#! file's fs-verity digest, so the store can ship apart from the files (a package, an image layer) and
#! `bpfgate enroll --store STORE FILE` or `bpfgate sync` enrolls them wherever they end up. A directory FILE
#! signs every regular file under it. Needs fsverity-utils; the key never leaves this machine.
#! Usage: scripts/sign-store.sh KEY CERT STORE FILE|DIR...
set -eu
[ $# -ge 4 ] || { sed -n 's/^#! \{0,1\}//p' "$0" >&2; exit 2; }
key=$1 cert=$2 store=$3; shift 3
for f in "$key" "$cert"; do [ -r "$f" ] || { echo "sign-store: cannot read $f" >&2; exit 1; }; done
command -v fsverity >/dev/null || { echo "sign-store: fsverity (fsverity-utils) is not installed" >&2; exit 1; }
mkdir -p "$store/sha256"
tmp=$(mktemp "$store/sha256/.sig.XXXXXX")
trap 'rm -f "$tmp"' EXIT
for arg in "$@"; do
    [ -e "$arg" ] || { echo "sign-store: $arg does not exist" >&2; exit 1; }
    find "$arg" -type f | sort | while IFS= read -r f; do
        digest=$(fsverity digest --hash-alg=sha256 --block-size=4096 --compact "$f")
        fsverity sign "$f" "$tmp" --key "$key" --cert "$cert" --hash-alg sha256 --block-size 4096 >/dev/null
        chmod 644 "$tmp"  # signatures are public; the store ships as it is
        mv "$tmp" "$store/sha256/$digest.sig"
        echo "sha256:$digest $f"
    done
done
