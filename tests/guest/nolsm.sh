# Guest side of the "BPF LSM inactive" boot (lsm= without bpf): load must fail, say how to fix it, and leave nothing
# behind. As the initramfs hooks run it (`load --boot`, no terminal, no syslog) it logs to /dev/kmsg; run by a
# person (no --boot), its errors go to stderr whatever stderr is.
T=/mnt/t
obs() { echo "@@ $*"; }
bpfgate load --boot </dev/null >/tmp/out 2>&1; rc=$?
obs "nolsm_load rc=$rc"
obs "nolsm_output $(tr '\n' ' ' </tmp/out)"
obs "nolsm_kmsg $(dmesg | grep 'bpfgate:' | tr '\n' ' ')"
bpfgate load </dev/null >/tmp/out 2>&1; obs "nolsm_load_interactive rc=$? $(tr '\n' ' ' </tmp/out)"
obs "nolsm_lsm $(cat /sys/kernel/security/lsm)"
obs "nolsm_keyrings $(grep -c ' bpfgate: ' /proc/keys)"
obs "nolsm_pins $(ls /sys/fs/bpf/bpfgate 2>/dev/null | wc -l)"
obs "nolsm_unsigned_map $($T/probe-unsigned map)"
bpfgate doctor /mnt >/tmp/doctor.out 2>&1; obs "nolsm_doctor rc=$? $(tr '\n' ';' </tmp/doctor.out)"
# Logging to syslog when /dev/log exists (and no terminal): busybox syslogd as the system logger.
syslogd -n -O /tmp/messages &
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /dev/log ] && break; sleep 0.2; done
bpfgate load --boot </dev/null >/tmp/out2 2>&1; rc=$?
sleep 0.5
obs "syslog_load rc=$rc stderr_bytes=$(wc -c </tmp/out2)"
obs "syslog_line $(grep 'bpfgate' /tmp/messages | tr '\n' ' ')"
# Any other command reports to the person who ran it, syslog or not.
bpfgate enroll --sig /nonexistent.sig /nonexistent </dev/null >/tmp/out3 2>&1; rc=$?
obs "stderr_enroll rc=$rc $(tr '\n' ' ' </tmp/out3)"
