// SPDX-License-Identifier: GPL-2.0-only

/*
 * Trust: the verdict of each exec (fs-verity digest, signature xattr, PKCS#7 check against the gate's keyring,
 * the verdict cache, valid while the inode's ctime stays), inheritance at fork, and the taint of unverified
 * executable mappings.
 */

#include "gate.h"

#define ENOMEM 12
#define EINVAL 22
#define ERANGE 34
#define ENODATA 61
#define ENOPKG 65
#define EBADMSG 74
#define ENOKEY 126
#define EKEYREJECTED 129
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_SHARED 0x01
#define MAP_ANONYMOUS 0x20
#define LSM_UNSAFE_SHARE 1
#define LSM_UNSAFE_PTRACE 2
/* Personality flags the kernel clears on a setuid exec (PER_CLEAR_ON_SETID): READ_IMPLIES_EXEC,
 * ADDR_NO_RANDOMIZE, ADDR_COMPAT_LAYOUT, MMAP_PAGE_ZERO. */
#define PER_CLEAR_ON_SETID (0x0400000 | 0x0040000 | 0x0200000 | 0x0100000)
/* seccomp filters a task can carry: each needs at least one instruction plus 4 of overhead within
 * MAX_INSNS_PER_PATH (32768). */
#define SECCOMP_FILTERS_MAX 8192
#define FS_VERITY_HASH_ALG_SHA256 1
#define FS_VERITY_HASH_ALG_SHA512 2
#define CTIME_NSEC_MASK 0x3fffffff
#define STAMP_VALID (1ULL << 63)

static __always_inline bool on_initramfs(struct file *file)
{
	return cfg.initramfs_dev && BPF_CORE_READ(file, f_inode, i_sb, s_dev) == cfg.initramfs_dev;
}

/* Verifies against one of the kernel's keyrings (0 builtin, 1 builtin + secondary, 2 platform). */
static __always_inline int verify_with_system_keyring(struct bpf_dynptr *data, struct bpf_dynptr *sig, __u64 id)
{
	struct bpf_key *keyring = bpf_lookup_system_key(id);
	int ret;

	if (!keyring)
		return -ENOKEY;
	ret = bpf_verify_pkcs7_signature(data, sig, keyring);
	bpf_key_put(keyring);
	return ret;
}

/* Reads the signature xattr into s->sig; returns its length, or a negative exec_reason. */
static __always_inline int read_signature(struct file *file, struct bpf_dynptr *sig)
{
	int ret = -ENODATA;

	if (cfg.xattr_security) {
		ret = bpf_get_file_xattr(file, BPFGATE_XATTR_SECURITY, sig);
		if (ret >= 0)
			count(CNT_SIG_SECURITY_XATTR);
	}
	if (ret == -ENODATA) {
		ret = bpf_get_file_xattr(file, BPFGATE_XATTR_USER, sig);
		if (ret >= 0)
			count(CNT_SIG_USER_XATTR);
	}
	if (ret == -ENODATA)
		return -EXEC_NO_SIG;
	if (ret == -ERANGE)
		return -EXEC_SIG_TOO_BIG;
	if (ret < 0)
		return -EXEC_SIG_UNREADABLE;
	if (ret == 0)
		return -EXEC_BAD_SIG;
	return ret;
}

/* The digest in s->digest (struct fsverity_digest at offset 8, as bpf_get_fsverity_digest wrote it) as a map key of
 * the denylist and the profile bindings: algorithm, size, digest zero-padded to 64 bytes. */
static __always_inline void digest_key(struct verify_scratch *s, struct deny_key *k)
{
	k->alg = *(__u16 *)(s->digest + 8);
	k->size = *(__u16 *)(s->digest + 10);
	__builtin_memcpy(k->digest, s->digest + 12, 64);
	if (k->size == 32)
		__builtin_memset(k->digest + 32, 0, 32);
}

/* The profile of verified content: its digest binding, else its signer's (`signer`: that, or the default). */
static __always_inline __u32 bound_profile(struct verify_scratch *s, __u32 signer)
{
	struct deny_key k;
	__u32 *p;

	if (!cfg.bindings)
		return signer;
	digest_key(s, &k);
	p = bpf_map_lookup_elem(&profile_bindings, &k);
	return p ? *p : signer;
}

