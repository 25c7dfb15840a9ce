# Guest side of the VM tests (busybox sh, as root, untrusted). Performs each scenario and prints observations as
# "@@ NAME VALUE..."; the host (tests/vm.rs) asserts on them. Nothing here decides pass or fail.
T=/mnt/t
S=/mnt/sig
PIN=/sys/fs/bpf/bpfgate
obs() { echo "@@ $*"; }
# run NAME CMD...: one observation with the command's output lines joined, and its exit status.
run() { n=$1; shift; out=$("$@" 2>&1 | tr '\n' ' '); obs "$n $out"; }
status_json() { obs "$1 $(bpfgate --log stderr status --json 2>&1)"; }

# --- Enrolment (bpfgate enroll), and the bad signatures ---
for f in signed signed2 second cache secxattr corrupt truncated foreign wrongfile; do
    run enroll_$f bpfgate --log stderr enroll --sig $S/probe-$f.sig $T/probe-$f
done
run enroll_bpftool bpfgate --log stderr enroll --sig $S/bpftool-signed.sig $T/bpftool-signed
run enroll_busybox bpfgate --log stderr enroll --sig $S/busybox-signed.sig $T/busybox-signed
run enroll_probe_dyn bpfgate --log stderr enroll --sig $S/probe-dyn.sig $T/probe-dyn
run enroll_libgood bpfgate --log stderr enroll --sig $S/libgood.so.sig $T/libgood.so
# Signed libraries and ld.so, bind-mounted over the initramfs's unsigned copies.
libs_ok=0
for path in $(cat /mnt/lib/PATHS); do
    f=/mnt/lib/$(basename $path)
    bpfgate --log stderr enroll --sig $S/lib-$(basename $path).sig $f >/dev/null && mount --bind $f $path && libs_ok=$((libs_ok + 1))
done
obs "signed_libs $libs_ok of $(wc -l </mnt/lib/PATHS)"
run enroll_rejects_garbage_sig bpfgate --log stderr enroll --sig /init $T/probe-garbage
# Bad xattrs on verity files (bpfprobe sets them raw; enroll would refuse them).
for f in empty garbage big; do bpfprobe verity $T/probe-$f >/dev/null; done
bpfprobe setxattr $T/probe-empty user.bpfgate.sig empty: >/dev/null
bpfprobe setxattr $T/probe-garbage user.bpfgate.sig random:700 >/dev/null
run big_xattr_set bpfprobe setxattr $T/probe-big user.bpfgate.sig random:65536
# Signature but no fs-verity.
bpfprobe setxattr $T/probe-noverity user.bpfgate.sig $S/probe-noverity.sig >/dev/null
# Only the security.bpf.* name left.
bpfprobe rmxattr $T/probe-secxattr user.bpfgate.sig >/dev/null
run digest_userspace bpfgate digest $T/probe-signed
# Digest parameters: enable fs-verity as signed, then the signature xattr of each kind.
for v in sha512:2:4096 1k:1:1024 64k:1:65536; do
    name=${v%%:*}; rest=${v#*:}; alg=${rest%%:*}; bs=${rest#*:}
    for kind in valid wrong empty big random; do
        f=$T/probe-v-$name-$kind
        r=$(bpfprobe verity $f $alg $bs)
        case $kind in
        valid|wrong) bpfprobe setxattr $f user.bpfgate.sig $S/probe-v-$name-$kind.sig ;;
        empty) bpfprobe setxattr $f user.bpfgate.sig empty: ;;
        big) bpfprobe setxattr $f user.bpfgate.sig random:65536 ;;
        random) bpfprobe setxattr $f user.bpfgate.sig random:600 ;;
        esac >/dev/null
    done
    obs "verity_params_$name $r"
done

