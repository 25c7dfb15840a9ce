#!/usr/bin/env bash
#! The README's build and install lines, run as a new user would run them, then the installed binary checked: it
#! must carry the certificates the build was given. Only the certificate path and DESTDIR are swapped for test
#! ones (the README installs into /). The build shares the test build's target directory (same certificates and
#! flags, so cargo finds it fresh). Also: `make install` refuses a binary without certificates.
#! Usage: tests/readme-install.sh KEYS TARGET_DIR WORK
set -euo pipefail
keys=$1; export CARGO_TARGET_DIR=$2; work=$3
cd "$(dirname "$0")/.."
rm -rf "$work"; mkdir -p "$work"
fail() { echo "readme-install: $*" >&2; exit 1; }
# The two lines of the README's Build section, in order.
mapfile -t lines < <(sed -n '/^## Build$/,/^## /p' README.md | grep -E '^(BPFGATE_CERTS=.* make|make install )' |
                     sed 's/ *#.*//')
[ "${#lines[@]}" = 2 ] || fail "expected the README's build and install lines, found: ${lines[*]}"
certs="$keys/signer.pem:$keys/second.der"
build=${lines[0]//\/etc\/keys\/loaders.pem/$certs}
install=$(sed -E "s|DESTDIR=[^ ]*|DESTDIR=$work/root|" <<<"${lines[1]}")
[ "$build" != "${lines[0]}" ] || fail "the README's build line no longer names /etc/keys/loaders.pem: ${lines[0]}"
echo "+ $build"; env -u BPFGATE_CERTS bash -c "$build" >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; fail "build failed"; }
echo "+ $install"; env -u BPFGATE_CERTS bash -c "$install" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "install failed"; }
bin=$work/root/usr/sbin/bpfgate
[ -x "$bin" ] || fail "nothing installed at $bin"
"$bin" --version | grep -q '(2 baked certificate(s))' || fail "installed binary: $("$bin" --version)"
# The certificates themselves are in the installed binary (their subjects, DER-encoded).
for cn in "bpfgate test signer" "bpfgate test second"; do
    grep -qa "$cn" "$bin" || fail "installed binary lacks the certificate \"$cn\""
done
echo "readme-install: the installed bpfgate carries both certificates"
# A binary without certificates is refused, with the fix named; ALLOW_NO_CERTS=1 installs it anyway.
printf '#!/bin/sh\necho "bpfgate 0.1.0 (0 baked certificate(s))"\n' >"$work/nocerts"; chmod +x "$work/nocerts"
if make -s install INSTALL_BIN="$work/nocerts" DESTDIR="$work/root2" PREFIX=/usr >"$work/nocerts.log" 2>&1; then
    fail "make install took a binary without certificates"
fi
grep -q "BPFGATE_CERTS=" "$work/nocerts.log" || fail "the refusal does not name the fix: $(cat "$work/nocerts.log")"
[ ! -e "$work/root2/usr/sbin/bpfgate" ] || fail "the refused install left a binary behind"
make -s install INSTALL_BIN="$work/nocerts" DESTDIR="$work/root2" PREFIX=/usr ALLOW_NO_CERTS=1 >/dev/null ||
    fail "ALLOW_NO_CERTS=1 did not install"
echo "readme-install: a binary without certificates is refused (ALLOW_NO_CERTS=1 installs it)"
