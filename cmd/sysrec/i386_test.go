package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/syscalls"
)

// A static i386 program (gcc -m32 -static) is recorded with the names of
// the i386 table under SCMP_ARCH_X86, exactly the syscalls strace sees it
// make, and its profile, enforced by sysrec run, lets it run and denies
// the syscall it did not make while recorded. make test-kernels runs this
// on Debian's 6.1 kernel, with IA32 emulation, as well as here.
func TestRecordI386Program(t *testing.T) {
	testenv.RequireBPF(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the program is i386 code: only x86_64 kernels run it")
	}
	prog := testenv.I386Program(t)
	if err := exec.Command(prog).Run(); errors.Is(err, syscall.ENOEXEC) {
		t.Skipf("this kernel does not run i386 programs (no IA32 emulation): %v", err)
	} else if err != nil {
		t.Fatalf("running %s: %v", prog, err)
	}
	want := straceNames(t, prog)
	if !slices.Contains(want, "_llseek") {
		t.Fatalf("strace saw %v, want _llseek among them: is %s an i386 program?", want, prog)
	}

	dir := t.TempDir()
	profile := filepath.Join(dir, "i386.json")
	res := sysrec(t, "record", "--exact", "--args", "none", "-o", profile, "--", prog)
	if res.code != 0 {
		t.Fatalf("record: got exit %d, want 0\n%s", res.code, res.stderr)
	}
	p, _ := readProfile(t, profile)
	if got := p.Architectures; !slices.Contains(got, syscalls.X86) || !slices.Contains(got, syscalls.X86_64) {
		t.Errorf("got architectures %v, want %s (the program) and %s (its execve)", got, syscalls.X86, syscalls.X86_64)
	}
	// Names read from the 64-bit table would be other syscalls: i386's
	// 140 (_llseek) is x86_64's getpriority, 20 (getpid) its writev.
	if got := allowed(p); !slices.Equal(got, want) {
		t.Errorf("got syscalls %v, want strace's %v", got, want)
	}

	res = sysrec(t, "run", "--profile", profile, "--", prog)
	if res.code != 0 || !strings.HasPrefix(res.stdout, "compat ok") {
		t.Errorf("under its profile: got exit %d, stdout %q, stderr %q; want 0 and compat ok", res.code, res.stdout, res.stderr)
	}
	res = sysrec(t, "run", "--profile", profile, "--", prog, "sysinfo")
	if res.code != 3 || !strings.Contains(res.stdout, "sysinfo: Operation not permitted") {
		t.Errorf("sysinfo under a profile without it: got exit %d, stdout %q; want 3 and EPERM", res.code, res.stdout)
	}
	if !regexp.MustCompile(`(?m)^\s+sysinfo\s+` + regexp.QuoteMeta(string(syscalls.X86)) + `\s+errno\s`).MatchString(res.stderr) {
		t.Errorf("run's report does not name sysinfo under %s:\n%s", syscalls.X86, res.stderr)
	}
}

// straceLineName matches a syscall's entry in `strace -f` output and
// captures its name; resumed halves ("<... name resumed>") do not match.
var straceLineName = regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\(`)

// straceNames runs argv under strace -f and returns the sorted names of
// the syscalls it saw, each in the table of the personality that made it
// (strace switches tables when a process "runs in 32 bit mode").
func straceNames(t *testing.T, argv ...string) []string {
	t.Helper()
	strace := testenv.RequireTool(t, "strace")
	out := filepath.Join(t.TempDir(), "strace.out")
	cmd := exec.Command(strace, append([]string{"-f", "-qq", "-o", out, "--"}, argv...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace %v: %v\n%s", argv, err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := straceLineName.FindStringSubmatch(sc.Text()); m != nil {
			names = append(names, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
