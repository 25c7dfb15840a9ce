# Sourced by the benchmark's guest scripts (bench.sh, scale.sh): run a helper that attaches programs and holds
# them until its standard input closes (bpfgate-bench-hold, bpfgate-bench-floor), on a fifo kept open on one fd.
# hold_start LABEL BASE BINARY FD: output in BASE.out; records "LABEL ..." as an error if it never attached.
hold_start() {
    mkfifo "$2.fifo"
    "$3" <"$2.fifo" >"$2.out" 2>&1 &
    eval "HOLD_PID_$4=$!"
    eval "exec $4>\"$2.fifo\""
    for i in $(seq 1 100); do grep -q attached "$2.out" 2>/dev/null && return 0; sleep 0.1; done
    obs "$1 $(tr '\n' ' ' <"$2.out")"
    return 1
}
# hold_stop FD: closes the fifo (the helper detaches and exits); returns the helper's exit status.
hold_stop() {
    eval "exec $1>&-"
    eval "wait \$HOLD_PID_$1"
}
