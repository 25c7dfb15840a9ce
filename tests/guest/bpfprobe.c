// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpfprobe: the guest-side actor of the VM tests. Each subcommand performs one bpf() operation or one attack and
 * prints one line "OP=ok" or "OP=ERRNAME" (plus counts for the attacks), exit 0 on success. Copies of this one
 * static binary play the signed loader, the unsigned one, the foreign-signed one, and so on.
 *
 *   map | prog | btf          create a map / load a socket filter / load a minimal BTF blob
 *   fork OP                   fork; the child (no exec) does OP; prints the child's line
 *   exec PATH ARGS...         does `map` itself, then execs PATH ARGS (trust must not survive the exec)
 *   steal PINDIR              the attacks on the gate's own objects: every map/prog/link by id, every pin by path,
 *                             and a write of its own trust entry into any task-storage map it can open
 *   setxattr FILE NAME SRC    SRC: a file, or empty:, or random:N, or zero:N
 *   rmxattr FILE NAME
 *   verity FILE [ALG BLOCK]   enable fs-verity (default sha256 = 1, 4096-byte blocks)
 *   writefile PATH            try to open PATH for writing and write a byte
 *   sleep N                   a target process for the injection attacks
 *   ptrace PID | procmem PID | vmwrite PID
 *                             PTRACE_SEIZE / open /proc/PID/mem read-write / process_vm_writev: "ok" or
 *                             "permitted" (the write reached the address check) when access was granted
 *   traceme                   PTRACE_TRACEME towards the parent
 *   tracedexec PATH ARGS...   fork; the child asks to be traced and execs PATH; the parent lets it run untouched
 *   dlopen LIB OP [ARG]       dlopen LIB (dynamic builds), then do OP (map, or "fork" to do map in a child)
 *   thread OP ARGS...         run `bpfprobe OP ARGS` in a second thread, join it, then `map` in the leader
 *                             (prefixed leader_): a process's trust and taint are shared by its threads
 *   threadexec PATH ARGS...   a second thread (not the leader) execs PATH ARGS
 *   pid1exec NAME share|alone|halt SECS [PATH ARGS...]
 *                             as PID 1: report this image's trust, then exec PATH with a CLONE_FS sharer alive
 *                             (share), after reaping children for SECS seconds (alone), or power off (halt)
 *   anonexec OP | mprotectexec OP
 *                             map anonymous memory executable (mmap, or mprotect after mmap), then do OP
 *   finit KO | initmod KO     load a kernel module with finit_module / init_module
 *   kexecfile IMAGE | kexecload
 *                             kexec_file_load IMAGE (then unload it) / kexec_load with no segments
 *   openrw PATH | ioperm      open PATH read-write (/dev/mem) / ioperm on port 0x80
 *   keyattack SERIAL|new      add a key to keyring SERIAL, reopen its permissions, revoke it; "new" first makes a
 *                             fresh keyring of its own (the control: the same calls succeed there)
 *   token CMDS [pass RECV]   the delegation flow (see token_flow): a token for the delegate_cmds CMDS (e.g. any),
 *                             used for a map and a program, or handed to RECV over SCM_RIGHTS
 *   tokenrecv FD              receive a token on socket FD and use it (the receiving end of `token ... pass`)
 *   mapexec PATH              create an mmapable map and exec `PATH mapwrite FD` with its fd open
 *   mapwrite FD|own [shared]  write map FD (own: a new one) by bpf() update and a shared writable mmap;
 *                             shared: while another task shares the fd table
 *   nsmount PROP DIR          in a new mount namespace (PROP: unchanged or slave), mount a tmpfs over DIR
 *   tokenat DIR               mint a token from the delegated bpffs at DIR (systemd PrivateBPF=) and use it
 *   seccompexec MODE PATH ARGS...
 *                             install a seccomp filter (MODE listener: with a user-notification listener, held by
 *                             a forked supervisor; plain: none), then exec PATH ARGS under it
 *   personalityexec FLAGS PATH ARGS...
 *                             personality(FLAGS, hex), then exec PATH ARGS
 *   sharedfsexec PATH ARGS... start a process sharing this one's fs_struct (CLONE_FS), then exec PATH ARGS
 *   progexec PATH             load a socket filter, a perf-event, an XDP and a tc program, exec
 *                             `PATH progattach SFD PFD XFD CFD`
 *   progtype N [A]            load a two-instruction program of type N (uapi number), expected attach type A
 *                             (default 0)
 *   maptype N                 create a map of type N (uapi number; 4-byte keys and values, one entry)
 *   attachtype N | linktype N BPF_PROG_ATTACH / BPF_LINK_CREATE with attach type N and no program (fd -1): the
 *                             kernel answers EBADF, EINVAL or the like, a gate that refuses the type EPERM
 *   progpass PATH             load an XDP program, exec `PATH progrecv FD` with its fd open
 *   progrecv FD               a forked child takes program fd FD of this process with pidfd_getfd, then is sent it
 *                             over SCM_RIGHTS: getfd= and recv= (EPERM when the kernel dropped the fd)
 *   clsact add|del            add (or delete) the clsact qdisc on lo, for a tc filter (no `tc` in the guest)
 *   progattach SFD PFD XFD CFD
 *                             attach program SFD with SO_ATTACH_BPF, program PFD with PERF_EVENT_IOC_SET_BPF, XDP
 *                             program XFD to lo through rtnetlink (IFLA_XDP; detached again), tc program CFD as a
 *                             cls_bpf filter on lo's clsact ingress (RTM_NEWTFILTER; needs `clsact add`); then reads lo's
 *                             link by rtnetlink (RTM_GETLINK, which holding program fds does not prevent)
 *   fspick PATH               fspick(2) PATH's superblock and reconfigure it read-only, then back read-write
 *   setattr PATH              mount_setattr(2) PATH read-only, then back read-write
 *   uidkeyring [uid=N] [OP...] keyctl OP (timeout, invalidate, revoke; default all) of root's user keyring
 *                             (uid=N: of user N's, as user N)
 *   nsexec PROP PATH ARGS...  in a new mount namespace (PROP: unchanged, slave or private), exec PATH ARGS
 *   linkupdate PIN|own        BPF_LINK_UPDATE of the link pinned at PIN (own: an XDP link on lo of its own) with
 *                             a new XDP program
 *   Used as a #! interpreter: "#!/path/bpfprobe map" runs `map` (the script path arrives as an extra argument).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/fsverity.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/mman.h>
#include <dlfcn.h>
#include <sys/io.h>
#include <linux/kexec.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <signal.h>
#include <dirent.h>
#include <stddef.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <sys/personality.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/mount.h>
#include <linux/pkt_sched.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <arpa/inet.h>
#include <pthread.h>

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ENOTSUP: return "EOPNOTSUPP";
	case E2BIG: return "E2BIG";
	case ENODATA: return "ENODATA";
	case EEXIST: return "EEXIST";
	default: {
		static char buf[32];
		snprintf(buf, sizeof(buf), "E%d", e);
		return buf;
	}
	}
}

