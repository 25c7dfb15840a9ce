#!/usr/bin/env bash
#! `make demo`: boots trixie's 6.12 kernel (or $BPFGATE_DEMO_KERNEL: trixie|sid) in QEMU with the gate and
#! shows trusted vs untrusted loaders. Usage: tests/vm/demo.sh STAGEDIR (from tests/vm/prepare.sh)
set -euo pipefail
vm=$1
suite=${BPFGATE_DEMO_KERNEL:-trixie}
# shellcheck source=tests/vm/guest.sh
. "$(dirname "$0")/guest.sh"
log=$vm/demo.log
boot_guest "$suite" "$vm" "$vm/disk.img" demo 1024 600 bpfgate_demo
tr -d '\r' <"$log" | sed -n 's/^| \{0,1\}//p'
grep -q '^@@ done' <(tr -d '\r' <"$log") || { echo "demo: the guest did not finish; see $log" >&2; exit 1; }
