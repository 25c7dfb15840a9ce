// SPDX-License-Identifier: GPL-2.0-only
/*
 * The signed-program tests' loader (policy bpf.signed, profiles' signed_programs): light skeletons of
 * tests/guest/signed/demo.bpf.c, made by `bpftool gen skeleton -L [-S]` in tests/vm/prepare.sh, once per signing
 * style (lskel: sid's 7.2 bpftool; lskel73: trixie-backports' 7.3 one). The binary itself is not signed for the
 * gate: the task that runs it is untrusted, and what it may load depends only on the programs' signatures (its
 * signed copies lskel*-req and lskel*-full are the profile tests' trusted loaders).
 *
 *   lskel SKELETON KEYRING [CERT.der]
 *     SKELETON  signed (signed with the gate's test key), foreign (a key the gate does not hold), unsigned,
 *               tampered (the signed one with one byte of its loader data changed)
 *     KEYRING   the keyring the kernel checks the signature against (BPF_PROG_LOAD keyring_id): a serial (the
 *               gate's keyring, from `bpfgate status`), 0/1/2 (the kernel's builtin/secondary/platform keyrings),
 *               or `own`: a keyring this process makes and fills with CERT.der, as an attacker would.
 *
 * Prints one line: "ok hits=N after=RESULT" (the program loaded, attached and counted N of this process's system
 * calls; RESULT: what a plain BPF_MAP_CREATE of the same thread then got), or "STEP: error".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include "demo_signed.lskel.h"
#include "demo_foreign.lskel.h"
#include "demo_unsigned.lskel.h"
#include "demo_tampered.lskel.h"

static long own_keyring(const char *cert_path)
{
	static char der[8192];
	FILE *f = fopen(cert_path, "rb");
	size_t n;
	long ring, key;

	if (!f) {
		printf("cert: %s\n", strerror(errno));
		exit(1);
	}
	n = fread(der, 1, sizeof(der), f);
	fclose(f);
	ring = syscall(SYS_add_key, "keyring", "bpfgate-test-own", NULL, 0, KEY_SPEC_PROCESS_KEYRING);
	if (ring < 0) {
		printf("own keyring: %s\n", strerror(errno));
		exit(1);
	}
	key = syscall(SYS_add_key, "asymmetric", "", der, n, ring);
	if (key < 0) {
		printf("own key: %s\n", strerror(errno));
		exit(1);
	}
	return ring;
}

/* A plain map creation by the same thread, after the signed load: the gate must not have left it anything. */
static const char *plain_map_create(void)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		return errno == EPERM ? "EPERM" : strerror(errno);
	close(fd);
	return "ok";
}

/* Load, attach, count this process's system calls, destroy. The skeletons differ only in their names (and the
 * unsigned one has no keyring_id), hence a macro. */
#define RUN(name, set_keyring)                                                                                  \
	do {                                                                                                    \
		struct name *skel = name##__open();                                                             \
		int err, i;                                                                                     \
		unsigned long long hits;                                                                        \
		if (!skel) {                                                                                    \
			printf("open: %s\n", strerror(errno));                                                  \
			return 1;                                                                               \
		}                                                                                               \
		set_keyring;                                                                                    \
		err = name##__load(skel);                                                                       \
		if (err) {                                                                                      \
			printf("load: %s\n", strerror(-err));                                                   \
			return 1;                                                                               \
		}                                                                                               \
		skel->bss->target_tgid = getpid();                                                              \
		err = name##__attach(skel);                                                                     \
		if (err < 0) {                                                                                  \
			printf("attach: %s\n", strerror(-err));                                                 \
			return 1;                                                                               \
		}                                                                                               \
		for (i = 0; i < 10; i++)                                                                        \
			syscall(SYS_getppid);                                                                   \
		hits = skel->bss->hits;                                                                         \
		printf("ok hits=%llu after=%s\n", hits, plain_map_create());                                    \
		name##__destroy(skel);                                                                          \
		return 0;                                                                                       \
	} while (0)

int main(int argc, char **argv)
{
	long keyring;

	if (argc < 3) {
		fprintf(stderr, "usage: %s signed|foreign|tampered|unsigned KEYRING|own [CERT.der]\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[2], "own") == 0) {
		if (argc < 4) {
			fprintf(stderr, "own: needs CERT.der\n");
			return 2;
		}
		keyring = own_keyring(argv[3]);
	} else {
		keyring = strtol(argv[2], NULL, 0);
	}
	if (strcmp(argv[1], "signed") == 0)
		RUN(demo_signed, skel->keyring_id = (__s32)keyring);
	if (strcmp(argv[1], "foreign") == 0)
		RUN(demo_foreign, skel->keyring_id = (__s32)keyring);
	if (strcmp(argv[1], "tampered") == 0)
		RUN(demo_tampered, skel->keyring_id = (__s32)keyring);
	if (strcmp(argv[1], "unsigned") == 0)
		RUN(demo_unsigned, (void)keyring);
	fprintf(stderr, "unknown skeleton %s\n", argv[1]);
	return 2;
}
