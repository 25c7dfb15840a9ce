/* SPDX-License-Identifier: GPL-2.0-only */

/*
 * What the gate's BPF files share: kernel constants, the kfuncs, the maps and the config (declared here, defined
 * once in bpfgate.bpf.c, which includes this file with BPFGATE_DEFINE), and the helpers more than one file uses.
 * Each .bpf.c file is one concern; build.rs compiles each and links them into one object (libbpf's linker), the
 * one the light skeleton loads, so that everything loads and attaches together.
 */

#ifndef BPFGATE_GATE_H
#define BPFGATE_GATE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "bpfgate.h"

#define EPERM 1
#define NR_BPF 321 /* x86-64 */
#define ANON_INODE_FS_MAGIC 0x09041934
#define CLONE_THREAD 0x00010000

/* kfuncs (bookworm's bpftool emits no kfunc prototypes into vmlinux.h). */
extern int bpf_get_fsverity_digest(struct file *file, struct bpf_dynptr *digest_ptr) __ksym;
extern int bpf_get_file_xattr(struct file *file, const char *name, struct bpf_dynptr *value_ptr) __ksym;
extern struct bpf_key *bpf_lookup_user_key(__u32 serial, __u64 flags) __ksym;
extern struct bpf_key *bpf_lookup_system_key(__u64 id) __ksym;
extern void bpf_key_put(struct bpf_key *key) __ksym;
extern int bpf_verify_pkcs7_signature(struct bpf_dynptr *data_ptr, struct bpf_dynptr *sig_ptr,
				      struct bpf_key *trusted_keyring) __ksym;
extern int bpf_dynptr_adjust(const struct bpf_dynptr *ptr, __u32 start, __u32 end) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern int bpf_iter_task_new(struct bpf_iter_task *it, struct task_struct *task__nullable, unsigned int flags) __ksym;
extern struct task_struct *bpf_iter_task_next(struct bpf_iter_task *it) __ksym;
extern void bpf_iter_task_destroy(struct bpf_iter_task *it) __ksym;

/* Declared everywhere, defined once (in bpfgate.bpf.c, which defines BPFGATE_DEFINE): the linker joins the
 * declarations to the one definition. The loader fills cfg before the load (it is read-only to the programs). */
#ifdef BPFGATE_DEFINE
#define GATE_EXTERN
const volatile struct gate_config cfg = {};
#else
#define GATE_EXTERN extern
extern const volatile struct gate_config cfg;
#endif

/*
 * Scratch for one verification. Sleepable programs can block in the xattr read and in the signature check, so a
 * per-CPU buffer could be reused under us; task storage is per task, and is deleted as soon as the check is done.
 */
struct verify_scratch {
	__u8 digest[BPFGATE_FORMATTED_DIGEST_MAX];
	__u8 _pad[4];
	__u8 sig[BPFGATE_SIG_MAX];
};

GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_trust);
} task_trust SEC(".maps");

GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inode_verdict);
} inode_verdicts SEC(".maps");

GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct verify_scratch);
} scratch SEC(".maps");

/* Only bpf_get_fsverity_digest's return code is used from this buffer ("is this a verity file?"), never its
 * contents, so it is safe to share per CPU even across sleeping programs. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct { __u8 buf[BPFGATE_FORMATTED_DIGEST_MAX]; });
} verity_probe SEC(".maps");

GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Protected maps: every live map a trusted task created, by its kernel address (added by gate_bpf_map_create, removed
 * by gate_bpf_map_free). Untrusted tasks cannot write them, whatever fd they hold. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, BPFGATE_PROTECTED_MAPS);
	__type(key, __u64);
	__type(value, __u8);
} protected_maps SEC(".maps");

/* bpf.signed: live programs loaded with a signature the kernel verified against an anchor keyring, and the ones
 * such a signed loader loaded, by kernel address (added by gate_prog_load, removed by gate_prog_free). */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, BPFGATE_SIGNED_PROGS);
	__type(key, __u64);
	__type(value, __u8);
} signed_progs SEC(".maps");

