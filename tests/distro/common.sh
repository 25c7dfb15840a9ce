# Shared by the distro test root builders (tests/distro/build.sh, build-sid.sh); sourced, with set -euo pipefail on
# and $top (the checkout), $out (the output directory) and $cache (the debootstrap cache) set.

# root_from_debootstrap SUITE PKGS DEBS ROOT: ROOT becomes a minbase SUITE with PKGS (comma-separated), made by
# debootstrap once and then taken from a tarball in $cache keyed by suite and package list. DEBS: its .deb cache.
root_from_debootstrap() {
    local suite=$1 pkgs=$2 debs=$3 root=$4
    local tarball=$cache/$suite-$(echo "$suite $pkgs v1" | sha256sum | cut -c1-12).tar log=$out/debootstrap-$suite.log
    mkdir -p "$debs" "$out"
    rm -rf "$root"; mkdir -p "$root"
    if [ ! -f "$tarball" ]; then
        debootstrap --variant=minbase --include="$pkgs" --cache-dir="$debs" "$suite" "$root.new" \
            http://deb.debian.org/debian >"$log" 2>&1 ||
            { tail -20 "$log" >&2; echo "distro: $suite debootstrap failed (log: $log)" >&2; exit 1; }
        tar -C "$root.new" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$root.new"
    fi
    tar -C "$root" -xf "$tarball"
}

# install_bpfgate ROOT BIN PROBE LABEL: bpfgate as a distribution would install it (`make install`; BIN is the test
# build, with the test certificates baked in), the same static probe as probe-signed and probe-unsigned, fstab and
# hostname for LABEL, and quieter boots under TCG (no timesyncd or apt timers; no getty on the serial console,
# which would hang up the tty the tests write their observations to).
install_bpfgate() {
    local root=$1 bin=$2 probe=$3 label=$4 u
    make -C "$top" -s install DESTDIR="$root" PREFIX=/usr INSTALL_BIN="$bin" >/dev/null
    install -m 0755 "$probe" "$root/usr/local/bin/probe-signed"
    install -m 0755 "$probe" "$root/usr/local/bin/probe-unsigned"
    echo "LABEL=$label / ext4 rw 0 1" >"$root/etc/fstab"
    echo "$label" >"$root/etc/hostname"
    for u in systemd-timesyncd.service serial-getty@.service getty@.service apt-daily.timer apt-daily-upgrade.timer; do
        ln -sf /dev/null "$root/etc/systemd/system/$u"
    done
}
