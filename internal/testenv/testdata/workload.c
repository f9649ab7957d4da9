// A workload with a known set of syscalls, made from every kind of task
// that sysrec must follow: the main thread, a second thread, a forked
// child that execs, and a daemonized grandchild that outlives the main
// process. Each role makes a syscall that no other role makes, so a test
// can tell which roles were recorded.
//
// Modes:
//   workload            the whole tree; exits with status 3
//   workload exec       what the exec'd child runs
//   workload noise N    N rounds of syscalls the tree never makes
//   workload sleep      prints "ready PID", then sleeps until a signal arrives
//   workload wait       reads stdin to its end, then exits
//   workload loop N     N getppid calls: the benchmark's syscall microloop
//   workload threads T N  T threads making N getppid calls each
//   workload mmap N     N rounds of mmap, mprotect and munmap of one page:
//                       the benchmark's workload of captured arguments
//   workload filtered   loads a seccomp filter that denies mkdirat with
//                       EPERM, then calls mkdirat (denied) and getppid;
//                       exits 0 when mkdirat was denied
//   workload logged     loads a filter whose action for uname is
//                       SECCOMP_RET_LOG, calls uname and prints "pid PID"
//   workload args WORD...  makes, per WORD in order, a syscall that
//                       argument rules restrict, and prints "WORD: ok" or
//                       "WORD: <strerror>"; exits 1 at the first failure.
//                       Words: inet6 (AF_INET6 SOCK_STREAM), inet
//                       (AF_INET SOCK_DGRAM), unix (AF_UNIX SOCK_DGRAM),
//                       netlink (AF_NETLINK SOCK_RAW), unshare-uts,
//                       unshare-net, clone-net (the clone syscall with
//                       CLONE_NEWNET), thread (pthread_create: glibc tries
//                       clone3, then clone on ENOSYS), fork
//
// Every syscall it makes happens on every run: where glibc makes one only
// sometimes (futex in pthread_join), the workload makes it itself too, so
// runs under sysrec and under strace make the same set.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *thread_main(void *arg)
{
	struct utsname u;
	syscall(SYS_uname, &u); // thread marker
	return arg;
}

static void *getppid_loop(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return NULL;
}

static int threads(int count, long n)
{
	pthread_t th[256];
	if (count < 1 || count > 256)
		return 20;
	for (int i = 0; i < count; i++)
		if (pthread_create(&th[i], NULL, getppid_loop, (void *)n) != 0)
			return 21;
	for (int i = 0; i < count; i++)
		pthread_join(th[i], NULL);
	return 0;
}

static void noise(int rounds)
{
	char buf[256];
	for (int i = 0; i < rounds; i++) {
		syscall(SYS_sysinfo, buf);
		syscall(SYS_getpriority, 0, 0);
		syscall(SYS_times, buf);
	}
}

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

// load_filter makes nr return ret, and allows every other syscall.
static int load_filter(int nr, unsigned int ret)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, ret),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof code / sizeof code[0], code};
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

// filtered runs under a filter that denies mkdirat with EPERM.
static int filtered(void)
{
	if (load_filter(SYS_mkdirat, SECCOMP_RET_ERRNO | EPERM))
		return 20;
	long r = syscall(SYS_mkdirat, AT_FDCWD, "/nonexistent/sysrec", 0700);
	syscall(SYS_getppid); // allowed marker
	return r == -1 && errno == EPERM ? 0 : 21;
}

// logged runs under a filter that logs uname.
static int logged(void)
{
	if (load_filter(SYS_uname, SECCOMP_RET_LOG))
		return 20;
	struct utsname u;
	syscall(SYS_uname, &u);
	char msg[64];
	int n = snprintf(msg, sizeof msg, "pid %d\n", (int)getpid());
	write(1, msg, n);
	return 0;
}

