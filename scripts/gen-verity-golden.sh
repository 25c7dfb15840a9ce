#!/usr/bin/env bash
#! Regenerates tests/data/verity-digests.txt with fsverity-utils' `fsverity digest` (apt-get install fsverity):
#! the golden digests src/verity.rs is unit-tested against. File content: byte i is (i * 31 + 7) mod 256.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=tests/data/verity-digests.txt
mkdir -p tests/data
echo "# SIZE DIGEST  (fsverity digest --hash-alg=sha256 --block-size=4096; byte i = (i*31+7) mod 256)" >"$out"
for size in 0 1 4095 4096 4097 8192 524288 524289 1048577; do
    python3 -c "import sys; sys.stdout.buffer.write(bytes((i*31+7)%256 for i in range($size)))" >"$tmp/f"
    echo "$size $(fsverity digest --hash-alg=sha256 --block-size=4096 "$tmp/f" | cut -d' ' -f1)" >>"$out"
done
cat "$out"