static int report(const char *op, long ret)
{
	if (ret < 0) {
		printf("%s=%s\n", op, errname(errno));
		return 1;
	}
	printf("%s=ok\n", op);
	return 0;
}

static long map_create(void)
{
	union bpf_attr a = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1 };
	return sys_bpf(BPF_MAP_CREATE, &a);
}

static long prog_load(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a = {
		.prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
		.insns = (uint64_t)(uintptr_t)insns,
		.insn_cnt = 2,
		.license = (uint64_t)(uintptr_t)"GPL",
	};
	return sys_bpf(BPF_PROG_LOAD, &a);
}

static long btf_load(void)
{
	/* One type: int, 32 bits, signed. */
	struct {
		struct btf_header hdr;
		struct btf_type t;
		uint32_t int_info;
		char strings[8];
	} __attribute__((packed)) blob = {
		.hdr = { .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(struct btf_header),
			 .type_off = 0, .type_len = sizeof(struct btf_type) + 4,
			 .str_off = sizeof(struct btf_type) + 4, .str_len = 5 },
		.t = { .name_off = 1, .info = BTF_KIND_INT << 24, .size = 4 },
		.int_info = (BTF_INT_SIGNED << 24) | 32,
		.strings = "\0int",
	};
	/* The kernel wants the sections to end exactly at btf_size. */
	union bpf_attr a = { .btf = (uint64_t)(uintptr_t)&blob,
			     .btf_size = sizeof(struct btf_header) + blob.hdr.str_off + blob.hdr.str_len };
	return sys_bpf(BPF_BTF_LOAD, &a);
}

static int do_op(const char *op)
{
	if (!strcmp(op, "map"))
		return report("map", map_create());
	if (!strcmp(op, "prog"))
		return report("prog", prog_load());
	if (!strcmp(op, "btf"))
		return report("btf", btf_load());
	fprintf(stderr, "bpfprobe: unknown op %s\n", op);
	return 2;
}

/* BPF tokens (6.9+). The build host's uapi headers predate them: the command number, the flag and the fields'
 * offsets in union bpf_attr are spelled out here (checked against libbpf's 6.18 uapi header). */
#define PROBE_BPF_TOKEN_CREATE 36
#define PROBE_BPF_F_TOKEN_FD (1U << 16)
#define OFF_MAP_TOKEN_FD 76
#define OFF_PROG_TOKEN_FD 144

/* union bpf_attr as the newer kernels know it: the host's, plus room for the token fields. */
union attr {
	union bpf_attr a;
	char raw[168];
};

static void set_u32(union attr *a, size_t off, uint32_t v)
{
	memcpy(a->raw + off, &v, sizeof(v));
}

static long sys_bpf_attr(int cmd, union attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

static long map_create_token(int token)
{
	union attr a = { .a = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1,
				.map_flags = PROBE_BPF_F_TOKEN_FD } };
	set_u32(&a, OFF_MAP_TOKEN_FD, token);
	return sys_bpf_attr(BPF_MAP_CREATE, &a);
}

static long prog_load_token(int token)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union attr a = { .a = {
		.prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
		.insns = (uint64_t)(uintptr_t)insns,
		.insn_cnt = 2,
		.license = (uint64_t)(uintptr_t)"GPL",
		.prog_flags = PROBE_BPF_F_TOKEN_FD,
	} };
	set_u32(&a, OFF_PROG_TOKEN_FD, token);
	return sys_bpf_attr(BPF_PROG_LOAD, &a);
}

static int send_fd(int sock, int fd)
{
	char c = 'f', ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c, ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *h;
	int fd = -1;

	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_RIGHTS) {
		errno = EPROTO;
		return -1;
	}
	memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Creates a token from the delegated bpffs mounted at DIR (as systemd's PrivateBPF= mounts /sys/fs/bpf) and loads
 * a map and a program through it; also tries a map without it. */
/* From the root of a delegated bpffs: a map without a token (the control), then the token; -1 when refused. */
static long mint_token(int bpffs_root)
{
	union attr a = { 0 };

	report("map_without_token", map_create());
	set_u32(&a, 4, bpffs_root); /* token_create.bpffs_fd */
	long token = sys_bpf_attr(PROBE_BPF_TOKEN_CREATE, &a);
	return report("token_create", token) ? -1 : token;
}

/* A map and a program through TOKEN. */
static int use_token(long token)
{
	int bad = report("token_map", map_create_token(token));
	return report("token_prog", prog_load_token(token)) | bad;
}

static int token_at(const char *dir)
{
	int root = open(dir, O_RDONLY | O_DIRECTORY);

	if (root < 0)
		return report("bpffs_open", -1);
	long token = mint_token(root);
	return token < 0 ? 1 : use_token(token);
}

/* Protected maps. An mmapable array map, its fd kept across exec. */
static long map_create_mmapable(void)
{
	union bpf_attr a = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 512,
			     .map_flags = 1U << 10 /* BPF_F_MMAPABLE */ };
	return sys_bpf(BPF_MAP_CREATE, &a);
}

/* Creates an mmapable map, then execs PATH mapwrite FD with the fd left open across the exec. */
static int map_exec(char **argv)
{
	char fd[16];
	long m = map_create_mmapable();

	if (report("map", m))
		return 1;
	fcntl(m, F_SETFD, 0);
	snprintf(fd, sizeof(fd), "%ld", m);
	execl(argv[0], argv[0], "mapwrite", fd, (char *)NULL);
	return report("exec", -1);
}

/* Writes map FD ("own": a map created here) both ways: bpf() update and a shared writable mmap. (A read-only
 * mapping of a map cannot be mprotect'ed writable: the kernel drops VM_MAYWRITE.) With "shared", first starts a
 * second task sharing the fd table (CLONE_FILES). */