// sock opens and closes a socket.
static int sock(int domain, int type, int protocol)
{
	int fd = socket(domain, type, protocol);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

// clone_flags forks through the clone syscall with flags and waits for
// the child.
static int clone_flags(unsigned long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	int status;
	return waitpid(pid, &status, 0) < 0 ? -1 : 0;
}

static int arg_word(const char *w)
{
	if (!strcmp(w, "inet6"))
		return sock(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!strcmp(w, "inet"))
		return sock(AF_INET, SOCK_DGRAM, 0);
	if (!strcmp(w, "unix"))
		return sock(AF_UNIX, SOCK_DGRAM, 0);
	if (!strcmp(w, "netlink"))
		return sock(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (!strcmp(w, "unshare-uts"))
		return unshare(CLONE_NEWUTS);
	if (!strcmp(w, "unshare-net"))
		return unshare(CLONE_NEWNET);
	if (!strcmp(w, "clone-net"))
		return clone_flags(CLONE_NEWNET);
	if (!strcmp(w, "thread")) {
		// pthread_join waits on a futex only if the thread still runs:
		// make the call every time, so every run records it.
		int word = 0;
		syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		pthread_t t;
		int err = pthread_create(&t, NULL, getppid_loop, (void *)1L);
		if (err) {
			errno = err;
			return -1;
		}
		return pthread_join(t, NULL) ? -1 : 0;
	}
	if (!strcmp(w, "fork")) {
		pid_t pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0)
			_exit(0);
		int status;
		return waitpid(pid, &status, 0) < 0 ? -1 : 0;
	}
	fprintf(stderr, "workload: unknown word %s\n", w);
	exit(2);
}

static int args(int n, char **words)
{
	for (int i = 0; i < n; i++) {
		if (arg_word(words[i]) < 0) {
			printf("%s: %s\n", words[i], strerror(errno));
			return 1;
		}
		printf("%s: ok\n", words[i]);
		fflush(stdout);
	}
	return 0;
}

// workload handler MS: installs a SIGUSR1 handler (sigaction, no
// SA_SIGINFO), prints "ready PID", sleeps MS milliseconds or until a
// signal, then prints "handled" or "timeout" and exits 0. The handler
// returns through rt_sigreturn only when a signal arrives.
//
// workload contend free|hold: a second thread takes and releases a
// mutex while the main thread sleeps 200 ms, then the main thread joins
// it and prints "contend: ok". With hold the main thread holds the mutex
// while it sleeps, so the thread waits in futex and the join most likely
// too; with free nothing collides and no futex call is made.
//
// cmd/sysrec/completion_test.go uses both.
static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	(void)sig;
	handled = 1;
}

static pthread_mutex_t contend_mu = PTHREAD_MUTEX_INITIALIZER;

static void *contend_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&contend_mu);
	pthread_mutex_unlock(&contend_mu);
	return NULL;
}

static int contend(int hold)
{
	struct timespec ts = {0, 200 * 1000 * 1000};
	pthread_t t;
	if (hold)
		pthread_mutex_lock(&contend_mu);
	if (pthread_create(&t, NULL, contend_worker, NULL) != 0)
		return 1;
	nanosleep(&ts, NULL);
	if (hold)
		pthread_mutex_unlock(&contend_mu);
	if (pthread_join(t, NULL) != 0)
		return 1;
	printf("contend: ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "args") == 0)
		return args(argc - 2, argv + 2);
	if (argc > 1 && strcmp(argv[1], "filtered") == 0)
		return filtered();
	if (argc > 1 && strcmp(argv[1], "logged") == 0)
		return logged();
	if (argc > 1 && strcmp(argv[1], "exec") == 0) {
		char cwd[4096];
		syscall(SYS_getcwd, cwd, sizeof cwd); // exec marker
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "noise") == 0) {
		noise(atoi(argv[2]));
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "wait") == 0) {
		char buf[64];
		while (read(0, buf, sizeof buf) > 0)
			;
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "mmap") == 0) {
		long n = atol(argv[2]);
		for (long i = 0; i < n; i++) {
			void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				return 1;
			mprotect(p, 4096, PROT_READ | PROT_WRITE);
			munmap(p, 4096);
		}
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "loop") == 0) {
		getppid_loop((void *)atol(argv[2]));
		return 0;
	}
	if (argc > 3 && strcmp(argv[1], "threads") == 0)
		return threads(atoi(argv[2]), atol(argv[3]));
	if (argc > 2 && strcmp(argv[1], "handler") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1;
		if (sigaction(SIGUSR1, &sa, NULL) != 0)
			return 1;
		char msg[64];
		int n = snprintf(msg, sizeof msg, "ready %d\n", (int)getpid());
		write(1, msg, n);
		long ms = atol(argv[2]);
		struct timespec ts = {ms / 1000, ms % 1000 * 1000 * 1000};
		nanosleep(&ts, NULL); // a signal ends it early, with EINTR
		write(1, handled ? "handled\n" : "timeout\n", 8);
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "contend") == 0)
		return contend(strcmp(argv[2], "hold") == 0);
	if (argc > 1 && strcmp(argv[1], "sleep") == 0) {
		char msg[64];
		int n = snprintf(msg, sizeof msg, "ready %d\n", (int)getpid());
		write(1, msg, n);
		for (;;)
			pause();
	}

	pthread_t th;
	if (pthread_create(&th, NULL, thread_main, NULL) != 0)
		return 10;
	pthread_join(th, NULL);
	int word = 0;
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);

	pid_t child = fork();
	if (child < 0)
		return 11;
	if (child == 0) {
		syscall(SYS_umask, 022); // fork marker
		char *args[] = {argv[0], "exec", NULL};
		execv("/proc/self/exe", args);
		_exit(12);
	}
	int status;
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 13;

	pid_t mid = fork();
	if (mid < 0)
		return 14;
	if (mid == 0) {
		setsid();
		pid_t daemon = fork();
		if (daemon == 0) {
			// Outlive the main process, then leave a marker.
			struct timespec ts = {0, 300 * 1000 * 1000};
			syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
			struct statfs sfs;
			syscall(SYS_statfs, "/", &sfs); // daemon marker
			_exit(0);
		}
		_exit(daemon < 0 ? 15 : 0);
	}
	if (waitpid(mid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 16;
	return 3;
}
