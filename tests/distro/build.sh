#!/usr/bin/env bash
#! Builds the distro test root: a minimal Debian trixie (systemd, udev, the cloud kernel) made with debootstrap,
#! bpfgate installed into it with `make install`, an initramfs from the real mkinitramfs (initramfs-tools) and one
#! from the real dracut (systemd initrd), test units, and signatures for systemd and every shared library (so
#! that PID 1 can be trusted). Output in OUT: root.img (ext4 -O verity, LABEL=bpfgate-distro), vmlinuz,
#! initrd-dracut.img, initrd-itools.img. fs-verity itself is enabled later, in a guest (tests/guest/distro-prep.sh):
#! only a kernel can. The debootstrap result is cached in ~/.cache/bpfgate/distro (by package list).
#! Usage: tests/distro/build.sh BPFGATE_TEST_BIN BPFPROBE KEYDIR OUT
set -euo pipefail
bin=$(realpath "$1"); probe=$(realpath "$2"); keys=$(realpath "$3"); out=$4
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
cache=${BPFGATE_DISTRO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/distro}
. "$here/common.sh"
root=$out/root
root_from_debootstrap trixie \
    systemd,systemd-sysv,udev,kmod,initramfs-tools,linux-image-cloud-amd64,iputils-ping,iproute2,e2fsprogs \
    "$cache/debs" "$root"
kver=$(ls "$root/lib/modules" | sort -V | tail -1)
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"

# bpfgate, as a distribution would install it, and the probes; the test unit and its script.
install_bpfgate "$root" "$bin" "$probe" bpfgate-distro
# Package upgrades (issue 17): three versions of a package shipping a loader (the probe with a version string
# appended) and its watch entry; v1 and v2 carry the loader's signature in the packaged store, v3 none. The dpkg
# hook `make install` put in /etc/dpkg/dpkg.cfg.d enrolls them (tests/distro/bpfgate-test.sh installs them).
mkdir -p "$root/root/debs"
for v in 1 2 3; do
    d=$(mktemp -d); mkdir -p "$d/DEBIAN" "$d/usr/sbin" "$d/usr/lib/bpfgate/watch.d"
    { cat "$probe"; printf 'demo-loader %s' "$v"; } >"$d/usr/sbin/demo-loader"; chmod 0755 "$d/usr/sbin/demo-loader"
    echo /usr/sbin/demo-loader >"$d/usr/lib/bpfgate/watch.d/demo-loader.conf"
    [ "$v" = 3 ] || "$top/scripts/sign-store.sh" "$keys/signer.key" "$keys/signer.pem" \
        "$d/usr/lib/bpfgate/signatures" "$d/usr/sbin/demo-loader" >/dev/null
    printf 'Package: demo-loader\nVersion: %s\nArchitecture: amd64\nMaintainer: bpfgate tests <tests@bpfgate.invalid>\nDescription: a signed BPF loader (bpfgate test package)\n' \
        "$v" >"$d/DEBIAN/control"
    dpkg-deb --root-owner-group -Zgzip --build "$d" "$root/root/debs/demo-loader_${v}_amd64.deb" >/dev/null
    rm -rf "$d"
done
# A systemd upgrade (issue 17): the archive's systemd and systemd-sysv repacked twice with a higher version and a
# changed PID 1 binary, as a distribution's rebuild would be. systemd's package ships the signatures of its ELF
# files in the packaged store and their watch entry, made with the second (distribution) key, which the policy
# below binds to the systemd profile by signer: a digest binding would not follow the upgrade. +bpfgate1 goes in
# with apt, +bpfgate2 with dpkg -i.
sdver=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Version}' systemd)
for n in 1 2; do
    v="$sdver+bpfgate$n"
    d=$(mktemp -d); dpkg-deb -R "$cache/debs/systemd_${sdver}_amd64.deb" "$d"
    printf 'bpfgate-rebuild-%s' "$n" >>"$d/usr/lib/systemd/systemd"
    sed -i "s/^Version: .*/Version: $v/" "$d/DEBIAN/control"
    (cd "$d" && md5sum usr/lib/systemd/systemd) >"$d/md5.new"
    grep -v ' usr/lib/systemd/systemd$' "$d/DEBIAN/md5sums" >>"$d/md5.new"; mv "$d/md5.new" "$d/DEBIAN/md5sums"
    mkdir -p "$d/usr/lib/bpfgate/watch.d"
    find "$d" -path "$d/DEBIAN" -prune -o -type f -print | sort | while IFS= read -r f; do
        if head -c4 "$f" | grep -qa ELF; then echo "${f#"$d"}"; fi
    done >"$d/usr/lib/bpfgate/watch.d/systemd.conf"
    sed "s|^|$d|" "$d/usr/lib/bpfgate/watch.d/systemd.conf" | xargs "$top/scripts/sign-store.sh" \
        "$keys/second.key" "$keys/second.pem" "$d/usr/lib/bpfgate/signatures" >/dev/null
    dpkg-deb -Zgzip --build "$d" "$root/root/debs/systemd_${v}_amd64.deb" >/dev/null
    rm -rf "$d"
    d=$(mktemp -d); dpkg-deb -R "$cache/debs/systemd-sysv_${sdver}_amd64.deb" "$d"
    sed -i -e "s/^Version: .*/Version: $v/" -e "s/systemd (= [^)]*)/systemd (= $v)/" "$d/DEBIAN/control"
    dpkg-deb -Zgzip --build "$d" "$root/root/debs/systemd-sysv_${v}_amd64.deb" >/dev/null
    rm -rf "$d"
