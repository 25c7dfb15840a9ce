# Guest side of tests/vm/profile-load.sh: function_graph on chosen functions (durations summed by caller > callee)
# and a kprobe on btf_find_by_name_kind recording the names it is asked for, over one `bpfgate load`.
obs() { echo "@@ $*"; }
mount -t tracefs none /sys/kernel/tracing 2>/dev/null
cd /sys/kernel/tracing || { obs "no tracefs"; exit 0; }
echo 0 > tracing_on
echo 16384 > buffer_size_kb
: > set_ftrace_filter
for f in bpf_prog_load bpf_check bpf_core_apply btf_find_by_name_kind bpf_int_jit_compile map_create btf_new_fd \
    bpf_tracing_prog_attach bpf_trampoline_link_prog bpf_raw_tp_link_attach bpf_link_prime bpf_obj_pin_user \
    synchronize_rcu synchronize_rcu_tasks synchronize_rcu_tasks_trace bpf_lsm_verify_prog bpf_prog_test_run_syscall \
    bpf_core_find_cands bpf_core_add_cands bpf_compute_live_registers bpf_compute_subprog_arg_access bpf_check_btf_info text_poke_finish text_poke_bp_batch arch_protect_bpf_trampoline bpf_jit_alloc_exec btf_get_module_btf bpf_check_attach_target do_check_common \
    check_attach_btf_id resolve_pseudo_ldimm64 add_kfunc_call bpf_jit_binary_pack_finalize \
    bpf_arch_text_poke arch_prepare_bpf_trampoline bpf_trampoline_update kallsyms_lookup_name \
    bpf_prog_alloc bpf_iter_link_attach __sys_bpf kern_sys_bpf bpf_sys_bpf bpf_btf_find_by_name_kind bpf_find_btf_id btf_parse_struct_metas btf_find_dtor_kfunc check_kfunc_call fetch_kfunc_meta find_kfunc_desc_btf __find_kfunc_desc_btf bpf_lsm_find_cgroup_shim btf_get_by_fd; do
    echo "$f" >> set_ftrace_filter 2>/dev/null || obs "nofunc $f"
done
echo function_graph > current_tracer
echo 1 > options/funcgraph-abstime 2>/dev/null
echo 'p:btfk btf_find_by_name_kind name=+0(%si):string' > kprobe_events || obs "no kprobe"
echo 1 > events/kprobes/btfk/enable
echo 1 > tracing_on
bpfgate --log stderr load >/tmp/load.out 2>&1
echo 0 > tracing_on
obs "ftrace_records $(wc -l <available_filter_functions)"
obs "load $(tr '\n' ' ' </tmp/load.out)"
# function_graph lines: "func() {" opens, "}" closes with the duration, "func();" is a leaf with its duration.
cat trace > /tmp/trace.txt
obs "trace_lines $(wc -l </tmp/trace.txt)"
awk '
  /\|/ && !/^#/ {
    line = $0
    d = ""
    if (match(line, /[0-9]+\.[0-9]+ us/)) d = substr(line, RSTART, RLENGTH - 3)
    if (match(line, /[a-zA-Z_0-9.]+\(\) \{/)) { sp++; st[sp] = substr(line, RSTART, RLENGTH - 4); next }
    if (match(line, /[a-zA-Z_0-9.]+\(\);/)) {
      name = substr(line, RSTART, RLENGTH - 3); par = (sp > 0 ? st[sp] : "-")
      k = par ">" name; sum[k] += d; n[k]++; next
    }
    if (line ~ /\}/) {
      if (sp > 0) { name = st[sp]; par = (sp > 1 ? st[sp-1] : "-"); k = par ">" name; sum[k] += d; n[k]++; sp-- }
    }
  }
  END { for (k in sum) printf "@@ prof %s calls=%d total_ms=%.1f\n", k, n[k], sum[k] / 1000 }
' /tmp/trace.txt
grep -o 'name="[^"]*"' /tmp/trace.txt | sort | uniq -c | sort -rn | sed 's/^/@@ name /'
# One attach, call by call (the third bpf_trampoline_update): the time it spends outside every traced function is
# the kernel's ftrace update, which cannot be traced.
awk '/bpf_trampoline_update\(\) \{/{c++} c==3 && n<14 {n++; print "@@ raw " $0}' /tmp/trace.txt