/* bpf.signed: live loader maps (created bound to one program's hash) of untrusted tasks, which they may fill. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, BPFGATE_LOADER_MAPS);
	__type(key, __u64);
	__type(value, __u8);
} loader_maps SEC(".maps");

/* Protected inodes: value is an enum gate_role. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} gate_inodes SEC(".maps");

GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gate_ids);
} gate_ids SEC(".maps");

/* The vfsmount of the bpffs holding the pins, recorded once at load (a kernel address, walked with CO-RE reads). */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} chain_root SEC(".maps");

/* The event ring: BPFGATE_EVENTS records, the oldest overwritten, read by the pinned `events` iterator. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFGATE_EVENTS);
	__type(key, __u32);
	__type(value, struct gate_event);
} events SEC(".maps");

/* Sequence number of the last event recorded. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} event_head SEC(".maps");

/* Digests never trusted (policy denylist); filled by the loader, then frozen. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFGATE_DENY_MAX);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, struct deny_key);
	__type(value, __u8);
} denylist SEC(".maps");

/* Files bound to a profile by fs-verity digest (policy profile.NAME.digests): value = profile index. Filled by
 * the loader, then frozen. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFGATE_BIND_MAX);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, struct deny_key);
	__type(value, __u32);
} profile_bindings SEC(".maps");

/* The initramfs trust window: 0 while open, 1 once PID 1 has exec'ed a program outside the initramfs. */
GATE_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} initramfs_window SEC(".maps");

static __always_inline bool window_open(void)
{
	__u32 zero = 0, *closed;

	if (!cfg.initramfs_dev)
		return false;
	closed = bpf_map_lookup_elem(&initramfs_window, &zero);
	return closed && !*closed;
}

static __always_inline void count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &slot);

	/* Atomic even on a per-CPU slot: a sleepable program can be preempted mid-update by another on this CPU. */
	if (c)
		__sync_fetch_and_add(c, 1);
}

/* The entry of the task's process, trusted or not: a process has one verdict, on its thread-group leader. An exec
 * leaves the exec'ing thread the leader of a group of one, and threads get no entry of their own (gate_fork), so a
 * thread costs no task storage and one lookup finds both the verdict and the taint of unverified code mapped by any
 * thread. (A thread may hold an entry for its own `signed_run` mark; its verdict fields are never read.)
 * `task->group_leader` is a pointer the verifier trusts only inside an RCU read section: every non-sleepable program
 * runs in one; the two sleepable ones (exec, mmap) call trusted_entry_sleepable. No bpf_rcu_read_lock here: each
 * program that calls the kfunc costs the light skeleton's loader a search of the kernel's BTF by name at boot,
 * and each call a function call on the hot path. */