done
install -m 0755 "$here/bpfgate-test.sh" "$root/usr/local/bin/bpfgate-test.sh"
install -m 0644 "$here/bpfgate-test.service" "$root/etc/systemd/system/bpfgate-test.service"
ln -sf /etc/systemd/system/bpfgate-test.service "$root/etc/systemd/system/multi-user.target.wants/bpfgate-test.service"
# systemd's own BPF at work: IPAddressDeny= is cgroup BPF that PID 1 loads and attaches.
for u in ipdeny ipallow; do
    { printf '[Unit]\nDescription=bpfgate distro test: ping with%s IPAddressDeny=any\n[Service]\nType=oneshot\n' \
          "$([ $u = ipdeny ] || echo out)"
      [ $u = ipallow ] || echo "IPAddressDeny=any"
      echo "ExecStart=/usr/bin/ping -c1 -W2 127.0.0.1"; } >"$root/etc/systemd/system/$u-test.service"
done
# RestrictFileSystems= is a BPF LSM program (lsm/file_open) PID 1 loads, and a per-unit map its executor fills:
# the unit that may not touch tmpfs cannot read a file in /run; without the setting it can.
for u in rfsdeny rfsallow; do
    { printf '[Unit]\nDescription=bpfgate distro test: cat a tmpfs file with%s RestrictFileSystems=~tmpfs\n' \
          "$([ $u = rfsdeny ] || echo out)"
      printf '[Service]\nType=oneshot\n'
      [ $u = rfsallow ] || echo "RestrictFileSystems=~tmpfs"
      echo "ExecStart=/usr/bin/cat /run/bpfgate-rfs-test"; } >"$root/etc/systemd/system/$u-test.service"
done
# A unit with ProtectKernelTunables= (systemd bind-remounts /sys, the gate's bpffs included, read-only in the
# unit's own mount namespace).
printf '[Unit]\nDescription=bpfgate distro test: ProtectKernelTunables\n[Service]\nType=oneshot\nProtectKernelTunables=yes\nProtectSystem=strict\nExecStart=/usr/bin/true\n' \
    >"$root/etc/systemd/system/protect-test.service"
# PID 1 without a signature, for the control boot (init=/usr/lib/systemd/systemd-unsigned): same code, untrusted.
cp "$root/usr/lib/systemd/systemd" "$root/usr/lib/systemd/systemd-unsigned"
# The unit for boots without an initramfs, enabled as `systemctl enable bpfgate` would (a no-op in the initramfs
# boots, where the gate is already active).
ln -sf /usr/lib/systemd/system/bpfgate.service "$root/etc/systemd/system/sysinit.target.wants/bpfgate.service"

# Initramfs images, with the real tools, in the root (a private mount namespace for /proc, /sys, /dev).
in_root() {
    unshare -m -- sh -c 'set -e; r=$1; shift
        mount -t proc proc "$r/proc"; mount -t sysfs sysfs "$r/sys"; mount --rbind /dev "$r/dev"
        cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
        chroot "$r" "$@"' sh "$root" "$@"
}
in_root mkinitramfs -o /boot/initrd-itools.img "$kver"
cp "$root/boot/initrd-itools.img" "$out/initrd-itools.img"
# The newer kernels of the matrix (sid's, and trixie-backports', Debian's newest, from tests/fetch-kernels.sh)
# installed into the same root: modules, build configuration, depmod, and an image of each kind for each (the
# builders accept them only when `bpfgate doctor --kernel` does). Their packages need a newer userland than
# trixie's (sid's) or are what `apt install -t trixie-backports` would unpack; the files are what the boot uses.
kcache=${BPFGATE_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/kernels}
rm -f "$out"/vmlinuz-* "$out"/initrd-dracut-*.img "$out"/initrd-itools-*.img
newer=()
for s in sid trixie-backports; do
    [ -f "$kcache/$s/version" ] || { echo "distro: no $s kernel in $kcache (make kernels)" >&2; exit 1; }
    v=$(cat "$kcache/$s/version")
    mkdir -p "$root/usr/lib/modules/$v"
    cp -a "$kcache/$s/modules/." "$root/usr/lib/modules/$v/"
    cp "$kcache/$s/config" "$root/boot/config-$v"
    in_root depmod "$v"
    in_root mkinitramfs -o "/boot/initrd-itools-$s.img" "$v"
    cp "$root/boot/initrd-itools-$s.img" "$out/initrd-itools-$s.img"
    cp "$kcache/$s/vmlinuz" "$out/vmlinuz-$s"
    newer+=("$s=$v")