# --- Controls: the gate is off, the same operations succeed ---
run control_unsigned_map $T/probe-unsigned map
run control_unsigned_prog $T/probe-unsigned prog
run control_unsigned_btf $T/probe-unsigned btf
run control_bpftool_unsigned $T/bpftool map create /sys/fs/bpf/control type array key 4 value 4 entries 1 name control
rm -f /sys/fs/bpf/control
bpfgate --log stderr status >/dev/null 2>&1; obs "status_inactive_rc $?"
MOD=/mnt/mod/$(uname -r)/dummy.ko
printf '#!/bin/sh\necho "$*" >>/tmp/modprobe.calls\n' >/tmp/modprobe-log; chmod +x /tmp/modprobe-log
echo /tmp/modprobe-log >/proc/sys/kernel/modprobe
mkdir -p /tmp/fsx
kernel_ops() { # PREFIX PROBE [SHELL]: every kernel-modifying operation, as PROBE (and SHELL for the mount)
    run ${1}_finit $2 finit $MOD; rmmod dummy 2>/dev/null
    run ${1}_initmod $2 initmod $MOD; rmmod dummy 2>/dev/null
    run ${1}_kexec_file $2 kexecfile /mnt/vmlinuz
    run ${1}_kexec_load $2 kexecload
    run ${1}_devmem $2 openrw /dev/mem
    run ${1}_ioperm $2 ioperm
    $3 mount -t ${1}fs none /tmp/fsx 2>/dev/null
    obs "${1}_module_request $(grep -c "fs-${1}fs" /tmp/modprobe.calls 2>/dev/null || echo 0)"
}
kernel_ops control bpfprobe
# The BPF sysctls, by SHELL (`sh`: untrusted; `$T/busybox-signed sh`: trusted): each opened for writing and given
# its own value back (the open is what the gate decides), then bpf_stats_enabled switched on (the attack: what the
# BPF_ENABLE_STATS command does) and off again; a non-BPF sysctl and a read as the controls of the same shell.
BPF_SYSCTLS="kernel/bpf_stats_enabled kernel/unprivileged_bpf_disabled net/core/bpf_jit_enable \
net/core/bpf_jit_harden net/core/bpf_jit_kallsyms net/core/bpf_jit_limit"
sysctl_writes() { # PREFIX SHELL...
    p=$1; shift; out=""
    for s in $BPF_SYSCTLS kernel/printk_ratelimit; do
        f=/proc/sys/$s
        if [ ! -e $f ]; then r=absent
        elif "$@" -c "read v < $f; echo \$v > $f" 2>/dev/null; then r=ok
        else r=refused; fi
        out="$out ${s##*/}=$r"
    done
    "$@" -c "echo 1 > /proc/sys/kernel/bpf_stats_enabled" 2>/dev/null
    out="$out stats_on=$(cat /proc/sys/kernel/bpf_stats_enabled)"
    "$@" -c "echo 0 > /proc/sys/kernel/bpf_stats_enabled" 2>/dev/null
    obs "${p}_sysctl$out stats_off=$(cat /proc/sys/kernel/bpf_stats_enabled)"
}
sysctl_writes control sh
# BPF tokens (the delegation flow of systemd's PrivateBPF=, see bpfprobe token): with the gate off, any root process
# creates a token and uses it, and hands it to another process that uses it.
# A map fd inherited across exec, written by bpf(), a shared writable mmap and mprotect: with the gate off, by anyone.
run control_map_inherited $T/probe-unsigned mapexec $T/probe-unsigned
run control_token $T/probe-unsigned token any
run control_token_passed $T/probe-unsigned token any pass $T/probe-unsigned
# Programs attached without bpf() (a socket filter by SO_ATTACH_BPF, a perf-event program by PERF_EVENT_IOC_SET_BPF),
# by a program that inherited their fds; a link's program replaced (an XDP link on lo); root's user keyring, which
# will hold the gate's, invalidated: with the gate off, all work.
# tc: the clsact qdisc and cls_bpf (modules: untrusted root cannot load them once the gate is on); the qdisc is
# added by a task that holds no program fd, as `tc qdisc add` would be.
for m in sch_ingress cls_bpf; do insmod /mnt/mod/$(uname -r)/$m.ko; done
run clsact_add bpfprobe clsact add
run control_progattach $T/probe-unsigned progexec $T/probe-unsigned
run control_progpass $T/probe-unsigned progpass $T/probe-unsigned
run control_linkupdate bpfprobe linkupdate own
insmod /mnt/mod/$(uname -r)/overlay.ko  # for the substitution tests; untrusted root cannot once the gate is on

