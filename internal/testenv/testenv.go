// Package testenv gives sysrec's tests what they share: the gate for
// tests that need root and eBPF, a workload with a known syscall set, and
// strace as the reference to compare recordings with.
//
// Tests that need the real environment skip when it is missing, unless
// SYSREC_REQUIRE_BPF=1 (as CI sets it): then a skip is a failure, so a
// green run proves the real programs ran.
package testenv

import (
	"crypto/sha256"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysrec/sysrec/syscalls"
)

// Required reports whether missing environment must fail tests.
func Required() bool { return os.Getenv("SYSREC_REQUIRE_BPF") == "1" }

// Skip skips t, or fails it when the environment is required.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("SYSREC_REQUIRE_BPF=1 but %s", msg)
	}
	t.Skip(msg)
}

// RequireRoot skips t unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "the test needs root")
	}
}

// RequireBPF skips t unless it runs as root on a kernel with BTF.
func RequireBPF(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "the test needs root to load eBPF programs")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		Skip(t, "the kernel has no BTF: %v", err)
	}
}

// RequireTool returns the path of an external program, or skips t.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, "%s is not installed (scripts/install-deps.sh installs it)", name)
	}
	return p
}

//go:embed testdata/workload.c
var workloadSource []byte

//go:embed testdata/i386.c
var i386Source []byte

// program is a C test program, built with gcc once per source version and
// kept in the temporary directory, so test binaries share it.
type program struct {
	name  string
	src   []byte
	flags []string

	once sync.Once
	path string
	err  error
}

var (
	workload = &program{name: "workload", src: workloadSource, flags: []string{"-static", "-O2", "-pthread"}}
	i386     = &program{name: "i386", src: i386Source, flags: []string{"-m32", "-static", "-O2"}}
)

// Workload returns the path of the compiled testdata/workload.c. It is
// built with gcc -static once per source version and kept in the temporary
// directory, so test binaries share it.
func Workload(t testing.TB) string {
	t.Helper()
	return workload.get(t)
}

// WorkloadPath is where Workload keeps the binary built from the current
// source. A host without gcc can be handed one built elsewhere there.
func WorkloadPath() string { return workload.cachePath() }

// BuildWorkload compiles testdata/workload.c with gcc, unless a binary of
// the current source is already at WorkloadPath, and returns its path.
func BuildWorkload(gcc string) (string, error) { return workload.build(gcc) }

// I386Program returns the path of testdata/i386.c built with
// gcc -m32 -static (gcc-12-multilib): a static i386 program that makes
// _llseek, and sysinfo when its argument is "sysinfo". It skips t where
// gcc cannot build i386 programs (a failure under SYSREC_REQUIRE_BPF=1).
func I386Program(t testing.TB) string {
	t.Helper()
	return i386.get(t)
}

// I386ProgramPath is where I386Program keeps the binary built from the
// current source; make test-kernels puts one there in its guests.
func I386ProgramPath() string { return i386.cachePath() }

func (p *program) get(t testing.TB) string {
	t.Helper()
	gcc := "gcc"
	if _, err := os.Stat(p.cachePath()); err != nil {
		gcc = RequireTool(t, "gcc")
	}
	p.once.Do(func() { p.path, p.err = p.build(gcc) })
	if p.err != nil {
		if p == i386 {
			Skip(t, "gcc cannot build an i386 program (scripts/install-deps.sh test installs gcc-12-multilib): %v", p.err)
		}
		t.Fatal(p.err)
	}
	return p.path
}

func (p *program) cachePath() string {
	sum := sha256.Sum256(p.src)
	return filepath.Join(os.TempDir(), fmt.Sprintf("sysrec-%s-%x", p.name, sum[:6]), p.name)
}