static int map_write(const char *which, int shared)
{
	long fd = !strcmp(which, "own") ? map_create_mmapable() : atol(which);
	uint32_t key = 0;
	uint64_t value = 42;
	pid_t helper = 0;

	if (fd < 0)
		return report("map", -1);
	if (shared) {
		helper = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
		if (helper == 0) {
			sleep(5);
			_exit(0);
		}
	}
	union bpf_attr a = { .map_fd = fd, .key = (uint64_t)(uintptr_t)&key, .value = (uint64_t)(uintptr_t)&value };
	int bad = report("update", sys_bpf(BPF_MAP_UPDATE_ELEM, &a));
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	bad |= report("mmapw", p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	if (helper > 0) {
		kill(helper, SIGKILL);
		waitpid(helper, NULL, 0);
	}
	return bad;
}

/* In a new mount namespace (its mounts left as they are: "unchanged", or made slaves first: "slave"), mounts a
 * tmpfs over DIR; prints the result and how many entries DIR shows afterwards. */
static int ns_mount(const char *propagation, const char *dir)
{
	if (unshare(CLONE_NEWNS))
		return report("unshare", -1);
	if (!strcmp(propagation, "slave") && mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL))
		return report("make_slave", -1);
	if (report("nsmount", mount("none", dir, "tmpfs", 0, NULL)))
		return 1;
	DIR *d = opendir(dir);
	int n = 0;
	while (d && readdir(d))
		n++;
	printf("entries=%d\n", n - 2);
	return 0;
}

/* Uses a token fd received over SCM_RIGHTS on SOCK: a map and a program through it. */
static int token_receive(int sock)
{
	int token = recv_fd(sock);

	if (token < 0)
		return report("received_token", -1);
	int bad = report("passed_map", map_create_token(token));
	return report("passed_prog", prog_load_token(token)) | bad;
}

/*
 * The delegation flow systemd's PrivateBPF= runs (and the kernel selftests): a child enters a new user and mount
 * namespace and opens a bpffs context; the parent, privileged in the initial namespace, sets the delegate_*
 * options and creates the superblock; the child mounts it and creates a token. The child has no capabilities in
 * the initial user namespace: without the token the kernel refuses it map_create. With `pass RECEIVER`, the child
 * then hands the token over SCM_RIGHTS to RECEIVER (exec'ed as `RECEIVER tokenrecv FD`) instead of using it.
 */
static int token_flow(const char *cmds, const char *receiver)
{
	int sp[2], st = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
		return report("socketpair", -1);
	pid_t pid = fork();
	if (pid < 0)
		return report("fork", -1);
	if (pid == 0) {
		char c;
		close(sp[0]);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) || write_file("/proc/self/uid_map", "0 0 1") ||
		    write_file("/proc/self/setgroups", "deny") || write_file("/proc/self/gid_map", "0 0 1"))
			_exit(report("userns", -1));
		int fs = fsopen("bpf", 0);
		if (fs < 0 || send_fd(sp[1], fs) || read(sp[1], &c, 1) != 1 || c != 'y')
			_exit(report("bpffs_context", -1));
		/* fsmount gives an O_PATH fd, which BPF_TOKEN_CREATE does not take: open the mount's root. */
		int mnt = fsmount(fs, 0, 0);
		int root = mnt < 0 ? -1 : openat(mnt, ".", O_RDONLY | O_DIRECTORY);
		if (root < 0)
			_exit(report("bpffs_mount", -1));
		long token = mint_token(root);
		if (token < 0)
			_exit(1);
		if (receiver) {
			int pass[2];
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, pass))
				_exit(report("socketpair", -1));
			pid_t r = fork();
			if (r == 0) {
				char fd[16];
				close(pass[0]);
				close(token);
				snprintf(fd, sizeof(fd), "%d", pass[1]);
				execl(receiver, receiver, "tokenrecv", fd, (char *)NULL);
				_exit(report("exec_receiver", -1));
			}
			close(pass[1]);
			if (send_fd(pass[0], token))
				report("send_token", -1);
			waitpid(r, &st, 0);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
		}
		_exit(use_token(token));
	}
	close(sp[1]);
	int fs = recv_fd(sp[0]);
	int ok = fs >= 0 && !fsconfig(fs, FSCONFIG_SET_STRING, "delegate_cmds", cmds, 0) &&
		 !fsconfig(fs, FSCONFIG_SET_STRING, "delegate_maps", "any", 0) &&
		 !fsconfig(fs, FSCONFIG_SET_STRING, "delegate_progs", "any", 0) &&
		 !fsconfig(fs, FSCONFIG_SET_STRING, "delegate_attachs", "any", 0) &&
		 !fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (!ok)
		report("delegate", -1);
	if (write(sp[0], ok ? "y" : "n", 1) != 1)
		report("handshake", -1);
	waitpid(pid, &st, 0);
	return !ok || !WIFEXITED(st) || WEXITSTATUS(st);
}

/* Names of the gate's maps (bpf/gate.h) and the prefix of its programs. */
static int is_gate_map(const char *name)
{
	static const char *const names[] = { "task_trust", "inode_verdicts", "scratch", "counters",
					     "gate_inodes", "gate_ids", "chain_root", "bpfgate.rodata" };
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

struct steal_counts {
	int seen, gate_opened, other_opened, trust_written, other_written;
	char opened_names[1024]; /* every map name opened, for the host to check against the gate's maps */
};

/* Walks ids with GET_NEXT_ID (allowed to all) and tries GET_FD_BY_ID on each; writes what it can. */
static void walk_ids(int next_cmd, int fd_cmd, struct steal_counts *c)
{
	uint32_t id = 0;

	for (;;) {
		union bpf_attr a = { .start_id = id };
		if (sys_bpf(next_cmd, &a) < 0)
			break;
		id = a.next_id;
		c->seen++;
		union bpf_attr g = { .map_id = id }; /* prog_id/link_id share the slot */
		long fd = sys_bpf(fd_cmd, &g);
		if (fd < 0)
			continue;
		char name[BPF_OBJ_NAME_LEN] = "";
		int gate = 0, type = 0, value_size = 0;
		if (fd_cmd == BPF_MAP_GET_FD_BY_ID) {
			struct bpf_map_info info = {};
			union bpf_attr i = { .info = { .bpf_fd = fd, .info_len = sizeof(info),
						       .info = (uint64_t)(uintptr_t)&info } };
			sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &i);
			memcpy(name, info.name, sizeof(name));
			gate = is_gate_map(name);
			type = info.type;
			value_size = info.value_size;
		} else if (fd_cmd == BPF_PROG_GET_FD_BY_ID) {
			struct bpf_prog_info info = {};
			union bpf_attr i = { .info = { .bpf_fd = fd, .info_len = sizeof(info),
						       .info = (uint64_t)(uintptr_t)&info } };
			sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &i);
			gate = !strncmp(info.name, "gate_", 5);
		}
		if (fd_cmd == BPF_MAP_GET_FD_BY_ID && strlen(c->opened_names) + strlen(name) + 2 < sizeof(c->opened_names)) {
			strcat(c->opened_names, c->opened_names[0] ? "," : "");
			strcat(c->opened_names, name[0] ? name : "-");
		}
		if (gate)
			c->gate_opened++;
		else
			c->other_opened++;
		if (fd_cmd == BPF_MAP_GET_FD_BY_ID && type == BPF_MAP_TYPE_TASK_STORAGE && !strcmp(name, "task_trust")) {
			int pidfd = syscall(SYS_pidfd_open, getpid(), 0);
			uint32_t val[2] = { 1, 0 };
			union bpf_attr u = { .map_fd = fd, .key = (uint64_t)(uintptr_t)&pidfd,
					     .value = (uint64_t)(uintptr_t)val, .flags = BPF_ANY };
			if (pidfd >= 0 && sys_bpf(BPF_MAP_UPDATE_ELEM, &u) == 0)
				c->trust_written++;
		} else if (fd_cmd == BPF_MAP_GET_FD_BY_ID && type == BPF_MAP_TYPE_ARRAY && value_size <= 64 && !gate) {
			uint32_t key = 0;
			uint8_t val[64] = { 0 };
			union bpf_attr u = { .map_fd = fd, .key = (uint64_t)(uintptr_t)&key,
					     .value = (uint64_t)(uintptr_t)val, .flags = BPF_ANY };
			if (sys_bpf(BPF_MAP_UPDATE_ELEM, &u) == 0)
				c->other_written++;
		}
		close(fd);
	}
}

