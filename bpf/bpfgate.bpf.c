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
 * Files (one concern each; build.rs links them into one object, which the light skeleton loads as a whole)
 *   bpfgate.bpf.c   this overview, the maps and the config (defined here, declared in gate.h), the types anchor
 *   gate.h          what the files share: constants, kfuncs, map declarations, helpers used by more than one file
 *   trust.bpf.c     exec verdicts, fork, the taint of unverified mappings, the verdict cache
 *   bpfcmd.bpf.c    the bpf() gate: commands, tokens, signed programs, protected maps, the gate's own objects
 *   attach.bpf.c    programs attached outside bpf()
 *   protect.bpf.c   pins, the mount chain, keyrings, injection into trusted tasks
 *   kernel.bpf.c    modules, kexec, firmware, lockdown reasons
 *   status.bpf.c    the status and event streams
 *   Every program is named gate_PIN: build.rs lists them (with their sections) for the loader and `doctor`.
 *
 * Hooks
 *   lsm.s/bprm_committed_creds  decides the verdict of the new program (sleepable: reads the xattr, verifies).
 *                               Every exec writes the verdict, so trust never survives an exec of something else.
 *                               A #! script or binfmt_misc exec (bprm->interp != bprm->filename) is never trusted:
 *                               its code is the script, not the signed interpreter. Nor is an exec in a state an
 *                               untrusted parent controls (ptrace, a seccomp listener, a shared fs_struct,
 *                               personality flags a setuid exec clears).
 *   lsm/task_alloc              hands a trusted parent's verdict to a new process (storage created on the child);
 *                               a thread shares its process's verdict, kept on the thread-group leader.
 *   lsm/bpf                     the gate: untrusted tasks get -EPERM for every command not in the read-only
 *                               bitmap cfg.untrusted_cmds; unknown future commands are denied.
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
 *   lsm/file_ioctl, lsm/socket_setsockopt, lsm/netlink_send, lsm/bpf_prog, lsm/file_receive
 *                               programs attached outside bpf() (perf events, TUN, KCM, socket and packet-fanout
 *                               programs; rtnetlink, nftables and iptables-legacy by a task holding a program fd;
 *                               xt_bpf by pinned path) take the bpf area's permission: untrusted tasks attach none,
 *                               and receive no program fd (SCM_RIGHTS, pidfd_getfd), so none arrives after the
 *                               netlink check's fd walk.
 *                               The ioctl hook also records, once, the bpffs mount the loader names by an ioctl on
 *                               its pins.
 *   lsm/kernel_read_file, lsm/kernel_load_data, lsm/kernel_module_request, lsm/locked_down
 *                               untrusted tasks cannot change the running kernel: no module loading (init_module,
 *                               finit_module) or auto-load requests, no kexec (kexec_load, kexec_file_load), and
 *                               nothing the lockdown LSM counts as an integrity risk (/dev/mem, /dev/port,
 *                               ioperm/iopl, MSR and PCI BAR writes, ACPI tables, debugfs writes, ...). Each one
 *                               could switch the gate off. Confidentiality reasons (kcore, perf, kprobes reads)
 *                               stay allowed. Enum values are CO-RE relocated, so new lockdown reasons count too.
 *   lsm/file_open               untrusted tasks cannot open the BPF sysctls for writing (policy sysctl; attached
 *                               only when the policy restricts them).
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
 *   cached in inode storage with the inode's ctime, which every xattr change moves: a verdict counts only while
 *   the ctime is the one it was decided at (file_verdict in trust.bpf.c says why no race defeats this). Files
 *   without verity are not cached (verity can be enabled later), nor are outcomes that depend on the exec'ing
 *   task or on transient state.
 */
#define BPFGATE_DEFINE
#include "gate.h"