static __always_inline struct task_trust *process_entry(struct task_struct *task)
{
	struct task_struct *leader = task->group_leader;
	struct task_trust *t;

	if (!leader)
		return NULL;
	t = bpf_task_storage_get(&task_trust, leader, 0, 0);
	/* During the initramfs window, processes that started before the gate (udev, the initrd's systemd) are trusted
	 * when they run initramfs code: they get the entry their exec would have given them. */
	if (!t && window_open() && BPF_CORE_READ(leader, mm, exe_file, f_inode, i_sb, s_dev) == cfg.initramfs_dev) {
		t = bpf_task_storage_get(&task_trust, leader, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (t) {
			t->trusted = 1;
			t->reason = EXEC_INITRAMFS;
		}
	}
	return t;
}

/* `t` when it is a trusted, untainted verdict, NULL otherwise. */
static __always_inline struct task_trust *trusted_verdict(struct task_trust *t)
{
	if (!t || !t->trusted || t->tainted)
		return NULL;
	/* Trust from the initramfs phase ends with it, also for processes that survive the switch. */
	if (t->reason == EXEC_INITRAMFS && !window_open())
		return NULL;
	return t;
}

/* The task's verdict entry when it is trusted, NULL otherwise, inlined: for the one hot path where a function call
 * would cost (gate_bpf's fast path); every other non-sleepable caller asks trust_of(). */
static __always_inline struct task_trust *trusted_entry(struct task_struct *task)
{
	return trusted_verdict(process_entry(task));
}

/* A process's trust as one number, what trust_of() answers: 0 when the task is not trusted (no verdict, an
 * untrusted one, tainted, or initramfs trust that has ended), else VERDICT_TRUSTED with the loader flag, the exec
 * reason and the profile of its verdict. */
#define VERDICT_TRUSTED (1u << 31)
#define VERDICT_LOADER (1u << 30)

static __always_inline __u32 verdict_profile(__u32 v)
{
	return v & 0xffff;
}

static __always_inline __u32 verdict_reason(__u32 v)
{
	return (v >> 16) & 0xff;
}

/* `t` (trusted_verdict()'s answer) as a number. A profile index too large to encode stays too large
 * (>= BPFGATE_PROFILES), so that it still refuses. */
static __always_inline __u32 verdict_of(struct task_trust *t)
{
	if (!t)
		return 0;
	return VERDICT_TRUSTED | (t->loader ? VERDICT_LOADER : 0) | (t->reason & 0xff) << 16 |
	       (t->profile < 0xffff ? t->profile : 0xffff);
}

/* The trust of `task`'s process (non-sleepable programs only), and with `taint` (a CNT_TAINT_* counter) marks a
 * trusted process as running unverified code (taint_process); the answer is the verdict before the mark. Global
 * (defined in bpfgate.bpf.c), like record(): verified once per program instead of at every inlined call site. The
 * read of `task->group_leader` costs the verifier three linear searches of the kernel's BTF by name
 * (`task_struct__safe_*`) each time a distinct state reaches it: inlined at 36 sites they were 150 searches,
 * about 225 ms of the boot on 6.12. Like record(), it takes none of the light skeleton's 32 program slots (build.rs,
 * cleanup_in_frame). */
int trust_of(struct task_struct *task __arg_trusted, __u32 taint); /* 0: a global function returns a scalar */

/* As trusted_entry, in a sleepable program: the leader is read inside bpf_rcu_read_lock. */
static __always_inline struct task_trust *trusted_entry_sleepable(struct task_struct *task)
{
	struct task_trust *t;

	bpf_rcu_read_lock();
	t = process_entry(task);
	bpf_rcu_read_unlock();
	return trusted_verdict(t);
}

static __always_inline bool task_is_trusted(struct task_struct *task)
{
	return trust_of(task, 0) != 0;
}

/* Is the task in the initial mount namespace (policy `restrict`)? */
static __always_inline bool in_init_mnt_ns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == cfg.init_mnt_ns;
}

/* Why `task` may not do something in an area with permission `perm`: WHY_NONE when it may. `listed`: the
 * operation is on the area's allow-list, which holds for everyone. `*verdict`: the task's trust_of() when the
 * check looked it up (a profile check reuses it), 0 otherwise. */
static __always_inline __u32 area_denies_verdict(__u32 perm, bool listed, struct task_struct *task,
						  __u32 *verdict)
{
	*verdict = 0;
	if (perm == PERM_ALLOW || listed)
		return WHY_NONE;
	*verdict = trust_of(task, 0);
	if (!*verdict)
		return WHY_UNTRUSTED;
	if (perm == PERM_RESTRICT && !in_init_mnt_ns(task))
		return WHY_NAMESPACE;
	return WHY_NONE;
}

/* As area_denies_verdict, without the verdict. */
static __always_inline __u32 area_denies(__u32 perm, bool listed, struct task_struct *task)
{
	__u32 v;

	return area_denies_verdict(perm, listed, task, &v);
}

/* Appends a record to the event ring (defined once, in bpfgate.bpf.c). A global function, verified once on its own
 * (inlined into each caller it cost the verifier twice the instructions and the boot about 250 ms) and with its own
 * stack frame; no program slot of the light skeleton's (build.rs, cleanup_in_frame). `profile`: the profile of the
 * trusted task the decision was about when the caller holds its verdict, PROFILE_LOOKUP to have record() find it
 * (the process's verdict when the task leads it: see record()). */