static int steal(const char *pindir)
{
	struct steal_counts maps = {}, progs = {}, links = {};
	int pins = 0, pins_opened = 0;
	DIR *d;
	struct dirent *e;

	/* Objects of its own, when it may create them: the control that opening by id works at all. */
	long own_map = map_create(), own_prog = prog_load();
	(void)own_map;
	(void)own_prog;
	walk_ids(BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID, &maps);
	walk_ids(BPF_PROG_GET_NEXT_ID, BPF_PROG_GET_FD_BY_ID, &progs);
	walk_ids(BPF_LINK_GET_NEXT_ID, BPF_LINK_GET_FD_BY_ID, &links);
	d = opendir(pindir);
	while (d && (e = readdir(d))) {
		char path[512];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pindir, e->d_name);
		pins++;
		for (int flags = 0; flags <= BPF_F_RDONLY; flags += BPF_F_RDONLY) {
			union bpf_attr a = { .pathname = (uint64_t)(uintptr_t)path, .file_flags = flags };
			long fd = sys_bpf(BPF_OBJ_GET, &a);
			if (fd >= 0) {
				pins_opened++;
				close(fd);
			}
		}
	}
	if (d)
		closedir(d);
	printf("steal maps_seen=%d maps_gate_opened=%d maps_other_opened=%d progs_seen=%d progs_gate_opened=%d "
	       "progs_other_opened=%d links_seen=%d links_opened=%d pins=%d pins_opened=%d trust_written=%d "
	       "other_written=%d opened_maps=%s\n",
	       maps.seen, maps.gate_opened, maps.other_opened, progs.seen, progs.gate_opened, progs.other_opened,
	       links.seen, links.gate_opened + links.other_opened, pins, pins_opened, maps.trust_written,
	       maps.other_written, maps.opened_names[0] ? maps.opened_names : "-");
	return 0;
}

static int set_xattr(const char *file, const char *name, const char *src)
{
	static char buf[65536];
	size_t len = 0;

	if (!strcmp(src, "empty:")) {
		len = 0;
	} else if (!strncmp(src, "random:", 7) || !strncmp(src, "zero:", 5)) {
		len = strtoul(strchr(src, ':') + 1, NULL, 10);
		if (len > sizeof(buf))
			len = sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = src[0] == 'r' ? (char)(rand() ^ (i * 131)) : 0;
	} else {
		int fd = open(src, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
		if (n < 0)
			return report("setxattr", -1);
		len = n;
		close(fd);
	}
	return report("setxattr", setxattr(file, name, buf, len, 0));
}

static int enable_verity(const char *file, unsigned alg, unsigned block)
{
	struct fsverity_enable_arg arg = { .version = 1, .hash_algorithm = alg, .block_size = block };
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		return report("verity", -1);
	return report("verity", ioctl(fd, FS_IOC_ENABLE_VERITY, &arg));
}

static int inject(const char *op, pid_t pid)
{
	if (!strcmp(op, "ptrace"))
		return report("ptrace", ptrace(PTRACE_SEIZE, pid, 0, 0));
	if (!strcmp(op, "procmem")) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", pid);
		return report("procmem", open(path, O_RDWR));
	}
	/* vmwrite: to an unmapped address, so nothing is written either way; EFAULT means access was granted. */
	char byte = 0;
	struct iovec local = { .iov_base = &byte, .iov_len = 1 };
	struct iovec remote = { .iov_base = (void *)8, .iov_len = 1 };
	long r = process_vm_writev(pid, &local, 1, &remote, 1, 0);
	if (r < 0 && errno == EFAULT) {
		printf("vmwrite=permitted\n");
		return 0;
	}
	return report("vmwrite", r);
}

static int traced_exec(char **argv)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(report("traceme", -1));
		execv(argv[0], argv);
		_exit(report("exec", -1));
	}
	/* The child stops with SIGTRAP after its exec; let it go on untouched. */
	if (waitpid(pid, &st, 0) == pid && WIFSTOPPED(st))
		ptrace(PTRACE_DETACH, pid, 0, 0);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* Each keyctl attack on keyring SERIAL, or with "new" on a fresh keyring of its own for each (the control). */
static int keyattack(const char *arg)
{
	static const struct {
		const char *name;
		int op; /* keyctl operation, or 0 for add_key */
	} ops[] = {
		{ "add", 0 }, { "setperm", 5 /* KEYCTL_SETPERM */ }, { "revoke", 3 /* KEYCTL_REVOKE */ },
		{ "invalidate", 21 /* KEYCTL_INVALIDATE */ }, { "unlink", 9 /* KEYCTL_UNLINK */ },
		{ "clear", 7 /* KEYCTL_CLEAR */ },
	};

	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		long ring = strtol(arg, NULL, 10), parent = -4 /* KEY_SPEC_USER_KEYRING: where the gate's lives */, r;
		if (!strcmp(arg, "new")) {
			char name[32];
			snprintf(name, sizeof(name), "bpfprobe-control-%u", i);
			parent = -2; /* KEY_SPEC_PROCESS_KEYRING */
			ring = syscall(SYS_add_key, "keyring", name, NULL, 0, parent);
		}
		switch (ops[i].op) {
		case 0: r = syscall(SYS_add_key, "user", "intruder", "x", 1, ring); break;
		case 5: r = syscall(SYS_keyctl, 5, ring, 0x3f3f0000); break;
		case 9: r = syscall(SYS_keyctl, 9, ring, parent); break;
		default: r = syscall(SYS_keyctl, ops[i].op, ring); break;
		}
		printf("%s%s=%s", i ? " " : "", ops[i].name, r < 0 ? errname(errno) : "ok");
	}
	printf("\n");
	return 0;
}

