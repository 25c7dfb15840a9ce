// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpfbench: the workloads of the gate's benchmark (tests/vm/bench.sh), one per hook the gate puts on a hot path.
 * Each prints "NAME NS_PER_OP" measured with CLOCK_MONOTONIC over N iterations.
 *
 *   fork N                fork + _exit + wait                                    (task_alloc)
 *   exec N PATH           fork + exec PATH nop + wait                            (bprm_committed_creds, mmap)
 *   bpfops N              a map lookup and an update, from this process           (bpf)
 *   mmapexec N PATH       mmap PATH with PROT_EXEC, then munmap                   (mmap_file)
 *   nop                   exit at once (the exec target)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "nop"))
		return 0;
	const char *op = argv[1];
	long n = argc >= 3 ? atol(argv[2]) : 1000;
	const char *path = argc >= 4 ? argv[3] : "";
	uint64_t t0 = now_ns();

	if (!strcmp(op, "fork")) {
		for (long i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0)
				_exit(0);
			waitpid(p, NULL, 0);
		}
	} else if (!strcmp(op, "exec")) {
		for (long i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0) {
				execl(path, path, "nop", (char *)NULL);
				_exit(127);
			}
			int st = 0;
			waitpid(p, &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				printf("%s failed\n", op);
				return 1;
			}
		}
	} else if (!strcmp(op, "bpfops")) {
		union bpf_attr c = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 1 };
		long fd = sys_bpf(BPF_MAP_CREATE, &c);
		uint32_t key = 0;
		uint64_t val = 0;
		if (fd < 0) {
			printf("%s failed\n", op);
			return 1;
		}
		t0 = now_ns();
		for (long i = 0; i < n; i++) {
			union bpf_attr l = { .map_fd = fd, .key = (uint64_t)(uintptr_t)&key, .value = (uint64_t)(uintptr_t)&val };
			sys_bpf(BPF_MAP_LOOKUP_ELEM, &l);
			val++;
			sys_bpf(BPF_MAP_UPDATE_ELEM, &l);
		}
	} else if (!strcmp(op, "mmapexec")) {
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			printf("%s failed\n", op);
			return 1;
		}
		for (long i = 0; i < n; i++) {
			void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
			if (m == MAP_FAILED) {
				printf("%s failed\n", op);
				return 1;
			}
			munmap(m, 4096);
		}
	} else {
		fprintf(stderr, "usage: bpfbench fork|exec|bpfops|mmapexec N [PATH] | nop\n");
		return 2;
	}
	printf("%s %llu\n", op, (unsigned long long)((now_ns() - t0) / (uint64_t)(n > 0 ? n : 1)));
	return 0;
}