# --- Load the gate ---
t0=$(cut -d' ' -f1 /proc/uptime)
bpfgate --log stderr load > /tmp/load.out 2>&1; rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
obs "load rc=$rc t0=$t0 t1=$t1 $(tr '\n' ' ' </tmp/load.out)"
obs "loader_running $(pidof bpfgate || echo none)"
obs "pins $(ls $PIN | tr '\n' ' ')"
obs "lsm $(cat /sys/kernel/security/lsm)"
obs "keyring $(cat /proc/keys | grep -E ' keyring +bpfgate: ' | awk '{print $1, $5}')"
status_json status_first

# --- bpfgate check: each file's verdict and reason, before any of them runs; bpfgate doctor ---
for f in signed second unsigned foreign wrongfile corrupt truncated empty garbage big noverity secxattr \
    v-sha512-valid v-sha512-wrong v-1k-valid; do
    obs "check_$f $(bpfgate check $T/probe-$f 2>&1)"
done
obs "check_script $(bpfgate check $T/script 2>&1)"
bpfgate check $T/probe-signed $T/probe-second >/dev/null 2>&1; obs "check_all_trusted_rc $?"
bpfgate check $T/probe-signed $T/probe-unsigned >/dev/null 2>&1; obs "check_mixed_rc $?"
obs "check_json $(bpfgate check --json $T/probe-foreign)"
bpfgate doctor /mnt >/tmp/doctor.out 2>&1; obs "doctor_mnt rc=$? $(tr '\n' ';' </tmp/doctor.out)"
bpfgate doctor / >/tmp/doctor.out 2>&1; obs "doctor_root rc=$? $(tr '\n' ';' </tmp/doctor.out)"

# --- Trusted and untrusted loaders ---
run signed_map $T/probe-signed map
run signed_prog $T/probe-signed prog
run signed_btf $T/probe-signed btf
run second_key_map $T/probe-second map
run unsigned_map $T/probe-unsigned map
run unsigned_prog $T/probe-unsigned prog
run unsigned_btf $T/probe-unsigned btf
for f in foreign noverity corrupt truncated wrongfile empty garbage big; do run bad_$f $T/probe-$f map; done
run child_of_trusted $T/probe-signed fork map
run child_of_untrusted $T/probe-unsigned fork map
run exec_loses_trust $T/probe-signed exec $T/probe-unsigned map
run exec_signed_to_signed $T/probe-signed exec $T/probe-signed2 map
run script_signed_interp $T/script
run secxattr_only $T/probe-secxattr map
run root_shell_map bpfprobe map
# --- Protected maps: a trusted loader's map, its fd inherited by an unsigned program, cannot be written by it ---
run protected_map_to_untrusted $T/probe-signed mapexec $T/probe-unsigned
run protected_map_to_trusted $T/probe-signed mapexec $T/probe-signed2
# --- Tokens: only trusted tasks mint them; a token does not make its holder trusted ---
run token_trusted $T/probe-signed token any
run token_untrusted $T/probe-unsigned token any
run token_passed_to_untrusted $T/probe-signed token any pass $T/probe-unsigned
run token_passed_to_trusted $T/probe-signed token any pass $T/probe-signed2
run token_narrow $T/probe-signed token map_create
# --- Signed programs: without bpf.signed (the default), a program signed for the gate's keyring is refused too ---
LS=$T/lskel; case $(uname -r) in [0-6].* | 7.[0-2][.+-]*) ;; *) LS=$T/lskel73 ;; esac
run signed_lskel_default $LS signed "$(bpfgate status --json | sed -n 's/.*"keyring":\([0-9]*\).*/\1/p')"
for name in sha512 1k 64k; do
    for kind in valid wrong empty big random; do run vparam_${name}_$kind $T/probe-v-$name-$kind map; done