/* Verifies the signature of a verity file; returns an exec_reason. `*signer`: the profile its signer is bound to, or
 * the default profile. */
static __always_inline __u32 verify_file(struct file *file, struct verify_scratch *s, __u32 *signer)
{
	struct bpf_dynptr digest, data, sig;
	struct bpf_key *keyring;
	__u16 alg, size;
	__u32 len;
	int ret;

	/* struct fsverity_digest goes right after the 8-byte "FSVerity" magic: the fsverity_formatted_digest. */
	if (bpf_dynptr_from_mem(s->digest + 8, sizeof(s->digest) - 8, 0, &digest))
		return EXEC_NO_MEMORY;
	if (bpf_get_fsverity_digest(file, &digest))
		return EXEC_NO_VERITY;
	alg = *(__u16 *)(s->digest + 8);
	size = *(__u16 *)(s->digest + 10);
	if (alg == FS_VERITY_HASH_ALG_SHA256 && size == 32)
		len = 8 + 4 + 32;
	else if (alg == FS_VERITY_HASH_ALG_SHA512 && size == 64)
		len = 8 + 4 + 64;
	else
		return EXEC_BAD_DIGEST;
	if (cfg.denylist_len) {
		struct deny_key k;

		digest_key(s, &k);
		if (bpf_map_lookup_elem(&denylist, &k))
			return EXEC_DENYLISTED;
	}
	__builtin_memcpy(s->digest, "FSVerity", 8);

	if (bpf_dynptr_from_mem(s->sig, sizeof(s->sig), 0, &sig))
		return EXEC_NO_MEMORY;
	ret = read_signature(file, &sig);
	if (ret < 0)
		return -ret;
	if (bpf_dynptr_adjust(&sig, 0, ret))
		return EXEC_BAD_SIG;
	if (bpf_dynptr_from_mem(s->digest, len, 0, &data))
		return EXEC_NO_MEMORY;

	ret = -ENOKEY;
	*signer = cfg.profile_default;
	if ((cfg.anchors & (1 << ANCHOR_BAKED)) && cfg.signer_bindings) {
		__u32 p;

		/* Signer bindings: each bound profile's keyring (the baked certificates bound to it), in profile order.
		 * A keyring without the signer answers -ENOKEY after a lookup by issuer and serial, before any
		 * signature arithmetic, so the cost is a few key searches at a file's first verification (cached). */
		bpf_for(p, 1, BPFGATE_PROFILES) {
			__u32 i = p, serial;

			/* A bound the verifier sees (the compiler drops a plain mask as implied by the loop's own test). */
			asm volatile("%0 &= %1" : "+r"(i) : "i"(BPFGATE_PROFILES - 1));
			serial = cfg.profile_keyrings[i];

			if (!serial)
				continue;
			keyring = bpf_lookup_user_key(serial, 0);
			if (!keyring)
				return EXEC_NO_KEYRING;
			ret = bpf_verify_pkcs7_signature(&data, &sig, keyring);
			bpf_key_put(keyring);
			if (ret == 0) {
				*signer = i;
				return EXEC_TRUSTED_VERIFIED;
			}
			if (ret != -ENOKEY)
				break;
		}
	}
	if ((cfg.anchors & (1 << ANCHOR_BAKED)) && ret == -ENOKEY) {
		keyring = bpf_lookup_user_key(cfg.keyring_serial, 0);
		if (!keyring)
			return EXEC_NO_KEYRING;
		ret = bpf_verify_pkcs7_signature(&data, &sig, keyring);
		bpf_key_put(keyring);
	}
	/* The kernel's own keyrings, when the policy names them, for a signer the baked keyring does not hold. The
	 * gate chooses the keyring; nothing the file or its caller says does. */
	if (ret == -ENOKEY && (cfg.anchors & (1 << ANCHOR_BUILTIN)))
		ret = verify_with_system_keyring(&data, &sig, 0);
	if (ret == -ENOKEY && (cfg.anchors & (1 << ANCHOR_SECONDARY)))
		ret = verify_with_system_keyring(&data, &sig, 1);
	if (ret == -ENOKEY && (cfg.anchors & (1 << ANCHOR_PLATFORM)))
		ret = verify_with_system_keyring(&data, &sig, 2);
	if (ret == 0)
		return EXEC_TRUSTED_VERIFIED;
	/* Only failures that follow from the content, the xattr and the (closed) keyring are final. */
	if (ret == -EKEYREJECTED || ret == -ENOKEY || ret == -EBADMSG || ret == -EINVAL || ret == -ENOPKG)
		return EXEC_BAD_SIG;
	return ret == -ENOMEM ? EXEC_NO_MEMORY : EXEC_NO_KEYRING;
}

