#!/bin/sh
# Runs in the booted sid root (a systemd service, untrusted: /bin/sh is not signed). Starts a signed and an unsigned
# service that each get a delegated bpffs from PID 1 (PrivateBPF=, BPFDelegate*=) and try to mint a BPF token from
# it; prints "@@ NAME VALUE" observations for tests/vm.rs and powers off.
obs() { echo "@@ $*"; }
obs "booted kernel=$(uname -r)"
obs "systemd_version $(systemctl --version | head -1)"
obs "sid_status $(bpfgate status 2>&1 | head -1)"
obs "sid_pid1 $(bpfgate check /proc/1/exe 2>&1)"
for s in signed unsigned info; do
    systemctl start privatebpf-$s.service >/tmp/start-$s 2>&1; obs "privatebpf_${s}_rc $?"
    obs "privatebpf_$s $(tr '\n' ' ' </run/privatebpf-$s.out 2>&1)"
done
obs "privatebpf_mount $(systemctl show -p PrivateBPF privatebpf-signed.service)"
obs "sid_log $(bpfgate log 2>&1 | grep -E 'token|probe' | tr '\n' '|')"
obs "done"
systemctl poweroff --no-block