done

# --- Substitution: trust follows verified content, never a path ---
cp $T/probe-signed /tmp/copy-tmpfs; run subst_copy_tmpfs /tmp/copy-tmpfs map
cp $T/probe-signed /mnt/copy-plain; run subst_copy_no_verity /mnt/copy-plain map
bpfprobe verity /mnt/copy-plain >/dev/null
bpfprobe setxattr /mnt/copy-plain user.bpfgate.sig $S/probe-signed.sig >/dev/null
run subst_copy_reverified /mnt/copy-plain map
ln $T/probe-signed /mnt/hardlink; run subst_hardlink /mnt/hardlink map
mv /mnt/hardlink /mnt/renamed; run subst_renamed /mnt/renamed map
cp $T/probe-unsigned /mnt/evil-copy
mkdir -p /tmp/bindt; cp $T/probe-signed2 /tmp/bindt/ 2>/dev/null
mount --bind /mnt/evil-copy $T/probe-signed2; run subst_bind_over_signed $T/probe-signed2 map; umount $T/probe-signed2
run subst_after_unbind $T/probe-signed2 map
mkdir -p /tmp/ovl/up /tmp/ovl/work /tmp/ovl/merged
if mount -t overlay overlay -o lowerdir=$T,upperdir=/tmp/ovl/up,workdir=/tmp/ovl/work /tmp/ovl/merged; then
    run subst_overlay_lower /tmp/ovl/merged/probe-signed map
    touch /tmp/ovl/merged/probe-signed2 2>/dev/null  # copy-up
    run subst_overlay_copied_up /tmp/ovl/merged/probe-signed2 map
    umount /tmp/ovl/merged
else
    obs "subst_overlay_lower overlay_mount_failed"
fi

# --- Third-party client: Debian's bpftool ---
run bpftool_signed $T/bpftool-signed map create $PIN/../trusted_map type array key 4 value 4 entries 1 name trusted
run bpftool_unsigned $T/bpftool map create /sys/fs/bpf/untrusted_map type array key 4 value 4 entries 1 name untrusted
run bpftool_unsigned_list $T/bpftool map list

# --- The gate's own objects ---
run steal_untrusted $T/probe-unsigned steal $PIN
run steal_trusted $T/probe-signed steal $PIN
run status_write bpfprobe writefile $PIN/status
run status_untrusted bpfgate --log stderr status

# --- Cache: first exec verifies, second hits the cache, xattr changes make it stale ---
# (An xattr write of the value already there changes nothing, ctime included: ext4 returns early.) The signature
# stays under the user.* name only, so that the changes below are to the xattr every kernel reads.
bpfprobe rmxattr $T/probe-cache security.bpf.bpfgate.sig >/dev/null
status_json cache_0
$T/probe-cache map >/dev/null
status_json cache_1
$T/probe-cache map >/dev/null
status_json cache_2
bpfprobe setxattr $T/probe-cache user.bpfgate.sig random:700 >/dev/null
status_json cache_3
run cache_after_change $T/probe-cache map
status_json cache_4
bpfprobe setxattr $T/probe-cache user.bpfgate.sig $S/probe-cache.sig >/dev/null
run cache_after_restore $T/probe-cache map
bpfprobe rmxattr $T/probe-cache user.bpfgate.sig >/dev/null
run cache_after_remove $T/probe-cache map
bpfprobe setxattr $T/probe-cache user.bpfgate.sig $S/probe-cache.sig >/dev/null
run cache_after_second_restore $T/probe-cache map

# --- Signature store: enroll by digest from a store, sync a watch list ---
run store_before $T/probe-store map
bpfgate --log stderr enroll --store /mnt/store $T/probe-store $T/probe-nostore $T/probe-badstore >/tmp/store.out 2>&1
obs "store_enroll rc=$? $(tr '\n' '|' </tmp/store.out)"
run store_after $T/probe-store map
run store_bad_unchanged bpfgate check $T/probe-badstore
printf '# loaders\n%s\n/nonexistent/loader\n' "$T/probe-store" >/tmp/watch.conf
bpfgate --log stderr sync --store /mnt/store --watch /tmp/watch.conf >/tmp/sync.out 2>&1
obs "store_sync rc=$? $(tr '\n' '|' </tmp/sync.out)"

