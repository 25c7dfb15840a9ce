/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one contract between the kernel side (the bpf/ files) and the Rust side. Every type and every enum value here
 * reaches Rust through the skeleton's generated `types` module (see the `__types` anchor in bpfgate.bpf.c). What
 * Rust needs is an enum value, not a #define, so that it is never re-declared there. Left as #defines: the
 * signature xattr names (strings, which BTF cannot carry; src/signing/verity.rs names them too) and values only the BPF
 * side uses.
 */
#ifndef BPFGATE_H
#define BPFGATE_H

/* Limits and framing the Rust side reads (types::bpfgate_limit). */
enum bpfgate_limit {
	/* Largest signature xattr the gate reads. A larger one makes the exec untrusted (EXEC_SIG_TOO_BIG). */
	BPFGATE_SIG_MAX = 4096,
	/* Status stream framing. */
	BPFGATE_STATUS_MAGIC = 0x42504647, /* "BPFG" */
	BPFGATE_STATUS_VERSION = 7,
	/* gate_event.profile of a task that is not trusted. */
	BPFGATE_NO_PROFILE = 0xff,
};
/* "FSVerity" + struct fsverity_digest + the largest digest (sha512): what `fsverity sign` signs. */
#define BPFGATE_FORMATTED_DIGEST_MAX (8 + 4 + 64)
/* bpf() commands counted one by one; commands at or above BPFGATE_CMD_OTHER share the last slot. */
#define BPFGATE_CMD_SLOTS 64
#define BPFGATE_CMD_OTHER (BPFGATE_CMD_SLOTS - 1)
/* Upper bound for the status iterator's per-CPU sum. */
#define BPFGATE_MAX_CPUS 8192
/* Signature xattr names. The security.bpf.* name is read first where the kernel allows it (>= 6.15). build.rs
 * hands these two lines to Rust (skel::xattr): they are defined nowhere else. */
#define BPFGATE_XATTR_SECURITY "security.bpf.bpfgate.sig"
#define BPFGATE_XATTR_USER "user.bpfgate.sig"
/* How many of its own maps, programs and links the gate protects by id: programs are at most 32 (the light
 * skeleton's limit), links one more (the iterator is attached twice), maps 17 today. */
#define BPFGATE_IDS_MAX 40
/* Maps created by trusted tasks, tracked at once (protected maps); a creation past it is refused, not unprotected. */
#define BPFGATE_PROTECTED_MAPS 16384
/* Programs tracked at once as signed (bpf.signed: loaded with a signature the kernel verified against an anchor
 * keyring, or by such a signed loader); a load past it is refused. */
#define BPFGATE_SIGNED_PROGS 4096
/* Loader maps of signed light skeletons (bound to one program's hash) that untrusted tasks may fill, at once. */
#define BPFGATE_LOADER_MAPS 1024
/* Certificates the gate's keyring can hold (their key serials are protected along with the keyring's). */
#define BPFGATE_KEYS_MAX 8
/* Depth of the mount tree walked above the gate's bpffs (and above any mount that could take it by propagation);
 * a deeper tree fails closed: the unmount, move or removal is refused. */
#define BPFGATE_MOUNT_DEPTH 64
/* Records the event ring holds; the oldest is overwritten. */
#define BPFGATE_EVENTS 1024
/* Digests the denylist holds (policy.rs DENY_MAX). */
#define BPFGATE_DENY_MAX 64
/* Profiles of trusted loaders, `full` (index 0) included (policy.rs PROFILES_MAX), their name buffers (names up to
 * PROFILE_NAME_MAX = 15 bytes and a NUL), and digest bindings (BIND_MAX). */
#define BPFGATE_PROFILES 8
#define BPFGATE_PROFILE_NAME 16
#define BPFGATE_BIND_MAX 64

