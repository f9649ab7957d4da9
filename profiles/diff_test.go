package profiles

import (
	"reflect"
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
		{"name": "exit", "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}}]}`)
	got := Used(p)
	// newfstatat is x86_64's only; i386 has fstatat64.
	want := map[syscalls.Arch][]string{
		syscalls.X86:    {"read", "write"},
		syscalls.X86_64: {"newfstatat", "read", "write"},
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
			counts: map[string]int{VerdictDenied: 2, VerdictConditional: 1, VerdictAllowed: 2, VerdictUnused: 1},
		},
		{
			name: "with CAP_SYS_ADMIN",
			opts: CompareOptions{Arches: []syscalls.Arch{syscalls.X86_64}, Caps: []string{"CAP_SYS_ADMIN"}},
			x86_64: []row{{"ptrace", VerdictDenied}, {"personality", VerdictConditional},
				{"mount", VerdictAllowed}, {"read", VerdictAllowed}, {"write", VerdictAllowed}, {"close", VerdictUnused}},
			counts: map[string]int{VerdictDenied: 1, VerdictConditional: 1, VerdictAllowed: 3, VerdictUnused: 1},
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