static int kernel_op(const char *op, const char *arg)
{
	if (!strcmp(op, "finit")) {
		int fd = open(arg, O_RDONLY);
		return report("finit", fd < 0 ? -1 : syscall(SYS_finit_module, fd, "", 0));
	}
	if (!strcmp(op, "initmod")) {
		static char buf[1 << 20];
		int fd = open(arg, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
		return report("initmod", n < 0 ? -1 : syscall(SYS_init_module, buf, (unsigned long)n, ""));
	}
	if (!strcmp(op, "kexecfile")) {
		int fd = open(arg, O_RDONLY);
		long r = fd < 0 ? -1 : syscall(SYS_kexec_file_load, fd, -1, 1, "", KEXEC_FILE_NO_INITRAMFS);
		int e = errno;
		if (r == 0)
			syscall(SYS_kexec_file_load, -1, -1, 0, NULL, KEXEC_FILE_UNLOAD);
		errno = e;
		return report("kexecfile", r);
	}
	if (!strcmp(op, "kexecload"))
		return report("kexecload", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	if (!strcmp(op, "openrw"))
		return report("openrw", open(arg, O_RDWR));
	return report("ioperm", ioperm(0x80, 1, 1));
}

/* Runs PATH ARGS under a seccomp filter that sends acct(2) (which nothing here calls) to a user-notification
 * listener (MODE listener, the listener fd held by a forked supervisor) or fails it with EPERM (MODE plain). */
static int seccomp_exec(const char *mode, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_acct, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, strcmp(mode, "listener") ? SECCOMP_RET_ERRNO | EPERM : SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	unsigned flags = strcmp(mode, "listener") ? 0 : SECCOMP_FILTER_FLAG_NEW_LISTENER;
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);

	if (report("seccomp", fd))
		return 1;
	if (flags && fork() == 0) {
		sleep(5); /* the supervisor: holds the listener while the program runs */
		_exit(0);
	}
	if (flags)
		close(fd);
	execv(argv[0], argv);
	return report("exec", -1);
}

static int shared_fs_exec(char **argv)
{
	pid_t pid = syscall(SYS_clone, CLONE_FS | SIGCHLD, 0, 0, 0, 0);

	if (pid == 0) {
		sleep(5);
		_exit(0);
	}
	if (report("clone_fs", pid))
		return 1;
	execv(argv[0], argv);
	return report("exec", -1);
}

static long prog_load_type(uint32_t type, uint32_t attach, int ret)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a = {
		.prog_type = type,
		.expected_attach_type = attach,
		.insns = (uint64_t)(uintptr_t)insns,
		.insn_cnt = 2,
		.license = (uint64_t)(uintptr_t)"GPL",
	};
	return sys_bpf(BPF_PROG_LOAD, &a);
}

/* A socket filter, a perf-event, an XDP and a tc program, their fds left open across an exec of
 * PATH progattach SFD PFD XFD CFD. */
static int prog_exec(const char *path)
{
	long s = prog_load_type(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0), p = prog_load_type(BPF_PROG_TYPE_PERF_EVENT, 0, 0);
	long x = prog_load_type(BPF_PROG_TYPE_XDP, 0, 2 /* XDP_PASS */);
	long c = prog_load_type(BPF_PROG_TYPE_SCHED_CLS, 0, 0 /* TC_ACT_OK */);
	char sfd[16], pfd[16], xfd[16], cfd[16];

	if (report("progs", s < 0 || p < 0 || x < 0 || c < 0 ? -1 : 0))
		return 1;
	fcntl(s, F_SETFD, 0);
	fcntl(p, F_SETFD, 0);
	fcntl(x, F_SETFD, 0);
	fcntl(c, F_SETFD, 0);
	snprintf(sfd, sizeof(sfd), "%ld", s);
	snprintf(pfd, sizeof(pfd), "%ld", p);
	snprintf(xfd, sizeof(xfd), "%ld", x);
	snprintf(cfd, sizeof(cfd), "%ld", c);
	execl(path, path, "progattach", sfd, pfd, xfd, cfd, (char *)NULL);
	return report("exec", -1);
}

/* Loads an XDP program and execs `PATH progrecv FD` with its fd open. */
static int prog_pass(const char *path)
{
	long x = prog_load_type(BPF_PROG_TYPE_XDP, 0, 2 /* XDP_PASS */);
	char xfd[16];

	if (report("prog", x))
		return 1;
	fcntl(x, F_SETFD, 0);
	snprintf(xfd, sizeof(xfd), "%ld", x);
	execl(path, path, "progrecv", xfd, (char *)NULL);
	return report("exec", -1);
}

/* The receiving end of `progpass`: this process holds program fd FD; a forked child takes a copy of it by
 * pidfd_getfd, then is sent it over SCM_RIGHTS. Prints getfd= and recv= (EPERM: the kernel dropped the fd). */
static int prog_receive(int fd)
{
	int sv[2], st = 0;
	pid_t pid;

	if (report("socketpair", socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)))
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int pidfd = syscall(SYS_pidfd_open, getppid(), 0);
		long got = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		char c, ctl[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = &c, .iov_len = 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		struct cmsghdr *h;

		report("getfd", got);
		if (recvmsg(sv[1], &m, 0) != 1)
			_exit(report("recv", -1));
		h = CMSG_FIRSTHDR(&m);
		if (h && h->cmsg_type == SCM_RIGHTS)
			printf("recv=ok\n");
		else
			printf("recv=%s\n", (m.msg_flags & MSG_CTRUNC) ? "EPERM" : "EPROTO");
		fflush(stdout);
		_exit(0);
	}
	if (pid < 0 || send_fd(sv[0], fd))
		return report("send", -1);
	waitpid(pid, &st, 0);
	return 0;
}

/* Appends attribute TYPE (LEN bytes of DATA) to the message in NH. */
static struct nlattr *nl_attr(struct nlmsghdr *nh, int type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

/* Sends NH on a new NETLINK_ROUTE socket: 0, or -1 with errno (from sendmsg, or the kernel's acknowledgement). */
static int nl_talk(struct nlmsghdr *nh)
{
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
	} ack;
	int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int ret = -1;

	if (sock < 0)
		return -1;
	if (send(sock, nh, nh->nlmsg_len, 0) == (ssize_t)nh->nlmsg_len &&
	    recv(sock, &ack, sizeof(ack), 0) >= (ssize_t)sizeof(ack)) {
		ret = ack.err.error ? -1 : 0;
		if (ack.err.error)
			errno = -ack.err.error;
	}
	close(sock);
	return ret;
}

