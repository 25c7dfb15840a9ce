# Guest side of the signed-program tests (busybox sh, as root, untrusted): policy bpf.signed on the kernel command
# line. The same light-skeleton loads before the gate (the controls: the kernel alone decides) and after it.
# Prints observations "@@ NAME VALUE"; tests/vm.rs asserts them.
T=/mnt/t
obs() { echo "@@ $*"; }
run() { n=$1; shift; out=$("$@" 2>&1 | tr '\n' ' '); obs "$n $out"; }
# The light skeletons of this kernel's signing style (tests/vm/prepare.sh): from 7.3 the kernel checks the
# signature over the loader's instructions and data.
LS=$T/lskel
case $(uname -r) in [0-6].* | 7.[0-2][.+-]*) ;; *) LS=$T/lskel73 ;; esac
obs "lskel $LS"

# Controls, no gate: a signature verifies against any keyring the caller names (here one it made itself), and
# an unsigned light skeleton loads too.
run control_signed_own_keyring $LS signed own $T/signer.der
run control_foreign_own_keyring $LS foreign own $T/foreign.der
run control_unsigned $LS unsigned 0
run control_tampered_own_keyring $LS tampered own $T/signer.der

# Profiles (issue 16): a systemd-like profile (cgroup and LSM programs, some map and attach types) and one that
# requires signed programs, both bound by digest; probe-signed and lskel-full keep `full` (the controls).
S=/mnt/sig
for f in probe-signed probe-sd probe-req ${LS##*/}-req ${LS##*/}-full bpftool-signed bpftool-ro; do
    bpfgate --log stderr enroll --sig $S/$f.sig $T/$f >/dev/null || obs "enroll_failed $f"
done
# Debian's bpftool is dynamic: its signed library closure (ld.so included) over the initramfs's unsigned copies.
for path in $(cat /mnt/lib/PATHS); do
    f=/mnt/lib/$(basename $path)
    bpfgate --log stderr enroll --sig $S/lib-$(basename $path).sig $f >/dev/null && mount --bind $f $path
done
mkdir -p /etc/bpfgate
cat >/etc/bpfgate/policy.conf <<CONF
profile.sysd.bpf = read, prog_load, map_create, prog_attach, prog_detach, link_create
profile.sysd.prog_types = cgroup, lsm
profile.sysd.map_types = hash, array
profile.sysd.attach_types = cgroup_inet_ingress, cgroup_inet_egress, lsm_mac
profile.sysd.digests = $(bpfgate digest $T/probe-sd | cut -d' ' -f1)
# A monitoring tool: Debian's bpftool (bpftool-ro) reads, nothing else.
profile.readonly.bpf = read, prog_get_fd_by_id, map_get_fd_by_id, btf_get_fd_by_id, link_get_fd_by_id, obj_get
profile.readonly.digests = $(bpfgate digest $T/bpftool-ro | cut -d' ' -f1)
profile.signedonly.bpf = all
profile.signedonly.prog_types = all
profile.signedonly.map_types = all
profile.signedonly.attach_types = all
profile.signedonly.signed_programs = required
profile.signedonly.digests = $(bpfgate digest $LS-req | cut -d' ' -f1), $(bpfgate digest $T/probe-req | cut -d' ' -f1)
CONF
obs "doctor_signing $(bpfgate doctor 2>&1 | grep 'requires signed programs' | tr -s ' ')"
bpfgate --log stderr load >/tmp/load.out 2>&1; obs "load rc=$? $(tr '\n' ' ' </tmp/load.out)"
KR=$(bpfgate status --json | sed -n 's/.*"keyring":\([0-9]*\).*/\1/p')
obs "gate_keyring $KR"
obs "policy $(bpfgate status | grep -E '^  bpf.signed' | tr -s ' ')"

# Signed with the gate's key, checked against the gate's keyring: loads, attaches and runs for untrusted root.
run signed_gate_keyring $LS signed "$KR"
# The same signature against a keyring the caller filled with the same (public) certificate: the kernel would
# accept it, the gate does not (the keyring is the caller's choice).
run signed_own_keyring $LS signed own $T/signer.der
# A key the gate does not hold, in the caller's keyring: refused by the gate.
run foreign_own_keyring $LS foreign own $T/foreign.der
# A foreign signature against the gate's keyring: the kernel's own check refuses it.
run foreign_gate_keyring $LS foreign "$KR"
# The signed loader with other data than it was signed for: the gate lets the steps through, the loader's own
# hash check refuses the payload (nothing loads).
run tampered_gate_keyring $LS tampered "$KR"
# The kernel's builtin keyring (anchors = baked does not name it): refused by the gate.
run signed_builtin_keyring $LS signed 0
# No signature at all.
run unsigned $LS unsigned 0
# An unsigned program, by the same untrusted task that just loaded a signed one.
run untrusted_prog bpfprobe prog

# The key hook lets the kernel's signature check search the gate's keyring inside bpf(); outside it, keyctl's
# attacks on the keyring (invalidate needs only search permission) stay refused, and signed loads still work.
run keyring_attack bpfprobe keyattack "$KR"
run signed_after_key_attacks $LS signed "$KR"

obs "status $(bpfgate --log stderr status --json 2>&1)"

# A profile that requires signed programs: its loader's signed light skeleton loads (kernels with program
# signing), its unsigned one does not, nor one signed for a keyring the caller made; `full` loads both.
run req_signed $LS-req signed "$KR"
run req_unsigned $LS-req unsigned 0
run req_signed_own_keyring $LS-req signed own $T/signer.der
run full_signed $LS-full signed "$KR"
run full_unsigned $LS-full unsigned 0
# The plain (unsigned) program of a probe bound to the same profile, and of the full loader.
run req_prog $T/probe-req prog
run full_prog $T/probe-signed prog
# The systemd-like profile: each program, map and attach type it names passes the gate (the kernel's own checks
# answer), each it does not name is EPERM; the same calls from the full loader reach the kernel.
for c in "progtype 8" "progtype 29 27" "progtype 29 43" "progtype 26 24" "maptype 1" "maptype 27" \
    "attachtype 0" "attachtype 6" "linktype 27" "linktype 24" "linktype 37"; do
    k=$(echo "$c" | tr ' ' '_')
    run sd_$k $T/probe-sd $c
    run full_$k $T/probe-signed $c
done
# Debian's bpftool under `readonly`: it shows programs, dumps maps and lists BTF; it loads no program, creates no
# map, updates none. The same bpftool under `full` (bpftool-signed) made the objects it reads.
runrc() { n=$1; shift; out=$("$@" 2>&1); rc=$?; obs "$n rc=$rc $(echo "$out" | tr '\n' ' ')"; }
P=/sys/fs/bpf
runrc bt_full_map_create $T/bpftool-signed map create $P/t_map type hash key 4 value 4 entries 4 name t_map
runrc bt_full_map_update $T/bpftool-signed map update pinned $P/t_map key 1 0 0 0 value 2 0 0 0
runrc bt_full_prog_load $T/bpftool-signed prog load $T/demo.bpf.o $P/t_prog
runrc bt_ro_prog_show $T/bpftool-ro prog show pinned $P/t_prog
runrc bt_ro_map_dump $T/bpftool-ro map dump pinned $P/t_map
runrc bt_ro_btf_list $T/bpftool-ro btf list
runrc bt_ro_prog_show_all $T/bpftool-ro prog show
runrc bt_ro_prog_load $T/bpftool-ro prog load $T/demo.bpf.o $P/t_prog2
runrc bt_ro_map_create $T/bpftool-ro map create $P/t_map2 type hash key 4 value 4 entries 4 name t_map2
runrc bt_ro_map_update $T/bpftool-ro map update pinned $P/t_map key 1 0 0 0 value 3 0 0 0
runrc bt_full_map_update_again $T/bpftool-signed map update pinned $P/t_map key 1 0 0 0 value 4 0 0 0
obs "status_profiles $(bpfgate --log stderr status --json 2>&1)"
bpfgate log >/tmp/log.out 2>&1
obs "log_prog_load_denied $(grep -c 'denied bpf prog_load' /tmp/log.out)"
for w in unsigned_program signing_unsupported_by_kernel map_type_not_in_profile attach_type_not_in_profile \
    prog_type_not_in_profile; do
    obs "log_$w $(grep "$w" /tmp/log.out | head -1)"
done
obs "log_bpftool_ro $(grep 'bpftool-ro' /tmp/log.out | grep map_create | head -1)"
obs "dmesg_warnings $(dmesg | grep -cE 'WARNING:|BUG:|Oops|Call Trace|general protection')"
