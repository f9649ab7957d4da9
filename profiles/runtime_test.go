package profiles

import (
	"slices"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

func TestOCIRuntimeSyscalls(t *testing.T) {
	for _, n := range append(slices.Clone(RuncSyscalls), CrunSyscalls...) {
		if !slices.Contains(OCIRuntimeSyscalls, n) {
			t.Errorf("OCIRuntimeSyscalls lacks %q", n)
		}
		if _, ok := syscalls.Number(syscalls.X86_64, n); !ok {
			t.Errorf("%q is not an x86_64 syscall", n)
		}
	}
	sorted := slices.Sorted(slices.Values(OCIRuntimeSyscalls))
	if len(slices.Compact(sorted)) != len(OCIRuntimeSyscalls) {
		t.Errorf("OCIRuntimeSyscalls has duplicates: %v", OCIRuntimeSyscalls)
	}
}
