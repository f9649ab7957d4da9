// A static i386 program for make test-kernels: it makes _llseek, which
// only the i386 syscall table names, so a profile recorded from it that
// names _llseek under SCMP_ARCH_X86 took its names from that table.
// Built with gcc -m32 -static.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

// i386's number; <sys/syscall.h> needs the asm headers that gcc-multilib
// links and gcc-12-multilib (which the cross compilers allow) does not.
#define NR_llseek 140

int main(void)
{
	long long off = 0;
	int fd = open("/proc/self/exe", O_RDONLY);
	if (fd < 0 || syscall(NR_llseek, fd, 0, 0, &off, SEEK_SET) != 0)
		return 1;
	printf("compat ok: pid %d, parent %d\n", getpid(), getppid());
	return 0;
}
