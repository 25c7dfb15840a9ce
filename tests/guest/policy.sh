# Guest side of the policy tests (busybox sh, as root, untrusted). The policy under test comes from the kernel
# command line (bpfgate=, bpfgate.KEY=) and, with `bpfgate_policy_file`, from a config file written here (it names
# the digest of probe-revoked in its denylist). Prints observations "@@ NAME VALUE"; tests/vm.rs asserts per policy.
T=/mnt/t
S=/mnt/sig
PIN=/sys/fs/bpf/bpfgate
obs() { echo "@@ $*"; }
run() { n=$1; shift; out=$("$@" 2>&1 | tr '\n' ' '); obs "$n $out"; }

for f in signed revoked foreign ro net second; do bpfgate --log stderr enroll --sig $S/probe-$f.sig $T/probe-$f >/dev/null; done
deny=$(bpfgate digest $T/probe-revoked | cut -d' ' -f1)
ro=$(bpfgate digest $T/probe-ro | cut -d' ' -f1)
net=$(bpfgate digest $T/probe-net | cut -d' ' -f1)
cat >/tmp/policy.conf <<CONF
# The policy under test (tests/guest/policy.sh); the kernel command line adds bpfgate.kimg=restrict.
bpf = restrict
bpf.allow = read, write, map_create   # untrusted tasks may also create and write maps (not protected ones)
bpf.block = btf_load           # nobody loads BTF, trusted loaders included
kmod = restrict
kmod.allow = autoload
kimg.allow = confidentiality, ioport
sysctl = restrict
sysctl.allow = bpf_jit_harden  # untrusted tasks may write this one BPF sysctl
denylist = $deny
anchors = baked, secondary, platform   # the kernel's keyrings too (a signer they do not hold gains nothing)
# A monitoring tool's profile: it reads, it loads nothing. probe-ro (signed like probe-signed) is bound to it.
profile.readonly.bpf = read, prog_get_fd_by_id, map_get_fd_by_id, btf_get_fd_by_id
profile.readonly.digests = $ro
# A networking loader's: socket filters and XDP, nothing that traces or hooks the kernel.
profile.network.bpf = read, prog_load
profile.network.prog_types = socket_filter, xdp
profile.network.digests = $net
profile.network.kmod = load    # it may load its modules; readonly gets no kmod, kimg or sysctl rights
# Everything the second (rotation) key signed reads only; probe-net, signed by it too, keeps its digest's profile.
profile.readonly.signers = $(cat $S/second.fp)
CONF
CONFIG=""
case " $(cat /proc/cmdline) " in *" bpfgate_policy_file "*) CONFIG="--config /tmp/policy.conf" ;; esac
bpfgate policy $CONFIG >/tmp/preview 2>&1; obs "preview_rc $?"
obs "preview $(tr '\n' ';' </tmp/preview)"
printf 'bpf = sometimes\nbpf.block = prog_lod\n' >/tmp/bad.conf
run preview_bad bpfgate policy --config /tmp/bad.conf --cmdline "bpfgate=maybe"

MOD=/mnt/mod/$(uname -r)/dummy.ko
printf '#!/bin/sh\necho "$*" >>/tmp/modprobe.calls\n' >/tmp/modprobe-log; chmod +x /tmp/modprobe-log
echo /tmp/modprobe-log >/proc/sys/kernel/modprobe
mkdir -p /tmp/fsx

obs "check_denylisted $(bpfgate check $CONFIG $T/probe-revoked 2>&1)"
obs "check_foreign $(bpfgate check $CONFIG $T/probe-foreign 2>&1)"
obs "check_ro $(bpfgate check $CONFIG $T/probe-ro 2>&1)"
obs "check_full $(bpfgate check $CONFIG $T/probe-signed 2>&1)"
obs "check_second $(bpfgate check $CONFIG $T/probe-second 2>&1)"
obs "check_net $(bpfgate check $CONFIG $T/probe-net 2>&1)"
bpfgate --log stderr load $CONFIG >/tmp/load.out 2>&1; rc=$?
obs "load rc=$rc $(tr '\n' ' ' </tmp/load.out)"
obs "pins $(ls $PIN | tr '\n' ' ')"
obs "status $(bpfgate --log stderr status --json 2>&1)"
obs "status_text $(bpfgate --log stderr status 2>&1 | grep -E '^(mode|  )' | tr '\n' ';')"
bpfgate log --follow >/tmp/follow.out 2>&1 & FOLLOW=$!

