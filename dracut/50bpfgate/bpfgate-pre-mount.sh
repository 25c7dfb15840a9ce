#!/bin/sh
# dracut pre-mount hook (initrds without systemd): load the gate before the real root is mounted.
type die >/dev/null 2>&1 || . /lib/dracut-lib.sh
if ! /usr/sbin/bpfgate --log kmsg load --boot; then
    die "bpfgate: the gate could not be loaded and required = 1 (see the kernel log); the boot stops"
fi
