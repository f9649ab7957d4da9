package profiles

import (
	"slices"

	"github.com/sysrec/sysrec/syscalls"
)

// DefaultCaps is the capability set that containerd, CRI-O and Docker give
// a container by default (containerd's oci.defaultUnixCaps, Docker's
// oci/caps.DefaultCapabilities). containerd's default profile depends on
// it; Evaluate takes the set per query.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// RuncSyscalls are the syscalls that runc's init process makes after it
// has loaded a container's seccomp filter and before it execs the
// entrypoint, so every container profile must allow them: without them
// the container does not start ("error closing exec fds: ensure
// /proc/self/fd is on procfs: operation not permitted"). A recording never
// sees them, because it starts at the entrypoint's execve.
//
// Measured with runc 1.1.5 under containerd and CRI-O (make test's
// runtimes): a Localhost profile of defaultAction SCMP_ACT_LOG and no
// rules, then the kernel's type=1326 records of comm "runc:[2:INIT]". The
// Go runtime calls at the end (futex, nanosleep, ...) are made by runc's
// runtime threads when they happen to run in that window.
var RuncSyscalls = []string{
	"capget", "capset", "chdir", "close", "epoll_ctl", "execve", "faccessat2",
	"fcntl", "fstat", "fstatfs", "getcwd", "getdents64", "getpid", "getppid",
	"newfstatat", "openat", "prctl", "read", "setgid", "setgroups", "setuid", "write",
	"futex", "nanosleep", "sched_yield", "rt_sigreturn", "rt_sigprocmask",
	"sigaltstack", "tgkill", "gettid", "epoll_pwait", "mmap", "munmap", "madvise",
}

// CrunSyscalls are the syscalls that crun makes after it has loaded a
// container's seccomp filter, up to and including the entrypoint's execve:
// it loads the filter before it syncs with its parent and drops
// privileges.
//
// Measured with crun 1.8.1 under containerd (make test's runtimes, handler
// "crun"), the way RuncSyscalls was.
var CrunSyscalls = []string{
	"close", "prctl", "setresgid", "setresuid", "capset", "rt_sigprocmask",
	"rt_sigaction", "write", "pselect6", "read", "execve",
}

// OCIRuntimeSyscalls is what every container profile must allow so that
// runc and crun alike can start the container: the union of RuncSyscalls
// and CrunSyscalls, since a profile recorded on one node may be deployed
// where the other runtime runs.
var OCIRuntimeSyscalls = union(RuncSyscalls, CrunSyscalls)

func union(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, n := range l {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// WithSyscalls returns recorded with names added to every architecture in
// it, where that architecture has a syscall of that name.
func WithSyscalls(recorded map[syscalls.Arch][]string, names []string) map[syscalls.Arch][]string {
	out := map[syscalls.Arch][]string{}
	for arch, list := range recorded {
		out[arch] = append([]string(nil), list...)
		for _, n := range names {
			if _, ok := syscalls.Number(arch, n); ok {
				out[arch] = append(out[arch], n)
			}
		}
	}
	return out
}
