// SPDX-License-Identifier: GPL-2.0-only

/*
 * Operations that change the running kernel: module loading and auto-load requests, kexec, firmware and policy
 * loads, and the lockdown LSM's integrity reasons, by the kmod and kimg areas of the policy; and writes to the BPF
 * sysctls, by the sysctl area.
 */

#include "gate.h"

#define LOCKDOWN(name) bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_##name)
#define KIMG_OF(name)                                                                                   \
	if (bpf_core_enum_value_exists(enum lockdown_reason, LOCKDOWN_##name) && what == LOCKDOWN(name)) \
		return KIMG_##name;

#define PROC_SUPER_MAGIC 0x9fa0
#define FMODE_WRITE 0x2

/* Does the profile of trusted `task` withhold operation `op` of area `kind`? (The area's allow-list, which holds for
 * everyone, was checked before.) */
static __always_inline bool profile_withholds(__u32 v, __u32 kind, __u32 op)
{
	__u32 p;
	__u64 m;

	p = verdict_profile(v);
	if (p >= BPFGATE_PROFILES)
		return true;
	m = kind == EV_KMOD ? cfg.profile_kmod[p] : kind == EV_KIMG ? cfg.profile_kimg[p] : cfg.profile_sysctl[p];
	return op >= 64 || !((m >> op) & 1);
}

/* A kernel-modifying (or kernel-reading) operation: permitted by the area's permission and allow-list, and for a
 * trusted task by its profile. */
static __always_inline int kernel_op(__u32 kind, __u32 op)
{
	__u32 perm = kind == EV_KMOD ? cfg.kmod_perm : kind == EV_KIMG ? cfg.kimg_perm : cfg.sysctl_perm;
	__u64 allow = kind == EV_KMOD ? cfg.kmod_allow : kind == EV_KIMG ? cfg.kimg_allow : cfg.sysctl_allow;
	bool listed = (allow >> op) & 1;
	__u32 v, why = area_denies_verdict(perm, listed, bpf_get_current_task_btf(), &v);

	if (cfg.profiles > 1 && why == WHY_NONE && v && profile_withholds(v, kind, op))
		why = WHY_PROFILE;

	if (why == WHY_NONE)
		return 0;
	count(CNT_KERNEL_MODIFY_DENIED);
	return deny_profile(kind, op, why, event_profile(v));
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

/* A file name of up to 31 bytes, zero-padded, compared as four words. */
union name32 {
	char c[32];
	__u64 w[4];
};

/* Is `s` (zero-padded) the literal `lit` (`n` = sizeof(lit), at most 32)? The literal's words are constants. */
static __always_inline bool name_is(const union name32 *s, const char *lit, int n)
{
	union name32 l = {};

	__builtin_memcpy(l.c, lit, n);
	return s->w[0] == l.w[0] && s->w[1] == l.w[1] && s->w[2] == l.w[2] && s->w[3] == l.w[3];
}

#define NAME_IS(s, lit) name_is(s, lit, sizeof(lit))

/* The enum sysctl_op of a /proc/sys file, by its name and its directory's (/proc/sys/kernel, /proc/sys/net/core,
 * in any procfs mount), or SYSCTL_OPS for every other file. */
static __always_inline __u32 bpf_sysctl_of(struct dentry *d)
{
	union name32 name = {}, dir = {};

	if (bpf_probe_read_kernel_str(name.c, sizeof(name.c), BPF_CORE_READ(d, d_name.name)) < 0 ||
	    bpf_probe_read_kernel_str(dir.c, 8, BPF_CORE_READ(d, d_parent, d_name.name)) < 0)
		return SYSCTL_OPS;
	if (NAME_IS(&dir, "kernel")) {
		if (NAME_IS(&name, "bpf_stats_enabled"))
			return SYSCTL_BPF_STATS_ENABLED;
		if (NAME_IS(&name, "unprivileged_bpf_disabled"))
			return SYSCTL_UNPRIVILEGED_BPF_DISABLED;
	} else if (NAME_IS(&dir, "core")) {
		if (NAME_IS(&name, "bpf_jit_enable"))
			return SYSCTL_BPF_JIT_ENABLE;
		if (NAME_IS(&name, "bpf_jit_harden"))
			return SYSCTL_BPF_JIT_HARDEN;
		if (NAME_IS(&name, "bpf_jit_kallsyms"))
			return SYSCTL_BPF_JIT_KALLSYMS;
		if (NAME_IS(&name, "bpf_jit_limit"))
			return SYSCTL_BPF_JIT_LIMIT;
	}
	return SYSCTL_OPS;
}

/* The BPF sysctls change what bpf() does for every task (statistics, unprivileged use, the JIT's hardening, its
 * addresses in kallsyms, its memory limit): an untrusted task may not open them for writing. A sysctl write has no
 * LSM hook of its own; the open is where a file's write permission is decided. Every open passes here, so the
 * common cases leave first: opens without write access, then files outside procfs. Attached only when the policy's
 * sysctl area is not `allow`. */
SEC("lsm/file_open")
int BPF_PROG(gate_sysctl, struct file *file)
{
	__u32 op;

	if (!(file->f_mode & FMODE_WRITE) || file->f_inode->i_sb->s_magic != PROC_SUPER_MAGIC)
		return 0;
	op = bpf_sysctl_of(file->f_path.dentry);
	if (op >= SYSCTL_OPS)
		return 0;
	return kernel_op(EV_SYSCTL, op);
}