/* A traffic-control message on lo: TYPE with FLAGS, the tcmsg's parent, handle and info. */
static struct nlmsghdr *tc_msg(char *buf, int type, int flags, uint32_t parent, uint32_t handle, uint32_t info)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct tcmsg *t = NLMSG_DATA(nh);

	nh->nlmsg_len = NLMSG_LENGTH(sizeof(*t));
	nh->nlmsg_type = type;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = 1;
	t->tcm_parent = parent;
	t->tcm_handle = handle;
	t->tcm_info = info;
	return nh;
}

/* `tc qdisc add|del dev lo clsact`. */
static int clsact(const char *how)
{
	char buf[256] = {};
	int add = !strcmp(how, "add");
	struct nlmsghdr *nh = tc_msg(buf, add ? RTM_NEWQDISC : RTM_DELQDISC, add ? NLM_F_CREATE | NLM_F_EXCL : 0,
				     TC_H_CLSACT, TC_H_MAKE(TC_H_CLSACT, 0), 0);

	nl_attr(nh, TCA_KIND, "clsact", sizeof("clsact"));
	return report("clsact", nl_talk(nh));
}

/* `tc filter add dev lo ingress bpf direct-action fd FD`: a cls_bpf filter with an inherited program fd. */
static int tc_filter_add(int fd)
{
	char buf[256] = {};
	uint32_t ufd = fd, flags = TCA_BPF_FLAG_ACT_DIRECT;
	struct nlmsghdr *nh = tc_msg(buf, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL,
				     TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), 1, TC_H_MAKE(1 << 16, htons(ETH_P_ALL)));
	struct nlattr *opts;

	nl_attr(nh, TCA_KIND, "bpf", sizeof("bpf"));
	opts = nl_attr(nh, TCA_OPTIONS | NLA_F_NESTED, NULL, 0);
	nl_attr(nh, TCA_BPF_FD, &ufd, sizeof(ufd));
	nl_attr(nh, TCA_BPF_NAME, "probe", sizeof("probe"));
	nl_attr(nh, TCA_BPF_FLAGS, &flags, sizeof(flags));
	opts->nla_len = (char *)nh + nh->nlmsg_len - (char *)opts;
	return nl_talk(nh);
}

/* Deletes the filter tc_filter_add made. */
static int tc_filter_del(void)
{
	char buf[256] = {};
	struct nlmsghdr *nh = tc_msg(buf, RTM_DELTFILTER, 0, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), 1,
				     TC_H_MAKE(1 << 16, htons(ETH_P_ALL)));

	nl_attr(nh, TCA_KIND, "bpf", sizeof("bpf"));
	return nl_talk(nh);
}

/* RTM_SETLINK on lo with IFLA_XDP { IFLA_XDP_FD = fd, IFLA_XDP_FLAGS = generic mode }: 0 or -1 with errno (from
 * sendmsg, or the kernel's acknowledgement). */
static int xdp_link_set(int fd)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		struct nlattr xdp;
		struct nlattr fd_attr;
		int32_t fd;
		struct nlattr flags_attr;
		uint32_t flags;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_SETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = 1 },
		.xdp = { .nla_len = sizeof(req) - offsetof(typeof(req), xdp), .nla_type = IFLA_XDP | NLA_F_NESTED },
		.fd_attr = { .nla_len = sizeof(struct nlattr) + 4, .nla_type = IFLA_XDP_FD },
		.fd = fd,
		.flags_attr = { .nla_len = sizeof(struct nlattr) + 4, .nla_type = IFLA_XDP_FLAGS },
		.flags = XDP_FLAGS_SKB_MODE,
	};

	return nl_talk(&req.nh);
}

/* RTM_GETLINK of lo: 0 when the kernel answers with the link. */
static int link_get(void)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = 1 },
	};
	char buf[4096];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int ret = -1;

	if (sock < 0)
		return -1;
	if (send(sock, &req, sizeof(req), 0) == sizeof(req) && recv(sock, buf, sizeof(buf), 0) >= (ssize_t)sizeof(*nh)) {
		if (nh->nlmsg_type == RTM_NEWLINK)
			ret = 0;
		else if (nh->nlmsg_type == NLMSG_ERROR)
			errno = -((struct nlmsgerr *)NLMSG_DATA(nh))->error;
		else
			errno = EPROTO;
	}
	close(sock);
	return ret;
}

/* Attaches inherited programs without bpf(): a socket filter to a UDP socket, a perf-event program to a sampling
 * software event of this process, an XDP program to lo by rtnetlink, a tc program as a cls_bpf filter on lo (then
 * detaches both). */
static int prog_attach(int sfd, int pfd, int xfd, int cfd)
{
	int sock = socket(AF_INET, SOCK_DGRAM, 0);
	int bad = report("sockattach", setsockopt(sock, SOL_SOCKET, SO_ATTACH_BPF, &sfd, sizeof(sfd)));
	struct perf_event_attr pa = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(pa),
				      .config = PERF_COUNT_SW_CPU_CLOCK, .sample_period = 1000000 };
	long ev = syscall(SYS_perf_event_open, &pa, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);

	if (ev < 0)
		bad |= report("perf_event_open", -1);
	else
		bad |= report("perfattach", ioctl(ev, PERF_EVENT_IOC_SET_BPF, pfd));
	if (report("xdpattach", xdp_link_set(xfd)) == 0)
		xdp_link_set(-1);
	else
		bad = 1;
	if (report("tcattach", tc_filter_add(cfd)) == 0)
		tc_filter_del();
	else
		bad = 1;
	/* Reading rtnetlink takes no program fd: allowed while holding them. */
	return report("linkget", link_get()) | bad;
}

/* The bpffs superblock reconfigured without mount(2): fspick + fsconfig(reconfigure). */
static int fs_pick(const char *path)
{
	long fd = syscall(SYS_fspick, AT_FDCWD, path, FSPICK_CLOEXEC);

	if (report("fspick", fd))
		return 1;
	if (report("fsconfig_ro", syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, "ro", NULL, 0)))
		return 1;
	if (report("reconfigure", syscall(SYS_fsconfig, fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0)))
		return 1;
	syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, "rw", NULL, 0);
	syscall(SYS_fsconfig, fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0);
	return 0;
}

/* Per-mount flags without mount(2): mount_setattr read-only (no LSM hook exists for it). */
static int mount_set_attr(const char *path)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY }, rw = { .attr_clr = MOUNT_ATTR_RDONLY };

	if (report("setattr_ro", syscall(SYS_mount_setattr, AT_FDCWD, path, 0, &ro, sizeof(ro))))
		return 1;
	return report("setattr_rw", syscall(SYS_mount_setattr, AT_FDCWD, path, 0, &rw, sizeof(rw)));
}


