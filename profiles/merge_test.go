package profiles

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

func uintp(v uint) *uint { return &v }

func TestMerge(t *testing.T) {
	a := &Profile{
		DefaultAction: ActErrno,
		Architectures: []syscalls.Arch{syscalls.X86_64},
		Syscalls: []Syscall{
			{Names: []string{"write", "read", "openat"}, Action: ActAllow},
			{Names: []string{"personality"}, Action: ActAllow, Args: []Arg{{Index: 0, Value: 8, Op: "SCMP_CMP_EQ"}}, Comment: "linux32"},
		},
	}
	b := &Profile{
		DefaultAction: ActErrno,
		Architectures: []syscalls.Arch{syscalls.X86, syscalls.X86_64},
		Syscalls: []Syscall{
			{Names: []string{"close", "read"}, Action: ActAllow},
			{Names: []string{"personality"}, Action: ActAllow, Args: []Arg{{Index: 0, Value: 0, Op: "SCMP_CMP_EQ"}}},
			{Names: []string{"uname"}, Action: ActAllow, Args: []Arg{{Index: 0, Value: 8, Op: "SCMP_CMP_EQ"}}, Comment: "other"},
			{Names: []string{"ptrace"}, Action: ActErrno, ErrnoRet: uintp(38)},
		},
	}
	got, err := Merge([]*Profile{a, b}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Profile{
		DefaultAction: ActErrno,
		Architectures: []syscalls.Arch{syscalls.X86, syscalls.X86_64},
		Syscalls: []Syscall{
			{Names: []string{"close", "openat", "read", "write"}, Action: ActAllow},
			{Names: []string{"personality"}, Action: ActAllow, Args: []Arg{{Index: 0, Value: 0, Op: "SCMP_CMP_EQ"}}},
			{Names: []string{"personality", "uname"}, Action: ActAllow, Args: []Arg{{Index: 0, Value: 8, Op: "SCMP_CMP_EQ"}}, Comment: "linux32; other"},
			{Names: []string{"ptrace"}, Action: ActErrno, ErrnoRet: uintp(38)},
		},
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := Marshal(got)
		wb, _ := Marshal(want)
		t.Errorf("got\n%s\nwant\n%s", gb, wb)
	}
}

// The merged bytes do not depend on the order of the inputs.
func TestMergeIsDeterministic(t *testing.T) {
	ps := []*Profile{
		{DefaultAction: ActLog, Architectures: []syscalls.Arch{syscalls.AArch64}, Syscalls: []Syscall{{Names: []string{"b", "a"}, Action: ActAllow}}},
		{DefaultAction: ActLog, Architectures: []syscalls.Arch{syscalls.X86_64}, Syscalls: []Syscall{{Names: []string{"c"}, Action: ActAllow}, {Names: []string{"z"}, Action: ActTrap}}},
		{DefaultAction: ActLog, Syscalls: []Syscall{{Names: []string{"y"}, Action: ActErrno, ErrnoRet: uintp(1)}, {Names: []string{"a"}, Action: ActAllow}}},
	}
	var first []byte
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {1, 0, 2}} {
		in := []*Profile{ps[order[0]], ps[order[1]], ps[order[2]]}
		m, err := Merge(in, "")
		if err != nil {
			t.Fatal(err)
		}
		data, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = data
		} else if !bytes.Equal(first, data) {
			t.Errorf("order %v gives\n%s\nwant\n%s", order, data, first)
		}
	}
}