done
# Issue 17: a kernel whose build configuration lacks CONFIG_BPF_LSM (a fixture: this kernel's modules under another
# version, its config with the option unset) is refused by both initramfs builders, the option named; outputs and
# exit status in OUT/fixture-{itools,dracut}.log for tests/vm.rs.
fx=6.12.999-bpfgate-fixture
fixture() { # builder: the fixture kernel in place, the builder run, its output kept
    rm -rf "$root/usr/lib/modules/$fx"; cp -al "$root/usr/lib/modules/$kver" "$root/usr/lib/modules/$fx"
    sed 's/^CONFIG_BPF_LSM=y$/# CONFIG_BPF_LSM is not set/' "$root/boot/config-$kver" >"$root/boot/config-$fx"
    local rc=0
    case $1 in
        itools) in_root mkinitramfs -o /tmp/fixture.img "$fx" >"$out/fixture-$1.log" 2>&1 || rc=$? ;;
        dracut) in_root dracut --force --no-hostonly --add bpfgate /tmp/fixture.img "$fx" >"$out/fixture-$1.log" 2>&1 || rc=$? ;;
    esac
    echo "builder exit status $rc; image $([ -s "$root/tmp/fixture.img" ] && echo made || echo none)" >>"$out/fixture-$1.log"
    rm -rf "$root/usr/lib/modules/$fx" "$root/boot/config-$fx" "$root/tmp/fixture.img"
}
fixture itools
# Issue 16: from here on (the dracut images, and the root unit's boot without an initramfs) systemd runs under a
# `systemd` profile: PID 1 and its executor may load cgroup programs and the one LSM program RestrictFileSystems=
# uses, and nothing else. The initramfs-tools image above keeps `full` (the control).
mkdir -p "$root/etc/bpfgate"
cat >>"$root/etc/bpfgate/policy.conf" <<CONF
# systemd (PID 1, systemd-executor): cgroup firewall, device and socket-bind programs, RestrictFileSystems='s LSM
# program (libbpf's load probe is a socket filter), and the modules PID 1 loads. No tracing program (libbpf's
# feature probes for kprobes and tracepoints are refused: it then does without), no other LSM attach type, no
# kimg right, no BPF sysctl, no token.
profile.systemd.bpf = read, map_create, map_update_elem, map_delete_elem, map_freeze, prog_load, prog_attach, prog_detach, btf_load, link_create, link_update, link_detach, raw_tracepoint_open, obj_pin, obj_get, prog_get_fd_by_id, map_get_fd_by_id, btf_get_fd_by_id, link_get_fd_by_id, prog_bind_map
profile.systemd.prog_types = cgroup, lsm, socket_filter
profile.systemd.map_types = hash, array, percpu_array, lpm_trie, hash_of_maps
profile.systemd.attach_types = cgroup, lsm_mac
profile.systemd.kmod = load, autoload
profile.systemd.digests = sha256:$(fsverity digest --compact "$root/usr/lib/systemd/systemd"), sha256:$(fsverity digest --compact "$root/usr/lib/systemd/systemd-executor")
# The distribution key signs systemd's packages (the upgrades in /root/debs): bound by signer, it keeps the profile.
profile.systemd.signers = $(openssl x509 -in "$keys/second.pem" -noout -fingerprint -sha256 | cut -d= -f2)
CONF
# dracut replaces initramfs-tools (they conflict); its debs are cached like the root's.
if ! ls "$cache/debs"/dracut_*.deb >/dev/null 2>&1; then
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --download-only dracut >/dev/null
    cp "$root"/var/cache/apt/archives/*.deb "$cache/debs/" 2>/dev/null || true
fi
mkdir -p "$root/tmp/debs"
cp "$cache/debs"/*.deb "$root/tmp/debs/"
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-download \
    -o Dir::Cache::archives=/tmp/debs dracut >/dev/null 2>&1 ||
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dracut >/dev/null
rm -rf "$root/tmp/debs"
in_root dracut --quiet --force --no-hostonly --add bpfgate --add-drivers "nvme ext4" /boot/initrd-dracut.img "$kver"
cp "$root/boot/initrd-dracut.img" "$out/initrd-dracut.img"
fixture dracut
# dracut images of the newer kernels.
for sv in "${newer[@]}"; do
    in_root dracut --quiet --force --no-hostonly --add bpfgate --add-drivers "nvme ext4" \
        "/boot/initrd-dracut-${sv%%=*}.img" "${sv#*=}"
    cp "$root/boot/initrd-dracut-${sv%%=*}.img" "$out/initrd-dracut-${sv%%=*}.img"
done
rm -f "$root"/boot/initrd*.img "$root"/boot/initrd.img-* "$root/etc/resolv.conf"

# Signatures (made here; fs-verity is enabled in the prep guest).
n=$("$here/sign-root.sh" "$root" "$keys")

rm -f "$out/root.img"
mkfs.ext4 -q -O verity,ea_inode -L bpfgate-distro -d "$root" "$out/root.img" 2G
echo "distro: trixie root with kernel $kver, bpfgate installed, $n files to enroll; $(du -h "$out/initrd-dracut.img" | cut -f1) dracut initrd, $(du -h "$out/initrd-itools.img" | cut -f1) initramfs-tools initrd"
