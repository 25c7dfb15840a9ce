// SPDX-License-Identifier: GPL-2.0-only

/*
 * Operations that change the running kernel: module loading and auto-load requests, kexec, firmware and policy
 * loads, and the lockdown LSM's integrity reasons, by the kmod and kimg areas of the policy.
 */

#include "gate.h"

#define LOCKDOWN(name) bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_##name)
#define KIMG_OF(name)                                                                                   \
	if (bpf_core_enum_value_exists(enum lockdown_reason, LOCKDOWN_##name) && what == LOCKDOWN(name)) \
		return KIMG_##name;

/* A kernel-modifying (or kernel-reading) operation: permitted by the area's permission and allow-list. */
static __always_inline int kernel_op(__u32 kind, __u32 op)
{
	bool kmod = kind == EV_KMOD;
	__u32 why = area_denies(kmod ? cfg.kmod_perm : cfg.kimg_perm,
				((kmod ? cfg.kmod_allow : cfg.kimg_allow) >> op) & 1, bpf_get_current_task_btf());

	if (why == WHY_NONE)
		return 0;
	count(CNT_KERNEL_MODIFY_DENIED);
	return deny(kind, op, why);
}

/* kexec reads, module reads: anything else the kernel reads from a file (firmware, policies) is not ours. */
SEC("lsm/kernel_read_file")
int BPF_PROG(gate_kernel_read_file, struct file *file, enum kernel_read_file_id id, bool contents)
{
	if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_MODULE))
		return kernel_op(EV_KMOD, KMOD_LOAD);
	if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_KEXEC_IMAGE) ||
	    id == bpf_core_enum_value(enum kernel_read_file_id, READING_KEXEC_INITRAMFS))
		return kernel_op(EV_KIMG, KIMG_KEXEC);
	return 0;
}

SEC("lsm/kernel_load_data")
int BPF_PROG(gate_kernel_load_data, enum kernel_load_data_id id, bool contents)
{
	if (id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_MODULE))
		return kernel_op(EV_KMOD, KMOD_LOAD);
	if (id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_KEXEC_IMAGE) ||
	    id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_KEXEC_INITRAMFS))
		return kernel_op(EV_KIMG, KIMG_KEXEC);
	return 0;
}

SEC("lsm/kernel_module_request")
int BPF_PROG(gate_module_request, char *kmod_name)
{
	return kernel_op(EV_KMOD, KMOD_AUTOLOAD);
}

/* The kimg operation of a lockdown reason, by name (CO-RE), so that renumbering between kernels is harmless and a
 * reason this build does not know still lands on the right side of the integrity/confidentiality line. */
static __always_inline __u32 kimg_op_of(__u32 what)
{
	KIMG_OF(MODULE_SIGNATURE)
	KIMG_OF(DEV_MEM)
	KIMG_OF(EFI_TEST)
	KIMG_OF(KEXEC)
	KIMG_OF(HIBERNATION)
	KIMG_OF(PCI_ACCESS)
	KIMG_OF(IOPORT)
	KIMG_OF(MSR)
	KIMG_OF(ACPI_TABLES)
	KIMG_OF(DEVICE_TREE)
	KIMG_OF(PCMCIA_CIS)
	KIMG_OF(TIOCSSERIAL)
	KIMG_OF(MODULE_PARAMETERS)
	KIMG_OF(MMIOTRACE)
	KIMG_OF(DEBUGFS)
	KIMG_OF(XMON_WR)
	KIMG_OF(BPF_WRITE_USER)
	KIMG_OF(DBG_WRITE_KERNEL)
	KIMG_OF(RTAS_ERROR_INJECTION)
	KIMG_OF(XEN_USER_ACTIONS)
	KIMG_OF(KCORE)
	KIMG_OF(KPROBES)
	KIMG_OF(BPF_READ_KERNEL)
	KIMG_OF(DBG_READ_KERNEL)
	KIMG_OF(PERF)
	KIMG_OF(TRACEFS)
	KIMG_OF(XMON_RW)
	KIMG_OF(XFRM_SECRET)
	return what < LOCKDOWN(INTEGRITY_MAX) ? KIMG_INTEGRITY_OTHER : KIMG_CONFIDENTIALITY_OTHER;
}

SEC("lsm/locked_down")
int BPF_PROG(gate_locked_down, enum lockdown_reason what)
{
	if (what <= LOCKDOWN(NONE) || what >= LOCKDOWN(CONFIDENTIALITY_MAX) || what == LOCKDOWN(INTEGRITY_MAX))
		return 0;
	return kernel_op(EV_KIMG, kimg_op_of(what));
}
