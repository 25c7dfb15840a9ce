// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpfgate: bpf() is a privilege of trusted loaders, not of root.
 *
 * Trust model
 *   A task is trusted when the file it last exec'ed has fs-verity enabled and carries, in an xattr, a PKCS#7
 *   signature (as made by `fsverity sign`) of its fs-verity digest that verifies against the gate's keyring: the
 *   certificates baked into bpfgate at build time, in a keyring that is closed to later additions. Trust is decided
 *   at exec, inherited at fork, and reset at every exec. Tasks that existed before the gate was loaded have no
 *   verdict and are untrusted (PID 1 included).
 *
 * Hooks
 *   lsm.s/bprm_committed_creds  decides the verdict of the new program (sleepable: reads the xattr, verifies).
 *                               Every exec writes the verdict, so trust never survives an exec of something else.
 *                               A #! script or binfmt_misc exec (bprm->interp != bprm->filename) is never trusted:
 *                               its code is the script, not the signed interpreter. Nor is an exec in a state an
 *                               untrusted parent controls (ptrace, a seccomp listener, a shared fs_struct,
 *                               personality flags a setuid exec clears).
 *   lsm/task_alloc              hands a trusted parent's verdict to the child (storage created on the child).
 *   lsm/bpf                     the gate: untrusted tasks get -EPERM for every command not in the read-only
 *                               bitmap cfg.untrusted_cmds; unknown future commands are denied.
 *   lsm/inode_post_{set,remove}xattr
 *                               drop an inode's cached verdict after any xattr change (after, so an exec racing
 *                               with the change cannot re-cache the old verdict).
 *   lsm/bpf_map, lsm/bpf_prog   no fd to the gate's own maps and programs for anyone (by id or by pin); its links
 *                               are refused by id in lsm/bpf. The gate is not a trusted loader's to change.
 *   lsm/inode_{unlink,rmdir,rename}, lsm/sb_mount, lsm/move_mount
 *                               its pins, pin directory and bpffs root cannot be removed, renamed or mounted over.
 *   lsm/sb_umount               the mount chain (its bpffs mount and every mount above it) stays attached: no
 *                               unmount, in any namespace, that takes a chain mount directly, lazily from above
 *                               or by propagation (see "The gate's mount chain" below); bounded walks fail closed.
 *                               inode_rmdir/inode_rename also keep the chain's mountpoint directories in place.
 *   lsm/sb_remount              nobody reconfigures the bpffs superblock (fspick + fsconfig included).
 *   lsm.s/mmap_file, lsm/file_mprotect
 *                               code injection through mappings: an executable mapping of a file that does not
 *                               verify (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, dlopen, an unsigned ld.so), or
 *                               anonymous executable memory, taints the whole process (a flag on its thread-group
 *                               leader, as threads share the address space). The program runs on; bpf() is denied.
 *                               Trusted dynamic binaries therefore need signed shared libraries and ld.so.
 *   lsm/key_permission          the gate's keyring and certificates: view and read only, except for the gate's own
 *                               signature check (the task holds a scratch entry then). No unlink, invalidate,
 *                               revoke or link, by anyone. Root's user keyring (_uid.0) holds the gate's: nobody
 *                               invalidates, revokes, clears it or sets its timeout; untrusted tasks do not write
 *                               it or change its attributes.
 *   lsm/file_ioctl, lsm/socket_setsockopt, lsm/netlink_send, lsm/bpf_prog
 *                               programs attached outside bpf() (perf events, TUN, KCM, socket and packet-fanout
 *                               programs; rtnetlink, nftables and iptables-legacy by a task holding a program fd;
 *                               xt_bpf by pinned path) take the bpf area's permission: untrusted tasks attach none.
 *                               The ioctl hook also records, once, the bpffs mount the loader names by an ioctl on
 *                               its pins.
 *   lsm/kernel_read_file, lsm/kernel_load_data, lsm/kernel_module_request, lsm/locked_down
 *                               untrusted tasks cannot change the running kernel: no module loading (init_module,
 *                               finit_module) or auto-load requests, no kexec (kexec_load, kexec_file_load), and
 *                               nothing the lockdown LSM counts as an integrity risk (/dev/mem, /dev/port,
 *                               ioperm/iopl, MSR and PCI BAR writes, ACPI tables, debugfs writes, ...). Each one
 *                               could switch the gate off. Confidentiality reasons (kcore, perf, kprobes reads)
 *                               stay allowed. Enum values are CO-RE relocated, so new lockdown reasons count too.
 *   lsm/ptrace_access_check, lsm/ptrace_traceme
 *                               an untrusted task cannot attach to a trusted one (ptrace, /proc/PID/mem,
 *                               process_vm_writev), and an exec under ptrace is never trusted.
 *   lsm/bpf_prog_load, lsm/bpf_prog_free
 *                               bpf.token_only (objects only through tokens) and bpf.signed: programs whose
 *                               signature the kernel verified against an anchor keyring, and the programs their
 *                               signed loader loads, are tracked so that an untrusted task may run and attach them.
 *   iter/bpf_map_elem           the pinned status stream (counters summed over CPUs) and event stream, readable
 *                               with read(2), so `bpfgate status` needs no bpf() call and no fd to any of the
 *                               gate's objects; one program, attached once per map.
 *
 * Verdict cache
 *   fs-verity content is immutable, so a verity file's verdict depends only on its content and its xattrs. It is
 *   cached in inode storage and dropped on any xattr change. Files without verity are not cached (verity can be
 *   enabled later), nor are outcomes that depend on the exec'ing task or on transient state.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "bpfgate.h"

#define EPERM 1
#define ENOMEM 12
#define ENOSPC 28
#define EINVAL 22
#define ERANGE 34
#define ENODATA 61
#define ENOPKG 65
#define EBADMSG 74
#define ENOKEY 126
#define EKEYREJECTED 129

#define PTRACE_MODE_ATTACH 0x02
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_SHARED 0x01
#define MAP_ANONYMOUS 0x20
#define FMODE_WRITE 0x2
#define MS_REMOUNT 32
#define MS_BIND 4096
#define BPF_LINK_GET_FD_BY_ID 30
#define NR_BPF 321 /* x86-64 */
#define NR_KEYCTL 250 /* x86-64 */
#define KEYCTL_REVOKE 3
#define KEYCTL_CHOWN 4
#define KEYCTL_SETPERM 5
#define KEYCTL_CLEAR 7
#define KEYCTL_SET_TIMEOUT 15
#define KEYCTL_INVALIDATE 21
#define KEYCTL_RESTRICT_KEYRING 29
#define LSM_UNSAFE_SHARE 1
#define LSM_UNSAFE_PTRACE 2
/* Personality flags the kernel clears on a setuid exec (PER_CLEAR_ON_SETID): READ_IMPLIES_EXEC,
 * ADDR_NO_RANDOMIZE, ADDR_COMPAT_LAYOUT, MMAP_PAGE_ZERO. */
#define PER_CLEAR_ON_SETID (0x0400000 | 0x0040000 | 0x0200000 | 0x0100000)
/* seccomp filters a task can carry: each needs at least one instruction plus 4 of overhead within
 * MAX_INSNS_PER_PATH (32768). */
#define SECCOMP_FILTERS_MAX 8192
/* Interfaces outside bpf() that take a program fd and attach it (x86-64 values). */
#define PERF_EVENT_IOC_SET_BPF 0x40042408
#define TUNSETSTEERINGEBPF 0x800454e0
#define TUNSETFILTEREBPF 0x800454e1
#define SIOCKCMATTACH 0x89e0
#define SOL_SOCKET 1
#define SO_ATTACH_BPF 50
#define SO_ATTACH_REUSEPORT_EBPF 52
#define SOL_PACKET 263
#define PACKET_FANOUT_DATA 22
#define SOL_IP 0
#define SOL_IPV6 41
#define IPT_SO_SET_REPLACE 64  /* also IP6T_SO_SET_REPLACE */
#define ARPT_SO_SET_REPLACE 96
#define EBT_SO_SET_ENTRIES 128
#define NETLINK_ROUTE 0
#define NETLINK_NETFILTER 12
#define RTM_BASE 16
/* Messages of one rtnetlink send looked at before the fd walk is done anyway. */
#define NLMSGS_MAX 64
#define ANON_INODE_FS_MAGIC 0x09041934
/* Bound of the fd-table walk (open_fds words of 64 fds): a larger table is taken as holding a program fd. */
#define FD_WORDS_MAX 1024

