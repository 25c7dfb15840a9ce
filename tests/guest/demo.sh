# Guest side of `make demo`: the story of the gate in one boot, told on the console (lines starting "| ").
T=/mnt/t
S=/mnt/sig
say() { echo "| $*"; }
try() { # LABEL CMD...: run, show the outcome
    label=$1; shift
    "$@" >/tmp/try.out 2>&1 && v="ALLOWED" || v="DENIED"
    out=$(tr '\n' ' ' </tmp/try.out)
    case "$out" in *EPERM*|*"not permitted"*) [ "$v" = DENIED ] && v="DENIED (EPERM)";; esac
    say "  $(printf '%-58s' "$label") -> $v"
}
say "bpfgate demo on Linux $(uname -r)"
say ""
say "1. Enroll a signed loader: fs-verity on, 'fsverity sign' signature in its xattr."
bpfgate --log stderr enroll --sig $S/probe-signed.sig $T/probe-signed | sed 's/^/|    /'
for f in probe-foreign bpftool-signed; do
    sig=$S/$f.sig; bpfgate --log stderr enroll --sig $sig $T/$f >/dev/null
done
# bpftool is dynamic: its libraries and ld.so must be signed too (bind-mounted over the initramfs copies).
for path in $(cat /mnt/lib/PATHS); do
    f=/mnt/lib/$(basename $path)
    bpfgate --log stderr enroll --sig $S/lib-$(basename $path).sig $f >/dev/null && mount --bind $f $path
done
say "   (also enrolled: a loader signed by a foreign key, and a signed copy of Debian's bpftool and its libraries)"
say "   fs-verity digest (userspace): $(bpfgate digest $T/probe-signed | cut -d' ' -f1)"
say ""
say "2. Before the gate: root can do anything with bpf()."
try "unsigned loader creates a BPF map" $T/probe-unsigned map
say ""
say "3. bpfgate load (as it would run in the initramfs), then it exits."
bpfgate --log stderr load 2>&1 | sed 's/^/|    /'
say "   active LSMs: $(cat /sys/kernel/security/lsm)"
say "   bpfgate processes still running: $(pidof bpfgate || echo none); pins: $(ls /sys/fs/bpf/bpfgate | tr '\n' ' ')"
say ""
say "4. With the gate: trust comes from the signed executable, not from being root."
try "signed loader creates a BPF map" $T/probe-signed map
try "signed loader loads a BPF program" $T/probe-signed prog
try "unsigned copy of the same loader creates a map" $T/probe-unsigned map
try "loader signed by a key the gate does not trust" $T/probe-foreign map
try "root shell's own bpf() call" bpfprobe map
try "child forked by the signed loader" $T/probe-signed fork map
try "signed loader execs an unsigned binary" $T/probe-signed exec $T/probe-unsigned map
try "script whose #! interpreter is the signed loader" $T/script
try "Debian bpftool, unsigned: bpftool map create" $T/bpftool map create /sys/fs/bpf/demo1 type array key 4 value 4 entries 1 name demo1
try "Debian bpftool, signed + enrolled: bpftool map create" $T/bpftool-signed map create /sys/fs/bpf/demo2 type array key 4 value 4 entries 1 name demo2
say ""
say "5. Untrusted root attacks the gate's own objects (by id and by pin)."
$T/probe-unsigned steal /sys/fs/bpf/bpfgate | sed 's/^/|    /'
say ""
say "6. Root tries to switch the gate off or get around it."
try "rm /sys/fs/bpf/bpfgate/bpf (unpin the bpf() hook)" rm -f /sys/fs/bpf/bpfgate/bpf
try "umount -l /sys (drops every pin below it)" umount -l /sys
MOD=/mnt/mod/$(uname -r)/dummy.ko
try "insmod a kernel module" insmod $MOD
try "LD_PRELOAD an unsigned library into signed bpftool" env LD_PRELOAD=$T/libevil.so $T/bpftool-signed map create /sys/fs/bpf/demo3 type array key 4 value 4 entries 1 name demo3
say "   pins still there: $(ls /sys/fs/bpf/bpfgate | wc -l); unsigned loader still denied:"
try "unsigned loader creates a BPF map" $T/probe-unsigned map
say ""
say "7. bpfgate status, read by untrusted root through the pinned status iterator:"
bpfgate --log stderr status | sed 's/^/|    /'
