// A static i386 program for the CLI's TestRecordI386Program and make
// test-kernels (testenv.I386Program builds it): it makes _llseek, which
// only the i386 syscall table names, so a profile recorded from it that
// names _llseek under SCMP_ARCH_X86 took its names from that table. With
// the argument "sysinfo" it also makes sysinfo, which a profile recorded
// without it must deny: it prints the outcome and exits 3 when sysinfo
// failed. Built with gcc -m32 -static.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// i386's numbers; <sys/syscall.h> needs the asm headers that gcc-multilib
// links and gcc-12-multilib (which the cross compilers allow) does not.
#define NR_llseek 140
#define NR_sysinfo 116
// <errno.h> needs those headers too; glibc keeps errno here.
extern int *__errno_location(void);

int main(int argc, char **argv)
{
	long long off = 0;
	int fd = open("/proc/self/exe", O_RDONLY);
	if (fd < 0 || syscall(NR_llseek, fd, 0, 0, &off, SEEK_SET) != 0)
		return 1;
	printf("compat ok: pid %d, parent %d\n", getpid(), getppid());
	if (argc > 1 && strcmp(argv[1], "sysinfo") == 0) {
		char info[64]; // struct sysinfo is 64 bytes on i386
		if (syscall(NR_sysinfo, info) != 0) {
			printf("sysinfo: %s\n", strerror(*__errno_location()));
			return 3;
		}
		printf("sysinfo: ok\n");
	}
	return 0;
}