/* Program signing fields of union bpf_attr (UAPI, 6.18+): read at their ABI offsets, because the vmlinux.h the
 * gate is built with (6.12) predates them. Read only when cfg.signed_progs is set, which the loader does only on a
 * kernel that has them (its BTF names struct bpf_map's excl_prog_sha). */
#define ATTR_MAP_EXCL_PROG_HASH 80       /* BPF_MAP_CREATE: __u64 excl_prog_hash */
#define ATTR_MAP_EXCL_PROG_HASH_SIZE 88  /* __u32 excl_prog_hash_size */
#define ATTR_PROG_SIGNATURE 152          /* BPF_PROG_LOAD: __u64 signature */
#define ATTR_PROG_KEYRING_ID 164         /* __s32 keyring_id */
#define SHA256_SIZE 32

#define FS_VERITY_HASH_ALG_SHA256 1
#define FS_VERITY_HASH_ALG_SHA512 2

char LICENSE[] SEC("license") = "GPL";

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

const volatile struct gate_config cfg = {};

/* Exports the shared types to the skeleton's `types` module; never read. */
const volatile struct {
	struct status_header header;
	struct status_counter counter;
	enum exec_reason reason;
	enum gate_counter counter_slot;
	struct task_trust task;
	struct inode_verdict inode;
	enum gate_role role;
	struct gate_ids ids;
	struct deny_key deny;
	struct gate_event event;
	enum gate_mode mode;
	enum gate_perm perm;
	enum kmod_op kmod;
	enum kimg_op kimg;
	enum event_kind ev_kind;
	enum event_why ev_why;
	enum event_verdict ev_verdict;
	enum gate_object object;
	enum attach_path attach;
} __types = {};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_trust);
} task_trust SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inode_verdict);
} inode_verdicts SEC(".maps");

/*
 * Scratch for one verification. Sleepable programs can block in the xattr read and in the signature check, so a
 * per-CPU buffer could be reused under us; task storage is per task, and is deleted as soon as the check is done.
 */
struct verify_scratch {
	__u8 digest[BPFGATE_FORMATTED_DIGEST_MAX];
	__u8 _pad[4];
	__u8 sig[BPFGATE_SIG_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct verify_scratch);
} scratch SEC(".maps");

/* Only bpf_get_fsverity_digest's return code is used from this buffer ("is this a verity file?"), never its
 * contents, so it is safe to share per CPU even across sleeping programs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct { __u8 buf[BPFGATE_FORMATTED_DIGEST_MAX]; });
} verity_probe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Protected maps: every live map a trusted task created, by its kernel address (added by gate_map_create, removed
 * by gate_map_free). Untrusted tasks cannot write them, whatever fd they hold. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, BPFGATE_PROTECTED_MAPS);
	__type(key, __u64);
	__type(value, __u8);
} protected_maps SEC(".maps");

/* bpf.signed: live programs loaded with a signature the kernel verified against an anchor keyring, and the ones
 * such a signed loader loaded, by kernel address (added by gate_prog_load, removed by gate_prog_free). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, BPFGATE_SIGNED_PROGS);
	__type(key, __u64);
	__type(value, __u8);
} signed_progs SEC(".maps");

/* bpf.signed: live loader maps (created bound to one program's hash) of untrusted tasks, which they may fill. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, BPFGATE_LOADER_MAPS);
	__type(key, __u64);
	__type(value, __u8);
} loader_maps SEC(".maps");

/* Protected inodes: value is an enum gate_role. */
struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} gate_inodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gate_ids);
} gate_ids SEC(".maps");

/* The vfsmount of the bpffs holding the pins, recorded once at load (a kernel address, walked with CO-RE reads). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gate_mount SEC(".maps");

/* The event ring: BPFGATE_EVENTS records, the oldest overwritten, read by the pinned `events` iterator. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFGATE_EVENTS);
	__type(key, __u32);
	__type(value, struct gate_event);
} events SEC(".maps");

/* Sequence number of the last event recorded. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} event_head SEC(".maps");

/* Digests never trusted (policy denylist); filled by the loader, then frozen. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFGATE_DENY_MAX);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, struct deny_key);
	__type(value, __u8);
} denylist SEC(".maps");

/* The initramfs trust window: 0 while open, 1 once PID 1 has exec'ed a program outside the initramfs. */
struct {
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

static __always_inline bool on_initramfs(struct file *file)
{
	return cfg.initramfs_dev && BPF_CORE_READ(file, f_inode, i_sb, s_dev) == cfg.initramfs_dev;
}

static __always_inline void count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &slot);

	/* Atomic even on a per-CPU slot: a sleepable program can be preempted mid-update by another on this CPU. */
	if (c)
		__sync_fetch_and_add(c, 1);
}

/* The task's verdict entry when it is trusted: its own verdict, and no unverified code mapped into its process
 * (a flag on the thread-group leader). NULL otherwise. */
static __always_inline struct task_trust *trusted_entry(struct task_struct *task)
{
	struct task_trust *t = bpf_task_storage_get(&task_trust, task, 0, 0);
	struct task_trust *l;
	struct task_struct *leader;
	bool tainted;

	/* During the initramfs window, processes that started before the gate (udev, the initrd's systemd) are
	 * trusted when they run initramfs code: they get the entry their exec would have given them. */
	if (!t && window_open() &&
	    BPF_CORE_READ(task, mm, exe_file, f_inode, i_sb, s_dev) == cfg.initramfs_dev) {
		t = bpf_task_storage_get(&task_trust, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (t) {
			t->trusted = 1;
			t->reason = EXEC_INITRAMFS;
		}
	}
	if (!t || !t->trusted || t->tainted)
		return NULL;
	/* Trust from the initramfs phase ends with it, also for processes that survive the switch. */
	if (t->reason == EXEC_INITRAMFS && !window_open())
		return NULL;
	/* group_leader may be walked only under RCU in sleepable programs. */
	bpf_rcu_read_lock();
	leader = task->group_leader;
	l = leader && leader != task ? bpf_task_storage_get(&task_trust, leader, 0, 0) : NULL;
	tainted = l && l->tainted;
	bpf_rcu_read_unlock();
	return tainted ? NULL : t;
}

static __always_inline bool task_is_trusted(struct task_struct *task)
{
	return trusted_entry(task) != NULL;
}

/* Is the task in the initial mount namespace (policy `restrict`)? */
static __always_inline bool in_init_mnt_ns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == cfg.init_mnt_ns;
}

/* Why `task` may not do something in an area with permission `perm`: WHY_NONE when it may. `listed`: the
 * operation is on the area's allow-list, which holds for everyone. */
static __always_inline __u32 area_denies(__u32 perm, bool listed, struct task_struct *task)
{
	if (perm == PERM_ALLOW || listed)
		return WHY_NONE;
	if (!task_is_trusted(task))
		return WHY_UNTRUSTED;
	if (perm == PERM_RESTRICT && !in_init_mnt_ns(task))
		return WHY_NAMESPACE;
	return WHY_NONE;
}

/* The gate's own loader, during its short life: exempt from bpf.block and bpf.token_only while it pins. */
static __always_inline bool is_loader(struct task_struct *task)
{
	struct task_trust *t = trusted_entry(task);

	return t && t->loader;
}

/* Appends a record to the event ring. Writers on other CPUs take other slots; a reader skips a record whose seq
 * is 0 (being written) or changes while it copies it. Not inlined: its own stack frame, so that its reads never land
 * in a slot the verifier still holds for a caller's dynptr (gate_mmap's verity probe: "potential write to dynptr"). */
static __noinline void record(__u32 kind, __u32 detail, __u32 verdict, __u32 why)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct gate_event *e;
	const unsigned char *name;
	__u32 zero = 0, slot;
	__u64 *head, n, id;

	head = bpf_map_lookup_elem(&event_head, &zero);
	if (!head)
		return;
	n = __sync_fetch_and_add(head, 1) + 1;
	slot = n % BPFGATE_EVENTS;
	e = bpf_map_lookup_elem(&events, &slot);
	if (!e)
		return;
	e->seq = 0;
	e->time_ns = bpf_ktime_get_boot_ns();
	id = bpf_get_current_pid_tgid();
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->kind = kind;
	e->detail = detail;
	e->verdict = verdict;
	e->why = why;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->exe_ino = BPF_CORE_READ(task, mm, exe_file, f_inode, i_ino);
	e->exe_dev = BPF_CORE_READ(task, mm, exe_file, f_inode, i_sb, s_dev);
	name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	if (!name || bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), name) < 0)
		e->exe[0] = 0;
	/* Stores stay in order on x86 (TSO); this keeps the compiler from moving the seq store up. */
	asm volatile("" ::: "memory");
	e->seq = n;
	count(CNT_EVENTS);
}

