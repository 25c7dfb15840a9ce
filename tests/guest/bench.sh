# Guest side of `make bench`: the gate attached (held by bpfgate-bench-hold), detached, and the floor (empty
# programs on the same hooks, held by bpfgate-bench-floor), in rotating order, rounds of one boot. Prints "@@ bench ROUND MODE WORKLOAD NS_PER_OP" and "@@ stat ROUND PROGRAM RUN_CNT RUN_TIME_NS" (the gate's
# programs; "@@ floorstat ..." the floor's).
T=/mnt/t
S=/mnt/sig
obs() { echo "@@ $*"; }
ROUNDS=$(sed -n 's/.*bpfgate_bench_rounds=\([0-9]*\).*/\1/p' /proc/cmdline); ROUNDS=${ROUNDS:-5}
N=$(sed -n 's/.*bpfgate_bench_iters=\([0-9]*\).*/\1/p' /proc/cmdline); N=${N:-2000}
for f in bench-signed $(cd $T && ls | grep '^bench-fresh'); do
    bpfgate --log stderr enroll --sig $S/$f.sig $T/$f >/dev/null || obs "bench_error enroll $f"
done
echo 1 >/proc/sys/kernel/bpf_stats_enabled
# bpfgate_bench_policy=profiles: the held gate's policy binds the benchmark loader to a profile (bench-hold reads it).
case " $(cat /proc/cmdline) " in *" bpfgate_bench_policy=profiles "*)
    cat >/tmp/bench-policy.conf <<CONF
profile.bench.bpf = read, map_create, map_update_elem
profile.bench.prog_types = socket_filter
profile.bench.map_types = array
profile.bench.digests = $(bpfgate digest $T/bench-signed | cut -d' ' -f1)
profile.other.bpf = read
CONF
    export BPFGATE_BENCH_POLICY=/tmp/bench-policy.conf
    obs "bench_note policy profiles: $(tr '\n' ';' </tmp/bench-policy.conf)" ;;
esac
# Size and memory of the real loader: a pinned load in a private bpffs would stay for the whole boot, so it runs
# last; here only the binary's size.
obs "bench_size bpfgate $(wc -c </bin/bpfgate)"
mkdir -p /sys/fs/bpf 2>/dev/null; mount -t securityfs none /sys/kernel/security 2>/dev/null
workloads() { # ROUND MODE
    for w in "fork $N" "exec $((N / 4)) $T/bench-unsigned" "exec $((N / 4)) $T/bench-signed" \
             "bpfops $((N * 4))" "mmapexec $((N * 4)) $T/bench-signed"; do
        set -- $w; what=$1
        [ "$what" = exec ] && case "$3" in *unsigned) what=exec_unsigned;; *) what=exec_signed;; esac
        [ "$what" = mmapexec ] || [ "$what" = bpfops ] && P=$T/bench-signed || P=$T/bench-unsigned
        ns=$($P "$@" | awk '{print $2}')
        obs "bench $ROUND $MODE $what ${ns:-failed}"
    done
    # One exec of a signed file never seen before: the uncached verification (attached only).
    if [ "$MODE" = attached ] && [ -x $T/bench-fresh-$ROUND ]; then
        ns=$($T/bench-unsigned exec 1 $T/bench-fresh-$ROUND | awk '{print $2}')
        obs "bench $ROUND $MODE exec_first_verify ${ns:-failed}"
    fi
}
. /hold.sh
# The gate's holder prints its programs' statistics when it detaches.
detach() {
    hold_stop 3; rc=$?
    [ $rc = 0 ] || obs "bench_error holder exit $rc: $(tr '\n' ' ' </tmp/hold.$1.out)"
    while read -r kind rest; do
        case $kind in stat) obs "stat $1 $rest" ;; attached) ;; *) obs "bench_note $kind $rest" ;; esac
    done </tmp/hold.$1.out
}
mode() { # ROUND MODE
    MODE=$2
    case $2 in
    detached) workloads ;;
    attached) hold_start bench_error /tmp/hold.$1 bpfgate-bench-hold 3; workloads; detach $1 ;;
    floor)
        hold_start bench_error /tmp/floor.$1 bpfgate-bench-floor 4; workloads
        hold_stop 4 || obs "bench_error floor exit: $(tr '\n' ' ' </tmp/floor.$1.out)"
        sed -n 's/^stat /floorstat '"$1"' /p' /tmp/floor.$1.out | while read -r l; do obs "$l"; done ;;
    esac
}
# bpfgate_bench_trace=MODE:WORKLOAD (BENCH_TRACE=attached:bpfops): before the rounds, the function-graph tracer
# follows a short run of one workload in one mode (16 iterations, every function, 5 calls deep from the
# syscall) and prints each call of the last iteration with its duration: where a hot path's instructions go.
trace=$(sed -n 's/.*bpfgate_bench_trace=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$trace" ]; then
    TR=/sys/kernel/tracing; mount -t tracefs none $TR 2>/dev/null
    tmode=${trace%%:*}; twork=${trace##*:}
    case $tmode in
    attached) hold_start bench_error /tmp/hold.t bpfgate-bench-hold 3 ;;
    floor) hold_start bench_error /tmp/floor.t bpfgate-bench-floor 4 ;;
    esac
    case $twork in bpfops) tsys=__x64_sys_bpf ;; mmapexec) tsys=__x64_sys_mmap ;; *) tsys=__x64_sys_clone ;; esac
    echo function_graph >$TR/current_tracer; echo $tsys >$TR/set_graph_function; echo 5 >$TR/max_graph_depth
    echo 1 >$TR/options/funcgraph-tail; echo 65536 >$TR/buffer_size_kb; echo >$TR/trace
    $T/bench-signed $twork 16 $T/bench-signed >/dev/null
    echo 0 >$TR/tracing_on
    # The last two calls of the syscall: one iteration (bpfops: the lookup and the update).
    awk -v s="$tsys" 'index($0, s "()") && index($0, "{") { n++; start[n] = NR } { line[NR] = $0 }
        END { from = n > 2 ? start[n - 1] : 1; for (i = from; i <= NR; i++) print line[i] }' $TR/trace |
        while IFS= read -r l; do obs "trace $l"; done
    echo nop >$TR/current_tracer; echo 1 >$TR/tracing_on
    case $tmode in attached) hold_stop 3 >/dev/null ;; floor) hold_stop 4 ;; esac
