// SPDX-License-Identifier: GPL-2.0-only

/*
 * Self-protection: the pins and their directory, the mount chain that holds them, the gate's keyring and root's
 * user keyring, and trusted tasks against injection (ptrace, /proc/PID/mem, process_vm_writev, PTRACE_TRACEME).
 */

#include "gate.h"

#define PTRACE_MODE_ATTACH 0x02
#define MS_REMOUNT 32
#define MS_BIND 4096
#define NR_KEYCTL 250 /* x86-64 */
#define KEYCTL_REVOKE 3
#define KEYCTL_CLEAR 7
#define KEYCTL_SET_TIMEOUT 15
#define KEYCTL_INVALIDATE 21

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
	__u64 *rec = bpf_map_lookup_elem(&chain_root, &zero);

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
int BPF_PROG(gate_mount, const char *dev_name, const struct path *path, const char *type, unsigned long flags)
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
int BPF_PROG(gate_move_mount, const struct path *from_path, const struct path *to_path)
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
	/* The signer-binding keyrings (profiles): the same keys, linked again. */
	for (i = 0; i < BPFGATE_PROFILES; i++)
		if (cfg.profile_keyrings[i] == (__u32)serial)
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
int gate_keys(__u64 *ctx)
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
		/* Signed programs (bpf.signed, a profile's signed_programs): the kernel's check of a program
		 * signature against the gate's keyring (BPF_PROG_LOAD's keyring lookup, deferred, and its search for
		 * the signer). Only inside bpf(): keyctl's invalidate needs no more than search permission, and
		 * stays refused. */
		if (cfg.track_signed && (need_perm == KEY_NEED_SEARCH || need_perm == KEY_DEFER_PERM_CHECK) &&
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