/* Why an exec got its verdict. The first two are the trusted outcomes. */
enum exec_reason {
	EXEC_TRUSTED_VERIFIED = 0, /* signature verified now; verdict cached on the inode */
	EXEC_TRUSTED_CACHED,       /* inode's cached verdict: trusted */
	EXEC_UNTRUSTED_CACHED,     /* inode's cached verdict: untrusted */
	EXEC_SCRIPT,               /* #! script or binfmt_misc: the interpreter's signature does not count */
	EXEC_NO_VERITY,            /* fs-verity not enabled on the file */
	EXEC_BAD_DIGEST,           /* digest algorithm the gate does not handle */
	EXEC_NO_SIG,               /* no signature xattr */
	EXEC_SIG_UNREADABLE,       /* xattr not readable by the exec'ing task (e.g. execute-only file) */
	EXEC_SIG_TOO_BIG,          /* signature xattr larger than BPFGATE_SIG_MAX */
	EXEC_BAD_SIG,              /* signature does not verify against the gate's keyring */
	EXEC_NO_KEYRING,           /* the gate's keyring is gone (revoked, unlinked, invalidated) */
	EXEC_NO_MEMORY,            /* scratch or storage allocation failed */
	EXEC_TRACED,               /* exec'ed while ptraced: the tracer could rewrite it, so never trusted */
	EXEC_DENYLISTED,           /* the file's digest is on the policy's denylist */
	EXEC_INITRAMFS,            /* a file of the initramfs, during the initramfs trust window */
	EXEC_SHARED_FS,            /* another process shares the fs_struct (CLONE_FS): it can chroot or chdir it */
	EXEC_PERSONALITY,          /* inherited personality flags a setuid exec clears (READ_IMPLIES_EXEC, no ASLR) */
	EXEC_SECCOMP_LISTENER,     /* a seccomp filter with a user-notification listener: a supervisor answers its calls */
	EXEC_REASONS,
};

/* Counter slots in the per-CPU `counters` map. */
enum gate_counter {
	CNT_CMD_ALLOWED = 0,                            /* + cmd: bpf() command allowed */
	CNT_CMD_DENIED = BPFGATE_CMD_SLOTS,             /* + cmd: bpf() command denied */
	CNT_EXEC = 2 * BPFGATE_CMD_SLOTS,               /* + enum exec_reason */
	CNT_FORK_TRUSTED = CNT_EXEC + EXEC_REASONS,     /* trust handed to a child at fork */
	CNT_CACHE_DROPPED,                              /* cached verdicts found stale: the inode changed since */
	CNT_SIG_SECURITY_XATTR,                         /* signature read from BPFGATE_XATTR_SECURITY */
	CNT_SIG_USER_XATTR,                             /* signature read from BPFGATE_XATTR_USER */
	CNT_GATE_PROTECTED,     /* denied: unlink, rename, (un)mount or fd-by-id of the gate's own objects */
	CNT_PTRACE_DENIED,      /* denied: an untrusted task attaching to a trusted one (ptrace, /proc/PID/mem) */
	CNT_TAINT_FILE,         /* trusted process lost trust: executable mapping of an unverified file */
	CNT_TAINT_ANON,         /* trusted process lost trust: anonymous executable memory */
	CNT_KERNEL_MODIFY_DENIED, /* denied (or audited): module load or request, kexec, or a lockdown reason */
	CNT_AUDITED,            /* audit mode: would have been denied, was allowed */
	CNT_EVENTS,             /* records written to the event ring */
	CNT_NO_TOKEN,           /* denied (or audited): bpf.token_only, an object created without a BPF token */
	CNT_PROTECTED_MAP,      /* denied (or audited): an untrusted write to a map a trusted task created */
	CNT_SIGNED,             /* allowed to an untrusted task: a step of loading a signed program (bpf.signed) */
	CNT_ATTACH_DENIED,      /* denied (or audited): a program attached outside bpf() (ioctl, setsockopt) */
	CNT_PROFILE_ALLOWED,    /* + profile: a trusted task's bpf() command its profile allows (profiles defined) */
	CNT_PROFILE_DENIED = CNT_PROFILE_ALLOWED + BPFGATE_PROFILES, /* + profile: ... its profile does not allow */
	CNT_MAX = CNT_PROFILE_DENIED + BPFGATE_PROFILES,
};