func (p *program) build(gcc string) (string, error) {
	bin := p.cachePath()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	// Readable and executable by anyone, for tests that drop root.
	dir := filepath.Dir(bin)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, p.name+".c")
	if err := os.WriteFile(src, p.src, 0o644); err != nil {
		return "", err
	}
	args := append(slices.Clone(p.flags), "-o", filepath.Join(tmp, p.name), src)
	out, err := exec.Command(gcc, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gcc %s %s.c: %v\n%s", strings.Join(p.flags, " "), p.name, err, out)
	}
	// Test binaries of several packages may race here: rename is atomic.
	if err := os.Rename(filepath.Join(tmp, p.name), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// straceLine matches the entry of a syscall in `strace -f -n` output:
// "PID  [ NR] name(". Resumed halves ("<... name resumed>") do not match.
var straceLine = regexp.MustCompile(`^\d+\s+\[\s*(\d+)\]\s+[a-z0-9_]+\(`)

// Strace runs argv under `strace -f` and returns the numbers of the
// syscalls it saw (native ABI), from the first execve on. The command's
// stdout is /dev/null.
func Strace(t testing.TB, argv ...string) map[int]bool {
	t.Helper()
	return StraceTo(t, nil, argv...)
}

// StraceTo is Strace with the command's stdout going to stdout: what a
// program calls can depend on it (stdio asks a character device whether
// it is a terminal).
func StraceTo(t testing.TB, stdout *os.File, argv ...string) map[int]bool {
	t.Helper()
	strace := RequireTool(t, "strace")
	out := filepath.Join(t.TempDir(), "strace.out")
	args := append([]string{"-f", "-qq", "-n", "-o", out, "--"}, argv...)
	cmd := exec.Command(strace, args...)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	// The command's own exit status is not strace's business here.
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("strace: %v", err)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	nrs := map[int]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := straceLine.FindStringSubmatch(line); m != nil {
			nr, _ := strconv.Atoi(m[1])
			nrs[nr] = true
		}
	}
	if len(nrs) == 0 {
		t.Fatalf("strace saw no syscalls for %v", argv)
	}
	return nrs
}

// MatchStrace fails t unless names, recorded for the host's native ABI,
// are exactly the syscalls that strace saw (from Strace): none missing,
// none extra.
func MatchStrace(t testing.TB, names []string, strace map[int]bool) {
	t.Helper()
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for _, n := range names {
		nr, ok := syscalls.Number(native, n)
		if !ok {
			t.Fatalf("recorded syscall %q has no number on %s", n, native)
		}
		got[nr] = true
	}
	var missing, extra []string
	for nr := range strace {
		if !got[nr] {
			missing = append(missing, nameOf(native, nr))
		}
	}
	for nr := range got {
		if !strace[nr] {
			extra = append(extra, nameOf(native, nr))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("recorded set differs from strace -f: missing %v, extra %v (got %d syscalls, strace saw %d)",
			missing, extra, len(got), len(strace))
	}
}

func nameOf(a syscalls.Arch, nr int) string {
	if n, ok := syscalls.Name(a, nr); ok {
		return n
	}
	return "#" + strconv.Itoa(nr)
}

// WaitKernelLogBudget sleeps through printk's rate-limit window
// (/proc/sys/kernel/printk_ratelimit seconds), so that the kernel log
// takes the next few audit records in full however many earlier tests
// produced: past 10 records in a window it drops them. Tests that read
// seccomp records back from the kernel log call it before they make some.
func WaitKernelLogBudget(t testing.TB) {
	t.Helper()
	secs := 5
	if data, err := os.ReadFile("/proc/sys/kernel/printk_ratelimit"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			secs = n
		}
	}
	time.Sleep(time.Duration(secs)*time.Second + 200*time.Millisecond)
}

// RunLogged runs the workload in its "logged" mode, under a seccomp filter
// whose action for uname is SECCOMP_RET_LOG, and returns its pid: the
// kernel then has one audit record of that pid's uname.
func RunLogged(t testing.TB) int {
	t.Helper()
	out, err := exec.Command(Workload(t), "logged").Output()
	if err != nil {
		t.Fatalf("workload logged: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(out), "pid ")))
	if err != nil {
		t.Fatalf("workload logged printed %q", out)
	}
	return pid
}

// LogUntilSeen makes a seccomp audit record with RunLogged, after waiting
// out the kernel log's rate-limit window (WaitKernelLogBudget), until seen
// reports that the record of that pid was read back. It tries four times,
// because the tests of other packages, which go test runs at the same
// time, can use up a window's budget too. It returns the pid.
func LogUntilSeen(t testing.TB, seen func(pid int) bool) int {
	t.Helper()
	for try := 1; ; try++ {
		WaitKernelLogBudget(t)
		pid := RunLogged(t)
		if seen(pid) {
			return pid
		}
		if try == 4 {
			t.Fatalf("the kernel log never showed the record of pid %d in %d tries: its rate limit dropped it each time", pid, try)
		}
		t.Logf("the record of pid %d was not in the kernel log (rate-limited); trying again", pid)
	}
}
