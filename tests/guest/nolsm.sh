# Guest side of the "BPF LSM inactive" boot (lsm= without bpf): load must fail, say how to fix it, log to
# /dev/kmsg as it would in an initramfs (no terminal, no syslog), and leave nothing behind.
T=/mnt/t
obs() { echo "@@ $*"; }
bpfgate load </dev/null >/tmp/out 2>&1; rc=$?
obs "nolsm_load rc=$rc"
obs "nolsm_output $(tr '\n' ' ' </tmp/out)"
obs "nolsm_kmsg $(dmesg | grep 'bpfgate:' | tr '\n' ' ')"
obs "nolsm_lsm $(cat /sys/kernel/security/lsm)"
obs "nolsm_keyrings $(grep -c ' bpfgate: ' /proc/keys)"
obs "nolsm_pins $(ls /sys/fs/bpf/bpfgate 2>/dev/null | wc -l)"
obs "nolsm_unsigned_map $($T/probe-unsigned map)"