/* `mode` of the policy (off never loads). */
enum gate_mode {
	MODE_ENFORCE = 0,
	MODE_AUDIT,       /* decide and record, deny nothing the policy areas cover */
};

/* Permission of a policy area (bpf, kmod, kimg, sysctl). */
enum gate_perm {
	PERM_DENY = 0,    /* trusted tasks only, plus the area's allow-list for everyone */
	PERM_ALLOW,       /* everyone */
	PERM_RESTRICT,    /* as deny, and trusted tasks must be in the initial mount namespace */
};

/* Kernel-module operations (bits of gate_config.kmod_allow; names in policy/src/policy.rs KMOD_OPS). */
enum kmod_op {
	KMOD_LOAD = 0,    /* init_module, finit_module */
	KMOD_AUTOLOAD,    /* request_module from a task's action (e.g. a socket family) */
};

/* Kernel-image operations (bits of gate_config.kimg_allow; names in policy/src/policy.rs KIMG_OPS): kexec, then the
 * lockdown reasons, in the kernel's order. Up to KIMG_INTEGRITY_OTHER they can change the running kernel. */
enum kimg_op {
	KIMG_KEXEC = 0,
	KIMG_MODULE_SIGNATURE,
	KIMG_DEV_MEM,
	KIMG_EFI_TEST,
	KIMG_HIBERNATION,
	KIMG_PCI_ACCESS,
	KIMG_IOPORT,
	KIMG_MSR,
	KIMG_ACPI_TABLES,
	KIMG_DEVICE_TREE,
	KIMG_PCMCIA_CIS,
	KIMG_TIOCSSERIAL,
	KIMG_MODULE_PARAMETERS,
	KIMG_MMIOTRACE,
	KIMG_DEBUGFS,
	KIMG_XMON_WR,
	KIMG_BPF_WRITE_USER,
	KIMG_DBG_WRITE_KERNEL,
	KIMG_RTAS_ERROR_INJECTION,
	KIMG_XEN_USER_ACTIONS,
	KIMG_INTEGRITY_OTHER,        /* an integrity reason this build does not know by name */
	KIMG_KCORE,
	KIMG_KPROBES,
	KIMG_BPF_READ_KERNEL,
	KIMG_DBG_READ_KERNEL,
	KIMG_PERF,
	KIMG_TRACEFS,
	KIMG_XMON_RW,
	KIMG_XFRM_SECRET,
	KIMG_CONFIDENTIALITY_OTHER,  /* a confidentiality reason this build does not know by name */
	KIMG_OPS,
};

/* The BPF sysctls (bits of gate_config.sysctl_allow; names in policy/src/policy.rs SYSCTL_OPS). */
enum sysctl_op {
	SYSCTL_BPF_STATS_ENABLED = 0,     /* kernel.bpf_stats_enabled (what BPF_ENABLE_STATS does) */
	SYSCTL_UNPRIVILEGED_BPF_DISABLED, /* kernel.unprivileged_bpf_disabled */
	SYSCTL_BPF_JIT_ENABLE,            /* net.core.bpf_jit_enable */
	SYSCTL_BPF_JIT_HARDEN,            /* net.core.bpf_jit_harden */
	SYSCTL_BPF_JIT_KALLSYMS,          /* net.core.bpf_jit_kallsyms */
	SYSCTL_BPF_JIT_LIMIT,             /* net.core.bpf_jit_limit */
	SYSCTL_OPS,
};

/* Trust anchors (bits of gate_config.anchors; names in policy/src/policy.rs ANCHORS): the baked certificates (the gate's
 * keyring), and optionally the kernel's own keyrings, consulted only for a signer the baked keyring does not hold. */
