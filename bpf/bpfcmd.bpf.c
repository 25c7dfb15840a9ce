// SPDX-License-Identifier: GPL-2.0-only

/*
 * The bpf() gate: each command by trust and policy (bpf.allow, bpf.block, bpf.token_only, bpf.signed), tokens,
 * signed programs and their loaders, protected maps (writable only by trusted tasks), and no fd to the gate's own
 * maps, programs and links for anyone.
 */

#include "gate.h"

#define ENOENT 2
#define ENOSPC 28
#define FMODE_WRITE 0x2
#define BPF_LINK_GET_FD_BY_ID 30
/* Program signing fields of union bpf_attr (UAPI, 6.18+): read at their ABI offsets, because the vmlinux.h the
 * gate is built with (6.12) predates them. Read only when cfg.signed_progs or cfg.track_signed is set, which the
 * loader does only on a kernel that has them (its BTF names struct bpf_map's excl_prog_sha). */
#define ATTR_MAP_EXCL_PROG_HASH 80       /* BPF_MAP_CREATE: __u64 excl_prog_hash */
#define ATTR_MAP_EXCL_PROG_HASH_SIZE 88  /* __u32 excl_prog_hash_size */
#define ATTR_PROG_SIGNATURE 152          /* BPF_PROG_LOAD: __u64 signature */
#define ATTR_PROG_KEYRING_ID 164         /* __s32 keyring_id */
#define SHA256_SIZE 32

enum gate_kind { GATE_MAP, GATE_PROG, GATE_LINK };

/* The gate's own loader, during its short life: exempt from bpf.block and bpf.token_only while it pins. */
static __always_inline bool is_loader(struct task_struct *task)
{
	return trust_of(task, 0) & VERDICT_LOADER;
}

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

/* Does profile `p` refuse attach type `type`? Only the attach types profiles control are checked (cgroup,
 * tracing, LSM, and any the policy has no name for); the others follow from the program type. */
static __always_inline bool attach_refused(__u32 p, __u32 type)
{
	if (type >= 64 || p >= BPFGATE_PROFILES)
		return true;
	return ((cfg.attach_controlled >> type) & 1) && !((cfg.profile_attach_types[p] >> type) & 1);
}

/* Why a trusted task's profile refuses command `slot` (WHY_NONE: it allows it), counted per profile: the command
 * itself; the program type, the attach type of a tracing or LSM program and, with signed_programs, program signing
 * in the kernel (BPF_PROG_LOAD); the map type (BPF_MAP_CREATE); the attach type (BPF_PROG_ATTACH, BPF_PROG_DETACH,
 * BPF_LINK_CREATE). `*type` is the refused type, for the event. The gate's own loader is not bound by one, `full`
 * allows everything (types the kernel adds later too). Only when the policy defines profiles (cfg.profiles > 1). */
static __always_inline __u32 profile_denies(__u32 v, __u32 slot, int cmd, union bpf_attr *attr, __u32 *type)
{
	__u32 p, why = WHY_NONE;

	if (!v || (v & VERDICT_LOADER))
		return WHY_NONE;
	p = verdict_profile(v);
	if (p >= BPFGATE_PROFILES)
		return WHY_PROFILE;
	if (p == 0) {
		count(CNT_PROFILE_ALLOWED);
		return WHY_NONE;
	}
	if (!((cfg.profile_bpf[p] >> slot) & 1)) {
		why = WHY_PROFILE;
	} else if (cmd == BPF_PROG_LOAD) {
		*type = attr->prog_type;
		if (*type >= 64 || !((cfg.profile_prog_types[p] >> *type) & 1))
			why = WHY_PROFILE_PROG_TYPE;
		else if ((*type == BPF_PROG_TYPE_TRACING || *type == BPF_PROG_TYPE_LSM) &&
			 attach_refused(p, *type = attr->expected_attach_type))
			why = WHY_PROFILE_ATTACH_TYPE;
		else if (((cfg.profile_signed >> p) & 1) && !cfg.prog_signing)
			why = WHY_PROFILE_NO_SIGNING;
	} else if (cmd == BPF_MAP_CREATE) {
		*type = attr->map_type;
		if (*type >= 64 || !((cfg.profile_map_types[p] >> *type) & 1))
			why = WHY_PROFILE_MAP_TYPE;
	} else if (cmd == BPF_PROG_ATTACH || cmd == BPF_PROG_DETACH || cmd == BPF_LINK_CREATE) {
		*type = cmd == BPF_LINK_CREATE ? attr->link_create.attach_type : attr->attach_type;
		if (attach_refused(p, *type))
			why = WHY_PROFILE_ATTACH_TYPE;
	}
	count((why == WHY_NONE ? CNT_PROFILE_ALLOWED : CNT_PROFILE_DENIED) + p);
	return why;
}