static __always_inline bool cacheable(__u32 reason)
{
	return reason == EXEC_TRUSTED_VERIFIED || reason == EXEC_BAD_DIGEST || reason == EXEC_NO_SIG ||
	       reason == EXEC_SIG_TOO_BIG || reason == EXEC_BAD_SIG || reason == EXEC_DENYLISTED;
}

/* Cheap pre-check, so that files without fs-verity (most execs) never allocate verification scratch. */
static __always_inline bool has_verity(struct file *file)
{
	struct bpf_dynptr probe;
	__u32 zero = 0;
	void *buf = bpf_map_lookup_elem(&verity_probe, &zero);

	if (!buf || bpf_dynptr_from_mem(buf, BPFGATE_FORMATTED_DIGEST_MAX, 0, &probe))
		return true; /* cannot tell: let the full check decide */
	return bpf_get_fsverity_digest(file, &probe) == 0;
}

/* The inode's change stamp: its ctime, which every xattr change moves (also chmod, chown, link, rename), as one
 * word, bit 63 set so that no stamp is 0 (an unwritten verdict). The nanoseconds without multigrain's "queried" flag
 * (bit 31 from 6.13); nanoseconds stay below 2^30. */
static __always_inline __u64 change_stamp(struct inode *inode)
{
	return ((__u64)inode->i_ctime_sec * 1000000000ULL + (inode->i_ctime_nsec & CTIME_NSEC_MASK)) | STAMP_VALID;
}

/* The cached verdict of `inode` if it is still current: EXEC_TRUSTED_CACHED (and its profile), EXEC_UNTRUSTED_CACHED,
 * or 0 (none, or stale: the inode changed since). Untrusted wins if both are current (it cannot happen: one state,
 * one outcome). The profile follows from the content alone (digest bindings, fixed at load), so every writer of an
 * entry writes the same one. */
static __always_inline __u32 cached_verdict(struct inode *inode, __u32 *profile)
{
	struct inode_verdict *cached = bpf_inode_storage_get(&inode_verdicts, inode, 0, 0);
	__u64 now;

	if (!cached)
		return 0;
	now = change_stamp(inode);
	if (cached->untrusted_at == now)
		return EXEC_UNTRUSTED_CACHED;
	if (cached->trusted_at == now) {
		*profile = cached->profile;
		return EXEC_TRUSTED_CACHED;
	}
	return 0;
}

/* The verdict on a file's content: cached, or verified now (sleepable callers only).
 *
 * Why a ctime stamp and no hook on xattr changes: the verdict is cached only when the inode's stamp is the same
 * before the signature is read and after it is verified, and it is stored with that stamp. Filesystems write the
 * xattr before they move ctime (ext4_xattr_set_handle, btrfs_setxattr_trans, __f2fs_setxattr), and x86 keeps loads
 * in order, so a stamp read before the xattr read that is still current later means the xattr read saw the xattrs
 * of that stamp. A verdict from an older xattr therefore never carries a newer stamp, and an xattr change makes
 * every earlier verdict stale at once, however execs race with it. */