/* A policy decision that denies: recorded, and enforced unless in audit mode. Returns the errno for the hook. */
static __always_inline int deny(__u32 kind, __u32 detail, __u32 why)
{
	if (cfg.mode == MODE_AUDIT) {
		record(kind, detail, VERDICT_AUDIT, why);
		count(CNT_AUDITED);
		return 0;
	}
	record(kind, detail, VERDICT_DENIED, why);
	return -EPERM;
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

/* Verifies the signature of a verity file; returns an exec_reason. */
static __always_inline __u32 verify_file(struct file *file, struct verify_scratch *s)
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
		struct deny_key k = { .alg = alg, .size = size };

		__builtin_memcpy(k.digest, s->digest + 12, 64);
		if (size == 32)
			__builtin_memset(k.digest + 32, 0, 32);
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
	if (cfg.anchors & (1 << ANCHOR_BAKED)) {
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

/* The verdict on a file's content: cached, or verified now (sleepable callers only). */
static __always_inline __u32 file_verdict(struct file *file, struct task_struct *task)
{
	struct inode *inode = file->f_inode;
	struct inode_verdict *cached;
	struct verify_scratch *s;
	__u32 reason;

	/* The initramfs is trusted (it loaded the gate) until the real root's init starts. */
	if (on_initramfs(file) && window_open())
		return EXEC_INITRAMFS;
	cached = bpf_inode_storage_get(&inode_verdicts, inode, 0, 0);
	if (cached)
		return cached->trusted ? EXEC_TRUSTED_CACHED : EXEC_UNTRUSTED_CACHED;

	if (!has_verity(file))
		return EXEC_NO_VERITY;
	s = bpf_task_storage_get(&scratch, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return EXEC_NO_MEMORY;
	reason = verify_file(file, s);
	bpf_task_storage_delete(&scratch, task);

	if (cacheable(reason)) {
		cached = bpf_inode_storage_get(&inode_verdicts, inode, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (cached) {
			cached->reason = reason;
			cached->trusted = reason == EXEC_TRUSTED_VERIFIED;
		}
	}
	return reason;
}

static __always_inline bool trusted_reason(__u32 reason)
{
	return reason == EXEC_TRUSTED_VERIFIED || reason == EXEC_TRUSTED_CACHED || reason == EXEC_INITRAMFS;
}

static __always_inline __u32 judge(const struct linux_binprm *bprm, struct task_struct *task)
{
	/* During the window the initramfs is trusted as a whole, its shell scripts included. */
	if (on_initramfs(bprm->file) && window_open())
		return EXEC_INITRAMFS;
	if (bprm->interp != bprm->filename)
		return EXEC_SCRIPT;
	return file_verdict(bprm->file, task);
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
	record(EV_GATE, object, VERDICT_DENIED, WHY_PROTECTED);
	return -EPERM;
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

/* The exec states an untrusted parent sets up and the new program inherits, which would let it change what the
 * program sees or does from outside: each makes the exec untrusted, as the kernel refuses setuid for the first two.
 * EXEC_REASONS when there is none. */
static __always_inline __u32 exec_state(const struct linux_binprm *bprm, struct task_struct *task, bool pid1_trusted)
{
	/* A tracer could rewrite the new program before it runs. */
	if (task->ptrace || (bprm->unsafe & LSM_UNSAFE_PTRACE))
		return EXEC_TRACED;
	/* Another process shares the fs_struct (CLONE_FS): it can chroot or chdir the program at any time. Not for
	 * PID 1 running trusted code (or the initramfs): the kernel starts it with CLONE_FS beside kthreadd, so its
	 * fs_struct is shared with every kernel thread and its execs always carry LSM_UNSAFE_SHARE; any other sharer
	 * is a CLONE_FS child PID 1's own trusted code made (docs/threat-model.md). Without this, systemd loses its
	 * trust at the switch to the real root and at every daemon-reexec. */
	if ((bprm->unsafe & LSM_UNSAFE_SHARE) && !pid1_trusted)
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
	bool pid1_trusted = pid1 && (window_open() || task_is_trusted(task));
	struct task_trust *t;
	__u32 reason;
	bool trusted;

	/* PID 1 exec'ing a program outside the initramfs is the switch to the real root: the window closes, for
	 * good, before that program is judged. */
	if (cfg.initramfs_dev && pid1 && !on_initramfs(bprm->file) && window_open()) {
		__u32 zero = 0, *closed = bpf_map_lookup_elem(&initramfs_window, &zero);

		if (closed) {
			*closed = 1;
			record(EV_WINDOW, 0, VERDICT_NOTED, WHY_NONE);
		}
	}
	reason = exec_state(bprm, task, pid1_trusted);
	if (reason == EXEC_REASONS)
		reason = judge(bprm, task);
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
	}
	count(CNT_EXEC + (reason < EXEC_REASONS ? reason : EXEC_NO_MEMORY));
}

SEC("lsm/task_alloc")
int BPF_PROG(gate_fork, struct task_struct *task, unsigned long clone_flags)
{
	struct task_trust *parent = trusted_entry(bpf_get_current_task_btf());
	struct task_trust *child;

	if (!parent)
		return 0;
	child = bpf_task_storage_get(&task_trust, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (child) {
		child->reason = parent->reason;
		child->trusted = 1;
		count(CNT_FORK_TRUSTED);
	}
	return 0;
}

enum gate_kind { GATE_MAP, GATE_PROG, GATE_LINK };

static __always_inline bool is_gate_id(enum gate_kind kind, __u32 id)
{
	__u32 zero = 0, i;
	struct gate_ids *ids = bpf_map_lookup_elem(&gate_ids, &zero);
	__u32 *list;

	if (!ids || !id)
		return false;
	list = kind == GATE_MAP ? ids->maps : kind == GATE_PROG ? ids->progs : ids->links;
	for (i = 0; i < BPFGATE_IDS_MAX; i++)
		if (list[i] == id)
			return true;
	return false;
}

/* The map behind `file` (a map fd's file: its private_data) when it is a protected map. Any other file's
 * private_data cannot be the address of a live protected map. */
static __always_inline bool protected_map_file(struct file *file)
{
	__u64 key = (__u64)BPF_CORE_READ(file, private_data);

	return key && bpf_map_lookup_elem(&protected_maps, &key);
}

/* private_data of the file at fd `fd` of `files` (0: none). */
static __always_inline __u64 fd_private(struct files_struct *files, __u32 fd)
{
	struct fdtable *fdt;
	struct file **fds, *file;

	if (!files)
		return 0;
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	file = NULL;
	if (!fds || bpf_probe_read_kernel(&file, sizeof(file), &fds[fd])) /* fd < max_fds: checked above */
		return 0;
	return file ? (__u64)BPF_CORE_READ(file, private_data) : 0;
}

/* The object behind fd `fd` of the current task: its file's private_data (for a bpf fd, the map's or program's
 * kernel address; matched only against live objects the gate recorded, so another file's private_data cannot be
 * mistaken for one). 0 when there is no such fd. `*shared`: the fd table is shared with another task, which could
 * swap the fd before the kernel reads it; callers fail closed then. */
static __always_inline __u64 fd_object(struct task_struct *task, __u32 fd, bool *shared)
{
	struct files_struct *files = BPF_CORE_READ(task, files);

	if (files && BPF_CORE_READ(files, count.counter) > 1) {
		*shared = true;
		return 0;
	}
	return fd_private(files, fd);
}


/* Is fd `fd` of the current task one of the gate's links? Read whether or not the fd table is shared: a trusted
 * process that races dup2() against its own call is the one case left (docs/threat-model.md). */
static __always_inline bool gate_link_fd(struct task_struct *task, __u32 fd)
{
	struct bpf_link *link = (struct bpf_link *)fd_private(BPF_CORE_READ(task, files), fd);

	return link && is_gate_id(GATE_LINK, BPF_CORE_READ(link, id));
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

/* The protected map behind fd `fd` of the current task, for the bpf() write commands that untrusted tasks may use
 * by policy. The fd table is read here and again by the kernel: a thread sharing the table could swap the fd in
 * between, so a shared table fails closed (it is treated as holding a protected map). */
static __always_inline bool writes_protected_map(struct task_struct *task, __u32 fd)
{
	bool shared = false;
	__u64 object = fd_object(task, fd, &shared);

	return shared || (object && bpf_map_lookup_elem(&protected_maps, &object));
}

/* The map fd of a bpf() command that changes a map's contents (bpf.allow's `write` group), or -1. */
static __always_inline long map_write_fd(int cmd, union bpf_attr *attr)
{
	switch (cmd) {
	case BPF_MAP_UPDATE_ELEM:
	case BPF_MAP_DELETE_ELEM:
	case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
	case BPF_MAP_FREEZE:
		return attr->map_fd;
	case BPF_MAP_UPDATE_BATCH:
	case BPF_MAP_DELETE_BATCH:
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		return attr->batch.map_fd;
	default:
		return -1;
	}
}

/* bpf.signed: signed programs (kernels with BPF program signing, 6.18+).
 *
 * The kernel checks a BPF_PROG_LOAD signature against the keyring the *caller* names (keyring_id), before the
 * bpf_prog_load hook runs. A signature alone therefore proves nothing; the gate lets an untrusted task through
 * only when that keyring is the gate's own (the baked certificates) or a kernel keyring the policy's anchors name.
 * A signed light skeleton (bpftool gen skeleton -L -S) loads in steps, and each is let through only as a step of
 * such a load:
 *   BPF_MAP_CREATE          the loader map, bound to one program's hash (excl_prog_hash): only a program with
 *                           exactly those instructions can use it;
 *   BPF_MAP_UPDATE_ELEM, BPF_MAP_FREEZE
 *                           on such a loader map of the caller's (recorded at creation);
 *   BPF_PROG_LOAD           with a signature, for a keyring the gate accepts; the kernel then verifies it;
 *   BPF_PROG_RUN            of a signed program: the loader, which checks the frozen map's hash against the one
 *                           in its signed instructions and then makes its own bpf() calls from the kernel
 *                           (bpf_sys_bpf, the hooks' `kernel` argument), allowed while the thread runs it;
 *   BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN
 *                           attaching a signed program or one its signed loader loaded.
 * Anything else stays denied: the signed program, not the untrusted caller, decides what is loaded. */
static __always_inline __u64 attr_u64(union bpf_attr *attr, __u32 off)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (void *)attr + off);
	return v;
}

static __always_inline __u32 attr_u32(union bpf_attr *attr, __u32 off)
{
	__u32 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (void *)attr + off);
	return v;
}

/* The hook's `bool kernel` argument (6.15+): the call comes from the kernel (a syscall program's bpf_sys_bpf). */
static __always_inline bool from_kernel(unsigned long long *ctx, __u32 arg)
{
	__u64 v = 0;

	return bpf_get_func_arg(ctx, arg, &v) == 0 && (v & 1);
}

/* Is `id` a keyring the gate accepts a program signature from: its own, or a kernel keyring (0 builtin,
 * 1 builtin + secondary, 2 platform) the policy's anchors name. Never one the caller set up. */
static __always_inline bool keyring_accepted(__s32 id)
{
	if (id > 0 && (__u32)id == cfg.keyring_serial)
		return true;
	return id >= 0 && id <= 2 && ((cfg.anchors >> (ANCHOR_BUILTIN + id)) & 1);
}

/* A BPF_PROG_LOAD carrying a signature for a keyring the gate accepts (the kernel verifies it). */
static __always_inline bool signed_load(union bpf_attr *attr)
{
	return attr_u64(attr, ATTR_PROG_SIGNATURE) != 0 &&
	       keyring_accepted((__s32)attr_u32(attr, ATTR_PROG_KEYRING_ID));
}

static __always_inline bool signed_prog_fd(struct task_struct *task, __u32 fd)
{
	bool shared = false;
	__u64 object = fd_object(task, fd, &shared);

	return !shared && object && bpf_map_lookup_elem(&signed_progs, &object);
}

/* The thread's mark: is the syscall program it runs a signed one? */
static __always_inline bool in_signed_run(struct task_struct *task)
{
	struct task_trust *t = bpf_task_storage_get(&task_trust, task, 0, 0);

	return t && t->signed_run;
}

/* A call of an untrusted task that is a step of loading a signed program (see above). */
static __always_inline bool signed_step(unsigned long long *ctx, int cmd, union bpf_attr *attr,
					struct task_struct *task)
{
	bool shared = false;
	__u64 object;

	if (from_kernel(ctx, 3))
		return in_signed_run(task);
	switch (cmd) {
	case BPF_MAP_CREATE:
		return attr_u64(attr, ATTR_MAP_EXCL_PROG_HASH) != 0 &&
		       attr_u32(attr, ATTR_MAP_EXCL_PROG_HASH_SIZE) == SHA256_SIZE;
	case BPF_MAP_UPDATE_ELEM:
	case BPF_MAP_FREEZE:
		object = fd_object(task, attr->map_fd, &shared);
		return !shared && object && bpf_map_lookup_elem(&loader_maps, &object);
	case BPF_PROG_LOAD:
		return signed_load(attr);
	case BPF_PROG_TEST_RUN:
		return in_signed_run(task); /* marked by gate_bpf from this very call */
	case BPF_LINK_CREATE:
		return signed_prog_fd(task, attr->link_create.prog_fd);
	case BPF_RAW_TRACEPOINT_OPEN:
		return signed_prog_fd(task, attr->raw_tracepoint.prog_fd);
	default:
		return false;
	}
}

/* Every BPF_PROG_RUN from user space sets the thread's mark to whether the program is a signed one: the
 * kernel-side calls of a syscall program happen only inside such a run, so the mark is that program's. */
static __always_inline void mark_run(unsigned long long *ctx, union bpf_attr *attr, struct task_struct *task)
{
	bool is_signed;
	struct task_trust *t;

	if (from_kernel(ctx, 3))
		return;
	is_signed = signed_prog_fd(task, attr->test.prog_fd);
	t = bpf_task_storage_get(&task_trust, task, 0, is_signed ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (t)
		t->signed_run = is_signed;
}

SEC("lsm/bpf")
int BPF_PROG(gate_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 slot = cmd >= 0 && cmd < BPFGATE_CMD_OTHER ? cmd : BPFGATE_CMD_OTHER;
	bool known = slot < BPFGATE_CMD_OTHER;
	bool listed = known && (cfg.bpf_allow >> slot) & 1;
	__u32 why;

	/* Links have no LSM hook of their own when an fd is handed out: refuse the gate's by id here, and the
	 * commands that change a link through an fd (one opened from a pin): replacing an iterator's program would
	 * rewrite `bpfgate status`. */
	if ((cmd == BPF_LINK_GET_FD_BY_ID && is_gate_id(GATE_LINK, attr->link_id)) ||
	    (cmd == BPF_LINK_UPDATE && gate_link_fd(task, attr->link_update.link_fd)) ||
	    (cmd == BPF_LINK_DETACH && gate_link_fd(task, attr->link_detach.link_fd))) {
		count(CNT_CMD_DENIED + slot);
		return protect(true, OBJ_LINK);
	}
	if (known && (cfg.bpf_block >> slot) & 1) {
		/* Blocked for everyone but the gate's own loader, which must still pin. */
		why = is_loader(task) ? WHY_NONE : WHY_BLOCKED;
	} else {
		why = area_denies(cfg.bpf_perm, listed, task);
	}
	if (cfg.signed_progs) {
		if (cmd == BPF_PROG_TEST_RUN)
			mark_run(ctx, attr, task);
		/* restrict: signed loads, like trusted ones, only from the initial mount namespace. */
		if (why == WHY_UNTRUSTED && signed_step(ctx, cmd, attr, task)) {
			why = cfg.bpf_perm == PERM_RESTRICT && !in_init_mnt_ns(task) ? WHY_NAMESPACE : WHY_NONE;
			count(CNT_SIGNED);
		}
	}
	/* Protected maps: the write commands an untrusted task may use by policy do not reach trusted tasks' maps. A
	 * command allowed without the allow-list was allowed for trust: no second trust lookup on the trusted path. */
	if (why == WHY_NONE && listed && cfg.bpf_perm != PERM_ALLOW && map_write_fd(cmd, attr) >= 0 &&
	    !task_is_trusted(task) && writes_protected_map(task, map_write_fd(cmd, attr))) {
		count(CNT_CMD_DENIED + slot);
		return protected_map_write(cmd);
	}
	/* bpf.token_only for BTF, which has no hook after the token is resolved: the flag is what can be checked
	 * (the kernel falls back to capabilities when the token does not delegate btf_load; BTF alone changes no
	 * kernel behaviour). Maps and programs: gate_map_create, gate_prog_load_token. */
	if (why == WHY_NONE && cfg.token_only && cmd == BPF_BTF_LOAD && !(attr->btf_flags & BPF_F_TOKEN_FD) &&
	    !is_loader(task)) {
		why = WHY_NO_TOKEN;
		count(CNT_NO_TOKEN);
	}
	count((why == WHY_NONE ? CNT_CMD_ALLOWED : CNT_CMD_DENIED) + slot);
	return why == WHY_NONE ? 0 : deny(EV_BPF, cmd, why);
}

/* bpf.token_only: maps and programs come into being only through a BPF token (a trusted loader's delegation).
 * The map and program hooks run after the kernel has resolved the token, so it is the one actually used: NULL when
 * the caller passed none or one that does not delegate this map or program type (the kernel then falls back to
 * capabilities). The program hook is attached only when the policy asks for it. */
static __always_inline int token_required(__u64 token, __u32 cmd)
{
	if (token || is_loader(bpf_get_current_task_btf()))
		return 0;
	count(CNT_NO_TOKEN);
	return deny(EV_BPF, cmd, WHY_NO_TOKEN);
}

/* The verifier types a hook's pointer arguments as trusted, non-NULL BTF pointers and removes a `!token` branch
 * as dead code (seen on 6.12 and 7.2: the check never denied). Read the argument's slot as a plain number. */
static __always_inline __u64 ctx_arg(unsigned long long *ctx, int n)
{
	__u64 v = 1; /* unreadable: as if a token were there (the kernel's own checks still apply) */

	bpf_probe_read_kernel(&v, sizeof(v), &ctx[n]);
	return v;
}

/* Every map creation: bpf.token_only (above), then protected maps: a map a trusted task creates is recorded, so
 * that untrusted tasks cannot write it. A full table refuses the creation (recorded), never leaves a trusted map
 * unprotected. */
SEC("lsm/bpf_map_create")
int BPF_PROG(gate_map_create, struct bpf_map *map, union bpf_attr *attr, struct bpf_token *token)
{
	__u64 key = (__u64)map;
	__u8 one = 1;
	int ret;

	if (cfg.token_only && (ret = token_required(ctx_arg(ctx, 2), BPF_MAP_CREATE)))
		return ret;
	if (!task_is_trusted(bpf_get_current_task_btf())) {
		/* bpf.signed: an untrusted task's loader map (bound to a program hash), which it may then fill. A full
		 * table leaves it unrecorded: its writes are refused, nothing is opened. */
		if (cfg.signed_progs && attr_u64(attr, ATTR_MAP_EXCL_PROG_HASH) &&
		    attr_u32(attr, ATTR_MAP_EXCL_PROG_HASH_SIZE) == SHA256_SIZE)
			bpf_map_update_elem(&loader_maps, &key, &one, BPF_ANY);
		return 0;
	}
	if (bpf_map_update_elem(&protected_maps, &key, &one, BPF_ANY) == 0)
		return 0;
	count(CNT_PROTECTED_MAP);
	record(EV_BPF, BPF_MAP_CREATE, VERDICT_DENIED, WHY_PROTECTED_MAP);
	return -ENOSPC;
}

SEC("lsm/bpf_map_free")
void BPF_PROG(gate_map_free, struct bpf_map *map)
{
	__u64 key = (__u64)map;

	bpf_map_delete_elem(&protected_maps, &key);
	if (cfg.signed_progs)
		bpf_map_delete_elem(&loader_maps, &key);
}

/* Attached when the policy asks for bpf.token_only or bpf.signed. */
SEC("lsm/bpf_prog_load")
int BPF_PROG(gate_prog_load, struct bpf_prog *prog, union bpf_attr *attr, struct bpf_token *token)
{
	__u64 key = (__u64)prog;
	__u8 one = 1;
	int ret;

	/* bpf_prog_load() moves the token into prog->aux before calling the hook, and passes NULL (seen on 6.12
	 * and 7.2): the token in use is prog->aux->token. */
	if (cfg.token_only &&
	    (ret = token_required(ctx_arg(ctx, 2) | (__u64)BPF_CORE_READ(prog, aux, token), BPF_PROG_LOAD)))
		return ret;
	/* bpf.signed: the kernel verified the signature before this hook, against the keyring in attr (the same
	 * copy gate_bpf checked). A signed loader's own loads are its payload, whose hash it checked: signed too. */
	if (!cfg.signed_progs)
		return 0;
	if (from_kernel(ctx, 3) ? !in_signed_run(bpf_get_current_task_btf()) : !signed_load(attr))
		return 0;
	if (bpf_map_update_elem(&signed_progs, &key, &one, BPF_ANY) == 0)
		return 0;
	record(EV_BPF, BPF_PROG_LOAD, VERDICT_DENIED, WHY_UNTRUSTED);
	return -ENOSPC;
}

/* Attached with bpf.signed. */
SEC("lsm/bpf_prog_free")
void BPF_PROG(gate_prog_free, struct bpf_prog *prog)
{
	__u64 key = (__u64)prog;

	bpf_map_delete_elem(&signed_progs, &key);
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

/* Is `file` a BPF program fd (an anonymous inode named "bpf-prog", what bpf_prog_new_fd makes)? */
static __always_inline bool prog_file(struct file *file)
{
	char name[9] = {};

	if (!file || BPF_CORE_READ(file, f_inode, i_sb, s_magic) != ANON_INODE_FS_MAGIC)
		return false;
	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name)) != 9)
		return false;
	return name[0] == 'b' && name[1] == 'p' && name[2] == 'f' && name[3] == '-' && name[4] == 'p' &&
	       name[5] == 'r' && name[6] == 'o' && name[7] == 'g';
}

/* Does the current task hold a BPF program fd? Walks the open fds (bitmap words first, so an fd table of a few open
 * files costs a few reads); a table beyond FD_WORDS_MAX words counts as holding one (fail closed). */
static __always_inline bool holds_prog_fd(struct task_struct *task)
{
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fdtable *fdt;
	unsigned long *open_fds;
	struct file **fds;
	__u32 words, w;

	if (!files)
		return false;
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt)
		return false;
	words = (BPF_CORE_READ(fdt, max_fds) + 63) / 64;
	if (words > FD_WORDS_MAX)
		return true;
	open_fds = BPF_CORE_READ(fdt, open_fds);
	fds = BPF_CORE_READ(fdt, fd);
	if (!open_fds || !fds)
		return false;
	bpf_for(w, 0, words) {
		unsigned long bits = 0;
		int b;

		if (bpf_probe_read_kernel(&bits, sizeof(bits), &open_fds[w]) || !bits)
			continue;
		bpf_for(b, 0, 64) {
			struct file *file = NULL;

			if (!bits)
				break;
			if ((bits & 1) && !bpf_probe_read_kernel(&file, sizeof(file), &fds[w * 64 + b]) &&
			    prog_file(file))
				return true;
			bits >>= 1;
		}
	}
	return false;
}

/* An attach path whose program fd sits inside data the hook cannot see (a netlink message, an iptables blob):
 * refused to an untrusted task that holds a program fd at all. */
static __always_inline int attach_by_held_fd(__u32 path)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 why = area_denies(cfg.bpf_perm, false, task);

	if (why == WHY_NONE || !holds_prog_fd(task))
		return 0;
	count(CNT_ATTACH_DENIED);
	return deny(EV_ATTACH, path, why);
}