fi
for r in $(seq 1 $ROUNDS); do
    ROUND=$r
    # Rotate the order each round, so that drift over the boot does not favour one mode.
    case $((r % 3)) in
    1) mode $r detached; mode $r attached; mode $r floor ;;
    2) mode $r attached; mode $r floor; mode $r detached ;;
    0) mode $r floor; mode $r detached; mode $r attached ;;
    esac
done
# Boot cost, same boot: the baseline loader (one empty LSM program through the same libbpf skeleton machinery,
# loaded, attached, pinned, exited; removing its pin detaches it) three times, then the real load.
grep -q ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf
for i in 1 2 3; do
    t0=$(cut -d' ' -f1 /proc/uptime)
    out=$(bpfgate-bench-minload 2>&1)
    t1=$(cut -d' ' -f1 /proc/uptime)
    rm -f /sys/fs/bpf/bpfgate-minload
    case $out in
    *"minload peak_kib"*) obs "bench_minload $(awk -v a=$t0 -v b=$t1 'BEGIN {printf "%.0f", (b - a) * 1000}') ${out##* }" ;;
    *) obs "bench_error minload $(echo "$out" | tr '\n' ' ')" ;;
    esac
done
# With bpfgate_bench_profile (BENCH_PROFILE=1 make bench): the function-graph tracer follows every bpf() call of
# that load four calls deep (BENCH_PROFILE=FUNCTION:DEPTH: FUNCTION's calls, DEPTH deep); "@@ profile FUNCTION CALLS TOTAL_US" sums each function's duration (callees
# included), largest first. Tracing slows what it traces: read it as where the time goes, not how much there is.
TR=/sys/kernel/tracing
profile=0
if grep -q bpfgate_bench_profile /proc/cmdline; then
    # bpfgate_bench_profile=FUNCTION:DEPTH narrows it (default __x64_sys_bpf:4).
    spec=$(sed -n 's/.*bpfgate_bench_profile=\([^ ]*\).*/\1/p' /proc/cmdline); spec=${spec:-__x64_sys_bpf:4}
    mount -t tracefs none $TR 2>/dev/null
    if echo function_graph >$TR/current_tracer && echo "${spec%%:*}" >$TR/set_graph_function; then
        echo "${spec##*:}" >$TR/max_graph_depth; echo 1 >$TR/options/funcgraph-tail; echo 65536 >$TR/buffer_size_kb
        echo >$TR/trace; profile=1
    else
        obs "bench_note profile unavailable: $(ls $TR 2>&1 | tr '\n' ' ')"
    fi
fi
# Last: the real `bpfgate load` (pins stay for the rest of the boot), for its time and peak memory.
t0=$(cut -d' ' -f1 /proc/uptime)
out=$(bpfgate --log stderr load 2>&1)
t1=$(cut -d' ' -f1 /proc/uptime)
if [ $profile = 1 ]; then
    echo 0 >$TR/tracing_on  # (switching the tracer would empty the buffer)
    # Lines end "| name();" (a leaf) or "| } /* name */" (a return), the duration before the "|".
    awk -F'|' 'NF >= 2 && match($1, /[0-9.]+ us/) {
        us = substr($1, RSTART, RLENGTH - 3); f = $2
        if (match(f, /\/\* [^ ]+ \*\//)) f = substr(f, RSTART + 3, RLENGTH - 6)
        else if (match(f, /[A-Za-z0-9_.]+\(\);/)) f = substr(f, RSTART, RLENGTH - 3)
        else next
        n[f]++; t[f] += us
    } END { for (f in t) printf "profile %s %d %.0f\n", f, n[f], t[f] }' $TR/trace | sort -k4 -n -r | head -60 |
        while read -r l; do obs "$l"; done
    obs "bench_note profile_lines $(wc -l <$TR/trace) $(grep -m1 '^overrun' $TR/per_cpu/cpu0/stats)"
    echo nop >$TR/current_tracer
fi
obs "bench_load $(awk -v a=$t0 -v b=$t1 'BEGIN {printf "%.0f", (b - a) * 1000}') $(echo "$out" | sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p')"