char LICENSE[] SEC("license") = "GPL";

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
	enum sysctl_op sysctl;
	enum event_kind ev_kind;
	enum event_why ev_why;
	enum event_verdict ev_verdict;
	enum gate_object object;
	enum attach_path attach;
	enum bpfgate_limit limit;
} __types = {};

/* Reads the 8 bytes at kernel address `src` into `*w` (map memory) and returns them; 0 when the read fails. */
static __always_inline __u64 read_ptr(__u64 *w, const void *src)
{
	if (bpf_probe_read_kernel(w, sizeof(*w), src))
		*w = 0;
	return *w;
}

/* The trust of `task`'s process, and the taint (see gate.h). Global: the one copy every file calls. */
__noinline int trust_of(struct task_struct *task __arg_trusted, __u32 taint)
{
	struct task_trust *t = trusted_entry(task);
	__u32 v = verdict_of(t);

	if (t && taint)
		taint_process(t, taint);
	return v;
}

/* Appends a record to the event ring. Writers on other CPUs take other slots; a reader skips a record whose seq
 * is 0 (being written) or changes while it copies it. Global (declared in gate.h): the one copy every file calls. */
__noinline int record(__u32 kind, __u32 detail, __u32 verdict, __u32 why, __u32 profile)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct gate_event *e;
	struct file *exe;
	__u32 zero = 0, slot;
	__u64 *head, n, id, *w;

	head = bpf_map_lookup_elem(&event_head, &zero);
	if (!head)
		return 0;
	n = __sync_fetch_and_add(head, 1) + 1;
	slot = n % BPFGATE_EVENTS;
	e = bpf_map_lookup_elem(&events, &slot);
	if (!e)
		return 0;
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
	/* PROFILE_LOOKUP: the caller had no verdict at hand (the gate's own objects, ptrace, attach paths). The task's
	 * own entry is its process's verdict when it leads the process: no read of group_leader, which would cost
	 * every program that records (nearly all) three searches of the kernel's BTF in the verifier and the rcu
	 * kfuncs' lookups in the loader at boot. Another thread's events on these paths name no profile. */
	if (profile == PROFILE_LOOKUP) {
		profile = BPFGATE_NO_PROFILE;
		if (cfg.profiles > 1 && (__u32)id == id >> 32) {
			struct task_trust *t = trusted_verdict(bpf_task_storage_get(&task_trust, task, 0, 0));

			if (t)
				profile = t->profile;
		}
	}
	e->profile = profile;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* The executable's inode, device and name: probe reads, each pointer read into the event itself (no stack
	 * temporaries, no verifier walk of BTF structs). A failed read leaves 0: no name. */
	w = &e->exe_ino;
	e->exe_dev = 0;
	e->exe[0] = 0;
	exe = (struct file *)read_ptr(w, __builtin_preserve_access_index(&task->mm));
	if (exe)
		exe = (struct file *)read_ptr(w, __builtin_preserve_access_index(&((struct mm_struct *)exe)->exe_file));
	if (exe) {
		void *p = (void *)read_ptr(w, __builtin_preserve_access_index(&exe->f_path.dentry));

		p = p ? (void *)read_ptr(w, __builtin_preserve_access_index(&((struct dentry *)p)->d_name.name)) : NULL;
		if (p)
			bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), p);
		p = (void *)read_ptr(w, __builtin_preserve_access_index(&exe->f_inode));
		if (p) {
			void *sb = (void *)read_ptr(w, __builtin_preserve_access_index(&((struct inode *)p)->i_sb));

			if (sb)
				bpf_probe_read_kernel(&e->exe_dev, sizeof(e->exe_dev),
						      __builtin_preserve_access_index(&((struct super_block *)sb)->s_dev));
			read_ptr(w, __builtin_preserve_access_index(&((struct inode *)p)->i_ino));
		}
	}
	/* Stores stay in order on x86 (TSO); this keeps the compiler from moving the seq store up. */
	asm volatile("" ::: "memory");
	e->seq = n;
	count(CNT_EVENTS);
	return 0;
}