/* rtnetlink takes program fds for XDP (IFLA_XDP), tc classifiers and actions (cls_bpf, act_bpf, also nested in other
 * filters' actions), lightweight tunnels and seg6local End.BPF routes; nftables' xt compatibility takes xt_bpf's. */
/* Does every message of this rtnetlink send only read (RTM_GET*: type % 4 == 2, as rtnetlink_rcv_msg sorts them;
 * control messages below RTM_BASE)? Those take no program fd, and glibc sends one (RTM_GETADDR) for many
 * getaddrinfo calls, so they skip the fd walk. Anything malformed or longer than NLMSGS_MAX messages: no. */
static __always_inline bool rtnl_reads_only(struct sk_buff *skb)
{
	unsigned char *data = BPF_CORE_READ(skb, data);
	__u32 len = BPF_CORE_READ(skb, len), off = 0;
	int i;

	bpf_for(i, 0, NLMSGS_MAX) {
		struct nlmsghdr nh;

		if (len - off < sizeof(nh))
			return true; /* the kernel ignores a tail shorter than a header */
		if (bpf_probe_read_kernel(&nh, sizeof(nh), data + off) || nh.nlmsg_len < sizeof(nh) ||
		    nh.nlmsg_len > len - off)
			return false;
		if (nh.nlmsg_type >= RTM_BASE && (nh.nlmsg_type & 3) != 2)
			return false;
		off += (nh.nlmsg_len + 3) & ~3U;
		if (off >= len)
			return true;
	}
	return false;
}