SEC("lsm/bpf")
int BPF_PROG(gate_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	__u32 slot = cmd >= 0 && cmd < BPFGATE_CMD_OTHER ? cmd : BPFGATE_CMD_OTHER;
	bool known = slot < BPFGATE_CMD_OTHER;
	bool listed = known && (cfg.bpf_allow >> slot) & 1;
	__u32 v = 0; /* the verdict (trust_of), when a check looked it up */
	struct task_struct *task;
	__u32 why, type = 0;

	/* The fast paths (the common case on every hot path): a command only the allow-list decides, and a trusted
	 * task's command only its trust decides, as the loader computed them from the policy (cfg.bpf_fast_*). An
	 * untrusted task's command falls through to the full path, which finds the same verdict and records it. The
	 * allow-list's needs no task: it is answered before the helper call that fetches one. */
	if (known && (cfg.bpf_fast_allow >> slot) & 1) {
		count(CNT_CMD_ALLOWED + slot);
		return 0;
	}
	task = bpf_get_current_task_btf();
	if (known && (cfg.bpf_fast_trusted >> slot) & 1 && trusted_entry(task)) {
		count(CNT_CMD_ALLOWED + slot);
		return 0;
	}
	/* The gate's own maps, programs and links do not exist for lookups by id, for anyone: ENOENT, which tools
	 * that list objects (bpftool prog show, btf list) skip like an object freed between two calls, where EPERM
	 * stopped them. Counted, not logged: a listing would flood the event ring. (Links have no LSM hook of their
	 * own when an fd is handed out; the map and program hooks refuse the other paths, pins included.) */
	if ((cmd == BPF_MAP_GET_FD_BY_ID && is_gate_id(GATE_MAP, attr->map_id)) ||
	    (cmd == BPF_PROG_GET_FD_BY_ID && is_gate_id(GATE_PROG, attr->prog_id)) ||
	    (cmd == BPF_LINK_GET_FD_BY_ID && is_gate_id(GATE_LINK, attr->link_id))) {
		count(CNT_GATE_PROTECTED);
		count(CNT_CMD_DENIED + slot);
		return -ENOENT;
	}
	/* The commands that change a link through an fd (one opened from a pin): replacing an iterator's program
	 * would rewrite `bpfgate status`. */
	if ((cmd == BPF_LINK_UPDATE && gate_link_fd(task, attr->link_update.link_fd)) ||
	    (cmd == BPF_LINK_DETACH && gate_link_fd(task, attr->link_detach.link_fd))) {
		count(CNT_CMD_DENIED + slot);
		return protect(true, OBJ_LINK);
	}
	if (known && (cfg.bpf_block >> slot) & 1) {
		/* Blocked for everyone but the gate's own loader, which must still pin. */
		why = is_loader(task) ? WHY_NONE : WHY_BLOCKED;
	} else {
		why = area_denies_verdict(cfg.bpf_perm, listed, task, &v);
		/* A trusted task: what its profile lets it do (its entry, just looked up). The allow-list holds for
		 * everyone, profiles included. */
		if (cfg.profiles > 1 && why == WHY_NONE && v)
			why = profile_denies(v, slot, cmd, attr, &type);
	}
	if (cfg.track_signed && cmd == BPF_PROG_TEST_RUN)
		mark_run(ctx, attr, task);
	/* restrict: signed loads, like trusted ones, only from the initial mount namespace. */
	if (cfg.signed_progs && why == WHY_UNTRUSTED && signed_step(ctx, cmd, attr, task)) {
		why = cfg.bpf_perm == PERM_RESTRICT && !in_init_mnt_ns(task) ? WHY_NAMESPACE : WHY_NONE;
		count(CNT_SIGNED);
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
	 * kernel behaviour). Maps and programs: gate_bpf_map_create, gate_prog_load_token. */
	if (why == WHY_NONE && cfg.token_only && cmd == BPF_BTF_LOAD && !(attr->btf_flags & BPF_F_TOKEN_FD) &&
	    !is_loader(task)) {
		why = WHY_NO_TOKEN;
		count(CNT_NO_TOKEN);
	}
	count((why == WHY_NONE ? CNT_CMD_ALLOWED : CNT_CMD_DENIED) + slot);
	if (why == WHY_NONE)
		return 0;
	/* A refused program, map or attach type is named in the event: detail = command | type << 8. */
	if (why == WHY_PROFILE_PROG_TYPE || why == WHY_PROFILE_MAP_TYPE || why == WHY_PROFILE_ATTACH_TYPE)
		cmd |= (type & 0xff) << 8;
	return deny_profile(EV_BPF, cmd, why, event_profile(v));
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
int BPF_PROG(gate_bpf_map_create, struct bpf_map *map, union bpf_attr *attr, struct bpf_token *token)
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
	record(EV_BPF, BPF_MAP_CREATE, VERDICT_DENIED, WHY_PROTECTED_MAP, PROFILE_LOOKUP);
	return -ENOSPC;
}

