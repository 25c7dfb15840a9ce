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
 *
 * Scale (tests/guest/scale.sh), printing "NAME key=value ...":
 *   enroll DIR SIGDIR     enable fs-verity on every file of DIR and store SIGDIR/NAME.sig as user.bpfgate.sig
 *   execall DIR           fork + exec + wait of every file of DIR, once each; SUnreclaim (kB) it added
 *   threads N             N threads that block, then SUnreclaim (kB) before and while they live
 *   fillmaps MAX          create array maps until one is refused (or MAX), report why; close them; create one more
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/fsverity.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/xattr.h>
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

/* SUnreclaim of /proc/meminfo, kB: the kernel's unreclaimable slab, where task and inode storage live. */
static long sunreclaim_kb(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %ld kB", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* The regular files of DIR, sorted by readdir order, as full paths (a NULL-terminated array). */
static char **files_of(const char *dir, long *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **list = NULL;
	long n = 0, cap = 0;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n + 1 >= cap) {
			cap = cap ? 2 * cap : 1024;
			list = realloc(list, cap * sizeof(*list));
			if (!list)
				exit(1);
		}
		if (asprintf(&list[n++], "%s/%s", dir, e->d_name) < 0)
			exit(1);
	}
	if (d)
		closedir(d);
	*count = n;
	return list;
}

static int enroll(const char *dir, const char *sigdir)
{
	long n, i, failed = 0;
	char **files = files_of(dir, &n);
	static char sig[8192];

	for (i = 0; i < n; i++) {
		struct fsverity_enable_arg arg = { .version = 1, .hash_algorithm = FS_VERITY_HASH_ALG_SHA256,
						   .block_size = 4096 };
		const char *name = strrchr(files[i], '/') + 1;
		char *sp;
		int fd = open(files[i], O_RDONLY), sfd;
		ssize_t len;

		if (asprintf(&sp, "%s/%s.sig", sigdir, name) < 0)
			exit(1);
		sfd = open(sp, O_RDONLY);
		len = sfd < 0 ? -1 : read(sfd, sig, sizeof(sig));
		if (fd < 0 || len <= 0 || (ioctl(fd, FS_IOC_ENABLE_VERITY, &arg) && errno != EEXIST) ||
		    fsetxattr(fd, "user.bpfgate.sig", sig, len, 0))
			failed++;
		if (sfd >= 0)
			close(sfd);
		if (fd >= 0)
			close(fd);
		free(sp);
	}
	printf("enroll files=%ld failed=%ld\n", n, failed);
	return failed ? 1 : 0;
}

static int execall(const char *dir)
{
	long n, i, failed = 0;
	char **files = files_of(dir, &n);
	long before = sunreclaim_kb();
	uint64_t t0 = now_ns();

	for (i = 0; i < n; i++) {
		int st = 0;
		pid_t p = fork();

		if (p == 0) {
			execl(files[i], files[i], (char *)NULL);
			_exit(127);
		}
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	printf("execall files=%ld failed=%ld ns_per_exec=%llu sunreclaim_delta_kb=%ld\n", n, failed,
	       (unsigned long long)((now_ns() - t0) / (uint64_t)(n > 0 ? n : 1)), sunreclaim_kb() - before);
	return failed ? 1 : 0;
}

static int block_fd[2];

static void *blocker(void *arg)
{
	char c;

	(void)arg;
	while (read(block_fd[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int threads(long n)
{
	pthread_attr_t attr;
	pthread_t *t = calloc(n, sizeof(*t));
	long before, during, i, started = 0;

	if (!t || pipe(block_fd))
		return 1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	before = sunreclaim_kb();
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], &attr, blocker, NULL) == 0)
			started++;
	usleep(200000);
	during = sunreclaim_kb();
	close(block_fd[1]); /* every blocker's read returns 0 */
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	printf("threads started=%ld sunreclaim_before_kb=%ld sunreclaim_during_kb=%ld\n", started, before, during);
	return started == n ? 0 : 1;
}

static int fillmaps(long max)
{
	union bpf_attr c = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1 };
	struct rlimit r = { max + 64, max + 64 };
	long *fds = calloc(max, sizeof(*fds)), n, i, again;
	int err = 0;

	if (!fds || setrlimit(RLIMIT_NOFILE, &r))
		return 1;
	for (n = 0; n < max; n++) {
		fds[n] = sys_bpf(BPF_MAP_CREATE, &c);
		if (fds[n] < 0) {
			err = errno;
			break;
		}
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
	/* Maps are freed after an RCU grace period: give the kernel a moment before the next creation. */
	for (i = 0, again = -1; i < 50 && again < 0; i++) {
		usleep(100000);
		again = sys_bpf(BPF_MAP_CREATE, &c);
	}
	printf("fillmaps created=%ld refused=%s after_close=%s\n", n, err ? strerrorname_np(err) : "none",
	       again >= 0 ? "ok" : strerrorname_np(errno));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "nop"))
		return 0;
	const char *op = argv[1];
	long n = argc >= 3 ? atol(argv[2]) : 1000;
	const char *path = argc >= 4 ? argv[3] : "";
	uint64_t t0 = now_ns();

	if (!strcmp(op, "enroll") && argc >= 4)
		return enroll(argv[2], argv[3]);
	if (!strcmp(op, "execall") && argc >= 3)
		return execall(argv[2]);
	if (!strcmp(op, "threads"))
		return threads(n);
	if (!strcmp(op, "fillmaps"))
		return fillmaps(n);
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
		fprintf(stderr, "usage: bpfbench fork|exec|bpfops|mmapexec N [PATH] | nop | enroll DIR SIGDIR | \
execall DIR | threads N | fillmaps MAX\n");
		return 2;
	}
	printf("%s %llu\n", op, (unsigned long long)((now_ns() - t0) / (uint64_t)(n > 0 ? n : 1)));
	return 0;
}
