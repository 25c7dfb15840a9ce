/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one contract between the kernel side (bpf/bpfgate.bpf.c) and the Rust side. Every type here reaches Rust
 * through the skeleton's generated `types` module (see the `__types` anchor in bpfgate.bpf.c); nothing is
 * re-declared by hand in Rust.
 */
#ifndef BPFGATE_H
#define BPFGATE_H

/* Largest signature xattr the gate reads. A larger one makes the exec untrusted (EXEC_SIG_TOO_BIG). */
#define BPFGATE_SIG_MAX 4096
/* "FSVerity" + struct fsverity_digest + the largest digest (sha512): what `fsverity sign` signs. */
#define BPFGATE_FORMATTED_DIGEST_MAX (8 + 4 + 64)
/* bpf() commands counted one by one; commands at or above BPFGATE_CMD_OTHER share the last slot. */
#define BPFGATE_CMD_SLOTS 64
#define BPFGATE_CMD_OTHER (BPFGATE_CMD_SLOTS - 1)
/* Upper bound for the status iterator's per-CPU sum. */
#define BPFGATE_MAX_CPUS 8192
/* Signature xattr names. The security.bpf.* name is read first where the kernel allows it (>= 6.15). */
#define BPFGATE_XATTR_SECURITY "security.bpf.bpfgate.sig"
#define BPFGATE_XATTR_USER "user.bpfgate.sig"
/* How many of its own maps, programs and links the gate protects by id. */
#define BPFGATE_IDS_MAX 32
/* Certificates the gate's keyring can hold (their key serials are protected along with the keyring's). */
#define BPFGATE_KEYS_MAX 8
/* Depth of the mount tree walked above the gate's bpffs on unmount. */
#define BPFGATE_MOUNT_DEPTH 32
/* Status stream framing. */
#define BPFGATE_STATUS_MAGIC 0x42504647 /* "BPFG" */
#define BPFGATE_STATUS_VERSION 1

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
	EXEC_REASONS,
};

/* Counter slots in the per-CPU `counters` map. */
enum gate_counter {
	CNT_CMD_ALLOWED = 0,                            /* + cmd: bpf() command allowed */
	CNT_CMD_DENIED = BPFGATE_CMD_SLOTS,             /* + cmd: bpf() command denied */
	CNT_EXEC = 2 * BPFGATE_CMD_SLOTS,               /* + enum exec_reason */
	CNT_FORK_TRUSTED = CNT_EXEC + EXEC_REASONS,     /* trust handed to a child at fork */
	CNT_CACHE_DROPPED,                              /* cached verdicts dropped by an xattr change */
	CNT_SIG_SECURITY_XATTR,                         /* signature read from BPFGATE_XATTR_SECURITY */
	CNT_SIG_USER_XATTR,                             /* signature read from BPFGATE_XATTR_USER */
	CNT_GATE_PROTECTED,     /* denied: unlink, rename, (un)mount or fd-by-id of the gate's own objects */
	CNT_PTRACE_DENIED,      /* denied: an untrusted task attaching to a trusted one (ptrace, /proc/PID/mem) */
	CNT_TAINT_FILE,         /* trusted process lost trust: executable mapping of an unverified file */
	CNT_TAINT_ANON,         /* trusted process lost trust: anonymous executable memory */
	CNT_KERNEL_MODIFY_DENIED, /* denied: module load or request, kexec, or a lockdown integrity reason */
	CNT_MAX,
};

/* Configuration fixed at load time (rodata, frozen by the kernel). */
struct gate_config {
	__u64 untrusted_cmds;  /* bitmap of bpf() commands untrusted tasks keep (read-only ones) */
	__u32 keyring_serial;  /* the gate's keyring: baked certificates, closed to additions */
	__u32 nr_cpus;         /* possible CPUs, for the status sum */
	__u32 xattr_security;  /* 1: read BPFGATE_XATTR_SECURITY first (kernel reads security.bpf.*) */
	__u32 loader_tgid;     /* the loader, for the one-shot mount recorder only */
	__u32 key_serials[BPFGATE_KEYS_MAX]; /* the certificates in the keyring (0: unused slot) */
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
	__u32 _pad;
};

/* Per-inode cached verdict (inode storage). */
struct inode_verdict {
	__u32 trusted;
	__u32 reason;
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