# bpf area
run untrusted_map $T/probe-unsigned map
run untrusted_prog $T/probe-unsigned prog
run untrusted_btf bpfprobe btf
run trusted_map $T/probe-signed map
run trusted_prog $T/probe-signed prog
run trusted_btf $T/probe-signed btf
run trusted_prog_other_mntns unshare -m $T/probe-signed prog
run denylisted_prog $T/probe-revoked prog
run foreign_prog $T/probe-foreign prog
# profiles: probe-ro is trusted under `readonly`
run ro_prog $T/probe-ro prog
run ro_map $T/probe-ro map
run ro_token $T/probe-ro token any
run ro_fork_prog $T/probe-ro fork prog
run ro_exec_full $T/probe-ro exec $T/probe-signed prog
run ro_steal $T/probe-ro steal $PIN
run second_prog $T/probe-second prog
run second_map $T/probe-second map
for t in 1 6 2 29; do
    run net_prog_type_$t $T/probe-net progtype $t
    run full_prog_type_$t $T/probe-signed progtype $t
done
# protected maps: untrusted tasks may write maps (policy), but not the ones trusted tasks created
run untrusted_own_map_write $T/probe-unsigned mapwrite own
run untrusted_own_map_write_shared $T/probe-unsigned mapwrite own shared
run protected_map_to_untrusted $T/probe-signed mapexec $T/probe-unsigned
run trusted_token $T/probe-signed token any
run untrusted_token $T/probe-unsigned token any
run token_passed_to_untrusted $T/probe-signed token any pass $T/probe-unsigned
# kmod area
run untrusted_finit bpfprobe finit $MOD; rmmod dummy 2>/dev/null
run trusted_finit $T/probe-signed finit $MOD; rmmod dummy 2>/dev/null
run trusted_finit_other_mntns unshare -m $T/probe-signed finit $MOD; rmmod dummy 2>/dev/null
run ro_finit $T/probe-ro finit $MOD; rmmod dummy 2>/dev/null
run net_finit $T/probe-net finit $MOD; rmmod dummy 2>/dev/null
mount -t policyfs none /tmp/fsx 2>/dev/null
obs "untrusted_module_request $(grep -c fs-policyfs /tmp/modprobe.calls 2>/dev/null || echo 0)"
# kimg area
run untrusted_devmem bpfprobe openrw /dev/mem
run untrusted_ioperm bpfprobe ioperm
run trusted_devmem $T/probe-signed openrw /dev/mem
run trusted_devmem_other_mntns unshare -m $T/probe-signed openrw /dev/mem
run ro_devmem $T/probe-ro openrw /dev/mem
# sysctl area (opened for writing)
run untrusted_sysctl_stats bpfprobe openrw /proc/sys/kernel/bpf_stats_enabled
run untrusted_sysctl_harden bpfprobe openrw /proc/sys/net/core/bpf_jit_harden
run trusted_sysctl_stats $T/probe-signed openrw /proc/sys/kernel/bpf_stats_enabled
run trusted_sysctl_stats_other_mntns unshare -m $T/probe-signed openrw /proc/sys/kernel/bpf_stats_enabled
run ro_sysctl_stats $T/probe-ro openrw /proc/sys/kernel/bpf_stats_enabled
# the trust boundary
$T/probe-signed sleep 30 & SP=$!
sleep 0.3
run ptrace_untrusted_to_trusted $T/probe-unsigned ptrace $SP
kill $SP 2>/dev/null
# the signer-binding keyring (profile readonly) is the gate's like its main one
pring=$(grep -E ' keyring +bpfgate.readonly: ' /proc/keys | awk '{print $1}')
obs "profile_keyring ${pring:-none}"
run profile_keyring_attack bpfprobe keyattack $((0x${pring:-0}))
# the gate's own objects: protected in every mode
rm -f $PIN/bpf; obs "rm_pin rc=$?"
obs "pins_left $(ls $PIN | wc -l)"

sleep 1
kill $FOLLOW 2>/dev/null
obs "status_end $(bpfgate --log stderr status --json 2>&1)"
bpfgate log >/tmp/log.out 2>&1; obs "log_rc $?"
obs "log_lines $(wc -l </tmp/log.out)"
i=0
while read -r l; do i=$((i + 1)); obs "log_$i $l"; done </tmp/log.out
obs "log_json_first $(bpfgate log --json | head -1)"
obs "log_json_profile $(bpfgate log --json | grep probe-ro | grep prog_load | head -1)"
obs "follow_lines $(wc -l </tmp/follow.out)"
obs "follow_prog_load $(grep -c prog_load /tmp/follow.out) of $(grep -c prog_load /tmp/log.out)"
# The rollout plan from this log (audit mode: what enforce would have refused for want of trust).
obs "rollout $(bpfgate rollout --search /mnt/t 2>&1 | tr '\n' '|')"
obs "rollout_json $(bpfgate rollout --json --search /mnt/t 2>&1)"
cat $PIN/events >/mnt/events-stream.bin  # a real event stream, kept as a fuzzing seed
obs "dmesg_warnings $(dmesg | grep -cE 'WARNING:|BUG:|Oops|Call Trace|general protection')"
