// The trampoline that Exec re-executes sysrec into. It runs as an ELF
// constructor, before the Go runtime starts any thread, when
// SYSREC_ENFORCE_FD is set: it reads a compiled filter from that file
// descriptor, loads it, and execs the command, so the command's execve is
// the only syscall made under the filter before the command runs.
//
// When SYSREC_LOG_MARKER is set instead, it makes the kernel log one
// seccomp record, of a process whose comm is the variable's value, and
// exits (see LogMarker in exec.go).
//
// The descriptor holds a header (struct blob) and then the filter's
// instructions, as libseccomp's seccomp_export_bpf() writes them.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <stddef.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "trampoline.h"

extern char **environ;

static void fail(const char *step, int err)
{
	fprintf(stderr, "sysrec: %s: %s\n", step, strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

// read_full reads exactly n bytes.
static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? EIO : errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

// log_marker names the process comm, loads a filter that logs getppid
// and allows everything else, calls getppid, and exits: the record it
// leaves is a marker in the audit log's order.
static void log_marker(const char *comm)
{
	if (prctl(PR_SET_NAME, comm, 0, 0, 0))
		fail("naming the marker process", errno);
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof insns / sizeof insns[0], .filter = insns};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		fail("loading the marker filter", errno);
	syscall(SYS_getppid);
	_exit(0);
}

__attribute__((constructor)) static void sysrec_enforce(int argc, char **argv)
{
	const char *marker = getenv(SYSREC_LOG_MARKER);
	if (marker)
		log_marker(marker);
	const char *fdenv = getenv(SYSREC_ENFORCE_FD);
	if (!fdenv)
		return;
	int fd = atoi(fdenv);
	struct sysrec_blob hdr;
	int err = read_full(fd, &hdr, sizeof hdr);
	if (err)
		fail("reading the compiled filter", err);
	if (hdr.magic != SYSREC_BLOB_MAGIC || hdr.insns == 0 || hdr.insns > BPF_MAXINSNS || hdr.path_len == 0 || hdr.path_len > 4096)
		fail("reading the compiled filter", EINVAL);
	char *path = calloc(1, hdr.path_len + 1);
	struct sock_filter *insns = calloc(hdr.insns, sizeof *insns);
	if (!path || !insns)
		fail("reading the compiled filter", ENOMEM);
	if ((err = read_full(fd, path, hdr.path_len)) || (err = read_full(fd, insns, hdr.insns * sizeof *insns)))
		fail("reading the compiled filter", err);
	close(fd);
	unsetenv(SYSREC_ENFORCE_FD);
	(void)argc;

	if (hdr.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		fail("setting no_new_privs", errno);
	struct sock_fprog prog = {.len = (unsigned short)hdr.insns, .filter = insns};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, hdr.flags, &prog))
		fail("loading the seccomp filter", errno);
	execve(path, argv, environ);
	// The filter may deny this write too; the exit status still tells.
	fail(path, errno);
}
