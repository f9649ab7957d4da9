package profiles

import (
	"slices"

	"github.com/sysrec/sysrec/syscalls"
)

// Rare-path completion. A recording sees only the paths that the workload
// took; some syscalls are made only on paths that the kernel, the C
// library or the language runtime take rarely, implied by what was
// recorded: a sleep interrupted by a pause, a signal handler's return, a
// contended lock. A profile without them breaks the workload the first
// time such a path is taken. Complete lists them, each with the reason
// that a rule's comment and `sysrec explain` give.

// Completion is a set of syscalls that a recording implies but may lack,
// and why.
type Completion struct {
	// Names are the syscalls to add, sorted: only those that exist on
	// some recorded architecture and that were not recorded.
	Names []string
	// Reason says why, starting with the names ("restart_syscall: ...").
	Reason string
}

// CompletionPrefix starts the comment of a rule that completion added;
// the reason follows.
const CompletionPrefix = "completion: "

// completionRule is one rule of the catalogue: when the recording holds
// any of the names in if_ (on any architecture), and clone or clone3 if
// threads, add add, for reason. An empty if_ means always.
type completionRule struct {
	add     []string
	if_     []string
	threads bool
	x86     []string // added as well where the architecture is SCMP_ARCH_X86
	reason  string
}

// completions is the catalogue, in the order Complete returns it. The
// reasons name their sources.
var completions = []completionRule{
	{
		add: []string{"restart_syscall"},
		reason: "restart_syscall: the kernel restarts a sleep or wait interrupted by SIGSTOP or a cgroup freeze " +
			"(docker pause, ctr task pause, CRI-O's pause) through it, and seccomp filters it like any other syscall " +
			"(nanosleep, clock_nanosleep, poll, futex: kernel/time/hrtimer.c, restart_block); Docker's default profile allows it (moby#21104)",
	},
	{
		add: []string{"exit_group"},
		reason: "exit_group: every process ends through it (glibc's _exit, the Go runtime's exit); a recording that stopped " +
			"before the workload exited lacks it, and without it the process loops in its exit path (moby#40205, kubernetes#85191)",
	},
	{
		add: []string{"rt_sigreturn"},
		if_: []string{"rt_sigaction", "sigaction", "signal"},
		x86: []string{"sigreturn"},
		reason: "rt_sigreturn: a signal handler was installed (rt_sigaction), and a handler returns through rt_sigreturn, " +
			"which the recording holds only if a signal arrived while it ran; on i386 a handler without SA_SIGINFO returns " +
			"through sigreturn (glibc sysdeps/unix/sysv/linux/i386/libc_sigaction.c, the vDSO's __kernel_sigreturn)",
	},
	{
		add: []string{"futex"},
		if_: []string{"clone", "clone3"},
		reason: "futex: threads ran (clone), and a thread waits in futex only when it finds a lock, condition or join " +
			"taken by another (glibc's lowlevellock and pthread_join, the Go runtime's lock_futex.go), which timing decides: " +
			"a threaded program recorded six times had futex in five",
	},
	{
		add: []string{"exit", "madvise"},
		if_: []string{"clone", "clone3"},
		reason: "exit, madvise: threads ran (clone), and a thread that returns ends through exit after glibc releases its " +
			"stack with madvise(MADV_DONTNEED) (nptl start_thread, advise_stack_range; the Go runtime's exitThread): " +
			"a thread still running when the process ended made neither",
	},
	{
		add:     []string{"sched_yield", "tgkill", "getpid"},
		if_:     []string{"sigaltstack"},
		threads: true,
		reason: "sched_yield, tgkill, getpid: threads ran with a signal stack (clone, sigaltstack), as the Go runtime's do: " +
			"it yields with sched_yield on a contended runtime lock (runtime/lock_spinbit.go osyield) and preempts a busy " +
			"goroutine by sending its thread SIGURG with tgkill(getpid(), tid) (runtime/os_linux.go signalM), both only " +
			"when timing makes them",
	},
}

// Complete returns what recorded implies but lacks: for each reason that
// applies, the names to add, in the catalogue's order. A name is added
// only where it exists on a recorded architecture with a syscall table
// (syscalls.Known), and not when it was recorded on any architecture
// (profiles allow names on every architecture they list).
func Complete(recorded map[syscalls.Arch][]string) []Completion {
	have := map[string]bool{}
	var arches []syscalls.Arch
	for arch, names := range recorded {
		if len(names) == 0 {
			continue
		}
		arches = append(arches, arch)
		for _, n := range names {
			have[n] = true
		}
	}
	slices.Sort(arches)
	threads := have["clone"] || have["clone3"]
	var out []Completion
	added := map[string]bool{}
	for i := range completions {
		c := &completions[i]
		if c.threads && !threads {
			continue
		}
		if len(c.if_) > 0 && !slices.ContainsFunc(c.if_, func(n string) bool { return have[n] }) {
			continue
		}
		var names []string
		for _, arch := range arches {
			want := c.add
			if arch == syscalls.X86 {
				want = append(slices.Clone(want), c.x86...)
			}
			for _, n := range want {
				if _, ok := syscalls.Number(arch, n); ok && !have[n] && !added[n] {
					added[n] = true
					names = append(names, n)
				}
			}
		}
		if len(names) == 0 {
			continue
		}
		slices.Sort(names)
		out = append(out, Completion{Names: names, Reason: c.reason})
	}
	return out
}
