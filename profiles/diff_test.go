package profiles

import (
	"reflect"
	"slices"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

func mustParse(t *testing.T, s string) *Profile {
	t.Helper()
	p, err := Parse([]byte(s), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsed(t *testing.T) {
	p := mustParse(t, `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
		{"names": ["write", "read", "newfstatat"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["close"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
		{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"},
		{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
		{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
		{"name": "exit", "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}}]}`)
	got := Used(p)
	// newfstatat is x86_64's only; i386 has fstatat64. close is allowed
	// with some argument values only; clone3 was answered with ENOSYS, as
	// sysrec does for a clone3 it saw used.
	want := map[syscalls.Arch][]string{
		syscalls.X86:    {"clone3", "close", "read", "write"},
		syscalls.X86_64: {"clone3", "close", "newfstatat", "read", "write"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestCompare(t *testing.T) {
	recorded := mustParse(t, `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
		"syscalls": [{"names": ["read", "write", "ptrace", "personality", "mount"], "action": "SCMP_ACT_ALLOW"}]}`)
	deployed := mustParse(t, `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
		{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
		{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}`)

	type row struct{ name, verdict string }
	summary := func(ac ArchComparison) []row {
		var out []row
		for _, v := range ac.Syscalls {
			out = append(out, row{v.Name, v.Verdict})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		opts   CompareOptions
		x86_64 []row
		counts map[string]int
	}{
		{
			name: "default capabilities",
			opts: CompareOptions{Arches: []syscalls.Arch{syscalls.X86_64}},
			x86_64: []row{{"mount", VerdictDenied}, {"ptrace", VerdictDenied}, {"personality", VerdictConditional},
				{"read", VerdictAllowed}, {"write", VerdictAllowed}, {"close", VerdictUnused}},
			counts: map[string]int{VerdictDenied: 2, VerdictPartlyDenied: 0, VerdictConditional: 1, VerdictAllowed: 2, VerdictUnused: 1},
		},
		{
			name: "with CAP_SYS_ADMIN",
			opts: CompareOptions{Arches: []syscalls.Arch{syscalls.X86_64}, Caps: []string{"CAP_SYS_ADMIN"}},
			x86_64: []row{{"ptrace", VerdictDenied}, {"personality", VerdictConditional},
				{"mount", VerdictAllowed}, {"read", VerdictAllowed}, {"write", VerdictAllowed}, {"close", VerdictUnused}},
			counts: map[string]int{VerdictDenied: 1, VerdictPartlyDenied: 0, VerdictConditional: 1, VerdictAllowed: 3, VerdictUnused: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmp, err := Compare(recorded, deployed, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(cmp.Arches) != 1 || cmp.Arches[0].Arch != syscalls.X86_64 {
				t.Fatalf("got %+v, want x86_64 alone", cmp.Arches)
			}
			if got := summary(cmp.Arches[0]); !reflect.DeepEqual(got, tc.x86_64) {
				t.Errorf("got %v\nwant %v", got, tc.x86_64)
			}
			if !reflect.DeepEqual(cmp.Counts, tc.counts) {
				t.Errorf("counts: got %v, want %v", cmp.Counts, tc.counts)
			}
		})
	}

	// The rules that decide are named, with their comments.
	cmp, err := Compare(recorded, deployed, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Arches) != 2 || cmp.Arches[0].Arch != syscalls.X86 || cmp.Arches[1].Arch != syscalls.X86_64 {
		t.Fatalf("got %+v, want i386 and x86_64", cmp.Arches)
	}
	for _, v := range cmp.Arches[1].Syscalls {
		var want []RuleDecision
		switch v.Name {
		case "read":
			want = []RuleDecision{{Action: ActAllow, Rule: 0, Comment: "basics"}}
		case "ptrace":
			want = []RuleDecision{{Action: ActErrno, ErrnoRet: 1, Rule: RuleDefault}}
		case "personality":
			want = []RuleDecision{{Action: ActAllow, Rule: 1}, {Action: ActErrno, ErrnoRet: 1, Rule: RuleDefault}}
		default:
			continue
		}
		if !reflect.DeepEqual(v.Decisions, want) {
			t.Errorf("%s: got %+v, want %+v", v.Name, v.Decisions, want)
		}
	}
	// The deployed filter has no i386: every i386 syscall is killed.
	for _, v := range cmp.Arches[0].Syscalls {
		if v.Verdict != VerdictDenied || len(v.Decisions) != 1 || v.Decisions[0].Rule != RuleBadArch {
			t.Errorf("i386 %s: got %+v, want denied by the architecture check", v.Name, v)
		}
	}

	if _, err := Compare(recorded, deployed, CompareOptions{Arches: []syscalls.Arch{syscalls.AArch64}}); err == nil {
		t.Error("comparing an architecture the recording lacks: got no error")
	}
}

// A typical workload runs under every runtime's default, except for what
// the defaults deny on purpose.
func TestCompareRuntimeDefaults(t *testing.T) {
	recorded, err := Generate(map[syscalls.Arch][]string{
		syscalls.X86_64: {"read", "write", "openat", "close", "mmap", "execve", "exit_group", "clone3", "bpf", "kexec_load"},
	}, ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range runtimeDefaults {
		t.Run(rt, func(t *testing.T) {
			deployed := runtimeDefault(t, rt)
			cmp, err := Compare(recorded, deployed, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			denied := map[string]bool{}
			for _, v := range cmp.Arches[0].Syscalls {
				if v.Verdict == VerdictDenied {
					denied[v.Name] = true
				}
				// containerd and Docker answer clone3 with ENOSYS, so
				// that libcs fall back to clone, which they can filter.
				if v.Name == "clone3" && rt != "crio" {
					if len(v.Decisions) != 1 || v.Decisions[0].Action != ActErrno || v.Decisions[0].ErrnoRet != 38 {
						t.Errorf("clone3: got %+v, want ENOSYS", v.Decisions)
					}
				}
			}
			want := map[string]bool{"bpf": true, "kexec_load": true}
			if rt != "crio" {
				want["clone3"] = true
			}
			if !reflect.DeepEqual(denied, want) {
				t.Errorf("denied: got %v, want %v", denied, want)
			}
			if cmp.Counts[VerdictUnused] < 200 {
				t.Errorf("allowed but unused: got %d, want the hundreds a default allows", cmp.Counts[VerdictUnused])
			}
		})
	}
}

// A recorded profile with argument rules: each recorded value is
// evaluated, and a denied one is named with the rule that denies it and
// the deployed rules that allow the syscall.
func TestCompareArgs(t *testing.T) {
	x64 := syscalls.X86_64
	recorded, err := GenerateArgs(map[syscalls.Arch][]string{x64: {"read", "socket", "unshare", "clone", "clone3"}}, RecordedArgs{x64: {
		"socket":  {Values: []uint64{sockValue(afNetlink, sockRaw), sockValue(afInet6, sockStream)}},
		"unshare": {Values: []uint64{CloneNewNet}},
		"clone":   {Values: []uint64{0}},
		"clone3":  {},
	}}, ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	netlinkOnly, err := GenerateArgs(map[syscalls.Arch][]string{x64: {"read", "socket"}},
		RecordedArgs{x64: {"socket": {Values: []uint64{sockValue(afNetlink, sockRaw)}}}}, ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	deployed := mustParse(t, `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
		{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 15, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}], "comment": "web"},
		{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 15, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
		{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
		{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`)
	eperm := RuleDecision{Action: ActErrno, ErrnoRet: 1, Rule: RuleDefault}
	allowedBy := []AllowingRule{
		{Rule: 1, Call: "socket(AF_INET6, SOCK_STREAM)", Args: deployed.Syscalls[1].Args, Comment: "web"},
		{Rule: 2, Call: "socket(AF_UNIX, SOCK_DGRAM)", Args: deployed.Syscalls[2].Args},
	}
	byName := func(cmp *Comparison) map[string]Verdict {
		out := map[string]Verdict{}
		for _, v := range cmp.Arches[0].Syscalls {
			out[v.Name] = v
		}
		return out
	}

	cmp, err := Compare(recorded, deployed, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := byName(cmp)
	// The recorded rules are ordered by their conditions: AF_INET6 (10)
	// before AF_NETLINK (16).
	socket := Verdict{Name: "socket", Verdict: VerdictPartlyDenied,
		Decisions: []RuleDecision{{Action: ActAllow, Rule: 1, Comment: "web"}, eperm},
		Values: []ValueDecision{
			{Value: "socket(AF_INET6, SOCK_STREAM)", Args: recorded.Syscalls[2].Args, RecordedRule: 2, Allowed: true, Decision: RuleDecision{Action: ActAllow, Rule: 1, Comment: "web"}},
			{Value: "socket(AF_NETLINK, SOCK_RAW)", Args: recorded.Syscalls[3].Args, RecordedRule: 3, Decision: eperm},
		},
		AllowedBy: allowedBy,
	}
	if !reflect.DeepEqual(got["socket"], socket) {
		t.Errorf("socket:\ngot  %+v\nwant %+v\nrecorded:\n%s", got["socket"], socket, marshalString(t, recorded))
	}
	unshare := Verdict{Name: "unshare", Verdict: VerdictDenied, Decisions: []RuleDecision{eperm},
		Values: []ValueDecision{{Value: "unshare(CLONE_NEWNET)", Args: recorded.Syscalls[4].Args, RecordedRule: 4, Decision: eperm}}}
	if !reflect.DeepEqual(got["unshare"], unshare) {
		t.Errorf("unshare:\ngot  %+v\nwant %+v", got["unshare"], unshare)
	}
	if v := got["clone"]; v.Verdict != VerdictAllowed || len(v.Values) != 1 || v.Values[0].Value != "clone(no namespace flags)" || !v.Values[0].Allowed {
		t.Errorf("clone: got %+v, want its recorded value allowed", v)
	}
	// clone3 fails with ENOSYS under both: the C library falls back to
	// clone.
	if v := got["clone3"]; v.Verdict != VerdictAllowed || v.Note == "" || v.Values != nil {
		t.Errorf("clone3: got %+v, want allowed, as the recorded ENOSYS", v)
	}
	want := map[string]int{VerdictDenied: 1, VerdictPartlyDenied: 1, VerdictConditional: 0, VerdictAllowed: 3, VerdictUnused: 0}
	if !reflect.DeepEqual(cmp.Counts, want) {
		t.Errorf("counts: got %v, want %v", cmp.Counts, want)
	}

	// Only AF_NETLINK recorded: denied, with the rules that would allow
	// socket.
	cmp, err = Compare(netlinkOnly, deployed, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := byName(cmp)["socket"]
	if v.Verdict != VerdictDenied || len(v.Values) != 1 || v.Values[0].Value != "socket(AF_NETLINK, SOCK_RAW)" || v.Values[0].Decision != eperm || !reflect.DeepEqual(v.AllowedBy, allowedBy) {
		t.Errorf("socket: got %+v, want AF_NETLINK denied by the default action", v)
	}

	// A recorded profile fits itself.
	cmp, err = Compare(recorded, recorded, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Counts[VerdictDenied] != 0 || cmp.Counts[VerdictPartlyDenied] != 0 || cmp.Counts[VerdictAllowed] != 5 {
		t.Errorf("the recorded profile against itself: got %v", cmp.Counts)
	}

	// Docker's default: socket for most families, clone without namespace
	// flags, clone3 ENOSYS; unshare only with CAP_SYS_ADMIN.
	for _, caps := range [][]string{nil, append(slices.Clone(DefaultCaps), "CAP_SYS_ADMIN")} {
		cmp, err = Compare(recorded, runtimeDefault(t, "docker"), CompareOptions{Caps: caps})
		if err != nil {
			t.Fatal(err)
		}
		got = byName(cmp)
		wantUnshare := VerdictDenied
		if caps != nil {
			wantUnshare = VerdictAllowed
		}
		for name, want := range map[string]string{"socket": VerdictAllowed, "clone": VerdictAllowed, "clone3": VerdictAllowed, "unshare": wantUnshare} {
			if got[name].Verdict != want {
				t.Errorf("docker, caps %v: %s is %s, want %s: %+v", caps, name, got[name].Verdict, want, got[name])
			}
		}
		// Docker allows the families below AF_ALG, and some above.
		if a := got["socket"].AllowedBy; caps == nil && (len(a) < 2 || a[0].Call != "socket(family < AF_ALG)" || a[1].Call != "socket(AF_NFC)") {
			t.Errorf("docker: socket allowed by %+v", a)
		}
	}

	// A deployed profile that answers clone3 with EPERM breaks a workload
	// whose recording answered it with ENOSYS.
	strict := mustParse(t, `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "clone"], "action": "SCMP_ACT_ALLOW"}]}`)
	cmp, err = Compare(recorded, strict, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := byName(cmp)["clone3"]; v.Verdict != VerdictDenied {
		t.Errorf("clone3 under EPERM: got %+v, want denied", v)
	}
	// i386 is not in the deployed filter: every recorded value is killed.
	recorded32, err := GenerateArgs(map[syscalls.Arch][]string{syscalls.X86: {"socket"}},
		RecordedArgs{syscalls.X86: {"socket": {Values: []uint64{sockValue(afInet, sockStream)}}}}, ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	cmp, err = Compare(recorded32, deployed, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := cmp.Arches[0].Syscalls[0]; v.Verdict != VerdictDenied || v.Values[0].Decision.Rule != RuleBadArch || v.AllowedBy != nil {
		t.Errorf("i386 socket: got %+v, want denied by the architecture check", v)
	}
}

func TestRepresentative(t *testing.T) {
	for _, tc := range []struct {
		conds []Arg
		want  [6]uint64
		ok    bool
	}{
		{[]Arg{{Index: 0, Value: 10, Op: OpEqualTo}, {Index: 1, Value: 15, ValueTwo: 1, Op: OpMaskedEqual}}, [6]uint64{10, 1}, true},
		{[]Arg{{Index: 2, Value: 5, Op: OpLessThan}, {Index: 3, Value: 5, Op: OpGreaterThan}, {Index: 4, Value: 0, Op: OpNotEqual}}, [6]uint64{0, 0, 0, 6, 1}, true},
		{[]Arg{{Index: 0, Value: 0, Op: OpLessThan}}, [6]uint64{}, false},
		{[]Arg{{Index: 0, Value: 3, Op: OpEqualTo}, {Index: 0, Value: 4, Op: OpEqualTo}}, [6]uint64{4}, false},
	} {
		got, ok := representative(tc.conds, syscalls.X86_64)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("%+v: got %v, %v; want %v, %v", tc.conds, got, ok, tc.want, tc.ok)
		}
	}
}
