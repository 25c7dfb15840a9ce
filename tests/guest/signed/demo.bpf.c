// SPDX-License-Identifier: GPL-2.0-only
/* The signed-program tests' payload (tests/guest/lskel.c): counts the system calls of one process. Built into
 * light skeletons by tests/vm/prepare.sh: signed with the gate's test key, with a foreign key, and unsigned. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int target_tgid;
__u64 hits;

SEC("raw_tp/sys_enter")
int count_syscalls(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == (__u64)target_tgid)
		__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
