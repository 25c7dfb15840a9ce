#!/usr/bin/env bash
#! Installs everything the build, the VM tests and the demo need on a fresh Debian bookworm machine (run as root).
#! Adds only bookworm-backports (a bookworm suite) to the machine's apt sources, for QEMU 10: bookworm's QEMU 7.2
#! corrupts 6.12 TCG guests under fork/exec load. Kernels are fetched separately with a private apt config
#! (tests/fetch-kernels.sh); trixie and sid are never added to the machine's sources.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# --if-missing: do nothing when every tool is already there (make runs this before each build).
if [ "${1:-}" = "--if-missing" ]; then
    missing=0
    for t in clang llvm-strip autoreconf autopoint flex bison gawk pkg-config bpftool busybox fsverity openssl \
             cpio mkfs.ext4 zstd file python3 gcc debootstrap unshare; do
        command -v "$t" >/dev/null 2>&1 || { missing=1; break; }
    done
    qemu-system-x86_64 --version 2>/dev/null | grep -qE 'version (9|[1-9][0-9])\.' || missing=1
    [ "$missing" = 1 ] || exit 0
fi
command -v cargo >/dev/null || { echo "install-deps: cargo (Rust >= 1.82) is required and not on PATH" >&2; exit 1; }

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat >/etc/apt/sources.list.d/bpfgate-bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    clang llvm make gcc libc6-dev pkg-config autoconf autopoint automake libtool flex bison gawk m4 \
    zlib1g-dev libelf-dev libzstd-dev \
    bpftool busybox-static fsverity openssl cpio e2fsprogs zstd xz-utils kmod file ca-certificates python3 \
    debootstrap debian-archive-keyring util-linux \
    >/dev/null
apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
qemu-system-x86_64 --version | head -1
