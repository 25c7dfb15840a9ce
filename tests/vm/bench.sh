#!/usr/bin/env bash
#! `make bench`: boots each test kernel RUNS times; each boot measures the gate attached, detached and the floor
#! (empty programs on the same hooks) in rotating rounds. Prints, per kernel, the first run's medians, ratios and
#! each program's own cost from the kernel's BPF statistics, then the spread of the ratios over the runs.
#! Usage: tests/vm/bench.sh STAGEDIR [ROUNDS [ITERATIONS [RUNS]]]   (ROUNDS >= 5 for the real figures)
#! BENCH_CLOCK=icount (default): the guest clock counts instructions (1 ns each), so runs repeat; wall: plain TCG
#! time, which wanders with the host's load by up to 20%. BENCH_POLICY=profiles: the gate runs with profiles defined
#! (the benchmark loader bound to one). BENCH_PROFILE=1: the function-graph tracer follows the
#! last `bpfgate load`'s bpf() calls (4 calls deep; BENCH_PROFILE=FUNCTION:DEPTH for another function) and the
#! report lists where their time goes.
set -euo pipefail
vm=$1; rounds=${2:-5}; iters=${3:-2000}; runs=${4:-2}
# shellcheck source=tests/vm/guest.sh
. "$(dirname "$0")/guest.sh"
export GUEST_CLOCK=${BENCH_CLOCK:-icount}
case $GUEST_CLOCK in
icount) clock_note="icount: guest ns = executed instructions" ;;
wall) clock_note="wall-time TCG: noise up to 20%" ;;
*) echo "bench: BENCH_CLOCK=$GUEST_CLOCK: expected icount or wall" >&2; exit 2 ;;
esac
status=0
# BENCH_POLICY=profiles: the gate holds a policy with profiles (the benchmark loader bound by digest to one that
# allows what it does, a second unused one), so the profile checks run on every hot path they touch.
policy_arg() {
    case ${BENCH_POLICY:-} in
    '') ;;
    profiles) echo " bpfgate_bench_policy=profiles" ;;
    *) echo "bench: BENCH_POLICY=$BENCH_POLICY: expected profiles or nothing" >&2; exit 2 ;;
    esac
}
policy_arg >/dev/null || exit 2
# BENCH_TRACE=MODE:WORKLOAD (attached:bpfops, floor:mmapexec, ...): the guest traces one iteration of WORKLOAD in
# MODE with the function-graph tracer before the rounds; the report prints it.
trace_arg() {
    case ${BENCH_TRACE:-} in
    '') ;;
    attached:* | floor:* | detached:*) echo " bpfgate_bench_trace=$BENCH_TRACE" ;;
    *) echo "bench: BENCH_TRACE=$BENCH_TRACE: expected MODE:WORKLOAD, MODE attached, floor or detached" >&2; exit 2 ;;
    esac
}
trace_arg >/dev/null || exit 2
# The guest's profile word: BENCH_PROFILE=1 (bpf() calls, 4 deep) or FUNCTION:DEPTH.
profile_arg() {
    case ${BENCH_PROFILE:-} in
    '') ;;
    1) echo " bpfgate_bench_profile" ;;
    *) echo " bpfgate_bench_profile=$BENCH_PROFILE" ;;
    esac
}
# The awk function both reports use: the median of a space-separated list.
MEDIAN='
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}'
# ratios OBS: "WORKLOAD attached/detached floor/detached attached/floor" per workload (medians of the rounds),
# then "load MS".
ratios() {
    awk "$MEDIAN"'
    $1 == "bench" { v[$3 " " $4] = v[$3 " " $4] " " $5 }
    $1 == "bench_load" { load_ms = $2 }
    END {
        split("fork exec_unsigned exec_signed bpfops mmapexec", order, " ")
        for (k = 1; k <= 5; k++) { w = order[k]
            d = median(v["detached " w]); a = median(v["attached " w]); f = median(v["floor " w])
            printf "%s %.4f %.4f %.4f\n", w, (d > 0 ? a / d : 0), (d > 0 ? f / d : 0), (f > 0 ? a / f : 0) }
        printf "load %d\n", load_ms
    }' "$1"
}
for suite in ${BPFGATE_BENCH_KERNELS:-trixie sid trixie-backports}; do
    ok=()
    for run in $(seq 1 "$runs"); do
        log=$vm/bench-$suite-$run.log
        boot_guest "$suite" "$vm" "$vm/disk.img" "bench-$suite-$run" 1024 3600 \
            "bpfgate_bench bpfgate_bench_rounds=$rounds bpfgate_bench_iters=$iters$(profile_arg)$(policy_arg)$(trace_arg)"
        if ! grep -q '^done' "$log.obs" || grep -q 'bench_error\|failed' "$log.obs"; then
            echo "bench: the $suite guest did not complete run $run of the benchmark; see $log" >&2
            grep 'bench_error\|failed' "$log.obs" >&2 || true
            status=1; continue
        fi
        ok+=("$log.obs")
    done
    [ ${#ok[@]} -gt 0 ] || continue
    log=${ok[0]%.obs}
    echo "== $(sed -n 's/^booted kernel=//p' "$log.obs"), run 1 of ${#ok[@]}: $rounds rounds of $iters iterations ($clock_note)"
    awk "$MEDIAN"'
    $1 == "bench" { v[$3 " " $4] = v[$3 " " $4] " " $5; names[$4] = 1 }
    $1 == "stat" { cnt[$3] += $4; ns[$3] += $5 }
    $1 == "floorstat" { fcnt[$3] += $4; fns[$3] += $5 }
    $1 == "bench_size" { size = $3 }
    $1 == "bench_load" { load_ms = $2; load_kib = $3 }
    $1 == "bench_minload" { min_ms = min_ms " " $2; min_kib = $3 }
    $1 == "bench_note" && $2 == "phase" { ph[$3] = ph[$3] " " $4; if ($3 == "prog_loads") nprog = $5 }
    $1 == "bench_note" && $2 == "verified" { vi[$3] = $4 }
    END {
        printf "%-18s %12s %12s %12s %8s %8s %8s\n", "workload", "detached ns", "floor ns", "attached ns", "ratio", "floor", "vs floor"
        split("fork exec_unsigned exec_signed bpfops mmapexec", order, " ")
        for (k = 1; k <= 5; k++) { w = order[k]
            d = median(v["detached " w]); a = median(v["attached " w]); f = median(v["floor " w])
            printf "%-18s %12.0f %12.0f %12.0f %8.3f %8.3f %8.3f\n", w, d, f, a, (d > 0 ? a / d : 0), (d > 0 ? f / d : 0), (f > 0 ? a / f : 0) }
        printf "(ratio: attached/detached, the target; floor: empty programs on the same hooks / detached, what any BPF LSM\n costs there; vs floor: attached/floor, what the gate adds)\n"
        if (("attached exec_first_verify") in v)
            printf "%-18s %14s %14.0f  (one exec of a never-seen signed file: %.0f us)\n", "exec_first_verify", "-", \
                median(v["attached exec_first_verify"]), median(v["attached exec_first_verify"]) / 1000
        printf "\nbpfgate binary %d bytes; bpfgate load %d ms (guest clock), peak memory %d KiB\n", size, load_ms, load_kib
        m = median(min_ms)
        printf "boot cost: bpfgate load %d ms vs a minimal loader of one empty LSM program %d ms (median of 3, %d KiB): ratio %.2f\n", \
            load_ms, m, min_kib, (m > 0 ? load_ms / m : 0)
        printf "where a load goes (bench-hold, median of the rounds): open %.0f ms, load %.0f ms, attach %.0f ms\n", \
            median(ph["open"]) / 1000, median(ph["load"]) / 1000, median(ph["attach"]) / 1000
        printf "  inside the load: the loader program (maps, BTF, CO-RE in the kernel) and the first program %.0f ms, the other %d programs %.0f ms\n", \
            median(ph["before_first_prog"]) / 1000, nprog - 1, median(ph["prog_loads"]) / 1000
        printf "\n%-18s %12s %16s %16s %16s\n", "program", "runs", "ns per run", "floor ns per run", "verified insns"
        for (p in cnt) { tot += vi[p]; if (cnt[p] > 0) printf "%-18s %12d %16.0f %16s %16d\n", p, cnt[p], ns[p] / cnt[p], (fcnt[p] > 0 ? sprintf("%.0f", fns[p] / fcnt[p]) : "-"), vi[p] }
        for (p in vi) if (!(p in cnt) || cnt[p] == 0) { if (!(p in cnt)) tot += vi[p]; printf "%-18s %12d %16s %16s %16d\n", p, 0, "-", "-", vi[p] }
        printf "%-18s %12s %16s %16s %16d\n", "all programs", "", "", "", tot
    }' "$log.obs"
    if grep -q '^profile ' "$log.obs"; then
        echo
        echo "where bpfgate load goes (function-graph tracer from ${BENCH_PROFILE/#1/bpf()}: total us including callees;"
        echo "tracing inflates it):"
        awk '$1 == "profile" { printf "  %-40s %8d calls %12.0f us\n", $2, $3, $4 }' "$log.obs" | head -40
    fi
    if grep -q '^trace ' "$log.obs"; then
        echo
        echo "one iteration of ${BENCH_TRACE#*:} ${BENCH_TRACE%%:*} (function-graph tracer: durations in guest ns, inflated by tracing):"
        sed -n 's/^trace //p' "$log.obs"
    fi
    if [ ${#ok[@]} -gt 1 ]; then
        echo
        echo "spread over ${#ok[@]} runs (each run's ratios; spread = largest - smallest):"
        for f in "${ok[@]}"; do ratios "$f"; done | awk '
        $1 == "load" { n["load"]++; l[n["load"]] = $2; next }
        { w[$1] = 1; r[$1] = r[$1] " " $2; fl[$1] = fl[$1] " " $3; vf[$1] = vf[$1] " " $4 }
        function spread(list,   a, n, i, lo, hi) {
            n = split(list, a, " "); lo = hi = a[1]
            for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
            return hi - lo
        }
        END {
            printf "%-18s %-24s %8s %-24s %8s\n", "workload", "attached/detached", "spread", "attached/floor", "spread"
            split("fork exec_unsigned exec_signed bpfops mmapexec", order, " ")
            for (k = 1; k <= 5; k++) { x = order[k]
                printf "%-18s %-24s %8.4f %-24s %8.4f\n", x, r[x], spread(r[x]), vf[x], spread(vf[x]) }
            printf "%-18s", "bpfgate load ms"; for (i = 1; i <= n["load"]; i++) printf " %d", l[i]; printf "\n"
        }'
    fi
    echo
done
exit $status