func TestMergeConflicts(t *testing.T) {
	errno := &Profile{DefaultAction: ActErrno, Syscalls: []Syscall{{Names: []string{"read"}, Action: ActAllow}}}
	log := &Profile{DefaultAction: ActLog, Syscalls: []Syscall{{Names: []string{"write"}, Action: ActAllow}}}
	enosys := &Profile{DefaultAction: ActErrno, DefaultErrnoRet: uintp(38)}
	for _, tc := range []struct {
		name       string
		in         []*Profile
		action     Action
		field      string
		values     []string
		wantAction Action
		wantErrno  *uint
	}{
		{name: "actions differ", in: []*Profile{errno, log}, field: "defaultAction", values: []string{"SCMP_ACT_ERRNO", "SCMP_ACT_LOG"}},
		{name: "errnos differ", in: []*Profile{errno, enosys}, field: "defaultErrnoRet", values: []string{"", "38"}},
		{name: "action settles actions", in: []*Profile{errno, log}, action: ActKillProcess, wantAction: ActKillProcess},
		{name: "action settles errnos", in: []*Profile{enosys, errno}, action: ActErrno, wantAction: ActErrno},
		{name: "agreeing errno is kept", in: []*Profile{enosys, enosys}, action: ActErrno, wantAction: ActErrno, wantErrno: uintp(38)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(tc.in, tc.action)
			if tc.field != "" {
				var ce *ConflictError
				if !errors.As(err, &ce) || ce.Field != tc.field || !reflect.DeepEqual(ce.Values, tc.values) {
					t.Fatalf("got %v (%#v), want a conflict on %s with %q", err, ce, tc.field, tc.values)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DefaultAction != tc.wantAction || !reflect.DeepEqual(got.DefaultErrnoRet, tc.wantErrno) {
				t.Errorf("got %s/%v, want %s/%v", got.DefaultAction, got.DefaultErrnoRet, tc.wantAction, tc.wantErrno)
			}
		})
	}
}

func TestMergeErrors(t *testing.T) {
	if _, err := Merge(nil, ""); err == nil {
		t.Error("merging nothing: got no error")
	}
	if _, err := Merge([]*Profile{{DefaultAction: ActErrno}}, "bogus"); err == nil {
		t.Error("bogus default action: got no error")
	}
}

func TestMergeProfileFields(t *testing.T) {
	a := &Profile{
		DefaultAction: ActErrno,
		ArchMap:       []ArchMap{{Arch: syscalls.X86_64, SubArches: []syscalls.Arch{syscalls.X86}}},
		Flags:         []Flag{FlagLog},
		Syscalls:      []Syscall{{Name: "read", Names: []string{"write"}, Action: ActAllow}},
	}
	b := &Profile{
		DefaultAction: ActErrno,
		ArchMap:       []ArchMap{{Arch: syscalls.X86_64, SubArches: []syscalls.Arch{syscalls.X32}}, {Arch: syscalls.AArch64, SubArches: []syscalls.Arch{syscalls.ARM}}},
		Flags:         []Flag{FlagSpecAllow, FlagLog},
		Syscalls:      []Syscall{{Names: []string{"close"}, Action: ActAllow}},
	}
	got, err := Merge([]*Profile{a, b}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Profile{
		DefaultAction: ActErrno,
		ArchMap: []ArchMap{
			{Arch: syscalls.AArch64, SubArches: []syscalls.Arch{syscalls.ARM}},
			{Arch: syscalls.X86_64, SubArches: []syscalls.Arch{syscalls.X32, syscalls.X86}},
		},
		Flags:    []Flag{FlagLog, FlagSpecAllow},
		Syscalls: []Syscall{{Names: []string{"close", "read", "write"}, Action: ActAllow}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	c := &Profile{DefaultAction: ActErrno, ListenerPath: "/run/agent.sock"}
	var ce *ConflictError
	if _, err := Merge([]*Profile{a, c}, ActErrno); !errors.As(err, &ce) || ce.Field != "listenerPath" {
		t.Errorf("listener paths differ: got %v, want a conflict on listenerPath", err)
	}
}

func TestMergeErrnoNames(t *testing.T) {
	named := &Profile{DefaultAction: ActErrno, DefaultErrno: "ENOSYS", DefaultErrnoRet: uintp(1)}
	got, err := Merge([]*Profile{named, named}, "")
	if err != nil || got.DefaultErrno != "ENOSYS" || got.DefaultErrnoRet != nil {
		t.Errorf("got %+v, %v; want defaultErrno ENOSYS alone", got, err)
	}
	var ce *ConflictError
	numeric := &Profile{DefaultAction: ActErrno, DefaultErrnoRet: uintp(1)}
	if _, err := Merge([]*Profile{named, numeric}, ""); !errors.As(err, &ce) || !reflect.DeepEqual(ce.Values, []string{"ENOSYS", "1"}) {
		t.Errorf("got %v, want a conflict between ENOSYS and 1", err)
	}
}

// A conditional allow rule adds nothing for a name that an unconditional
// allow rule holds: Merge drops it (and the name only), and orders the
// rest by first name and by condition, whatever the input order.
func TestMergeArgRules(t *testing.T) {
	eq := func(v uint64) []Arg { return []Arg{{Index: 0, Value: v, Op: OpEqualTo}} }
	a := &Profile{DefaultAction: ActErrno, Syscalls: []Syscall{
		{Names: []string{"socket"}, Action: ActAllow, Args: eq(10)},
		{Names: []string{"socketpair", "personality"}, Action: ActAllow, Args: eq(1)},
		{Names: []string{"clone3"}, Action: ActErrno, ErrnoRet: uintp(38)},
		{Names: []string{"read"}, Action: ActAllow},
	}}
	b := &Profile{DefaultAction: ActErrno, Syscalls: []Syscall{
		{Names: []string{"socket"}, Action: ActAllow, Args: eq(2)},
		{Names: []string{"personality"}, Action: ActAllow},
		{Names: []string{"clone3"}, Action: ActErrno, ErrnoRet: uintp(38), Args: eq(0)},
		{Names: []string{"socket"}, Action: ActAllow, Args: eq(1)},
	}}
	want := &Profile{DefaultAction: ActErrno, Syscalls: []Syscall{
		{Names: []string{"personality", "read"}, Action: ActAllow},
		// personality's conditional rule is dropped, socketpair's kept.
		{Names: []string{"socket", "socketpair"}, Action: ActAllow, Args: eq(1)},
		{Names: []string{"socket"}, Action: ActAllow, Args: eq(2)},
		{Names: []string{"socket"}, Action: ActAllow, Args: eq(10)},
		// Other actions are kept, conditional or not.
		{Names: []string{"clone3"}, Action: ActErrno, ErrnoRet: uintp(38)},
		{Names: []string{"clone3"}, Action: ActErrno, ErrnoRet: uintp(38), Args: eq(0)},
	}}
	for _, in := range [][]*Profile{{a, b}, {b, a}} {
		got, err := Merge(in, "")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			gb, _ := Marshal(got)
			wb, _ := Marshal(want)
			t.Errorf("got\n%s\nwant\n%s", gb, wb)
		}
	}
}