SEC("lsm/netlink_send")
int BPF_PROG(gate_netlink_send, struct sock *sk, struct sk_buff *skb)
{
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);

	if (proto != NETLINK_ROUTE && proto != NETLINK_NETFILTER)
		return 0;
	if (proto == NETLINK_ROUTE && rtnl_reads_only(skb))
		return 0;
	return attach_by_held_fd(ATTACH_NETLINK);
}

/* The loader records its bpffs mount by an ioctl on its pin directory (any command; bpffs answers ENOTTY): the first
 * record stands for good, so a later process that reuses the loader's pid records nothing. */
static __always_inline void record_mount(struct file *file)
{
	__u32 zero = 0;
	__u64 *rec;

	if (bpf_get_current_pid_tgid() >> 32 != cfg.loader_tgid)
		return;
	rec = bpf_map_lookup_elem(&gate_mount, &zero);
	if (rec && !*rec && role_of(file->f_inode) == ROLE_PIN_DIR)
		*rec = (__u64)file->f_path.mnt;
}

/* perf events (kprobes, tracepoints, uprobes), TUN steering and filter programs, KCM. */
SEC("lsm/file_ioctl")
int BPF_PROG(gate_ioctl, struct file *file, unsigned int cmd, unsigned long arg)
{
	record_mount(file);
	switch (cmd) {
	case PERF_EVENT_IOC_SET_BPF:
		return attach_outside_bpf(ATTACH_PERF_EVENT);
	case TUNSETSTEERINGEBPF:
	case TUNSETFILTEREBPF:
		return attach_outside_bpf(ATTACH_TUN);
	case SIOCKCMATTACH:
		return attach_outside_bpf(ATTACH_KCM);
	default:
		return 0;
	}
}