# --- Counts: three denied map creations by an untrusted task ---
status_json counts_before
for i in 1 2 3; do $T/probe-unsigned map >/dev/null; done
status_json counts_after

# --- Second load: reports the active gate, changes nothing ---
bpfgate --log stderr load > /tmp/load2.out 2>&1; rc=$?
obs "load_again rc=$rc $(tr '\n' ' ' </tmp/load2.out)"
obs "keyring_after $(cat /proc/keys | grep -E ' keyring +bpfgate: ' | awk '{print $1, $5}')"
run signed_map_after_reload $T/probe-signed map
status_json status_last

# --- Injection through executable mappings: each attack beside its control ---
B="map create /sys/fs/bpf/inj type array key 4 value 4 entries 1 name inj"
run dyn_signed_map $T/probe-dyn map
run bpftool_ld_preload env LD_PRELOAD=$T/libevil.so $T/bpftool-signed $B
run bpftool_ld_library_path env LD_LIBRARY_PATH=/mnt/evil $T/bpftool-signed $B
run bpftool_ld_audit env LD_AUDIT=$T/libevil.so $T/bpftool-signed $B
run bpftool_control $T/bpftool-signed $B
rm -f /sys/fs/bpf/inj
run dlopen_unsigned $T/probe-dyn dlopen $T/libevil.so map
run dlopen_unsigned_then_fork $T/probe-dyn dlopen $T/libevil.so fork map
run dlopen_signed $T/probe-dyn dlopen $T/libgood.so map
# mmap_file answers a library's cached verdict before the task's trust, and only a current one: with its signature
# removed after a mapping cached the verdict, the next mapping verifies again, fails and taints.
run dlopen_signed_cached $T/probe-dyn dlopen $T/libgood.so map
bpfprobe rmxattr $T/libgood.so security.bpf.bpfgate.sig >/dev/null # enroll wrote both names
bpfprobe rmxattr $T/libgood.so user.bpfgate.sig >/dev/null
run dlopen_signed_stale $T/probe-dyn dlopen $T/libgood.so map
bpfprobe setxattr $T/libgood.so user.bpfgate.sig $S/libgood.so.sig >/dev/null
run dlopen_signed_restored $T/probe-dyn dlopen $T/libgood.so map
run anon_exec $T/probe-signed anonexec map
run mprotect_exec $T/probe-signed mprotectexec map
run anon_exec_untrusted_control $T/probe-unsigned anonexec map
# Threads share their process's verdict and taint (kept on the thread-group leader; threads hold no entry); a
# thread that execs becomes the new program's leader and gets its verdict.
run thread_trusted $T/probe-signed thread map
run thread_untrusted $T/probe-unsigned thread map
run thread_taint $T/probe-signed thread anonexec map
run threadexec_signed $T/probe-unsigned threadexec $T/probe-signed map
run threadexec_unsigned $T/probe-signed threadexec $T/probe-unsigned map

# --- Kernel-modifying operations (the controls ran before the gate) ---
kernel_ops untrusted bpfprobe
kernel_ops trusted $T/probe-signed $T/busybox-signed
sysctl_writes untrusted sh
obs "sysctl_logged $(bpfgate log 2>&1 | grep -c 'denied sysctl .*untrusted$')"
sysctl_writes trusted $T/busybox-signed sh

# --- Injection into trusted tasks: ptrace, /proc/PID/mem, process_vm_writev, TRACEME, exec under a tracer ---
$T/probe-signed sleep 60 & SP=$!
$T/probe-unsigned sleep 60 & UP=$!
sleep 0.5
for op in ptrace procmem vmwrite; do
    run ${op}_untrusted_to_trusted $T/probe-unsigned $op $SP
    run ${op}_untrusted_to_untrusted $T/probe-unsigned $op $UP
    run ${op}_trusted_to_trusted $T/probe-signed2 $op $SP