static __always_inline __u32 file_verdict(struct file *file, struct task_struct *task, __u32 *profile)
{
	struct inode *inode = file->f_inode;
	struct inode_verdict *cached;
	struct verify_scratch *s;
	__u64 stamp;
	__u32 reason, signer = 0;

	/* The initramfs is trusted (it loaded the gate) until the real root's init starts. */
	if (on_initramfs(file) && window_open())
		return EXEC_INITRAMFS;
	reason = cached_verdict(inode, profile);
	if (reason)
		return reason;

	if (!has_verity(file))
		return EXEC_NO_VERITY;
	s = bpf_task_storage_get(&scratch, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return EXEC_NO_MEMORY;
	stamp = change_stamp(inode);
	asm volatile("" ::: "memory");
	reason = verify_file(file, s, &signer);
	if (reason == EXEC_TRUSTED_VERIFIED)
		*profile = bound_profile(s, signer);
	bpf_task_storage_delete(&scratch, task);
	asm volatile("" ::: "memory");

	if (cacheable(reason) && change_stamp(inode) == stamp) {
		cached = bpf_inode_storage_get(&inode_verdicts, inode, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (cached) {
			/* A stale verdict replaced counts as dropped. */
			if ((cached->trusted_at | cached->untrusted_at) && cached->trusted_at != stamp &&
			    cached->untrusted_at != stamp)
				count(CNT_CACHE_DROPPED);
			if (reason == EXEC_TRUSTED_VERIFIED) {
				cached->profile = *profile;
				asm volatile("" ::: "memory");
				cached->trusted_at = stamp;
			} else
				cached->untrusted_at = stamp;
		}
	}
	return reason;
}

static __always_inline bool trusted_reason(__u32 reason)
{
	return reason == EXEC_TRUSTED_VERIFIED || reason == EXEC_TRUSTED_CACHED || reason == EXEC_INITRAMFS;
}

static __always_inline __u32 judge(const struct linux_binprm *bprm, struct task_struct *task, __u32 *profile)
{
	/* During the window the initramfs is trusted as a whole, its shell scripts included. */
	if (on_initramfs(bprm->file) && window_open())
		return EXEC_INITRAMFS;
	if (bprm->interp != bprm->filename)
		return EXEC_SCRIPT;
	return file_verdict(bprm->file, task, profile);
}

/* Does a user-notification listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) hold any of the task's seccomp filters? Its
 * supervisor answers the filtered calls in the task's place and can install file descriptors into it
 * (SECCOMP_IOCTL_NOTIF_ADDFD). True when the filter chain is longer than the kernel allows. */
static __always_inline bool seccomp_listener(struct task_struct *task)
{
	struct seccomp_filter *f = BPF_CORE_READ(task, seccomp.filter);
	int i;

	bpf_for(i, 0, SECCOMP_FILTERS_MAX) {
		if (!f)
			return false;
		if (BPF_CORE_READ(f, notif))
			return true;
		f = BPF_CORE_READ(f, prev);
	}
	return true;
}

#define PF_KTHREAD 0x00200000

/* Whether a user task other than PID 1's own threads shares PID 1's fs_struct. PID 1's is shared with every kernel
 * thread (the kernel starts it with CLONE_FS beside kthreadd), so LSM_UNSAFE_SHARE alone cannot tell a CLONE_FS child
 * of PID 1's code from them. Walks every thread: done only at the exec of a PID 1 that runs untrusted (a
 * daemon-reexec after `dpkg -i` of systemd, or a PID 1 that predates the gate). The kernel's task iterator ends on
 * its own (no counter: a precise one keeps the verifier from seeing the loop converge). */
static __always_inline bool pid1_fs_shared_by_user_task(struct task_struct *task)
{
	struct fs_struct *fs = task->fs;
	struct bpf_iter_task it;
	struct task_struct *p;
	bool shared = false;

	bpf_rcu_read_lock();
	bpf_iter_task_new(&it, NULL, BPF_TASK_ITER_ALL_THREADS);
	while ((p = bpf_iter_task_next(&it))) {
		if ((__u64)p->fs == (__u64)fs && !(p->flags & PF_KTHREAD) && p->tgid != 1) {
			shared = true;
			break;
		}
	}
	bpf_iter_task_destroy(&it);
	bpf_rcu_read_unlock();
	return shared;
}

/* The exec states an untrusted parent sets up and the new program inherits, which would let it change what the
 * program sees or does from outside: each makes the exec untrusted, as the kernel refuses setuid for the first two.
 * EXEC_REASONS when there is none. */
static __always_inline __u32 exec_state(const struct linux_binprm *bprm, struct task_struct *task, bool pid1,
					bool pid1_trusted)
{
	/* A tracer could rewrite the new program before it runs. */
	if (task->ptrace || (bprm->unsafe & LSM_UNSAFE_PTRACE))
		return EXEC_TRACED;
	/* Another process shares the fs_struct (CLONE_FS): it can chroot or chdir the program at any time. Not for
	 * PID 1 running trusted code (or the initramfs): the kernel starts it with CLONE_FS beside kthreadd, so its
	 * fs_struct is shared with every kernel thread and its execs always carry LSM_UNSAFE_SHARE; any other sharer
	 * is a CLONE_FS child PID 1's own trusted code made (docs/threat-model.md). Without this, systemd loses its
	 * trust at the switch to the real root and at every daemon-reexec. A PID 1 running untrusted code may have
	 * made such a child: its exec is judged only when no user task shares the fs_struct (walked), so that a PID 1
	 * that re-executes into a verified file is trusted again. */
	if ((bprm->unsafe & LSM_UNSAFE_SHARE) && !pid1_trusted && (!pid1 || pid1_fs_shared_by_user_task(task)))
		return EXEC_SHARED_FS;
	/* READ_IMPLIES_EXEC makes every readable mapping executable; no ASLR, page zero, legacy layout. */
	if (task->personality & PER_CLEAR_ON_SETID)
		return EXEC_PERSONALITY;
	if (seccomp_listener(task))
		return EXEC_SECCOMP_LISTENER;
	return EXEC_REASONS;
}

SEC("lsm.s/bprm_committed_creds")
void BPF_PROG(gate_exec, const struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	bool pid1 = bpf_get_current_pid_tgid() >> 32 == 1;
	/* Before the window closes below: PID 1's exec out of the initramfs is made by initramfs code. */
	bool pid1_trusted = pid1 && (window_open() || trusted_entry_sleepable(task));
	struct task_trust *t;
	__u32 reason, profile = 0; /* full: the initramfs, and a verdict that names none */
	bool trusted;

	/* PID 1 exec'ing a program outside the initramfs is the switch to the real root: the window closes, for
	 * good, before that program is judged. */
	if (cfg.initramfs_dev && pid1 && !on_initramfs(bprm->file) && window_open()) {
		__u32 zero = 0, *closed = bpf_map_lookup_elem(&initramfs_window, &zero);

		if (closed) {
			*closed = 1;
			record(EV_WINDOW, 0, VERDICT_NOTED, WHY_NONE, BPFGATE_NO_PROFILE);
		}
	}
	reason = exec_state(bprm, task, pid1, pid1_trusted);
	if (reason == EXEC_REASONS)
		reason = judge(bprm, task, &profile);
	trusted = trusted_reason(reason);

	if (trusted) {
		t = bpf_task_storage_get(&task_trust, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!t)
			reason = EXEC_NO_MEMORY; /* no storage: stays untrusted */
	} else {
		/* An untrusted task keeps no entry: absent means untrusted, and forks stay cheap. (Deleting an absent
		 * entry just returns -ENOENT.) */
		bpf_task_storage_delete(&task_trust, task);
		t = NULL;
	}
	if (t) {
		/* After exec the task leads its (new) thread group: a fresh address space, no taint. Nothing of the
		 * previous program survives: not the loader's exemption (bpfgate as PID 1 execs the real init), not a
		 * signed run's mark. */
		t->reason = reason;
		t->tainted = 0;
		t->trusted = 1;
		t->loader = 0;
		t->signed_run = 0;
		t->profile = profile;
	}
	count(CNT_EXEC + (reason < EXEC_REASONS ? reason : EXEC_NO_MEMORY));
}

SEC("lsm/task_alloc")
int BPF_PROG(gate_fork, struct task_struct *task, unsigned long clone_flags)
{
	__u32 parent = trust_of(bpf_get_current_task_btf(), 0);
	struct task_trust *child;

	if (!parent)
		return 0;
	/* A thread shares its process's verdict, on the leader (trust_of): no entry, no storage. */
	if (clone_flags & CLONE_THREAD) {
		count(CNT_FORK_TRUSTED);
		return 0;
	}
	child = bpf_task_storage_get(&task_trust, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (child) {
		child->reason = verdict_reason(parent);
		child->profile = verdict_profile(parent);
		child->trusted = 1;
		count(CNT_FORK_TRUSTED);
	}
	return 0;
}

/* The map behind `file` (a map fd's file: its private_data) when it is a protected map. Any other file's
 * private_data cannot be the address of a live protected map. */
static __always_inline bool protected_map_file(struct file *file)
{
	__u64 key;

	/* A map fd is an anonymous inode: every other shared writable file mapping leaves before the hash lookup.
	 * Direct loads (the hook's file is a BTF pointer): no helper call on this path. */
	if (file->f_inode->i_sb->s_magic != ANON_INODE_FS_MAGIC)
		return false;
	key = (__u64)file->private_data;
	return key && bpf_map_lookup_elem(&protected_maps, &key);
}

SEC("lsm.s/mmap_file")
int BPF_PROG(gate_mmap, struct file *file, unsigned long reqprot, unsigned long prot, unsigned long flags)
{
	struct task_struct *task;
	struct task_trust *t;
	__u32 profile = 0; /* a mapped library's profile means nothing: the process keeps its program's */

	/* A shared writable mapping of a protected map (BPF_F_MMAPABLE) writes it without bpf(). */
	if ((prot & PROT_WRITE) && (flags & MAP_SHARED) && !(flags & MAP_ANONYMOUS) && file &&
	    protected_map_file(file) && !trusted_entry_sleepable(bpf_get_current_task_btf()))
		return protected_map_write(BPF_MAP_UPDATE_ELEM);
	if (!(prot & PROT_EXEC))
		return 0;
	/* A file whose verified verdict is cached taints nobody: answered before the task's trust is looked up (one
	 * storage lookup on the common path of a trusted process mapping its signed libraries, not two; an untrusted
	 * task was never going to be tainted). The price: an untrusted task's executable mapping of a file never
	 * verified pays this lookup's miss before its trust lookup. Behind MAP_ANONYMOUS, for the reason below. */
	if (!(flags & MAP_ANONYMOUS) && file && cached_verdict(file->f_inode, &profile) == EXEC_TRUSTED_CACHED)
		return 0;
	task = bpf_get_current_task_btf();
	t = trusted_entry_sleepable(task);
	if (!t)
		return 0;
	/* Anonymous is decided by MAP_ANONYMOUS, not by `file == NULL`: 6.12 types this argument as a trusted
	 * non-NULL pointer, so its verifier hard-wires a NULL test away and an anonymous mapping would dereference
	 * NULL (seen: an Oops). 7.x types it nullable and requires the test, which then fails closed. The kernel
	 * passes no file exactly for MAP_ANONYMOUS (MAP_HUGETLB ones get a hugetlbfs file, unverified anyway). */
	if (flags & MAP_ANONYMOUS)
		taint_process(t, CNT_TAINT_ANON);
	else if (!file || !trusted_reason(file_verdict(file, task, &profile)))
		taint_process(t, CNT_TAINT_FILE);
	return 0;
}

SEC("lsm/file_mprotect")
int BPF_PROG(gate_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot)
{
	struct task_struct *task;
	struct file *file;
	__u32 profile; /* unused: a mapping does not change the process's profile */

	if (!(prot & PROT_EXEC))
		return 0;
	task = bpf_get_current_task_btf();
	if (!trust_of(task, 0))
		return 0;
	/* Not sleepable here: a file-backed area counts as verified only from the cache (filled when it was
	 * mapped, or exec'ed). The taint is trust_of()'s second call, on this rare path only: it marks the process
	 * when it is (still) trusted. */
	file = vma->vm_file;
	if (!file) {
		trust_of(task, CNT_TAINT_ANON);
		return 0;
	}
	if (cached_verdict(file->f_inode, &profile) != EXEC_TRUSTED_CACHED)
		trust_of(task, CNT_TAINT_FILE);
	return 0;
}