SEC("lsm/bpf_map_free")
void BPF_PROG(gate_bpf_map_free, struct bpf_map *map)
{
	__u64 key = (__u64)map;

	bpf_map_delete_elem(&protected_maps, &key);
	if (cfg.signed_progs)
		bpf_map_delete_elem(&loader_maps, &key);
}

/* struct bpf_prog_aux's record of the kernel's own signature check (about 7.2 on; enum bpf_sig_keyring,
 * enum bpf_sig_verdict). */
struct bpf_prog_aux___sig {
	struct {
		__s32 keyring_serial;
		__u8 keyring_type;
		__u8 verdict;
	} sig;
} __attribute__((preserve_access_index));

#define BPF_SIG_KEYRING_BUILTIN_ 1 /* then SECONDARY 2, PLATFORM 3: keyring_id 0, 1, 2 */
#define BPF_SIG_KEYRING_USER_ 4
#define BPF_SIG_VERIFIED_ 1

/* Did the kernel verify `prog`'s signature against a keyring the gate accepts? Where the kernel records its
 * verdict on the program, that record decides; before it (6.18 to 7.1) the load reaching this hook means the
 * kernel verified the signature in attr against attr's keyring. */
static __always_inline bool kernel_verified(struct bpf_prog *prog, union bpf_attr *attr)
{
	struct bpf_prog_aux___sig *aux = (void *)BPF_CORE_READ(prog, aux);
	__u8 type;

	if (!bpf_core_field_exists(aux->sig))
		return signed_load(attr);
	if (BPF_CORE_READ(aux, sig.verdict) != BPF_SIG_VERIFIED_)
		return false;
	type = BPF_CORE_READ(aux, sig.keyring_type);
	if (type == BPF_SIG_KEYRING_USER_)
		return keyring_accepted(BPF_CORE_READ(aux, sig.keyring_serial));
	return type >= BPF_SIG_KEYRING_BUILTIN_ && type < BPF_SIG_KEYRING_USER_ &&
	       keyring_accepted(type - BPF_SIG_KEYRING_BUILTIN_);
}

/* The profile of a trusted task whose profile requires signed programs, or BPFGATE_PROFILES. */
static __always_inline __u32 signing_profile(struct task_struct *task)
{
	__u32 v = trust_of(task, 0), p = verdict_profile(v);

	if (!v || (v & VERDICT_LOADER) || p >= BPFGATE_PROFILES || !((cfg.profile_signed >> p) & 1))
		return BPFGATE_PROFILES;
	return p;
}

/* Attached when the policy asks for bpf.token_only, bpf.signed or a profile's signed_programs. */
SEC("lsm/bpf_prog_load")
int BPF_PROG(gate_prog_load, struct bpf_prog *prog, union bpf_attr *attr, struct bpf_token *token)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 key = (__u64)prog;
	__u8 one = 1;
	bool is_signed;
	__u32 p;
	int ret;

	/* bpf_prog_load() moves the token into prog->aux before calling the hook, and passes NULL (seen on 6.12
	 * and 7.2): the token in use is prog->aux->token. */
	if (cfg.token_only &&
	    (ret = token_required(ctx_arg(ctx, 2) | (__u64)BPF_CORE_READ(prog, aux, token), BPF_PROG_LOAD)))
		return ret;
	/* Signed programs: the kernel verified the signature before this hook. A signed loader's own loads are its
	 * payload, whose hash it checked: signed too. */
	if (!cfg.track_signed)
		return 0;
	is_signed = from_kernel(ctx, 3) ? in_signed_run(task) : kernel_verified(prog, attr);
	/* A profile with signed_programs loads nothing else. */
	if (!is_signed && cfg.profile_signed && (p = signing_profile(task)) < BPFGATE_PROFILES) {
		count(CNT_PROFILE_DENIED + p);
		if ((ret = deny_profile(EV_BPF, BPF_PROG_LOAD, WHY_PROFILE_UNSIGNED, p)))
			return ret;
	}
	if (!is_signed)
		return 0;
	if (bpf_map_update_elem(&signed_progs, &key, &one, BPF_ANY) == 0)
		return 0;
	record(EV_BPF, BPF_PROG_LOAD, VERDICT_DENIED, WHY_UNTRUSTED, PROFILE_LOOKUP);
	return -ENOSPC;
}

/* Attached with cfg.track_signed. */
SEC("lsm/bpf_prog_free")
void BPF_PROG(gate_prog_free, struct bpf_prog *prog)
{
	__u64 key = (__u64)prog;

	bpf_map_delete_elem(&signed_progs, &key);
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
