package profiles

import (
	"bytes"
	"slices"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

// Address families and socket types (include/linux/socket.h, net.h).
const (
	wAFUnix    = 1
	wAFInet    = 2
	wAFInet6   = 10
	wAFNetlink = 16
	wAFPacket  = 17

	wStream = 1
	wDgram  = 2
	wRaw    = 3
)

func sockArgs(family, typ uint64) *[6]uint64 { return &[6]uint64{family, typ} }

// argProfile is what record writes for a workload that opened AF_INET6
// stream sockets and created no namespace: socket and clone with argument
// rules, clone3 failing with ENOSYS.
func argProfile(t *testing.T) *Profile {
	t.Helper()
	inet6, _, _ := ArgValue(syscalls.X86_64, "socket", *sockArgs(wAFInet6, wStream))
	p, err := GenerateArgs(map[syscalls.Arch][]string{syscalls.X86_64: {"read", "write", "socket", "clone", "clone3", "exit_group"}},
		RecordedArgs{syscalls.X86_64: {"socket": {Values: []uint64{inet6}}, "clone": {Values: []uint64{0}}, "clone3": {}}}, ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustWiden(t *testing.T, p *Profile, vs ...Violation) *Widened {
	t.Helper()
	w, err := Widen(p, vs)
	if err != nil {
		t.Fatalf("Widen: %v", err)
	}
	return w
}

func decideW(t *testing.T, p *Profile, name string, args *[6]uint64) Decision {
	t.Helper()
	q := Query{Arch: syscalls.X86_64, Name: name}
	if args != nil {
		q.Args = *args
	}
	d, err := p.Evaluate(q)
	if err != nil {
		t.Fatalf("Evaluate %s %v: %v", name, args, err)
	}
	return d
}

func marshalW(t *testing.T, p *Profile) []byte {
	t.Helper()
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// socketRules returns p's rules that name socket.
func socketRulesW(p *Profile) []Syscall {
	var out []Syscall
	for _, r := range p.Syscalls {
		if slices.Contains(r.AllNames(), "socket") {
			out = append(out, r)
		}
	}
	return out
}

// A socket rule gains the families that were logged, one rule each; the
// profile allows them then, still allows what it allowed, and still
// denies a family that was not logged. socket is never allowed by name.
func TestWidenArgRule(t *testing.T) {
	p := argProfile(t)
	if d := decideW(t, p, "socket", sockArgs(wAFNetlink, wRaw)); d.Action == ActAllow {
		t.Fatalf("before: AF_NETLINK is allowed")
	}
	w := mustWiden(t, p,
		Violation{Arch: syscalls.X86_64, Name: "socket", Args: sockArgs(wAFNetlink, wRaw|0x80000)}, // SOCK_CLOEXEC
		Violation{Arch: syscalls.X86_64, Name: "socket", Args: sockArgs(wAFUnix, wStream)},
		Violation{Arch: syscalls.X86_64, Name: "socket", Args: sockArgs(wAFNetlink, wRaw)}, // the same value again
	)
	if w.Added != 2 || len(w.Rules) != 2 || len(w.Skipped) != 0 {
		t.Fatalf("got %d added, rules %+v, skipped %+v; want 2 rules", w.Added, w.Rules, w.Skipped)
	}
	q := w.Profile
	if slices.Contains(q.AllowedNames(), "socket") {
		t.Fatalf("socket is allowed by name: %v", q.AllowedNames())
	}
	if n := len(socketRulesW(q)); n != 3 {
		t.Errorf("got %d socket rules, want 3 (AF_INET6, AF_NETLINK, AF_UNIX)", n)
	}
	for _, c := range []struct {
		args  *[6]uint64
		allow bool
	}{
		{sockArgs(wAFNetlink, wRaw), true},
		{sockArgs(wAFNetlink, wRaw|0x80000), true},
		{sockArgs(wAFUnix, wStream), true},
		{sockArgs(wAFInet6, wStream), true},
		{sockArgs(wAFPacket, wRaw), false},
		{sockArgs(wAFNetlink, wDgram), false},
		{sockArgs(wAFInet, wStream), false},
	} {
		if d := decideW(t, q, "socket", c.args); (d.Action == ActAllow) != c.allow {
			t.Errorf("socket%v: got %s, want allowed %v", c.args[:2], d.Action, c.allow)
		}
	}
	// The same violations in another order give the same bytes.
	again := mustWiden(t, p,
		Violation{Arch: syscalls.X86_64, Name: "socket", Args: sockArgs(wAFUnix, wStream)},
		Violation{Arch: syscalls.X86_64, Name: "socket", Args: sockArgs(wAFNetlink, wRaw)},
	)
	if !bytes.Equal(marshalW(t, q), marshalW(t, again.Profile)) {
		t.Errorf("the result depends on the order of violations:\n%s\n%s", marshalW(t, q), marshalW(t, again.Profile))
	}
	// Widening with what it already allows changes nothing.
	same := mustWiden(t, q, Violation{Arch: syscalls.X86_64, Name: "socket", Args: sockArgs(wAFUnix, wStream)})
	if same.Added != 0 || !bytes.Equal(marshalW(t, q), marshalW(t, same.Profile)) {
		t.Errorf("widening with an allowed value: got %d added", same.Added)
	}
}

// Without the arguments, a syscall that the profile allows only with
// some values is left out, and said so; the rest is added as usual.
func TestWidenWithoutArgs(t *testing.T) {
	p := argProfile(t)
	w := mustWiden(t, p,
		Violation{Arch: syscalls.X86_64, Name: "socket"},
		Violation{Arch: syscalls.X86_64, Name: "socket"},
		Violation{Arch: syscalls.X86_64, Name: "clone"},
		Violation{Arch: syscalls.X86_64, Name: "mkdir"},
		Violation{Arch: syscalls.X86_64, Name: "read"},
		Violation{Arch: syscalls.X86_64},
	)
	want := []Skipped{
		{Arch: syscalls.X86_64, Name: "clone", Reason: SkipNoArgs, Detail: "its rules allow only some argument values, and the record carries none"},
		{Arch: syscalls.X86_64, Name: "socket", Reason: SkipNoArgs, Detail: "its rules allow only some argument values, and the record carries none"},
	}
	if !slices.Equal(w.Skipped, want) {
		t.Errorf("skipped: got %+v, want %+v", w.Skipped, want)
	}
	if w.Added != 1 || !slices.Contains(w.Profile.AllowedNames(), "mkdir") {
		t.Errorf("got %d added, %v; want mkdir added by name", w.Added, w.Profile.AllowedNames())
	}
	if got, want := socketRulesW(w.Profile), socketRulesW(p); !slices.EqualFunc(got, want, func(a, b Syscall) bool { return ruleKey(a) == ruleKey(b) }) {
		t.Errorf("socket rules: got %+v, want them unchanged: %+v", got, want)
	}
	for _, n := range []string{"socket", "clone"} {
		if slices.Contains(w.Profile.AllowedNames(), n) {
			t.Errorf("%s is allowed by name", n)
		}
	}
	// Only skipped syscalls: the profile is unchanged.
	only := mustWiden(t, p, Violation{Arch: syscalls.X86_64, Name: "socket"})
	if only.Added != 0 || !bytes.Equal(marshalW(t, p), marshalW(t, only.Profile)) {
		t.Errorf("got %d added and\n%s\nwant the profile unchanged:\n%s", only.Added, marshalW(t, only.Profile), marshalW(t, p))
	}
}

// Names that the profile allows by name, or not at all, are added by
// name, as they always were, arguments or not.
func TestWidenByName(t *testing.T) {
	p, err := Generate(map[syscalls.Arch][]string{syscalls.X86_64: {"read", "socket"}}, ActLog)
	if err != nil {
		t.Fatal(err)
	}
	w := mustWiden(t, p,
		Violation{Arch: syscalls.X86_64, Name: "socket", Args: sockArgs(wAFNetlink, wRaw)},
		Violation{Arch: syscalls.X86_64, Name: "uname"},
		Violation{Arch: syscalls.X86_64, Name: "mkdir", Args: &[6]uint64{1, 2}},
		Violation{Arch: syscalls.X86, Name: "uname"},
	)
	if w.Added != 2 || len(w.Rules) != 0 || len(w.Skipped) != 0 {
		t.Fatalf("got %d added, rules %+v, skipped %+v; want mkdir and uname by name", w.Added, w.Rules, w.Skipped)
	}
	want := Syscall{Names: []string{"mkdir", "read", "socket", "uname"}, Action: ActAllow}
	if len(w.Profile.Syscalls) != 1 || ruleKey(w.Profile.Syscalls[0]) != ruleKey(want) {
		t.Errorf("got %+v, want one rule %+v", w.Profile.Syscalls, want)
	}
	if !slices.Equal(w.Profile.Architectures, []syscalls.Arch{syscalls.X86_64, syscalls.X86}) &&
		!slices.Equal(w.Profile.Architectures, []syscalls.Arch{syscalls.X86, syscalls.X86_64}) {
		t.Errorf("architectures: got %v, want both", w.Profile.Architectures)
	}
}

// clone3 is never allowed where the profile makes it fail; where the
// profile restricts clone and has no rule for clone3, clone3 fails with
// ENOSYS instead of being allowed.
func TestWidenClone3(t *testing.T) {
	p := argProfile(t)
	w := mustWiden(t, p, Violation{Arch: syscalls.X86_64, Name: "clone3", Args: &[6]uint64{0x7fff0000, 88}})
	if w.Added != 0 || len(w.Skipped) != 1 || w.Skipped[0].Reason != SkipClone3 {
		t.Fatalf("got %d added, skipped %+v; want clone3 skipped", w.Added, w.Skipped)
	}
	if d := decideW(t, w.Profile, "clone3", nil); d.Action != ActErrno || d.ErrnoRet != 38 {
		t.Errorf("clone3: got %+v, want ENOSYS", d)
	}

	// The same profile without its clone3 rule.
	bare := *p
	bare.Syscalls = slices.DeleteFunc(slices.Clone(p.Syscalls), func(r Syscall) bool { return slices.Contains(r.Names, "clone3") })
	if d := decideW(t, &bare, "clone3", nil); d.Action == ActAllow {
		t.Fatalf("without the clone3 rule: got %+v", d)
	}
	w = mustWiden(t, &bare, Violation{Arch: syscalls.X86_64, Name: "clone3"})
	if w.Added != 1 || len(w.Skipped) != 0 || len(w.Rules) != 1 || w.Rules[0].Action != ActErrno {
		t.Fatalf("got %d added, rules %+v, skipped %+v; want clone3's ENOSYS rule", w.Added, w.Rules, w.Skipped)
	}
	if d := decideW(t, w.Profile, "clone3", nil); d.Action != ActErrno || d.ErrnoRet != 38 {
		t.Errorf("clone3: got %+v, want ENOSYS", d)
	}
	if !bytes.Equal(marshalW(t, w.Profile), marshalW(t, p)) {
		t.Errorf("got\n%s\nwant what GenerateArgs wrote:\n%s", marshalW(t, w.Profile), marshalW(t, p))
	}

	// A clone with a namespace flag widens clone's rule.
	w = mustWiden(t, p, Violation{Arch: syscalls.X86_64, Name: "clone", Args: &[6]uint64{CloneNewNet | 0x11}})
	if w.Added != 1 {
		t.Fatalf("clone: got %d added, skipped %+v", w.Added, w.Skipped)
	}
	if d := decideW(t, w.Profile, "clone", &[6]uint64{CloneNewNet | 0x11}); d.Action != ActAllow {
		t.Errorf("clone(CLONE_NEWNET): got %s, want allowed", d.Action)
	}
	if d := decideW(t, w.Profile, "clone", &[6]uint64{CloneNewUser | 0x11}); d.Action == ActAllow {
		t.Errorf("clone(CLONE_NEWUSER): allowed")
	}
}

// A value that sysrec writes no rule for, and a syscall it has no rule
// shape for on the ABI, are skipped rather than allowed by name.
func TestWidenNoRule(t *testing.T) {
	p := argProfile(t)
	w := mustWiden(t, p, Violation{Arch: syscalls.X86_64, Name: "socket", Args: sockArgs(100, wRaw)})
	if w.Added != 0 || len(w.Skipped) != 1 || w.Skipped[0].Reason != SkipNoRule {
		t.Fatalf("AF 100: got %d added, skipped %+v", w.Added, w.Skipped)
	}

	// A hand-written rule on an uncaptured syscall.
	q := &Profile{DefaultAction: ActErrno, Syscalls: []Syscall{{Names: []string{"kill"}, Action: ActAllow, Args: []Arg{{Index: 1, Value: 0, Op: OpEqualTo}}}}}
	w = mustWiden(t, q, Violation{Arch: syscalls.X86_64, Name: "kill", Args: &[6]uint64{1, 9}})
	if w.Added != 0 || len(w.Skipped) != 1 || w.Skipped[0].Reason != SkipNoRule {
		t.Fatalf("kill: got %d added, skipped %+v", w.Added, w.Skipped)
	}
	if d := decideW(t, w.Profile, "kill", &[6]uint64{1, 9}); d.Action == ActAllow {
		t.Errorf("kill(1, 9) is allowed")
	}
}

func TestConditionalNames(t *testing.T) {
	if got, want := argProfile(t).ConditionalNames(), []string{"clone", "socket"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	p, _ := Generate(map[syscalls.Arch][]string{syscalls.X86_64: {"read", "socket"}}, ActLog)
	if got := p.ConditionalNames(); len(got) != 0 {
		t.Errorf("name-only profile: got %v", got)
	}
}
