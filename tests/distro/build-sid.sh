#!/usr/bin/env bash
#! Builds the second distro test root: a minimal Debian sid (its systemd has PrivateBPF= and BPFDelegate*=, 258+),
#! made with debootstrap, with bpfgate installed by `make install`, units that start a signed and an unsigned
#! service with a delegated bpffs, and signatures for systemd and every shared library. It boots with the newest
#! kernel through bpfgate's embedded init (the test's init-mode cpio). Output in OUT: root-sid.img (ext4 -O verity,
#! LABEL=bpfgate-sid); fs-verity is enabled by tests/distro/prep.sh. The debootstrap result is cached in
#! ~/.cache/bpfgate/distro (by package list).
#! Usage: tests/distro/build-sid.sh BPFGATE_TEST_BIN BPFPROBE KEYDIR OUT
set -euo pipefail
bin=$(realpath "$1"); probe=$(realpath "$2"); keys=$(realpath "$3"); out=$4
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd)
cache=${BPFGATE_DISTRO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/distro}
. "$here/common.sh"
root=$out/root-sid
root_from_debootstrap sid systemd,systemd-sysv,udev,kmod,e2fsprogs "$cache/debs-sid" "$root"
install_bpfgate "$root" "$bin" "$probe" bpfgate-sid
install -m 0755 "$here/privatebpf-test.sh" "$root/usr/local/bin/bpfgate-test.sh"
sed 's/^Description=.*/Description=bpfgate distro test (PrivateBPF=)/' "$here/bpfgate-test.service" \
    >"$root/etc/systemd/system/bpfgate-test.service"
ln -sf /etc/systemd/system/bpfgate-test.service "$root/etc/systemd/system/multi-user.target.wants/bpfgate-test.service"
# systemd's BPF delegation: PID 1 mounts a bpffs with the delegate_* options in the service's own user and mount
# namespace; the service mints a token from it (bpfprobe tokenat). Signed and unsigned, otherwise identical.
for s in signed unsigned info; do
    cmd="/usr/local/bin/probe-$s tokenat /sys/fs/bpf"
    # info: what the service sees (the diagnostic observation when the signed one fails).
    [ $s = info ] && cmd="/bin/sh -c 'grep -E \" bpf \" /proc/self/mountinfo; cat /proc/self/uid_map; grep CapEff /proc/self/status'"
    { printf '[Unit]\nDescription=bpfgate distro test: PrivateBPF= for the %s probe\n[Service]\nType=oneshot\n' "$s"
      # DelegateNamespaces=mnt: the mount namespace (and the bpffs in it) belongs to the service's user namespace,
      # where the token must be created (as in systemd's own tests of PrivateBPF=).
      printf 'PrivateUsers=yes\nPrivateMounts=yes\nDelegateNamespaces=mnt\nPrivateBPF=yes\n'
      printf 'BPFDelegateCommands=any\nBPFDelegateMaps=any\n'
      printf 'BPFDelegatePrograms=any\nBPFDelegateAttachments=any\n'
      printf 'ExecStart=%s\nStandardOutput=file:/run/privatebpf-%s.out\n' "$cmd" "$s"
    } >"$root/etc/systemd/system/privatebpf-$s.service"
done

n=$("$here/sign-root.sh" "$root" "$keys")
rm -f "$out/root-sid.img"
mkfs.ext4 -q -O verity,ea_inode -L bpfgate-sid -d "$root" "$out/root-sid.img" 1G
echo "distro: sid root (systemd $(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' systemd)), bpfgate installed, $n files to enroll"