enum gate_anchor {
	ANCHOR_BAKED = 0,
	ANCHOR_BUILTIN,    /* .builtin_trusted_keys (bpf_lookup_system_key(0)) */
	ANCHOR_SECONDARY,  /* builtin + .secondary_trusted_keys (1) */
	ANCHOR_PLATFORM,   /* .platform: UEFI db and MOK (2) */
};

/* Configuration and policy fixed at load time (rodata, frozen by the kernel). */
struct gate_config {
	__u64 bpf_allow;       /* bitmap of bpf() commands untrusted tasks keep (policy bpf.allow) */
	__u64 bpf_block;       /* bitmap of bpf() commands no task may use but the loader (policy bpf.block) */
	__u64 kmod_allow;      /* bitmap of enum kmod_op untrusted tasks keep */
	__u64 kimg_allow;      /* bitmap of enum kimg_op untrusted tasks keep */
	__u64 sysctl_allow;    /* bitmap of enum sysctl_op untrusted tasks may write */
	__u32 mode;            /* enum gate_mode */
	__u32 bpf_perm;        /* enum gate_perm of each area */
	__u32 kmod_perm;
	__u32 kimg_perm;
	__u32 sysctl_perm;
	__u32 init_mnt_ns;     /* inode number of the initial mount namespace (for restrict) */
	__u32 denylist_len;    /* digests in the denylist map */
	__u32 keyring_serial;  /* the gate's keyring: baked certificates, closed to additions */
	__u32 nr_cpus;         /* possible CPUs, for the status sum */
	__u32 xattr_security;  /* 1: read BPFGATE_XATTR_SECURITY first (kernel reads security.bpf.*) */
	__u32 loader_tgid;     /* the loader, whose first ioctl on its pin directory records the bpffs mount */
	__u32 initramfs_dev;   /* s_dev of the initramfs (rootfs) when loaded from it and trusted; 0: no window */
	__u32 token_only;      /* 1: map_create, prog_load and btf_load need a BPF token (policy bpf.token_only) */
	__u32 anchors;         /* bitmap of enum gate_anchor: whose signatures are trusted (policy anchors) */
	__u32 signed_progs;    /* 1: untrusted tasks may load programs signed for an anchor keyring (policy bpf.signed) */
	__u32 profile_signed;  /* bitmap of profiles whose loaders load only signed programs (signed_programs) */
	__u32 key_serials[BPFGATE_KEYS_MAX]; /* the certificates in the keyring (0: unused slot) */
	__u64 profile_bpf[BPFGATE_PROFILES]; /* bpf() commands each profile's loaders may use ([0] full: all) */
	__u64 profile_prog_types[BPFGATE_PROFILES]; /* program types each profile's loaders may load ([0]: all) */
	__u64 profile_kmod[BPFGATE_PROFILES];   /* what trust adds per profile in the kmod area (enum kmod_op bits) */
	__u64 profile_kimg[BPFGATE_PROFILES];   /* ... in the kimg area (enum kimg_op bits) */
	__u64 profile_sysctl[BPFGATE_PROFILES]; /* ... in the sysctl area (enum sysctl_op bits) */
	__u64 profile_map_types[BPFGATE_PROFILES]; /* map types each profile's loaders may create ([0]: all) */
	__u64 profile_attach_types[BPFGATE_PROFILES]; /* attach types each profile's loaders may use ([0]: all) */
	__u64 attach_controlled; /* attach types profiles control (cgroup, tracing, LSM; policy attach_controlled) */
	char profile_names[BPFGATE_PROFILES][BPFGATE_PROFILE_NAME]; /* for status and log */
	__u32 profiles;        /* profiles defined: 1 = only full (no profile checks at all) */
	__u32 profile_default; /* profile of a trusted file no binding names */
	__u32 bindings;        /* entries in the profile_bindings map */
	__u32 signer_bindings; /* profiles with a signer keyring below (0: none, no extra keyring is tried) */
	__u32 profile_keyrings[BPFGATE_PROFILES]; /* keyring of the baked certificates bound to each profile, or 0 */
	__u32 prog_signing;    /* 1: the kernel has BPF program signing (6.18+) */
	__u32 track_signed;    /* 1: signed programs and signed loaders' runs are recorded (bpf.signed or a profile's
				* signed_programs, on a kernel with program signing) */
	/* The bpf() gate's fast paths, computed by the loader from the fields above (src/load/config.rs,
	 * fast_paths): commands the gate allows to everyone with no check but the allow-list, and commands it allows
	 * to a trusted task with no check but its trust. Every other command takes the full path. */
	__u64 bpf_fast_allow;
	__u64 bpf_fast_trusted;
};

