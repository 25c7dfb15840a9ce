# Guest side of the scale benchmark (tests/vm/scale.sh): N distinct signed binaries in each of /mnt/a and /mnt/b,
# N threads of a trusted process, and the protected-map table filled, with the gate detached and attached in one
# boot. Prints "@@ scale KEY VALUE..." lines; tests/vm/scale.sh turns them into the report.
T=/mnt/t
S=/mnt/sig
obs() { echo "@@ $*"; }
N=$(sed -n 's/.*bpfgate_scale_n=\([0-9]*\).*/\1/p' /proc/cmdline)
bpfgate --log stderr enroll --sig $S/bench-signed.sig $T/bench-signed >/dev/null || obs "scale_error enroll bench-signed"
for set in a b; do obs "scale enroll_$set $(bpfbench enroll /mnt/$set /mnt/sig-$set)"; done
mkdir -p /sys/fs/bpf 2>/dev/null; mount -t securityfs none /sys/kernel/security 2>/dev/null
sync; echo 3 >/proc/sys/vm/drop_caches
. /hold.sh

# Detached: the kernel's own cost of N first execs (inodes, dentries stay cached) and of N threads.
obs "scale detached_execall $(bpfbench execall /mnt/a)"
# A first round of threads fills the slab caches both measured rounds then reuse (otherwise the first measured
# round pays for slab pages the second gets for free).
$T/bench-signed threads $N >/dev/null
obs "scale detached_threads $($T/bench-signed threads $N)"

hold_start scale_error /tmp/hold bpfgate-bench-hold 3
# Attached: N signed binaries never seen before (each verified, its verdict cached on its inode), then again
# (every verdict from the cache); N threads of a trusted process (no task storage: a process's verdict lives on
# its thread-group leader).
obs "scale attached_execall $(bpfbench execall /mnt/b)"
obs "scale attached_execall_cached $(bpfbench execall /mnt/b)"
obs "scale attached_threads $($T/bench-signed threads $N)"
# The fixed-size table on the trusted path: protected maps (16384). Filled by a trusted loader, the next creation
# is refused (never a map left unprotected), and the table empties as the maps are freed.
obs "scale attached_fillmaps $($T/bench-signed fillmaps 20000)"
# An untrusted exec after all that: still denied (enforcement did not stop anywhere).
obs "scale attached_untrusted_map $($T/bench-unsigned bpfops 1 2>&1 | tr '\n' ' ')"
hold_stop 3
obs "scale holder $(grep -c . /tmp/hold.out) lines"