/* Socket programs: SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_EBPF, and AF_PACKET fanout programs (PACKET_FANOUT_DATA, which
 * also carries classic BPF for PACKET_FANOUT_CBPF: refused too, the hook does not see the value). Classic
 * SO_ATTACH_FILTER (tcpdump, DHCP clients) stays open: it takes no program fd. */
SEC("lsm/socket_setsockopt")
int BPF_PROG(gate_setsockopt, struct socket *sock, int level, int optname)
{
	if (level == SOL_SOCKET && (optname == SO_ATTACH_BPF || optname == SO_ATTACH_REUSEPORT_EBPF))
		return attach_outside_bpf(ATTACH_SOCKET);
	if (level == SOL_PACKET && optname == PACKET_FANOUT_DATA)
		return attach_outside_bpf(ATTACH_PACKET_FANOUT);
	/* iptables-legacy rule sets carry xt_bpf's program fd inside the table blob. */
	if (((level == SOL_IP || level == SOL_IPV6) && optname == IPT_SO_SET_REPLACE) ||
	    (level == SOL_IP && (optname == ARPT_SO_SET_REPLACE || optname == EBT_SO_SET_ENTRIES)))
		return attach_by_held_fd(ATTACH_IPTABLES);
	return 0;
}

SEC("lsm/bpf_map")
int BPF_PROG(gate_bpf_map, struct bpf_map *map, fmode_t fmode)
{
	__u64 key = (__u64)map;

	if (is_gate_id(GATE_MAP, map->id))
		return protect(true, OBJ_MAP);
	/* A writable fd to a protected map, by id or from a pin, for an untrusted task. */
	if ((fmode & FMODE_WRITE) && bpf_map_lookup_elem(&protected_maps, &key) &&
	    !task_is_trusted(bpf_get_current_task_btf()))
		return protected_map_write(BPF_MAP_GET_FD_BY_ID);
	return 0;
}

SEC("lsm/bpf_prog")
int BPF_PROG(gate_bpf_prog, struct bpf_prog *prog)
{
	if (is_gate_id(GATE_PROG, prog->aux->id))
		return protect(true, OBJ_PROG);
	/* Outside bpf(), the kernel opens a program by its pinned path for xt_bpf (pinned mode): an attach. Inside
	 * bpf() (BPF_OBJ_GET, BPF_PROG_GET_FD_BY_ID, program loads), the command's check has decided. */
	if (!in_bpf_syscall())
		return attach_outside_bpf(ATTACH_PINNED_PATH);
	return 0;
}

/* The gate's mount chain: the recorded bpffs mount, then each mount above it up to its namespace's root. The pins
 * live as long as every mount of the chain stays attached, so each way of detaching one is refused:
 *   - an unmount of a chain mount itself (or, lazily, of any mount above it: umount_tree takes the subtree);
 *   - an unmount elsewhere that the kernel propagates to a chain mount: unmounting mount X also unmounts, in every
 *     mount that receives propagation from X's parent (its peers and, transitively, their slaves), the child
 *     mounted at X's mountpoint. So an unmount is refused when the mount, or a mount below it, sits at the
 *     mountpoint of a chain mount N on a peer of N's parent or of one of that parent's masters (the issue's
 *     `mount --make-shared /sys; unshare -m --propagation unchanged; umount -l /sys/fs/bpf`);
 *   - removing or renaming the directory a chain mount is mounted on, from a namespace where it is not a
 *     mountpoint: the kernel then detaches the mounts on it in every namespace (__detach_mounts).
 * Every walk is bounded and fails closed: a chain deeper than BPFGATE_MOUNT_DEPTH, or more peers, masters or
 * children than the bounds below, refuses the operation. */
#define MOUNT_MASTERS_MAX 16
#define MOUNT_PEERS_MAX 1024
#define MOUNT_CHILDREN_MAX 4096

static __always_inline struct mount *recorded_mount(void)
{
	__u32 zero = 0;
	__u64 *rec = bpf_map_lookup_elem(&gate_mount, &zero);

	return rec && *rec ? container_of((struct vfsmount *)*rec, struct mount, mnt) : NULL;
}

static __always_inline struct mount *mount_parent(struct mount *m)
{
	return BPF_CORE_READ(m, mnt_parent);
}

/* Does an unmount of `target` take `x` with it: is target x or one of its ancestors? True when the walk does not
 * end. */
static __always_inline bool takes_mount(struct mount *target, struct mount *x)
{
	int i;

	bpf_for(i, 0, BPFGATE_MOUNT_DEPTH) {
		struct mount *p;

		if (x == target)
			return true;
		p = mount_parent(x);
		if (!p || p == x)
			return false;
		x = p;
	}
	return true;
}

/* The next mount of a circular list_head list whose nodes are `struct mount` members at `off`. */
static __always_inline struct mount *mount_of_node(struct list_head *node, __u32 off)
{
	return (struct mount *)((void *)node - off);
}

/* Would an unmount of `target` reach, by propagation, the child of `p` at `d`: does `p` have a child mounted at
 * `d` that the unmount takes? */
static __always_inline bool takes_child_at(struct mount *target, struct mount *p, struct dentry *d)
{
	__u32 off = bpf_core_field_offset(struct mount, mnt_child);
	struct list_head *head = (void *)p + bpf_core_field_offset(struct mount, mnt_mounts);
	struct list_head *pos = BPF_CORE_READ(p, mnt_mounts.next);
	int i;

	bpf_for(i, 0, MOUNT_CHILDREN_MAX) {
		struct mount *x;

		if (!pos || pos == head)
			return false;
		x = mount_of_node(pos, off);
		if (BPF_CORE_READ(x, mnt_mountpoint) == d && takes_mount(target, x))
			return true;
		pos = BPF_CORE_READ(pos, next);
	}
	return true;
}

/* Would an unmount of `target` propagate to the chain mount mounted at `d` on `pn`? The mounts whose unmounts
 * propagate to pn's children are pn's peers and the peers of each of pn's masters. */
static __always_inline bool propagates_to(struct mount *target, struct mount *pn, struct dentry *d)
{
	__u32 off = bpf_core_field_offset(struct mount, mnt_share);
	struct mount *m = pn;
	int g, i;

	bpf_for(g, 0, MOUNT_MASTERS_MAX) {
		struct mount *p = m;

		if (!m)
			return false;
		/* m's peer group: the circular mnt_share list through m (m alone when it is not shared). */
		bpf_for(i, 0, MOUNT_PEERS_MAX) {
			if (p != pn && takes_child_at(target, p, d))
				return true;
			p = mount_of_node(BPF_CORE_READ(p, mnt_share.next), off);
			if (p == m)
				break;
		}
		if (p != m)
			return true; /* more peers than the bound */
		m = BPF_CORE_READ(m, mnt_master);
	}
	return true;
}