/* Key of the denylist map: the fs-verity digest, as in struct fsverity_digest, zero-padded. */
struct deny_key {
	__u16 alg;
	__u16 size;
	__u8 digest[64];
};

/* What an event is about. */
enum event_kind {
	EV_BPF = 0,   /* a bpf() command (detail: command number; with WHY_PROFILE_PROG_TYPE, _MAP_TYPE and
		       * _ATTACH_TYPE, | the refused type << 8) */
	EV_KMOD,      /* detail: enum kmod_op */
	EV_KIMG,      /* detail: enum kimg_op */
	EV_PTRACE,    /* an untrusted task attaching to a trusted one (detail: target pid) */
	EV_GATE,      /* the gate's own objects: pins, maps, links, keyring (detail: enum gate_object) */
	EV_TAINT,     /* a trusted process mapped unverified code and lost its trust */
	EV_WINDOW,    /* the initramfs trust window closed: PID 1 exec'ed a program outside the initramfs */
	EV_ATTACH,    /* a program attached outside bpf() (detail: enum attach_path) */
	EV_SYSCTL,    /* a BPF sysctl opened for writing (detail: enum sysctl_op) */
};

/* Interfaces outside bpf() that attach a program by fd. */
enum attach_path {
	ATTACH_PERF_EVENT = 0, /* ioctl PERF_EVENT_IOC_SET_BPF: kprobe, uprobe, tracepoint events */
	ATTACH_TUN,            /* ioctl TUNSETSTEERINGEBPF, TUNSETFILTEREBPF */
	ATTACH_KCM,            /* ioctl SIOCKCMATTACH */
	ATTACH_SOCKET,         /* setsockopt SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_EBPF */
	ATTACH_PACKET_FANOUT,  /* setsockopt PACKET_FANOUT_DATA */
	ATTACH_PINNED_PATH,    /* a pinned program opened by path inside the kernel (xt_bpf pinned mode) */
	ATTACH_NETLINK,        /* rtnetlink or nftables message from a task holding a program fd */
	ATTACH_IPTABLES,       /* iptables-legacy table replace from a task holding a program fd */
	ATTACH_FD_RECEIVE,     /* a program fd received (SCM_RIGHTS, pidfd_getfd, seccomp ADDFD, io_uring) */
};

/* Why the event was recorded. */
enum event_why {
	WHY_NONE = 0,
	WHY_UNTRUSTED,  /* the task is not trusted */
	WHY_NAMESPACE,  /* trusted, but area is `restrict` and the task is outside the initial mount namespace */
	WHY_BLOCKED,    /* the command is on bpf.block */
	WHY_PROTECTED,  /* the gate's own object */
	WHY_TAINT_FILE, /* executable mapping of a file that does not verify */
	WHY_TAINT_ANON, /* anonymous executable memory */
	WHY_NO_TOKEN,   /* bpf.token_only: an object created without a BPF token */
	WHY_PROTECTED_MAP, /* a write to a map a trusted task created, by an untrusted task */
	WHY_PROFILE,    /* trusted, but the command is not in its profile */
	WHY_PROFILE_PROG_TYPE, /* trusted, but its profile does not name the program type it loads */
	WHY_PROFILE_MAP_TYPE,  /* ... the map type it creates */
	WHY_PROFILE_ATTACH_TYPE, /* ... the attach type it loads a program for or attaches */
	WHY_PROFILE_UNSIGNED,  /* its profile requires signed programs; this one carries no signature the kernel
				* verified against an anchor keyring */
	WHY_PROFILE_NO_SIGNING, /* its profile requires signed programs; the kernel has no program signing */
};

