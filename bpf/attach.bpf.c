// SPDX-License-Identifier: GPL-2.0-only

/*
 * Programs attached outside bpf(): perf events, TUN, KCM, socket and packet-fanout programs, rtnetlink and
 * nftables messages and iptables-legacy tables from a task holding a program fd, and program fds passed to a task
 * that may not attach them. The ioctl hook also records the loader's bpffs mount.
 */

#include "gate.h"

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

/* The walk above sees the fds a task holds when it sends; the kernel looks up the fd inside the message later. So an
 * untrusted task must not come to hold a program fd in between: it receives none. Every way of installing another
 * process's file in a task's table goes through file_receive (SCM_RIGHTS, pidfd_getfd, seccomp's NOTIF_ADDFD,
 * io_uring's fixed-fd install); bpf() is the gate's; an exec keeps the fds it had, which the walk sees. The
 * superblock magic first: SCM_RIGHTS of sockets and pipes leaves after one load. */
SEC("lsm/file_receive")
int BPF_PROG(gate_file_receive, struct file *file)
{
	if (file->f_inode->i_sb->s_magic != ANON_INODE_FS_MAGIC || !prog_file(file))
		return 0;
	return attach_outside_bpf(ATTACH_FD_RECEIVE);
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
	rec = bpf_map_lookup_elem(&chain_root, &zero);
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
