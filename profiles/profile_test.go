package profiles

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

func TestParseAction(t *testing.T) {
	for in, want := range map[string]Action{
		"errno":                 ActErrno,
		"SCMP_ACT_ERRNO":        ActErrno,
		"kill-process":          ActKillProcess,
		"kill_thread":           ActKillThread,
		"Log":                   ActLog,
		" trap ":                ActTrap,
		"SCMP_ACT_KILL_PROCESS": ActKillProcess,
	} {
		got, err := ParseAction(in)
		if err != nil || got != want {
			t.Errorf("ParseAction(%q): got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "deny", "SCMP_ACT_", "errno2"} {
		if _, err := ParseAction(in); err == nil || !strings.Contains(err.Error(), "kill-process") {
			t.Errorf("ParseAction(%q): got %v, want an error listing the actions", in, err)
		}
	}
}

func TestGenerate(t *testing.T) {
	p, err := Generate(map[syscalls.Arch][]string{
		syscalls.X86_64: {"write", "read", "execve"},
		syscalls.X86:    {"read", "_llseek"},
		syscalls.X32:    nil, // nothing named: no architecture entry
	}, ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": [
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64"
  ],
  "syscalls": [
    {
      "names": [
        "_llseek",
        "execve",
        "read",
        "write"
      ],
      "action": "SCMP_ACT_ALLOW"
    }
  ]
}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Decoding gives back the same profile.
	var back Profile
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := Marshal(&back)
	if string(again) != want {
		t.Errorf("round trip changed the profile:\n%s", again)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	in := map[syscalls.Arch][]string{}
	for _, a := range []syscalls.Arch{syscalls.X86_64, syscalls.X86, syscalls.AArch64} {
		in[a] = syscalls.Names(a)[:50]
	}
	first, _ := Generate(in, ActLog)
	want, _ := Marshal(first)
	for i := 0; i < 20; i++ {
		p, _ := Generate(in, ActLog)
		got, _ := Marshal(p)
		if string(got) != string(want) {
			t.Fatalf("run %d gave different bytes", i)
		}
	}
}

func TestGenerateRejectsAllow(t *testing.T) {
	if _, err := Generate(nil, ActAllow); err == nil || !strings.Contains(err.Error(), "allow every syscall") {
		t.Errorf("got %v, want an error", err)
	}
	if _, err := Generate(nil, Action("SCMP_ACT_NOPE")); err == nil {
		t.Errorf("an unknown action was accepted")
	}
}

func TestGenerateEmpty(t *testing.T) {
	p, err := Generate(nil, ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Marshal(p)
	if want := "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\"\n}\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWithSyscalls(t *testing.T) {
	got := WithSyscalls(map[syscalls.Arch][]string{
		syscalls.X86_64:  {"read"},
		syscalls.AArch64: {"read"},
	}, []string{"fstat", "open"})
	// aarch64 has no open syscall: it is left out there.
	if want := []string{"read", "fstat", "open"}; strings.Join(got[syscalls.X86_64], ",") != strings.Join(want, ",") {
		t.Errorf("x86_64: got %v, want %v", got[syscalls.X86_64], want)
	}
	if want := []string{"read", "fstat"}; strings.Join(got[syscalls.AArch64], ",") != strings.Join(want, ",") {
		t.Errorf("aarch64: got %v, want %v", got[syscalls.AArch64], want)
	}
	for _, n := range RuncSyscalls {
		if _, ok := syscalls.Number(syscalls.X86_64, n); !ok {
			t.Errorf("RuncSyscalls: %q is not an x86_64 syscall", n)
		}
	}
}

func TestAllowedNames(t *testing.T) {
	p := &Profile{DefaultAction: ActErrno, Syscalls: []Syscall{
		{Names: []string{"write", "read"}, Action: ActAllow},
		{Names: []string{"read", "close"}, Action: ActAllow},
		{Names: []string{"personality"}, Action: ActAllow, Args: []Arg{{Index: 0, Value: 8, Op: OpEqualTo}}},
		{Names: []string{"ptrace"}, Action: ActErrno},
	}}
	got := p.AllowedNames()
	if want := []string{"close", "read", "write"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