enum event_verdict {
	VERDICT_DENIED = 0,
	VERDICT_AUDIT,      /* audit mode: would be denied, was allowed */
	VERDICT_NOTED,      /* not a permission decision (taint) */
};

/* The gate's own objects, as named in EV_GATE events. */
enum gate_object {
	OBJ_MAP = 0, OBJ_PROG, OBJ_LINK, OBJ_PIN, OBJ_MOUNT, OBJ_KEY,
};

/* One record of the event ring (read through the pinned `events` iterator). */
struct gate_event {
	__u64 seq;       /* 1, 2, ...: order of recording; 0 while a record is being written */
	__u64 time_ns;   /* CLOCK_BOOTTIME */
	__u64 exe_ino;   /* the task's executable: inode number ... */
	__u32 exe_dev;   /* ... and device (kernel encoding) */
	__u32 pid;       /* thread id */
	__u32 tgid;      /* process id */
	__u32 uid;
	__u32 kind;      /* enum event_kind */
	__u32 detail;
	__u32 verdict;   /* enum event_verdict */
	__u32 why;       /* enum event_why */
	__u32 profile;   /* the task's profile when trusted, BPFGATE_NO_PROFILE when not */
	__u32 _pad;
	char comm[16];
	char exe[48];    /* the executable's file name (last path component) */
};

/* Roles of inodes the gate protects (inode storage `gate_inodes`, marked by the loader). */
enum gate_role {
	ROLE_NONE = 0,
	ROLE_PIN,        /* a pin under the pin directory: no unlink, no rename */
	ROLE_PIN_DIR,    /* the pin directory: no rmdir, no rename, nothing mounted on it */
	ROLE_BPFFS_ROOT, /* root of the bpffs holding the pins: nothing mounted on it */
};

/* The gate's own objects, denied by id to everyone (written once by the loader, then frozen). */
struct gate_ids {
	__u32 maps[BPFGATE_IDS_MAX];
	__u32 progs[BPFGATE_IDS_MAX];
	__u32 links[BPFGATE_IDS_MAX];
};

/* Per-task verdict (task storage). No entry means untrusted. */
struct task_trust {
	__u32 trusted;
	__u32 reason;  /* enum exec_reason of the exec that decided it */
	__u32 tainted; /* on the thread-group leader: unverified code was mapped executable into the process */
	__u32 loader;  /* the gate's own loader: exempt from bpf.block while it pins */
	__u32 signed_run; /* bpf.signed: the program this thread last ran with BPF_PROG_RUN is a signed one */
	__u32 profile;    /* what the program may do with bpf(): index into cfg.profile_* (decided at exec) */
};

/* Per-inode cached verdict (inode storage): the inode's change stamp (ctime, see change_stamp in trust.bpf.c) when
 * its content and xattrs were found trusted, and when they were found untrusted. A verdict counts only while its
 * stamp is the inode's current one: any xattr change (and chmod, chown, link, rename) moves ctime and leaves both
 * stale. Two words, each written whole, so that a reader never pairs one verdict with another's stamp. */
struct inode_verdict {
	__u64 trusted_at;
	__u64 untrusted_at;
	__u32 profile; /* the profile of its content (by digest binding, else the default): written before trusted_at,
			* and a function of the immutable content, so any trusted_at it is read with agrees */
	__u32 _pad;
};

/* First record of the status stream read from the pinned iterator. */
struct status_header {
	__u32 magic;
	__u32 version;
	__u32 counters; /* CNT_MAX: how many status_counter records follow */
	__u32 _pad;
	struct gate_config config;
};

/* One counter, summed over CPUs. */
struct status_counter {
	__u32 index; /* enum gate_counter slot */
	__u32 _pad;
	__u64 value;
};

#endif /* BPFGATE_H */