/* Each operation that ends root's user keyring (and the gate's keyring linked in it): OPS from timeout (1 s),
 * invalidate, revoke; all three when none is named. */
static int uid_keyring(int n, char **ops)
{
	static char *all[] = { "timeout", "invalidate", "revoke" };

	if (n && !strncmp(ops[0], "uid=", 4)) {
		uid_t uid = atoi(ops[0] + 4);
		if (report("setuid", setresuid(uid, uid, uid)))
			return 1;
		n--;
		ops++;
	}
	if (!n) {
		n = 3;
		ops = all;
	}
	for (int i = 0; i < n; i++) {
		long r = -1;
		errno = EINVAL;
		if (!strcmp(ops[i], "timeout"))
			r = syscall(SYS_keyctl, 15 /* KEYCTL_SET_TIMEOUT */, -4 /* KEY_SPEC_USER_KEYRING */, 1);
		else if (!strcmp(ops[i], "invalidate"))
			r = syscall(SYS_keyctl, 21 /* KEYCTL_INVALIDATE */, -4);
		else if (!strcmp(ops[i], "revoke"))
			r = syscall(SYS_keyctl, 3 /* KEYCTL_REVOKE */, -4);
		printf("%s%s=%s", i ? " " : "", ops[i], r < 0 ? errname(errno) : "ok");
	}
	printf("\n");
	return 0;
}

/* BPF_LINK_UPDATE with a new XDP program: of the link pinned at PIN (the gate's status iterator, say), or of an XDP
 * link on lo made here ("own", the control: the update succeeds). */
static int link_update(const char *pin)
{
	long link;
	long prog = prog_load_type(BPF_PROG_TYPE_XDP, BPF_XDP, 2 /* XDP_PASS */);

	if (report("xdp_prog", prog))
		return 1;
	if (!strcmp(pin, "own")) {
		union bpf_attr a = { .link_create = { .prog_fd = prog, .target_ifindex = 1, .attach_type = BPF_XDP } };
		link = sys_bpf(BPF_LINK_CREATE, &a);
		prog = prog_load_type(BPF_PROG_TYPE_XDP, BPF_XDP, 2);
	} else {
		union bpf_attr a = { .pathname = (uint64_t)(uintptr_t)pin };
		link = sys_bpf(BPF_OBJ_GET, &a);
	}
	if (report("link", link))
		return 1;
	union bpf_attr u = { .link_update = { .link_fd = link, .new_prog_fd = prog } };
	return report("link_update", sys_bpf(BPF_LINK_UPDATE, &u));
}

/* KEYCTL_CLEAR of root's user keyring, which holds the gate's keyring. */
static int clear_user_keyring(void)
{
	return report("clear_user_keyring", syscall(SYS_keyctl, 7 /* KEYCTL_CLEAR */, -4 /* KEY_SPEC_USER_KEYRING */));
}

/* As PID 1 of the init-mode real root (/sbin/init, signed): bpfgate, PID 1 before, exec'ed this. Under the
 * init-mode policy (bpf.block = token_create) a trusted task may create a map but not a token; a loader's
 * exemption kept across bpfgate's exec would let the token call through to the kernel (EBADF for fd -1). Then
 * the shell script that reports the rest. */
static int pid1_init(void)
{
	union attr a = { 0 };

	printf("@@ pid1_bpf ");
	report("map", map_create());
	printf("@@ pid1_block ");
	set_u32(&a, 4, (uint32_t)-1); /* token_create.bpffs_fd */
	report("token_create", sys_bpf_attr(PROBE_BPF_TOKEN_CREATE, &a));
	execl("/sbin/init.sh", "/sbin/init.sh", (char *)NULL);
	return report("exec", -1);
}

/* Run as PID 1: say whether this image is trusted (a map creation, "@@ NAME map=..."), then share|alone|halt:
 * share: clone a CLONE_FS child that lives SECS seconds, and exec PATH ARGS at once (the child shares PID 1's
 * fs_struct across the exec); alone: reap children for SECS seconds (an earlier image's sharer exits), then exec;
 * halt: power off. Exercises how the gate judges the exec of a PID 1 that runs untrusted code. */
static int pid1_exec(int argc, char **argv)
{
	int secs = atoi(argv[4]);

	printf("@@ %s ", argv[2]);
	report("map", map_create());
	if (!strcmp(argv[3], "halt")) {
		sync();
		return (int)syscall(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc, NULL);
	}
	if (argc < 6)
		return 2;
	if (!strcmp(argv[3], "share")) {
		pid_t c = (pid_t)syscall(SYS_clone, CLONE_FS | SIGCHLD, NULL, NULL, NULL, 0);

		if (c == 0) {
			sleep(secs);
			_exit(0);
		}
		printf("@@ %s_sharer %d\n", argv[2], c);
	} else {
		for (int i = 0; i < secs * 10; i++) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			usleep(100000);
		}
	}
	execv(argv[5], argv + 5);
	return report("exec", -1);
}

struct thread_args {
	int argc;
	char **argv;
	int ret;
};

int main(int argc, char **argv);

static void *thread_main(void *p)
{
	struct thread_args *a = p;

	if (!strcmp(a->argv[0], "threadexec")) {
		execv(a->argv[1], a->argv + 1);
		a->ret = report("exec", -1);
		return NULL;
	}
	a->ret = main(a->argc, a->argv);
	return NULL;
}

/* `thread OP ARGS`: OP in a second thread, then `map` in the leader. `threadexec PATH ARGS`: the second thread
 * execs (the kernel makes it the leader of the new program); the leader waits to be replaced. */
