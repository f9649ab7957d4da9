package recorder

import (
	"reflect"
	"testing"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/syscalls"
)

func setBit(s *bpf.Target, abi bpf.ABI, nr int) {
	s.Syscalls[abi][nr/64] |= 1 << uint(nr%64)
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name           string
		native, compat syscalls.Arch
		bits           map[bpf.ABI][]int
		want           map[syscalls.Arch][]string
		unnamed        map[syscalls.Arch][]int
	}{
		{
			name:   "x86_64 native",
			native: syscalls.X86_64, compat: syscalls.X86,
			bits: map[bpf.ABI][]int{bpf.ABINative: {59, 0, 1, 231}},
			want: map[syscalls.Arch][]string{syscalls.X86_64: {"execve", "exit_group", "read", "write"}},
		},
		{
			// Number 1 is write for 64-bit tasks but exit for i386 ones: a
			// compat syscall is never named from the 64-bit table.
			name:   "i386 compat on x86_64",
			native: syscalls.X86_64, compat: syscalls.X86,
			bits: map[bpf.ABI][]int{bpf.ABINative: {1}, bpf.ABICompat: {1, 11, 252}},
			want: map[syscalls.Arch][]string{
				syscalls.X86_64: {"write"},
				syscalls.X86:    {"execve", "exit", "exit_group"},
			},
		},
		{
			name:   "x32 has no table",
			native: syscalls.X86_64, compat: syscalls.X86,
			bits:    map[bpf.ABI][]int{bpf.ABIX32: {0, 512}},
			want:    map[syscalls.Arch][]string{},
			unnamed: map[syscalls.Arch][]int{syscalls.X32: {0, 512}},
		},
		{
			name:   "number past the table",
			native: syscalls.X86_64, compat: syscalls.X86,
			bits:    map[bpf.ABI][]int{bpf.ABINative: {0, bpf.SyscallBits - 1}},
			want:    map[syscalls.Arch][]string{syscalls.X86_64: {"read"}},
			unnamed: map[syscalls.Arch][]int{syscalls.X86_64: {bpf.SyscallBits - 1}},
		},
		{
			name:   "aarch64 with 32-bit arm tasks",
			native: syscalls.AArch64, compat: syscalls.ARM,
			bits:    map[bpf.ABI][]int{bpf.ABINative: {221, 79}, bpf.ABICompat: {11}},
			want:    map[syscalls.Arch][]string{syscalls.AArch64: {"execve", "newfstatat"}},
			unnamed: map[syscalls.Arch][]int{syscalls.ARM: {11}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s bpf.Target
			for abi, nrs := range tc.bits {
				for _, nr := range nrs {
					setBit(&s, abi, nr)
				}
			}
			s.Tasks, s.Processes, s.LostTasks = 3, 2, 1
			rec := decode(&s, host{native: tc.native, compat: tc.compat})
			if !reflect.DeepEqual(rec.Syscalls, tc.want) {
				t.Errorf("syscalls: got %v, want %v", rec.Syscalls, tc.want)
			}
			if !reflect.DeepEqual(rec.Unnamed, tc.unnamed) {
				t.Errorf("unnamed: got %v, want %v", rec.Unnamed, tc.unnamed)
			}
			if rec.Tasks != 3 || rec.Processes != 2 || rec.Lost.Tasks != 1 || !rec.Lost.Any() {
				t.Errorf("counters: got %+v", rec)
			}
		})
	}
}
