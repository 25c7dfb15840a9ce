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
bpfgate doctor /mnt >/tmp/doctor.out 2>&1; obs "nolsm_doctor rc=$? $(tr '\n' ';' </tmp/doctor.out)"
# Logging to syslog when /dev/log exists (and no terminal): busybox syslogd as the system logger.
syslogd -n -O /tmp/messages &
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /dev/log ] && break; sleep 0.2; done
bpfgate enroll --sig /nonexistent.sig /nonexistent </dev/null >/tmp/out2 2>&1; rc=$?
sleep 0.5
obs "syslog_enroll rc=$rc stderr_bytes=$(wc -c </tmp/out2)"
obs "syslog_line $(grep 'bpfgate' /tmp/messages | tr '\n' ' ')"