/* Is `d` the directory a mount of the gate's chain is mounted on (or is the chain too deep to tell)? */
static __always_inline bool chain_mountpoint(struct dentry *d)
{
	struct mount *n = recorded_mount();
	int i;

	if (!n || !d)
		return false;
	bpf_for(i, 0, BPFGATE_MOUNT_DEPTH) {
		struct mount *pn = mount_parent(n);

		if (!pn || pn == n)
			return false;
		if (BPF_CORE_READ(n, mnt_mountpoint) == d)
			return true;
		n = pn;
	}
	return true;
}

/* Is `m` a mount of the gate's chain (or is the chain too deep to tell)? */
static __always_inline bool chain_mount(struct mount *m)
{
	struct mount *n = recorded_mount();

	return n && takes_mount(m, n);
}

SEC("lsm/inode_unlink")
int BPF_PROG(gate_unlink, struct inode *dir, struct dentry *dentry)
{
	return protect(role_of(dentry->d_inode) != ROLE_NONE, OBJ_PIN);
}

SEC("lsm/inode_rmdir")
int BPF_PROG(gate_rmdir, struct inode *dir, struct dentry *dentry)
{
	if (role_of(dentry->d_inode) != ROLE_NONE)
		return protect(true, OBJ_PIN);
	/* From a namespace where it is not a mountpoint, removing the directory detaches the gate's chain. */
	return protect(chain_mountpoint(dentry), OBJ_MOUNT);
}

SEC("lsm/inode_rename")
int BPF_PROG(gate_rename, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
	     struct dentry *new_dentry)
{
	/* Neither moving a protected entry nor replacing one by renaming over it. */
	if (role_of(old_dentry->d_inode) != ROLE_NONE || role_of(new_dentry->d_inode) != ROLE_NONE)
		return protect(true, OBJ_PIN);
	/* Renaming over a chain mountpoint detaches the mounts on it; renaming one away hides the pins' path. */
	return protect(chain_mountpoint(old_dentry) || chain_mountpoint(new_dentry), OBJ_MOUNT);
}

static __always_inline bool covers_gate(const struct path *path)
{
	__u32 role = role_of(path->dentry->d_inode);

	return role == ROLE_PIN_DIR || role == ROLE_BPFFS_ROOT || role == ROLE_PIN;
}

/* A mount on the gate's bpffs or pins that changes only another mount namespace's view: the task is outside the
 * initial mount namespace and the mount it mounts on is not shared (a shared mount propagates the new mount to its
 * peers, which may be the initial namespace's: `unshare -m --propagation unchanged` under systemd's rshared /).
 * The pins, and the gate, stay in the initial namespace. systemd's PrivateBPF= mounts a delegated bpffs over
 * /sys/fs/bpf this way, in a namespace it made a slave of the host's. */
static __always_inline bool private_view(const struct path *path)
{
	struct mount *m;

	if (in_init_mnt_ns(bpf_get_current_task_btf()))
		return false;
	m = container_of(BPF_CORE_READ(path, mnt), struct mount, mnt);
	return BPF_CORE_READ(m, mnt_group_id) == 0; /* peer group id: non-zero while shared */
}

SEC("lsm/sb_mount")
int BPF_PROG(gate_mount_over, const char *dev_name, const struct path *path, const char *type, unsigned long flags)
{
	if (!covers_gate(path))
		return 0;
	/* A bind remount (per-mount flags such as read-only) in another mount namespace changes only that
	 * namespace's view: systemd does it for every unit with ProtectKernelTunables= or ProtectSystem=strict. */
	if ((flags & (MS_REMOUNT | MS_BIND)) == (MS_REMOUNT | MS_BIND) &&
	    !in_init_mnt_ns(bpf_get_current_task_btf()))
		return 0;
	/* Mounting over the pins would hide them; remounting the bpffs superblock could change who may read them,
	 * in every namespace. */
	if (!(flags & MS_REMOUNT) && private_view(path))
		return 0;
	return protect(true, OBJ_MOUNT);
}

SEC("lsm/move_mount")
int BPF_PROG(gate_move_mount_over, const struct path *from_path, const struct path *to_path)
{
	/* A chain mount moved into a detached tree is freed, pins and all, when that tree's last fd closes (no
	 * unmount hook runs). Boot moves /sys into the real root through mount(2) while the initramfs window is open. */
	if (!window_open() && chain_mount(container_of(BPF_CORE_READ(from_path, mnt), struct mount, mnt)))
		return protect(true, OBJ_MOUNT);
	return protect(covers_gate(to_path) && !private_view(to_path), OBJ_MOUNT);
}

SEC("lsm/sb_umount")
int BPF_PROG(gate_umount, struct vfsmount *mnt, int flags)
{
	struct mount *target = container_of(mnt, struct mount, mnt);
	struct mount *n = recorded_mount();
	int i;

	if (!n)
		return 0;
	bpf_for(i, 0, BPFGATE_MOUNT_DEPTH) {
		struct mount *pn;

		if (n == target)
			return protect(true, OBJ_MOUNT);
		pn = mount_parent(n);
		if (!pn || pn == n)
			return 0; /* the root: nothing else holds the chain */
		if (propagates_to(target, pn, BPF_CORE_READ(n, mnt_mountpoint)))
			return protect(true, OBJ_MOUNT);
		n = pn;
	}
	return protect(true, OBJ_MOUNT); /* a chain deeper than the bound: fail closed */
}

SEC("lsm/sb_remount")
int BPF_PROG(gate_sb_remount, struct super_block *sb, void *mnt_opts)
{
	struct mount *n = recorded_mount();

	/* The bpffs superblock's options (mode, uid, delegation) decide who reaches the pins, in every namespace.
	 * mount(2) remounts meet sb_mount first; this catches fspick() + fsconfig(FSCONFIG_CMD_RECONFIGURE). */
	return protect(n && BPF_CORE_READ(n, mnt.mnt_sb) == sb, OBJ_MOUNT);
}

