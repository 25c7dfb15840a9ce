#!/bin/busybox sh
# /sbin/init.sh of the real root in the init-mode boots: bpfgate (the initramfs's /init) loaded the gate, mounted
# this root and exec'ed /sbin/init (a signed bpfprobe, still PID 1), which exec'ed this. Records what the host
# asserts on, then powers off.
/bin/busybox --install -s /bin
echo
echo "@@ booted kernel=$(uname -r)"
echo "@@ realroot pid=$$ uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "@@ rootmount $(awk '$2 == "/" {print $1, $3, $4}' /proc/mounts | tail -1)"
mount -t tmpfs tmpfs /tmp
echo "@@ gate_log $(dmesg | grep 'bpfgate:' | tr '\n' ' ')"
if [ -d /sys/fs/bpf/bpfgate ]; then
    bpfgate --log stderr enroll --sig /sig/probe-signed.sig /t/probe-signed >/dev/null
    echo "@@ realroot_signed_map $(/t/probe-signed map)"
    echo "@@ realroot_unsigned_map $(/t/probe-unsigned map)"
    echo "@@ realroot_status $(bpfgate --log stderr status 2>&1 | head -1)"
    echo "@@ realroot_pins $(ls /sys/fs/bpf/bpfgate | wc -l)"
    echo "@@ realroot_window $(bpfgate log 2>&1 | grep 'trust_window_closed' | tr '\n' ' ')"
    echo "@@ realroot_policy $(bpfgate --log stderr status 2>&1 | grep -E '^  (bpf|kmod)' | tr '\n' ';')"
else
    echo "@@ realroot_unsigned_map $(/t/probe-unsigned map)"
    echo "@@ realroot_status $(bpfgate --log stderr status 2>&1 | head -1)"
fi
echo "@@ done"
poweroff -f
