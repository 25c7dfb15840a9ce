# Guest side of the rollout test (issue 17), two boots of one disk. Boot 1, audit mode (bpfgate=audit): three
# unsigned loaders (Debian's dynamic bpftool, two static probes) and a module load by an unsigned insmod; then
# `bpfgate rollout`, and a copy of each file whose `fsverity sign` line the plan prints, to /mnt/rollout/files.
# Between the boots the host signs those copies with the plan's own lines (tests/vm.rs) into /mnt/rollout/sigs.
# Boot 2, enforcing: the same four are refused (the control), the plan's `bpfgate enroll` lines run, and the four
# run again. Prints "@@ NAME VALUE" observations.
T=/mnt/t
R=/mnt/rollout
MOD=/mnt/mod/$(uname -r)/dummy.ko
obs() { echo "@@ $*"; }
# run NAME CMD...: the command's exit status and output on one line.
run() { n=$1; shift; out=$("$@" 2>&1); rc=$?; obs "$n rc=$rc $(echo "$out" | tr '\n' ' ')"; }

# bpftool's libraries (and ld.so) from the ext4 disk, over the initramfs's copies: unsigned, as installed.
for path in $(cat /mnt/lib/PATHS); do mount --bind /mnt/lib/$(basename $path) $path; done

# The four, each once; every call they make is guarded.
workload() { # PREFIX
    run ${1}_bpftool_map $T/bpftool map create /sys/fs/bpf/rollout_m type hash key 4 value 4 entries 8 name rollout_m
    run ${1}_bpftool_prog $T/bpftool prog load $T/demo.bpf.o /sys/fs/bpf/rollout_p
    rm -f /sys/fs/bpf/rollout_m /sys/fs/bpf/rollout_p
    run ${1}_probe_map $T/probe-unsigned map
    run ${1}_probe_prog $T/probe-rollout prog
    run ${1}_insmod $T/insmod $MOD
    obs "${1}_module $(grep -c '^dummy ' /proc/modules)"
}

bpfgate --log stderr load >/tmp/load.out 2>&1; rc=$?
obs "load rc=$rc $(tr '\n' ' ' </tmp/load.out)"
obs "mode $(bpfgate status --json | grep -o '"mode":"[a-z]*"')"
case " $(cat /proc/cmdline) " in
*" bpfgate=audit "*)
    workload audit
    # The loaders live in /mnt/t, which is not a usual bin directory: --search names it.
    bpfgate rollout --search $T >/tmp/plan.txt 2>&1; obs "rollout_rc $?"
    obs "rollout $(tr '\n' '|' </tmp/plan.txt)"
    obs "rollout_json $(bpfgate rollout --json --search $T 2>&1)"
    # What an operator hands to the signing machine: the files the plan's sign lines name.
    mkdir -p $R/files
    cp /tmp/plan.txt $R/plan.txt
    grep '^  fsverity sign ' /tmp/plan.txt | while read -r _ _ path sig _; do cp "$path" "$R/files/${sig%.sig}"; done
    obs "copied $(ls $R/files | tr '\n' ' ')"
    # A clean unmount: the host reads and writes this filesystem between the boots.
    for path in $(cat /mnt/lib/PATHS); do umount $path; done
    cd / && umount /mnt; obs "umount rc=$?"
    ;;
*)
    workload before
    obs "log_before $(bpfgate log | wc -l)"
    ok=0; n=0
    cd $R/sigs && while read -r line; do
        [ -n "$line" ] || continue
        n=$((n + 1)); sh -c "$line" >/tmp/enroll.out 2>&1 && ok=$((ok + 1)) || obs "enroll_failed $line: $(tr '\n' ' ' </tmp/enroll.out)"
    done <<PLAN
$(grep '^  bpfgate enroll --sig ' $R/plan.txt)
PLAN
    cd /
    obs "enrolled $ok of $n"
    workload after
    obs "log_after $(bpfgate log | wc -l)"
    obs "log_tail $(bpfgate log | tail -3 | tr '\n' '|')"
    obs "check $(bpfgate check $T/bpftool $T/probe-unsigned $T/probe-rollout $T/insmod 2>&1 | tr '\n' '|')"
    obs "rollout_after $(bpfgate rollout --search $T 2>&1 | head -1)"
    # PID 1 running untrusted code (this busybox, the gate loaded after it started) regains trust by exec'ing a
    # verified file only when no user task shares its fs_struct. After this script, /init execs the chain as PID 1:
    # an unsigned probe (probe-nostore: the plan above had probe-unsigned signed) makes a CLONE_FS child and execs the signed probe while the child lives (the attack: it
    # must stay untrusted), which reaps the child and execs the signed probe again (the control: trusted).
    bpfgate enroll --sig /mnt/sig/probe-signed.sig $T/probe-signed >/dev/null
    echo "$T/probe-nostore pid1exec pid1_unsigned share 3 $T/probe-signed pid1exec pid1_shared alone 5" \
        "$T/probe-signed pid1exec pid1_alone halt 0" >/tmp/pid1-chain
    ;;
esac
obs "dmesg_warnings $(dmesg | grep -cE 'WARNING:|BUG:|Oops|Call Trace|general protection')"
