// SPDX-License-Identifier: GPL-2.0-only
/* The scale benchmark's binaries (tests/vm/scale.sh): the smallest static program that exits 0. Each copy gets a
 * distinct trailing number, so each is its own fs-verity digest, signature and inode verdict. */
void _start(void)
{
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
}
