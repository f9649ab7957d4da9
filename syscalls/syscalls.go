// Package syscalls names Linux system calls per architecture, using the
// libseccomp architecture names that seccomp profiles carry
// (SCMP_ARCH_X86_64, ...). The tables in zsyscalls.go are generated from
// golang.org/x/sys/unix by scripts/gensyscalls; `make generate` rebuilds them.
//
// A syscall number means nothing without its ABI: on x86_64, number 3 is
// close for 64-bit tasks and read for 32-bit (i386) ones. Every lookup
// therefore takes an Arch.
package syscalls

//go:generate go run ../scripts/gensyscalls -o zsyscalls.go

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// Arch is a seccomp architecture, spelled as libseccomp and the profile
// JSON spell it.
type Arch string

// Architectures with a syscall table.
const (
	X86_64  Arch = "SCMP_ARCH_X86_64"
	X86     Arch = "SCMP_ARCH_X86"
	AArch64 Arch = "SCMP_ARCH_AARCH64"
)

// Architectures that sysrec can see but has no table for.
const (
	X32 Arch = "SCMP_ARCH_X32"
	ARM Arch = "SCMP_ARCH_ARM"
)

func table(a Arch) []string {
	switch a {
	case X86_64:
		return x86_64Names[:]
	case X86:
		return x86Names[:]
	case AArch64:
		return aarch64Names[:]
	}
	return nil
}

// Known reports whether a has a syscall table.
func Known(a Arch) bool { return table(a) != nil }

// Name returns the name of syscall nr on a, and false when a has no table
// or the table has no such number.
func Name(a Arch, nr int) (string, bool) {
	t := table(a)
	if nr < 0 || nr >= len(t) || t[nr] == "" {
		return "", false
	}
	return t[nr], true
}

// Number returns the number of the syscall called name on a.
func Number(a Arch, name string) (int, bool) {
	nrs := numbers()[a]
	nr, ok := nrs[name]
	return nr, ok
}

// Names returns every syscall name of a, sorted.
func Names(a Arch) []string {
	var out []string
	for _, n := range table(a) {
		if n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// numbers indexes the tables by name, once.
var numbers = sync.OnceValue(func() map[Arch]map[string]int {
	m := map[Arch]map[string]int{}
	for _, a := range []Arch{X86_64, X86, AArch64} {
		m[a] = map[string]int{}
		for nr, n := range table(a) {
			if n != "" {
				m[a][n] = nr
			}
		}
	}
	return m
})

// ABIs returns the native and compat architectures of a Go GOARCH: the
// ABIs that tasks on such a kernel can make syscalls in.
func ABIs(goarch string) (native, compat Arch, err error) {
	switch goarch {
	case "amd64":
		return X86_64, X86, nil
	case "arm64":
		return AArch64, ARM, nil
	}
	return "", "", fmt.Errorf("unsupported architecture %q: sysrec supports amd64 and arm64", goarch)
}

// Host returns the ABIs of the machine sysrec runs on.
func Host() (native, compat Arch, err error) { return ABIs(runtime.GOARCH) }
