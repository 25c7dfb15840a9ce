// SPDX-License-Identifier: GPL-2.0-only

/*
 * The pinned status stream (counters summed over CPUs) and event stream, read with read(2): `bpfgate status` and
 * `bpfgate log` need no bpf() call and no fd to the gate's objects. One program, attached once per map.
 */

#include "gate.h"

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
		/* The header's fixed fields, then the config straight from rodata (too big for the stack). */
		struct {
			__u32 magic, version, counters, _pad;
		} hdr = {
			.magic = BPFGATE_STATUS_MAGIC,
			.version = BPFGATE_STATUS_VERSION,
			.counters = CNT_MAX,
		};

		_Static_assert(sizeof(hdr) == __builtin_offsetof(struct status_header, config), "status_header layout");
		bpf_seq_write(seq, &hdr, sizeof(hdr));
		bpf_seq_write(seq, (void *)&cfg, sizeof(cfg));
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