static int in_thread(int argc, char **argv)
{
	struct thread_args a = { .argc = argc - 1, .argv = argv + 1 };
	pthread_t t;
	int err = pthread_create(&t, NULL, thread_main, &a);

	if (err) {
		errno = err;
		return report("pthread_create", -1);
	}
	pthread_join(t, NULL);
	printf("leader_");
	return do_op("map") | a.ret;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 && getpid() == 1)
		return pid1_init();
	if (argc < 2) {
		fprintf(stderr, "usage: bpfprobe map|prog|btf|fork OP|exec PATH...|steal DIR|setxattr F N SRC|"
				"rmxattr F N|verity F|writefile P\n");
		return 2;
	}
	const char *op = argv[1];
	if (!strcmp(op, "pid1exec") && argc >= 5)
		return pid1_exec(argc, argv);
	if (!strcmp(op, "fork") && argc >= 3) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(do_op(argv[2]));
		int st = 0;
		waitpid(pid, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (!strcmp(op, "exec") && argc >= 3) {
		report("before_exec_map", map_create());
		execv(argv[2], argv + 2);
		return report("exec", -1);
	}
	if (!strcmp(op, "steal") && argc >= 3)
		return steal(argv[2]);
	if (!strcmp(op, "setxattr") && argc >= 5)
		return set_xattr(argv[2], argv[3], argv[4]);
	if (!strcmp(op, "rmxattr") && argc >= 4)
		return report("rmxattr", removexattr(argv[2], argv[3]));
	if (!strcmp(op, "verity") && argc >= 3)
		return enable_verity(argv[2], argc >= 5 ? atoi(argv[3]) : FS_VERITY_HASH_ALG_SHA256,
				     argc >= 5 ? atoi(argv[4]) : 4096);
	if (!strcmp(op, "sleep") && argc >= 3) {
		sleep(atoi(argv[2]));
		return 0;
	}
	if ((!strcmp(op, "ptrace") || !strcmp(op, "procmem") || !strcmp(op, "vmwrite")) && argc >= 3)
		return inject(op, atoi(argv[2]));
	if (!strcmp(op, "traceme"))
		return report("traceme", ptrace(PTRACE_TRACEME, 0, 0, 0));
	if (!strcmp(op, "tracedexec") && argc >= 3)
		return traced_exec(argv + 2);
	if (!strcmp(op, "dlopen") && argc >= 4) {
		if (!dlopen(argv[2], RTLD_NOW))
			printf("dlopen=failed ");
		return !strcmp(argv[3], "fork") ? main(argc - 2, argv + 2) : do_op(argv[3]);
	}
	if ((!strcmp(op, "thread") || !strcmp(op, "threadexec")) && argc >= 3)
		return in_thread(argc, argv);
	if (!strcmp(op, "anonexec") && argc >= 3) {
		if (mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
			printf("anonexec=%s ", errname(errno));
		return do_op(argv[2]);
	}
	if (!strcmp(op, "mprotectexec") && argc >= 3) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_EXEC))
			printf("mprotectexec=%s ", errname(errno));
		return do_op(argv[2]);
	}
	if (!strcmp(op, "finit") || !strcmp(op, "initmod") || !strcmp(op, "kexecfile") || !strcmp(op, "kexecload") ||
	    !strcmp(op, "openrw") || !strcmp(op, "ioperm"))
		return kernel_op(op, argc >= 3 ? argv[2] : "");
	if (!strcmp(op, "token") && argc >= 3)
		return token_flow(argv[2], argc >= 5 && !strcmp(argv[3], "pass") ? argv[4] : NULL);
	if (!strcmp(op, "mapexec") && argc >= 3)
		return map_exec(argv + 2);
	if (!strcmp(op, "mapwrite") && argc >= 3)
		return map_write(argv[2], argc >= 4 && !strcmp(argv[3], "shared"));
	if (!strcmp(op, "nsmount") && argc >= 4)
		return ns_mount(argv[2], argv[3]);
	if (!strcmp(op, "tokenat") && argc >= 3)
		return token_at(argv[2]);
	if (!strcmp(op, "tokenrecv") && argc >= 3)
		return token_receive(atoi(argv[2]));
	if (!strcmp(op, "seccompexec") && argc >= 4)
		return seccomp_exec(argv[2], argv + 3);
	if (!strcmp(op, "personalityexec") && argc >= 4) {
		if (report("personality", personality(strtoul(argv[2], NULL, 16))))
			return 1;
		execv(argv[3], argv + 3);
		return report("exec", -1);
	}
	if (!strcmp(op, "sharedfsexec") && argc >= 3)
		return shared_fs_exec(argv + 2);
	if (!strcmp(op, "progexec") && argc >= 3)
		return prog_exec(argv[2]);
	if (!strcmp(op, "progtype") && argc >= 3) {
		char name[32];

		snprintf(name, sizeof(name), "prog_type_%s", argv[2]);
		return report(name, prog_load_type(atoi(argv[2]), argc >= 4 ? atoi(argv[3]) : 0, 0));
	}
	if (!strcmp(op, "maptype") && argc >= 3) {
		union bpf_attr a = { .map_type = atoi(argv[2]), .key_size = 4, .value_size = 4, .max_entries = 1 };
		char name[32];

		snprintf(name, sizeof(name), "map_type_%s", argv[2]);
		return report(name, sys_bpf(BPF_MAP_CREATE, &a));
	}
	if ((!strcmp(op, "attachtype") || !strcmp(op, "linktype")) && argc >= 3) {
		union bpf_attr a = { 0 };
		char name[32];

		if (op[0] == 'a') {
			a.target_fd = -1;
			a.attach_bpf_fd = -1;
			a.attach_type = atoi(argv[2]);
		} else {
			a.link_create.prog_fd = -1;
			a.link_create.target_fd = -1;
			a.link_create.attach_type = atoi(argv[2]);
		}
		snprintf(name, sizeof(name), "%s_type_%s", op[0] == 'a' ? "attach" : "link", argv[2]);
		return report(name, sys_bpf(op[0] == 'a' ? BPF_PROG_ATTACH : BPF_LINK_CREATE, &a));
	}
	if (!strcmp(op, "progpass") && argc >= 3)
		return prog_pass(argv[2]);
	if (!strcmp(op, "progrecv") && argc >= 3)
		return prog_receive(atoi(argv[2]));
	if (!strcmp(op, "progattach") && argc >= 6)
		return prog_attach(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(op, "clsact") && argc >= 3)
		return clsact(argv[2]);
	if (!strcmp(op, "fspick") && argc >= 3)
		return fs_pick(argv[2]);
	if (!strcmp(op, "setattr") && argc >= 3)
		return mount_set_attr(argv[2]);
	if (!strcmp(op, "nsexec") && argc >= 4) {
		if (report("unshare", unshare(CLONE_NEWNS)))
			return 1;
		if (!strcmp(argv[2], "slave") && mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL))
			return report("make_slave", -1);
		if (!strcmp(argv[2], "private") && mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL))
			return report("make_private", -1);
		execv(argv[3], argv + 3);
		return report("exec", -1);
	}
	if (!strcmp(op, "uidkeyring"))
		return uid_keyring(argc - 2, argv + 2);
	if (!strcmp(op, "linkupdate") && argc >= 3)
		return link_update(argv[2]);
	if (!strcmp(op, "clearuserkeyring"))
		return clear_user_keyring();
	if (!strcmp(op, "keyattack") && argc >= 3)
		return keyattack(argv[2]);
	if (!strcmp(op, "writefile") && argc >= 3) {
		int fd = open(argv[2], O_WRONLY);
		if (fd < 0)
			return report("writefile", -1);
		return report("writefile", write(fd, "x", 1));
	}
	return do_op(op);
}
