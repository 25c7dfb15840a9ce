// SPDX-License-Identifier: GPL-2.0-only
/* The benchmark's floor (`make bench`): empty LSM programs on the hooks the gate puts on the measured hot paths
 * (file_open too: every exec opens files), with the same sleepability, held by bpfgate-bench-floor. What any BPF
 * LSM costs there before doing anything: the gate's own cost is its ratio against this, not against no program at
 * all. Never part of bpfgate itself. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("lsm.s/bprm_committed_creds")
int BPF_PROG(floor_exec, struct linux_binprm *bprm)
{
	return 0;
}

SEC("lsm/task_alloc")
int BPF_PROG(floor_fork, struct task_struct *task, unsigned long clone_flags)
{
	return 0;
}

SEC("lsm/bpf")
int BPF_PROG(floor_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	return 0;
}

SEC("lsm.s/mmap_file")
int BPF_PROG(floor_mmap, struct file *file, unsigned long reqprot, unsigned long prot, unsigned long flags)
{
	return 0;
}

SEC("lsm/file_mprotect")
int BPF_PROG(floor_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot)
{
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(floor_sysctl, struct file *file) /* named as the gate's program on this hook */
{
	return 0;
}
