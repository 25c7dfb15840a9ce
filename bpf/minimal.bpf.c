// SPDX-License-Identifier: GPL-2.0-only
/* The baseline of the boot-cost benchmark (`make bench`): one empty LSM program, loaded, attached and pinned by
 * bpfgate-bench-minload the way bpfgate loads the gate. Never part of bpfgate itself. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("lsm/file_open")
int BPF_PROG(minimal_file_open, struct file *file)
{
	return 0;
}
