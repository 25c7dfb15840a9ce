# Guest side of the signed-program tests (busybox sh, as root, untrusted): policy bpf.signed on the kernel command
# line. The same light-skeleton loads before the gate (the controls: the kernel alone decides) and after it.
# Prints observations "@@ NAME VALUE"; tests/vm.rs asserts them.
T=/mnt/t
obs() { echo "@@ $*"; }
run() { n=$1; shift; out=$("$@" 2>&1 | tr '\n' ' '); obs "$n $out"; }

# Controls, no gate: a signature verifies against any keyring the caller names (here one it made itself), and
# an unsigned light skeleton loads too.
run control_signed_own_keyring $T/lskel signed own $T/signer.der
run control_foreign_own_keyring $T/lskel foreign own $T/foreign.der
run control_unsigned $T/lskel unsigned 0
run control_tampered_own_keyring $T/lskel tampered own $T/signer.der

bpfgate --log stderr load >/tmp/load.out 2>&1; obs "load rc=$? $(tr '\n' ' ' </tmp/load.out)"
KR=$(bpfgate status --json | sed -n 's/.*"keyring":\([0-9]*\).*/\1/p')
obs "gate_keyring $KR"
obs "policy $(bpfgate status | grep -E '^  bpf.signed' | tr -s ' ')"

# Signed with the gate's key, checked against the gate's keyring: loads, attaches and runs for untrusted root.
run signed_gate_keyring $T/lskel signed "$KR"
# The same signature against a keyring the caller filled with the same (public) certificate: the kernel would
# accept it, the gate does not (the keyring is the caller's choice).
run signed_own_keyring $T/lskel signed own $T/signer.der
# A key the gate does not hold, in the caller's keyring: refused by the gate.
run foreign_own_keyring $T/lskel foreign own $T/foreign.der
# A foreign signature against the gate's keyring: the kernel's own check refuses it.
run foreign_gate_keyring $T/lskel foreign "$KR"
# The signed loader with other data than it was signed for: the gate lets the steps through, the loader's own
# hash check refuses the payload (nothing loads).
run tampered_gate_keyring $T/lskel tampered "$KR"
# The kernel's builtin keyring (anchors = baked does not name it): refused by the gate.
run signed_builtin_keyring $T/lskel signed 0
# No signature at all.
run unsigned $T/lskel unsigned 0
# An unsigned program, by the same untrusted task that just loaded a signed one.
run untrusted_prog bpfprobe prog

# The key hook lets the kernel's signature check search the gate's keyring inside bpf(); outside it, keyctl's
# attacks on the keyring (invalidate needs only search permission) stay refused, and signed loads still work.
run keyring_attack bpfprobe keyattack "$KR"
run signed_after_key_attacks $T/lskel signed "$KR"
obs "status $(bpfgate --log stderr status --json 2>&1)"
bpfgate log >/tmp/log.out 2>&1
obs "log_prog_load_denied $(grep -c 'denied bpf prog_load' /tmp/log.out)"
obs "dmesg_warnings $(dmesg | grep -cE 'WARNING:|BUG:|Oops|Call Trace|general protection')"
