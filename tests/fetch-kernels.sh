#!/usr/bin/env bash
#! Fetches the test kernels (trixie's 6.12 LTS, the newest kernel in sid and the one in trixie-backports, which
#! is Debian's newest when it runs ahead of sid) as Debian .deb packages into a cache,
#! with a private apt configuration: its own sources list, lists and cache directories. The machine's own apt sources
#! are never touched (installing from trixie or sid would replace the machine's libc).
#! Output: $CACHE/<suite>/{vmlinuz,modules/,config,version} for suite in trixie, sid, trixie-backports. Prints the
#! kernel versions.
set -euo pipefail
CACHE=${BPFGATE_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/kernels}
APT=$CACHE/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/etc/preferences.d"
cat >"$APT/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
SRC
opts=(-o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$APT/etc/preferences.d"
      -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" -o Dir::State::Status=/dev/null
      -o APT::Architecture=amd64 -o APT::Sandbox::User=root -o Debug::NoLocking=1 -o Acquire::Languages=none)

# Refresh the lists at most once a day (kernels move slowly and CI has a time budget), and whenever a suite of the
# sources list has no lists yet.
stale=$(find "$APT/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)
for s in trixie sid trixie-backports; do
    ls "$APT/lists"/*_dists_${s}_main_binary-amd64_Packages* >/dev/null 2>&1 || stale=
done
if [ -z "$stale" ]; then
    apt-get "${opts[@]}" -qq update
fi

# Highest version of a package name in a suite.
newest() { # suite pkg
    apt-cache "${opts[@]}" madison "$2" | awk -v s="$1" '$0 ~ "/"s"[/ ]" || $0 ~ " "s"/" {print $3}' | sort -V | tail -1
}
# The concrete kernel package a cloud metapackage points to in a suite.
kernel_pkg() { # suite
    local v; v=$(newest "$1" linux-image-cloud-amd64)
    [ -n "$v" ] || { echo "fetch-kernels: no linux-image-cloud-amd64 in $1" >&2; exit 1; }
    apt-cache "${opts[@]}" show "linux-image-cloud-amd64=$v" | sed -n 's/^Depends: //p' | head -1 |
        tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -E '^linux-image-[0-9]' | head -1
}

for suite in trixie sid trixie-backports; do
    dest=$CACHE/$suite
    pkg=$(kernel_pkg "$suite")
    if [ -f "$dest/package" ] && [ "$(cat "$dest/package")" = "$pkg" ] && [ -f "$dest/vmlinuz" ] && [ -f "$dest/config" ]; then
        echo "$suite: $(cat "$dest/version") (cached)"; continue
    fi
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
    # 7.x splits the image into linux-binary-* and linux-modules-* (and its build configuration into linux-base-*):
    # take every linux-{image,binary,modules,base} dependency.
    pkgs=("$pkg")
    deps=$(apt-cache "${opts[@]}" depends "$pkg" 2>/dev/null | sed -n 's/^ *\(Pre\)\{0,1\}Depends: //p' |
           grep -E '^linux-(binary|modules|image|base)-[0-9]' | sort -u || true)
    for d in $deps; do pkgs+=("$d"); done
    (cd "$work" && apt-get "${opts[@]}" -qq download "${pkgs[@]}")
    rm -rf "$dest.new"; mkdir -p "$dest.new/root"
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest.new/root"; done
    first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done; }
    vmlinuz=$(first "$dest.new"/root/boot/vmlinuz-* "$dest.new"/root/usr/lib/modules/*/vmlinuz)
    [ -n "$vmlinuz" ] || { echo "fetch-kernels: no vmlinuz in ${pkgs[*]}" >&2; exit 1; }
    moddir=$(first "$dest.new"/root/usr/lib/modules/* "$dest.new"/root/lib/modules/*)
    [ -n "$moddir" ] || { echo "fetch-kernels: no modules directory in ${pkgs[*]}" >&2; exit 1; }
    ver=$(basename "$moddir")
    cp "$vmlinuz" "$dest.new/vmlinuz"
    # The build configuration (what `bpfgate doctor --kernel` reads when the distro tests install this kernel).
    config=$(first "$dest.new"/root/boot/config-* "$moddir/config")
    [ -n "$config" ] || { echo "fetch-kernels: no build configuration in ${pkgs[*]}" >&2; exit 1; }
    cp "$config" "$dest.new/config"
    mv "$moddir" "$dest.new/modules"
    rm -rf "$dest.new/root"
    echo "$ver" >"$dest.new/version"; echo "$pkg" >"$dest.new/package"
    rm -rf "$dest"; mv "$dest.new" "$dest"
    rm -rf "$work"; trap - EXIT
    echo "$suite: $ver"
done

# sid's userland BPF tools, for the signed-program tests (tests/vm/prepare.sh builds a signed light skeleton with
# them): bpftool (gen skeleton -L -S), libbpf's headers (skel_internal.h with signatures) and the UAPI headers
# that have the signing fields, plus the libraries sid's bpftool runs on (started through sid's own ld.so, never
# installed). Unpacked into $CACHE/sid-tools/root.
tools=(bpftool libbpf-dev linux-libc-dev libc6 libelf1t64 libssl3t64 zlib1g libcap2 libzstd1)
want=$(for p in "${tools[@]}"; do echo "$p=$(newest sid "$p")"; done)
dest=$CACHE/sid-tools
if [ -f "$dest/packages" ] && [ "$(cat "$dest/packages")" = "$want" ] && [ -x "$dest/root/usr/sbin/bpftool" ]; then
    echo "sid tools: $(grep '^bpftool=' "$dest/packages") (cached)"
else
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
    # shellcheck disable=SC2046
    (cd "$work" && apt-get "${opts[@]}" -qq download $want)
    rm -rf "$dest.new"; mkdir -p "$dest.new/root"
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest.new/root"; done
    echo "$want" >"$dest.new/packages"
    rm -rf "$dest"; mv "$dest.new" "$dest"
    rm -rf "$work"; trap - EXIT
    echo "sid tools: $(grep '^bpftool=' "$dest/packages")"
fi

# trixie-backports' bpftool (built from the newest kernel's source): from Linux 7.3 the kernel checks a light
# skeleton's signature over its loader's instructions *and* data, so the signed skeletons for 7.3 and later come
# from a 7.3 bpftool (run with sid's libraries, like sid's). Unpacked into $CACHE/trixie-backports-tools/root.
want=bpftool=$(newest trixie-backports bpftool)
dest=$CACHE/trixie-backports-tools
if [ "$want" = "bpftool=" ]; then
    echo "fetch-kernels: no bpftool in trixie-backports" >&2; exit 1
elif [ -f "$dest/packages" ] && [ "$(cat "$dest/packages")" = "$want" ] && [ -x "$dest/root/usr/sbin/bpftool" ]; then
    echo "trixie-backports tools: $want (cached)"
else
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get "${opts[@]}" -qq download "$want")
    rm -rf "$dest.new"; mkdir -p "$dest.new/root"
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest.new/root"; done
    echo "$want" >"$dest.new/packages"
    rm -rf "$dest"; mv "$dest.new" "$dest"
    rm -rf "$work"; trap - EXIT
    echo "trixie-backports tools: $want"
fi
