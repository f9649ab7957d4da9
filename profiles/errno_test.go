package profiles

import (
	"strings"
	"syscall"
	"testing"
)

// Every errno that the syscall package describes has a name, and the names
// resolve to the kernel's numbers.
func TestErrnoNames(t *testing.T) {
	named := map[syscall.Errno]bool{}
	for _, e := range errnoNames {
		named[e] = true
	}
	for e := syscall.Errno(1); e < 4096; e++ {
		if !strings.HasPrefix(e.Error(), "errno ") && !named[e] {
			t.Errorf("errno %d (%v) has no name", e, e)
		}
	}
	for name, want := range map[string]uint{
		"EPERM": 1, "EAGAIN": 11, "EWOULDBLOCK": 11, "EDEADLOCK": 35, "ENOSYS": 38,
		"ENOTSUP": 95, "EOPNOTSUPP": 95, "EUCLEAN": 117, "EFSCORRUPTED": 117, "EHWPOISON": 133, "42": 42,
	} {
		if got, ok := errnoName(name); !ok || got != want {
			t.Errorf("errnoName(%q): got %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "eperm", "EPERMX", "65536", "-1"} {
		if got, ok := errnoName(name); ok {
			t.Errorf("errnoName(%q): got %d, want no errno", name, got)
		}
	}
}
