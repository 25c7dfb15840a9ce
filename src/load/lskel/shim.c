// SPDX-License-Identifier: GPL-2.0-only
/*
 * The C side of bpfgate's loader: a light skeleton (`bpftool gen skeleton -L`, made by build.rs) loads the BPF
 * object through a loader program, so the kernel does the CO-RE relocations against its own BTF and this process
 * never reads the kernel's BTF (libbpf's copy of it is the bulk of a regular loader's memory). Compiled once per
 * skeleton with -DSKEL=name -DSKEL_HEADER="name.lskel.h"; src/load/lskel.rs is the Rust side.
 *
 * The functions hand every map and program fd over to the caller, then free the skeleton without closing them.
 */
#include <stddef.h>
#include <linux/types.h>
#include "bpfgate.h"
#include <bpf/skel_internal.h>
#include SKEL_HEADER

#define PASTE2(a, b) a##b
#define PASTE(a, b) PASTE2(a, b)
#define FN(suffix) PASTE(SKEL, suffix)

struct SKEL *FN(_lskel_open)(void)
{
	return PASTE(SKEL, __open)();
}

#ifdef SKEL_HAS_CFG
/* The gate's configuration in the skeleton's rodata, to be filled before the load. */
struct gate_config *FN(_lskel_cfg)(struct SKEL *s)
{
	return &s->rodata->cfg;
}
#endif

/* Number of maps and programs, in the order of the skeleton (and of build.rs's name lists). */
void FN(_lskel_counts)(unsigned int *maps, unsigned int *progs)
{
	struct SKEL *s = NULL;

#ifdef SKEL_NO_MAPS
	*maps = 0;
#else
	*maps = sizeof(s->maps) / sizeof(struct bpf_map_desc);
#endif
	*progs = sizeof(s->progs) / sizeof(struct bpf_prog_desc);
}

/* Runs the loader. With a log buffer, the verifier's log of the programs it loads goes there. 0 or -errno. */
int FN(_lskel_load)(struct SKEL *s, __u32 log_level, char *log_buf, __u32 log_size)
{
	s->ctx.log_level = log_level;
	s->ctx.log_size = log_size;
	s->ctx.log_buf = (__u64)(unsigned long)log_buf;
	return PASTE(SKEL, __load)(s);
}

/* Moves every map and program fd into the caller's arrays (sized by FN(_lskel_counts)). */
void FN(_lskel_take_fds)(struct SKEL *s, int *maps, int *progs)
{
	struct bpf_prog_desc *p = (struct bpf_prog_desc *)&s->progs;
	unsigned int nm, np, i;

	FN(_lskel_counts)(&nm, &np);
#ifndef SKEL_NO_MAPS
	struct bpf_map_desc *m = (struct bpf_map_desc *)&s->maps;

	for (i = 0; i < nm; i++) {
		maps[i] = m[i].map_fd;
		m[i].map_fd = 0; /* skel_closenz leaves it alone */
	}
#endif
	for (i = 0; i < np; i++) {
		progs[i] = p[i].prog_fd;
		p[i].prog_fd = 0;
	}
}

/* Frees the skeleton and closes whatever fds it still holds (none after FN(_lskel_take_fds)). */
void FN(_lskel_destroy)(struct SKEL *s)
{
	PASTE(SKEL, __destroy)(s);
}