done
run traceme_trusted_child_untrusted_parent $T/probe-signed traceme
run traceme_untrusted_child $T/probe-unsigned traceme
run traced_exec_of_signed $T/probe-unsigned tracedexec $T/probe-signed map
kill $SP $UP 2>/dev/null
# Exec states an untrusted parent controls: a seccomp user-notification listener (its supervisor answers the
# program's calls and can install fds into it), personality flags a setuid exec clears (no ASLR), an fs_struct
# shared with another process (CLONE_FS). Controls: a plain seccomp filter, no personality flag, a plain fork.
run seccomp_listener_exec bpfprobe seccompexec listener $T/probe-signed map
run seccomp_plain_exec bpfprobe seccompexec plain $T/probe-signed map
run personality_exec bpfprobe personalityexec 0040000 $T/probe-signed map
run personality_none_exec bpfprobe personalityexec 0 $T/probe-signed map
run shared_fs_exec bpfprobe sharedfsexec $T/probe-signed map
run plain_exec bpfprobe exec $T/probe-signed map
status_json exec_states

# --- Programs attached outside bpf(): a trusted loader's program fds, inherited by an unsigned program ---
run progattach_to_untrusted $T/probe-signed progexec $T/probe-unsigned
run progattach_to_trusted $T/probe-signed progexec $T/probe-signed2
# An untrusted process that holds one passes it on: to its child by pidfd_getfd and SCM_RIGHTS (the window between
# the fd walk and the kernel's lookup of an fd inside a message, closed).
run progpass_to_untrusted $T/probe-signed progpass $T/probe-unsigned
run progpass_to_trusted $T/probe-signed progpass $T/probe-signed2
# Without a program fd, an untrusted task's rtnetlink works as before.
ip link set lo up >/tmp/ipl 2>&1; obs "netlink_without_prog_fd rc=$? $(tr '\n' ' ' </tmp/ipl)"

# --- The gate's links: a trusted task opens the status iterator's pin and replaces its program ---
run linkupdate_gate $T/probe-signed linkupdate $PIN/status
run linkupdate_own $T/probe-signed linkupdate own
run status_after_linkupdate bpfgate --log stderr status

# --- Attacks on the gate's pins and mounts ---
# Controls: the same operations on a bpffs, pins and mounts that are not the gate's succeed.
mkdir -p /tmp/ctl /tmp/par
mount -t bpf none /tmp/ctl
$T/bpftool-signed map create /tmp/ctl/m1 type array key 4 value 4 entries 1 name c1
$T/bpftool-signed map create /tmp/ctl/m2 type array key 4 value 4 entries 1 name c2
mv /tmp/ctl/m1 /tmp/ctl/m1b; obs "ctl_rename $?"
rm /tmp/ctl/m2; obs "ctl_unlink $?"
mount -t tmpfs none /tmp/ctl; obs "ctl_mount_over $?"; umount /tmp/ctl
umount /tmp/ctl; obs "ctl_umount $?"
mount -t tmpfs none /tmp/par && mkdir /tmp/par/b && mount -t bpf none /tmp/par/b
umount -l /tmp/par; obs "ctl_umount_lazy_parent $?"
# Control for the namespace attack below: a mount made in a new namespace over a shared mount shows up here.
mkdir -p /tmp/shr && mount -t tmpfs none /tmp/shr && mount --make-shared /tmp/shr && touch /tmp/shr/marker
bpfprobe nsmount unchanged /tmp/shr >/dev/null; obs "ctl_shared_ns_propagates $(ls /tmp/shr | wc -l)"
# Attacks, by untrusted root and by a trusted task (the signed busybox runs each applet in its own process).
att() { n=$1; shift; "$@" >/tmp/att.out 2>&1; rc=$?; obs "$n rc=$rc $(tr '\n' ' ' </tmp/att.out)"; }
status_json pin_attacks_before
for who in untrusted trusted; do
    X=""; [ $who = trusted ] && X=$T/busybox-signed
    att ${who}_rm_pin $X rm -f $PIN/bpf
    att ${who}_mv_pin $X mv $PIN/exec $PIN/exec2
    att ${who}_rm_dir $X rm -rf $PIN
    att ${who}_mv_dir $X mv $PIN /sys/fs/bpf/moved
    att ${who}_mount_over_dir $X mount -t tmpfs none $PIN
    att ${who}_mount_over_bpffs $X mount -t tmpfs none /sys/fs/bpf
    att ${who}_umount_bpffs $X umount /sys/fs/bpf
    att ${who}_umount_lazy_bpffs $X umount -l /sys/fs/bpf
    att ${who}_umount_lazy_sys $X umount -l /sys
