package syscalls_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/syscalls"
)

func TestKnownNumbers(t *testing.T) {
	for _, tc := range []struct {
		arch syscalls.Arch
		nr   int
		name string
	}{
		{syscalls.X86_64, 0, "read"},
		{syscalls.X86_64, 59, "execve"},
		{syscalls.X86_64, 262, "newfstatat"},
		{syscalls.X86, 1, "exit"},
		{syscalls.X86, 11, "execve"},
		{syscalls.X86, 140, "_llseek"},
		{syscalls.AArch64, 221, "execve"},
		{syscalls.AArch64, 79, "newfstatat"},
	} {
		if got, ok := syscalls.Name(tc.arch, tc.nr); !ok || got != tc.name {
			t.Errorf("Name(%s, %d): got %q, %v; want %q", tc.arch, tc.nr, got, ok, tc.name)
		}
		if got, ok := syscalls.Number(tc.arch, tc.name); !ok || got != tc.nr {
			t.Errorf("Number(%s, %q): got %d, %v; want %d", tc.arch, tc.name, got, ok, tc.nr)
		}
	}
	for _, tc := range []struct {
		arch syscalls.Arch
		nr   int
	}{{syscalls.X86_64, -1}, {syscalls.X86_64, 100000}, {syscalls.X32, 0}, {syscalls.ARM, 1}} {
		if got, ok := syscalls.Name(tc.arch, tc.nr); ok {
			t.Errorf("Name(%s, %d): got %q, want no name", tc.arch, tc.nr, got)
		}
	}
	if _, ok := syscalls.Number(syscalls.AArch64, "open"); ok {
		t.Errorf("aarch64 has no open syscall, but Number found one")
	}
}

func TestNamesSortedAndUnique(t *testing.T) {
	for _, a := range []syscalls.Arch{syscalls.X86_64, syscalls.X86, syscalls.AArch64} {
		names := syscalls.Names(a)
		if len(names) < 300 {
			t.Errorf("%s: only %d names", a, len(names))
		}
		for i := 1; i < len(names); i++ {
			if names[i-1] >= names[i] {
				t.Errorf("%s: names not sorted and unique at %q, %q", a, names[i-1], names[i])
			}
		}
	}
}

func TestABIs(t *testing.T) {
	if n, c, err := syscalls.ABIs("amd64"); err != nil || n != syscalls.X86_64 || c != syscalls.X86 {
		t.Errorf("amd64: got %s, %s, %v", n, c, err)
	}
	if n, c, err := syscalls.ABIs("arm64"); err != nil || n != syscalls.AArch64 || c != syscalls.ARM {
		t.Errorf("arm64: got %s, %s, %v", n, c, err)
	}
	if _, _, err := syscalls.ABIs("mips"); err == nil {
		t.Errorf("mips: got no error")
	}
}

// Every name that libseccomp knows must have libseccomp's number: runc
// and crun resolve profile names through libseccomp.
func TestNamesMatchLibseccomp(t *testing.T) {
	resolver := testenv.RequireTool(t, "scmp_sys_resolver")
	arches := map[syscalls.Arch]string{syscalls.X86_64: "x86_64", syscalls.X86: "x86", syscalls.AArch64: "aarch64"}
	for arch, scmp := range arches {
		known := 0
		for _, name := range syscalls.Names(arch) {
			out, err := exec.Command(resolver, "-a", scmp, name).Output()
			if err != nil {
				t.Fatalf("scmp_sys_resolver -a %s %s: %v", scmp, name, err)
			}
			nr, err := strconv.Atoi(strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatalf("scmp_sys_resolver -a %s %s: %q", scmp, name, out)
			}
			if nr < 0 {
				continue // newer than this libseccomp
			}
			known++
			if want, _ := syscalls.Number(arch, name); nr != want {
				t.Errorf("%s %s: libseccomp says %d, table says %d", arch, name, nr, want)
			}
		}
		if known < 300 {
			t.Errorf("%s: libseccomp knew only %d of the names", arch, known)
		}
	}
}
