#!/bin/bash
# dracut module: loads the bpfgate BPF LSM gate in the initramfs, before the real root is mounted.
# systemd initrds: bpfgate-initrd.service, ordered before sysroot.mount and initrd-root-fs.target.
# Other initrds: a pre-mount hook. Both run `bpfgate load --boot` (failure policy: docs/boot.md).

# check(): include the module when bpfgate is installed. Return 255 would make it opt-in only; the gate is
# meant to be on wherever bpfgate is installed, so it is included by default (dracut --omit bpfgate leaves it out).
check() {
    require_binaries bpfgate || return 1
    return 0
}

# depends(): nothing; the gate needs only the kernel (BPF LSM, BTF) and its own static binary.
depends() {
    return 0
}

# install(): the static binary, the optional policy, and either the unit or the hook.
install() {
    # The kernel this image is for: can the gate load there? With the policy's `required = 1`, an image that would
    # stop the next boot is refused (bpfgate doctor --kernel, docs/deploy.md); with `required = 0`, a warning (and
    # a bpfgate that cannot check, e.g. one older than `doctor --kernel`, a warning too).
    local report rc
    report=$(bpfgate doctor --kernel "$kernel" --root "${dracutsysrootdir:-/}" 2>&1)
    rc=$?
    if [ "$rc" = 1 ]; then
        derror "$report"
        dfatal "bpfgate: the gate cannot load on kernel $kernel and the policy requires it: this initramfs would stop the boot (see above; bpfgate doctor --kernel $kernel)"
        # A module's failed install() does not stop dracut: exit it (its cleanup trap runs; no image is written).
        exit 1
    elif [ "$rc" = 3 ]; then
        dwarning "$report"
        dwarning "bpfgate: the gate cannot load on kernel $kernel; that boot goes on without it (see above)"
    elif [ "$rc" != 0 ]; then
        dwarning "$report"
        dwarning "bpfgate: could not check kernel $kernel (bpfgate doctor --kernel exited $rc)"
    fi
    inst_binary bpfgate
    # The initramfs layer of the policy (docs/policy.md); checked at build time so a typo is caught here.
    if [ -f /etc/bpfgate/policy.conf ]; then
        if ! bpfgate policy --config /etc/bpfgate/policy.conf --cmdline "" >/dev/null; then
            dfatal "bpfgate: /etc/bpfgate/policy.conf has mistakes (see above); fix it or run bpfgate policy"
            exit 1
        fi
        inst_simple /etc/bpfgate/policy.conf
    fi
    if dracut_module_included "systemd"; then
        inst_simple "$moddir/bpfgate-initrd.service" "$systemdsystemunitdir/bpfgate-initrd.service"
        $SYSTEMCTL -q --root "$initdir" add-wants initrd-root-fs.target bpfgate-initrd.service
    else
        inst_hook pre-mount 01 "$moddir/bpfgate-pre-mount.sh"
    fi
}