done
# Mount namespaces: over a shared bpffs (as under systemd's rshared /), a mount in a new namespace would propagate
# back: refused. In a namespace that is a slave of this one (systemd's PrivateBPF=, PrivateMounts=), mounting over
# /sys/fs/bpf changes only that namespace's view: allowed, and the pins stay here.
mount --make-rshared /sys; obs "make_rshared_sys $?"
for who in untrusted trusted; do
    P=bpfprobe; [ $who = trusted ] && P=$T/probe-signed
    att ${who}_mount_over_bpffs_shared_ns $P nsmount unchanged /sys/fs/bpf
    att ${who}_mount_over_bpffs_slave_ns $P nsmount slave /sys/fs/bpf
done
mount --make-rprivate /sys

# Unmounts that reach the gate's bpffs from elsewhere. Controls first, on a bpffs that is not the gate's: an unmount
# in a new namespace that propagates back, one through a bind-mounted peer, the removal of a mountpoint directory
# from a namespace where it is not one, and a lazy unmount far above a deep tree. Each frees the control bpffs here.
mounted() { grep -c " $1 " /proc/mounts; }
mkdir -p /tmp/pc && mount -t tmpfs none /tmp/pc && mkdir /tmp/pc/b && mount --make-shared /tmp/pc
mount -t bpf none /tmp/pc/b
bpfprobe nsexec unchanged /bin/umount -l /tmp/pc/b; obs "ctl_umount_propagated rc=$? left=$(mounted /tmp/pc/b)"
mount -t bpf none /tmp/pc/b; mkdir -p /tmp/pcb && mount --rbind /tmp/pc /tmp/pcb
umount -l /tmp/pcb/b; obs "ctl_umount_bind_peer rc=$? left=$(mounted /tmp/pc/b)"
mkdir -p /tmp/dm && mount -t bpf none /tmp/dm
unshare -m sh -c 'umount -l /tmp/dm && rmdir /tmp/dm'; obs "ctl_rmdir_mountpoint rc=$? left=$(mounted /tmp/dm)"
deep() { # DIR: 70 nested tmpfs mounts under DIR; prints the innermost directory
    d=$1; mkdir -p $d; mount -t tmpfs none $d
    for i in $(seq 70); do mkdir $d/n; mount -t tmpfs none $d/n; d=$d/n; done
    mkdir $d/b; echo $d/b
}
b=$(deep /tmp/deepc); mount -t bpf none $b
umount -l /tmp/deepc; obs "ctl_umount_deep rc=$? left=$(grep -c ' /tmp/deepc' /proc/mounts)"
# The attacks on the gate's own chain (/sys/fs/bpf, /sys, /), by untrusted root and by trusted tasks.
mount --make-shared /sys; mount --make-shared /
SB=$T/busybox-signed
# Each bpffs stacked on /sys/fs/bpf in turn: a copy whose parent is private goes (harmless), the first one whose
# parent is the shared /sys would propagate and must be refused.
att untrusted_umount_propagated bpfprobe nsexec unchanged /bin/sh -c 'while umount -l /sys/fs/bpf; do :; done; exit 1'
att trusted_umount_propagated $T/probe-signed nsexec unchanged $SB sh -c "while $SB umount -l /sys/fs/bpf; do :; done; exit 1"
att untrusted_umount_propagated_parent bpfprobe nsexec unchanged /bin/umount -l /sys
obs "sysb_before $(grep -c ' /tmp/sysb' /proc/mounts)"
mkdir -p /tmp/sysb && mount --rbind /sys /tmp/sysb
obs "sysb_mounts $(grep ' /tmp/sysb' /proc/self/mountinfo | awk '{print $5, $7}' | tr '\n' ';')"
att untrusted_umount_bind_peer_parent umount -l /tmp/sysb
# Made private, the bind mount no longer propagates: unmounting it is allowed (and leaves the gate alone).
mount --make-rprivate /tmp/sysb; umount -l /tmp/sysb; obs "private_bind_umount $?"
mount --make-rprivate /sys; mount --make-private /
att untrusted_rmdir_chain_mountpoint unshare -m sh -c 'umount -l /sys && rmdir /sys'
att untrusted_rename_chain_mountpoint unshare -m sh -c 'umount -l /sys && mv /sys /sys.old'
b=$(deep /tmp/deep)
mount --move /sys/fs/bpf $b; obs "gate_moved_deep $?"
att untrusted_umount_deep umount -l /tmp/deep
att trusted_umount_deep $SB umount -l /tmp/deep
mount --move $b /sys/fs/bpf; obs "gate_moved_back $?"
# The bpffs superblock reconfigured without mount(2) (fspick + fsconfig): refused for the gate's, to everyone; the
# same on another bpffs works. mount_setattr(2) has no LSM hook: a per-mount read-only flag goes through and changes
# nothing the gate needs (the pins stay and it keeps enforcing: the checks right below).
mkdir -p /tmp/fsp && mount -t bpf none /tmp/fsp
run ctl_fspick bpfprobe fspick /tmp/fsp
run untrusted_fspick_gate bpfprobe fspick /sys/fs/bpf
run trusted_fspick_gate $T/probe-signed fspick /sys/fs/bpf
run setattr_gate bpfprobe setattr /sys/fs/bpf
umount /tmp/fsp
sleep 1
obs "pins_after_attacks $(ls $PIN | wc -l)"
run unsigned_map_after_attacks $T/probe-unsigned map
run signed_map_after_attacks $T/probe-signed map