/* Marks the current process (its thread-group leader) as running unverified code. */
static __always_inline void taint_process(struct task_struct *task, __u32 counter)
{
	struct task_trust *t;

	bpf_rcu_read_lock();
	t = bpf_task_storage_get(&task_trust, task->group_leader, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (t && !t->tainted) {
		t->tainted = 1;
		count(counter);
	}
	bpf_rcu_read_unlock();
	record(EV_TAINT, 0, VERDICT_NOTED, counter == CNT_TAINT_ANON ? WHY_TAINT_ANON : WHY_TAINT_FILE);
	/* Fails closed if the leader's storage could not be made: the mapping thread drops its own trust. */
	if (!t) {
		t = bpf_task_storage_get(&task_trust, task, 0, 0);
		if (t)
			t->trusted = 0;
	}
}

SEC("lsm.s/mmap_file")
int BPF_PROG(gate_mmap, struct file *file, unsigned long reqprot, unsigned long prot, unsigned long flags)
{
	struct task_struct *task;

	/* A shared writable mapping of a protected map (BPF_F_MMAPABLE) writes it without bpf(). */
	if ((prot & PROT_WRITE) && (flags & MAP_SHARED) && !(flags & MAP_ANONYMOUS) && file &&
	    protected_map_file(file) && !task_is_trusted(bpf_get_current_task_btf()))
		return protected_map_write(BPF_MAP_UPDATE_ELEM);
	if (!(prot & PROT_EXEC))
		return 0;
	task = bpf_get_current_task_btf();
	if (!task_is_trusted(task))
		return 0;
	/* Anonymous is decided by MAP_ANONYMOUS, not by `file == NULL`: 6.12 types this argument as a trusted
	 * non-NULL pointer, so its verifier hard-wires a NULL test away and an anonymous mapping would dereference
	 * NULL (seen: an Oops). 7.x types it nullable and requires the test, which then fails closed. The kernel
	 * passes no file exactly for MAP_ANONYMOUS (MAP_HUGETLB ones get a hugetlbfs file, unverified anyway). */
	if (flags & MAP_ANONYMOUS)
		taint_process(task, CNT_TAINT_ANON);
	else if (!file || !trusted_reason(file_verdict(file, task)))
		taint_process(task, CNT_TAINT_FILE);
	return 0;
}

SEC("lsm/file_mprotect")
int BPF_PROG(gate_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot)
{
	struct task_struct *task;
	struct inode_verdict *cached;
	struct file *file;

	if (!(prot & PROT_EXEC))
		return 0;
	task = bpf_get_current_task_btf();
	if (!task_is_trusted(task))
		return 0;
	/* Not sleepable here: a file-backed area counts as verified only from the cache (filled when it was
	 * mapped, or exec'ed). */
	file = vma->vm_file;
	if (!file) {
		taint_process(task, CNT_TAINT_ANON);
		return 0;
	}
	cached = bpf_inode_storage_get(&inode_verdicts, file->f_inode, 0, 0);
	if (!cached || !cached->trusted)
		taint_process(task, CNT_TAINT_FILE);
	return 0;
}

static __always_inline bool is_gate_key(__s32 serial)
{
	__u32 i;

	if (serial <= 0)
		return false;
	if ((__u32)serial == cfg.keyring_serial)
		return true;
	for (i = 0; i < BPFGATE_KEYS_MAX; i++)
		if (cfg.key_serials[i] == (__u32)serial)
			return true;
	return false;
}

/* The keyctl(2) operation the current task is in (its first argument), or -1 outside keyctl. */
static __always_inline long keyctl_op(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	if (!regs || BPF_CORE_READ(regs, orig_ax) != NR_KEYCTL)
		return -1;
	return BPF_CORE_READ(regs, di);
}

SEC("lsm/key_permission")
int gate_key_permission(__u64 *ctx)
{
	enum key_need_perm need_perm = (enum key_need_perm)ctx[2];
	struct task_struct *task;
	struct key *key;
	__u64 key_ref = 0;
	char desc[6];
	__u16 len;
	long op;

	/* key_ref_t points to an opaque struct that 6.12's verifier cannot type, so the argument is read raw. It
	 * carries the "possessed" flag in its lowest bit. */
	if (bpf_probe_read_kernel(&key_ref, sizeof(key_ref), &ctx[0]))
		return 0;
	key = (struct key *)(key_ref & ~1UL);

	if (is_gate_key(BPF_CORE_READ(key, serial))) {
		if (need_perm == KEY_NEED_VIEW || need_perm == KEY_NEED_READ)
			return 0;
		/* The gate's own check: bpf_lookup_user_key and the signature's keyring search. */
		if (bpf_task_storage_get(&scratch, bpf_get_current_task_btf(), 0, 0))
			return 0;
		/* bpf.signed: the kernel's check of a program signature against the gate's keyring (BPF_PROG_LOAD's
		 * keyring lookup, deferred, and its search for the signer). Only inside bpf(): keyctl's invalidate
		 * needs no more than search permission, and stays refused. */
		if (cfg.signed_progs && (need_perm == KEY_NEED_SEARCH || need_perm == KEY_DEFER_PERM_CHECK) &&
		    in_bpf_syscall())
			return 0;
		return protect(true, OBJ_KEY);
	}
	/* Root's user keyring holds the gate's keyring (the only link to it): whatever removes _uid.0 removes the
	 * gate's keyring with it, and every signed file not yet cached turns untrusted. */
	len = BPF_CORE_READ(key, index_key.desc_len);
	if (len != 6 || bpf_core_read(desc, sizeof(desc), &key->index_key.desc))
		return 0;
	if (!(desc[0] == '_' && desc[1] == 'u' && desc[2] == 'i' && desc[3] == 'd' && desc[4] == '.' && desc[5] == '0'))
		return 0;
	/* Invalidate needs only search permission, the timeout only setattr: told apart by the keyctl operation.
	 * Refused to everyone: they end the keyring, not change its contents. */
	op = keyctl_op();
	if (op == KEYCTL_INVALIDATE || op == KEYCTL_SET_TIMEOUT || op == KEYCTL_REVOKE || op == KEYCTL_CLEAR)
		return protect(true, OBJ_KEY);
	if (need_perm != KEY_NEED_WRITE && need_perm != KEY_NEED_SETATTR)
		return 0;
	task = bpf_get_current_task_btf();
	return protect(!task_is_trusted(task), OBJ_KEY);
}

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

#define LOCKDOWN(name) bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_##name)
#define KIMG_OF(name)                                                                                   \
	if (bpf_core_enum_value_exists(enum lockdown_reason, LOCKDOWN_##name) && what == LOCKDOWN(name)) \
		return KIMG_##name;

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

SEC("lsm/ptrace_access_check")
int BPF_PROG(gate_ptrace, struct task_struct *child, unsigned int mode)
{
	/* Attach-level access (ptrace, /proc/PID/mem, process_vm_{read,write}v) to a trusted task needs trust. */
	if (!(mode & PTRACE_MODE_ATTACH) || !task_is_trusted(child) ||
	    task_is_trusted(bpf_get_current_task_btf()))
		return 0;
	count(CNT_PTRACE_DENIED);
	return deny(EV_PTRACE, BPF_CORE_READ(child, pid), WHY_UNTRUSTED);
}

SEC("lsm/ptrace_traceme")
int BPF_PROG(gate_traceme, struct task_struct *parent)
{
	if (!task_is_trusted(bpf_get_current_task_btf()) || task_is_trusted(parent))
		return 0;
	count(CNT_PTRACE_DENIED);
	return deny(EV_PTRACE, BPF_CORE_READ(parent, pid), WHY_UNTRUSTED);
}

static __always_inline void drop_cached(struct dentry *dentry)
{
	struct inode *inode = dentry->d_inode;

	if (inode && bpf_inode_storage_delete(&inode_verdicts, inode) == 0)
		count(CNT_CACHE_DROPPED);
}

/* A verdict is dropped after each successful xattr change. Only after: a verdict dropped before the change could be
 * cached again, from the old xattr, by an exec racing the change. An exec that hits the cache between the change and
 * this hook gets the verdict of the old xattr for the same content (fs-verity: the digest has not changed), so the
 * race never trusts content that no valid signature covered. */
SEC("lsm/inode_post_setxattr")
void BPF_PROG(gate_post_setxattr, struct dentry *dentry)
{
	drop_cached(dentry);
}

SEC("lsm/inode_post_removexattr")
void BPF_PROG(gate_post_removexattr, struct dentry *dentry)
{
	drop_cached(dentry);
}

/* The status stream: one status_header, then one status_counter per slot, summed over CPUs. */
static __always_inline int status_elem(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct status_counter rec = {};
	__u32 *key = ctx->key;
	__u32 k, cpu;

	if (!key)
		return 0;
	k = *key;
	if (ctx->meta->seq_num == 0) {
		struct status_header hdr = {
			.magic = BPFGATE_STATUS_MAGIC,
			.version = BPFGATE_STATUS_VERSION,
			.counters = CNT_MAX,
		};
		const volatile __u32 *src = (const volatile __u32 *)&cfg;
		__u32 *dst = (__u32 *)&hdr.config;

		/* Word by word through a volatile pointer: a plain memcpy would be folded to the zero initialiser. */
		for (cpu = 0; cpu < sizeof(hdr.config) / 4; cpu++)
			dst[cpu] = src[cpu];
		bpf_seq_write(seq, &hdr, sizeof(hdr));
	}
	rec.index = k;
	for (cpu = 0; cpu < BPFGATE_MAX_CPUS && cpu < cfg.nr_cpus; cpu++) {
		__u64 *v = bpf_map_lookup_percpu_elem(&counters, &k, cpu);

		if (v)
			rec.value += *v;
	}
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

/* The event stream: each complete record of the ring, as struct gate_event (the reader orders them by seq). */
static __always_inline int events_elem(struct bpf_iter__bpf_map_elem *ctx)
{
	/* Read through probe reads, not loads: the kernel checks a map iterator's direct value accesses against the
	 * value size of every map it is attached to, and this program is attached to `counters` too. */
	void *e = ctx->value;
	struct gate_event copy;
	__u64 seq, again;

	if (!e || bpf_probe_read_kernel(&seq, sizeof(seq), e) || !seq)
		return 0;
	if (bpf_probe_read_kernel(&copy, sizeof(copy), e) || bpf_probe_read_kernel(&again, sizeof(again), e))
		return 0;
	/* A writer that took this slot meanwhile changed seq (to 0, then to a larger number). */
	if (again != seq || copy.seq != seq)
		return 0;
	bpf_seq_write(ctx->meta->seq, &copy, sizeof(copy));
	return 0;
}

/* One iterator program for both pinned streams (the light-skeleton loader holds at most 32 programs): the status
 * link iterates `counters`, the events link `events`, told apart by their value size. */
SEC("iter/bpf_map_elem")
int gate_iter(struct bpf_iter__bpf_map_elem *ctx)
{
	if (BPF_CORE_READ(ctx, map, value_size) == sizeof(struct gate_event))
		return events_elem(ctx);
	return status_elem(ctx);
}