int record(__u32 kind, __u32 detail, __u32 verdict, __u32 why, __u32 profile); /* 0: a global function returns a scalar (6.12) */

#define PROFILE_LOOKUP 0x100

/* The profile argument of record() for a decision that looked up the task's trust: `v` is trust_of()'s answer
 * (a trusted verdict, or 0 when the task is untrusted or the check never asked), so 0 leaves it to record(). */
static __always_inline __u32 event_profile(__u32 v)
{
	return v ? verdict_profile(v) : PROFILE_LOOKUP;
}

/* A policy decision that denies: recorded, and enforced unless in audit mode. Returns the errno for the hook.
 * `profile` as for record(). */
static __always_inline int deny_profile(__u32 kind, __u32 detail, __u32 why, __u32 profile)
{
	if (cfg.mode == MODE_AUDIT) {
		record(kind, detail, VERDICT_AUDIT, why, profile);
		count(CNT_AUDITED);
		return 0;
	}
	record(kind, detail, VERDICT_DENIED, why, profile);
	return -EPERM;
}

static __always_inline int deny(__u32 kind, __u32 detail, __u32 why)
{
	return deny_profile(kind, detail, why, PROFILE_LOOKUP);
}

/* Marks the process of trusted verdict `t` (its thread-group leader's entry) as running unverified code. The event
 * names no profile: the process has none from here on. */
static __always_inline void taint_process(struct task_trust *t, __u32 counter)
{
	t->tainted = 1;
	count(counter);
	record(EV_TAINT, 0, VERDICT_NOTED, counter == CNT_TAINT_ANON ? WHY_TAINT_ANON : WHY_TAINT_FILE,
	       BPFGATE_NO_PROFILE);
}

static __always_inline __u32 role_of(struct inode *inode)
{
	__u32 *role;

	if (!inode)
		return ROLE_NONE;
	role = bpf_inode_storage_get(&gate_inodes, inode, 0, 0);
	return role ? *role : ROLE_NONE;
}

/* The gate's own objects: always enforced, audit mode included (a gate anyone may switch off audits nothing). */
static __always_inline int protect(bool refuse, __u32 object)
{
	if (!refuse)
		return 0;
	count(CNT_GATE_PROTECTED);
	record(EV_GATE, object, VERDICT_DENIED, WHY_PROTECTED, PROFILE_LOOKUP);
	return -EPERM;
}

/* An untrusted task writing a protected map (through any path): denied, or recorded in audit mode. Part of the bpf
 * area: `bpf = allow` lets it through. */
static __always_inline int protected_map_write(__u32 detail)
{
	if (cfg.bpf_perm == PERM_ALLOW)
		return 0;
	count(CNT_PROTECTED_MAP);
	return deny(EV_BPF, detail, WHY_PROTECTED_MAP);
}

/* Is the current task inside the bpf() system call (x86-64 syscall number in orig_ax)? */
static __always_inline bool in_bpf_syscall(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return regs && BPF_CORE_READ(regs, orig_ax) == NR_BPF;
}

/* Attaching a program through an interface other than bpf(): the program-side counterpart of protected maps. An
 * untrusted task loads no program, so a program fd it holds is a trusted loader's (inherited across an exec,
 * passed over a socket, or kept after the task lost its trust): it attaches it through none of these either.
 * Part of the bpf area, with its permission: `restrict` also keeps trusted tasks in other mount namespaces out. */
static __always_inline int attach_outside_bpf(__u32 path)
{
	__u32 why = area_denies(cfg.bpf_perm, false, bpf_get_current_task_btf());

	if (why == WHY_NONE)
		return 0;
	count(CNT_ATTACH_DENIED);
	return deny(EV_ATTACH, path, why);
}

#endif /* BPFGATE_GATE_H */