# --- The keyring: closed to additions, permissions fixed (attacks last: a success would disarm the gate) ---
ring=$(grep -E ' keyring +bpfgate: ' /proc/keys | awk '{print $1}')
run keyring_attack bpfprobe keyattack $((0x$ring))
run keyring_attack_trusted $T/probe-signed keyattack $((0x$ring))
cert=$(awk '$8 == "asymmetri" && /bpfgate test signer/ {print $1; exit}' /proc/keys)  # type column is 9 wide
obs "cert_key $((0x$cert))"
run cert_attack bpfprobe keyattack $((0x$cert))
run keyring_attack_control bpfprobe keyattack new
run clear_user_keyring bpfprobe clearuserkeyring
# Root's user keyring, which holds the gate's: set to expire in a second, invalidated, revoked (the control ran
# before the gate). Then a signed file whose cached verdict was dropped must verify against the keyring again.
run uid_keyring_attack bpfprobe uidkeyring
run uid_keyring_attack_trusted $T/probe-signed uidkeyring
run uid_keyring_control bpfprobe uidkeyring uid=1000
sleep 2
bpfprobe setxattr $T/probe-cache user.bpfgate.sig $S/probe-cache.sig >/dev/null
run signed_after_uid_keyring_attack $T/probe-cache map
run signed_map_after_key_attacks $T/probe-signed map

status_json status_end
cat $PIN/status >/mnt/status-stream.bin  # a real stream, kept as a fuzzing seed

# --- Kernel health ---
obs "dmesg_warnings $(dmesg | grep -cE 'WARNING:|BUG:|Oops|Call Trace|general protection')"
dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace' | head -5 | while read -r l; do obs "dmesg_line $l"; done
