package profiles

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

func parseForEval(t *testing.T, s string) *Profile {
	t.Helper()
	p, err := Parse([]byte(s), "test.json")
	if err != nil {
		t.Fatalf("parsing %s: %v", s, err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		q       Query
		want    Decision
	}{
		{"no rule: default with EPERM",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "write"}, Decision{ActErrno, 1, RuleDefault}},
		{"defaultErrnoRet",
			`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38}`,
			Query{Name: "write"}, Decision{ActErrno, 38, RuleDefault}},
		{"defaultErrno name overrides defaultErrnoRet (containers-common)",
			`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "defaultErrno": "ENOSYS"}`,
			Query{Name: "write"}, Decision{ActErrno, 38, RuleDefault}},
		{"errno name on a rule",
			`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errno": "EACCES"}]}`,
			Query{Name: "read"}, Decision{ActErrno, 13, 0}},
		{"first unconditional rule wins over a later one",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG"}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "read"}, Decision{ActLog, 0, 0}},
		{"an unconditional rule replaces earlier conditional ones",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "read", Args: [6]uint64{3}}, Decision{ActAllow, 0, 1}},
		{"an unconditional rule drops later conditional ones",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["read"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]}]}`,
			Query{Name: "read", Args: [6]uint64{3}}, Decision{ActAllow, 0, 0}},
		{"a rule with the default action is skipped (runc)",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "read"}, Decision{ActAllow, 0, 1}},
		{"a rule with the default action but another errno is kept",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "read"}, Decision{ActErrno, 38, 0}},
		{"conditions of one rule are ANDed: one fails",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 10, "op": "SCMP_CMP_LT"}]}]}`,
			Query{Name: "read", Args: [6]uint64{3, 0, 10}}, Decision{ActErrno, 1, RuleDefault}},
		{"conditions of one rule are ANDed: both hold",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 10, "op": "SCMP_CMP_LT"}]}]}`,
			Query{Name: "read", Args: [6]uint64{3, 0, 9}}, Decision{ActAllow, 0, 0}},
		{"the same argument twice: runc ORs the conditions",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}]}`,
			Query{Name: "read", Args: [6]uint64{5}}, Decision{ActAllow, 0, 0}},
		{"MASKED_EQ holds",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}`,
			Query{Name: "clone", Args: [6]uint64{0x11}}, Decision{ActAllow, 0, 0}},
		{"MASKED_EQ fails",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}`,
			Query{Name: "clone", Args: [6]uint64{0x10000011}}, Decision{ActErrno, 1, RuleDefault}},
		{"64-bit comparison on x86_64",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}]}`,
			Query{Name: "read", Args: [6]uint64{1<<32 | 5}}, Decision{ActErrno, 1, RuleDefault}},
		{"32-bit architectures compare the low words",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}]}`,
			Query{Arch: syscalls.X86, Name: "read", Args: [6]uint64{1<<32 | 5}}, Decision{ActAllow, 0, 0}},
		{"an architecture missing from the filter kills the thread",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Arch: syscalls.X86, Name: "read"}, Decision{ActKillThread, 0, RuleBadArch}},
		{"the native architecture is always in the filter",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "read"}, Decision{ActAllow, 0, 0}},
		{"archMap adds the sub-architectures of the native one",
			`{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}, {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Arch: syscalls.X86, Name: "read"}, Decision{ActAllow, 0, 0}},
		{"archMap of another native architecture does not count",
			`{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_X86"]}], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Arch: syscalls.X86, Name: "read"}, Decision{ActKillThread, 0, RuleBadArch}},
		{"includes.caps needs every capability",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT", "CAP_SYS_ADMIN"]}}]}`,
			Query{Name: "reboot", Caps: []string{"CAP_SYS_BOOT"}}, Decision{ActErrno, 1, RuleDefault}},
		{"excludes.caps drops the rule",
			`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}`,
			Query{Name: "mount", Caps: []string{"CAP_SYS_ADMIN"}}, Decision{ActAllow, 0, RuleDefault}},
		{"includes.arches names the host",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}}]}`,
			Query{Name: "read"}, Decision{ActErrno, 1, RuleDefault}},
		{"excludes.arches names the host",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}}]}`,
			Query{Name: "read"}, Decision{ActErrno, 1, RuleDefault}},
		{"includes.minKernel on an older kernel",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}]}`,
			Query{Name: "ptrace", Kernel: "4.4.0-210-generic"}, Decision{ActErrno, 1, RuleDefault}},
		{"includes.minKernel on a newer kernel",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}]}`,
			Query{Name: "ptrace", Kernel: "4.10"}, Decision{ActAllow, 0, 0}},
		{"SCMP_ACT_KILL is kill-thread",
			`{"defaultAction": "SCMP_ACT_KILL"}`,
			Query{Name: "read"}, Decision{ActKillThread, 0, RuleDefault}},
		{"SCMP_ACT_TRACE without errnoRet carries EPERM (runc actTrace)",
			`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_TRACE"}]}`,
			Query{Name: "read"}, Decision{ActTrace, 1, 0}},
		{"legacy name",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "read"}, Decision{ActAllow, 0, 0}},
		{"a MASKED_EQ without mask bits always holds: the rule is unconditional",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_MASKED_EQ"}]}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "read"}, Decision{ActLog, 0, 0}},
		{"runc's stub: a syscall newer than every named one gets ENOSYS",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "close"}, Decision{ActErrno, 38, RuleENOSYS}},
		{"runc's stub looks only at the listed architectures",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "close"}, Decision{ActErrno, 1, RuleDefault}},
		{"runc's stub skips an architecture whose largest syscall is 0",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "close"}, Decision{ActErrno, 1, RuleDefault}},
		{"runc's stub: an older syscall gets the default",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "read"}, Decision{ActErrno, 1, RuleDefault}},
		{"runc's stub counts rules of every action",
			`{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}, {"names": ["close"], "action": "SCMP_ACT_KILL_PROCESS"}]}`,
			Query{Name: "open"}, Decision{ActKillProcess, 0, RuleDefault}},
		{"runc's stub also replaces a kill default",
			`{"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "open"}, Decision{ActErrno, 38, RuleENOSYS}},
		{"no stub under a permissive default",
			`{"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ERRNO"}]}`,
			Query{Name: "close"}, Decision{ActLog, 0, RuleDefault}},
		{"no stub when the default already is ENOSYS",
			`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
			Query{Name: "close"}, Decision{ActErrno, 38, RuleDefault}},
		{"the stub counts only rules the runtime keeps",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}, {"names": ["close"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}`,
			Query{Name: "open"}, Decision{ActErrno, 38, RuleENOSYS}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parseForEval(t, tc.profile)
			if tc.q.Arch == "" {
				tc.q.Arch = syscalls.X86_64
			}
			got, err := p.Evaluate(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	p := parseForEval(t, `{"defaultAction": "SCMP_ACT_ERRNO"}`)
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{Arch: syscalls.X86_64, Name: "_llseek"}, "evaluating _llseek: no such syscall on SCMP_ARCH_X86_64"},
		{Query{Name: "read"}, "evaluating read: no architecture given"},
		{Query{Arch: "SCMP_ARCH_VAX", Name: "read"}, `evaluating read: unknown architecture "SCMP_ARCH_VAX"`},
		{Query{Arch: syscalls.X86_64}, "evaluating a syscall: no syscall name given"},
		{Query{Arch: syscalls.X86_64, Name: "read", Kernel: "banana"}, `evaluating read: invalid kernel version "banana"`},
	} {
		_, err := p.Evaluate(tc.q)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Evaluate(%+v): got %v, want an error containing %q", tc.q, err, tc.want)
		}
	}

	// libseccomp refuses a second action on the same comparison
	// (seccomp_rule_add returns -EEXIST), so runc cannot load the filter.
	p = parseForEval(t, `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
		{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
		{"names": ["read"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
		{"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
		{"names": ["write"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}]}]}`)
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{Arch: syscalls.X86_64, Name: "read"}, "evaluating read on SCMP_ARCH_X86_64: libseccomp refuses rule 1: it conflicts with an earlier rule on the same comparison (EEXIST)"},
		{Query{Arch: syscalls.X86_64, Name: "write", Args: [6]uint64{4}}, ""},
	} {
		_, err := p.Evaluate(tc.q)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Evaluate(%+v): got %v, want no error", tc.q, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Evaluate(%+v): got %v, want an error containing %q", tc.q, err, tc.want)
		}
	}
}

func TestOutcomes(t *testing.T) {
	p := parseForEval(t, `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
		{"names": ["personality"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 100, "op": "SCMP_CMP_GT"}]},
		{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 25, "args": [{"index": 1, "value": 4294967295, "valueTwo": 21505, "op": "SCMP_CMP_MASKED_EQ"}]}
	]}`)
	for _, tc := range []struct {
		arch syscalls.Arch
		name string
		want []Decision
	}{
		{syscalls.X86_64, "personality", []Decision{{ActAllow, 0, 0}, {ActAllow, 0, 1}, {ActErrno, 1, RuleDefault}, {ActLog, 0, 2}}},
		{syscalls.X86_64, "read", []Decision{{ActAllow, 0, 3}}},
		{syscalls.X86_64, "write", []Decision{{ActErrno, 1, RuleDefault}}},
		{syscalls.X86_64, "ioctl", []Decision{{ActErrno, 1, RuleDefault}, {ActErrno, 25, 4}}},
		// On i386 "arg1 >= 1<<32" compares low words: 0 >= 0 always holds.
		{syscalls.X86, "personality", []Decision{{ActAllow, 0, 0}, {ActAllow, 0, 1}, {ActErrno, 1, RuleDefault}, {ActLog, 0, 2}}},
		{syscalls.X32, "personality", []Decision{{ActKillThread, 0, RuleBadArch}}},
	} {
		got, err := p.Outcomes(tc.arch, tc.name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Outcomes(%s, %s): got %+v, want %+v", tc.arch, tc.name, got, tc.want)
		}
	}
}

// libseccomp's x86 backend (arch-x86.c x86_rule_add) copies every rule for
// a socket or IPC syscall to socketcall or ipc, with argument 0 made the
// call number and the other conditions kept: they then compare the
// multiplexer's arguments, socketcall's pointer among them.
func TestEvaluateSocketcall(t *testing.T) {
	p := parseForEval(t, `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [
		{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 15, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]},
		{"names": ["socketpair"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
		{"names": ["read", "accept"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["semget"], "action": "SCMP_ACT_LOG", "args": [{"index": 2, "value": 7, "op": "SCMP_CMP_NE"}]},
		{"names": ["bind"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}]}
	]}`)
	x86, x64 := syscalls.X86, syscalls.X86_64
	def := Decision{ActErrno, 1, RuleDefault}
	for _, tc := range []struct {
		arch syscalls.Arch
		name string
		args [6]uint64
		want Decision
	}{
		// socket's family rule: the pointer's low nibble is the "type".
		{x86, "socketcall", [6]uint64{1, 0xffd01231}, Decision{ActAllow, 0, 0}},
		{x86, "socketcall", [6]uint64{1, 0xffd01230}, def},
		{x86, "socketcall", [6]uint64{8, 0xffd01230}, Decision{ActAllow, 0, 1}}, // socketpair: any family
		{x86, "socketcall", [6]uint64{5, 0}, Decision{ActAllow, 0, 2}},          // accept has no direct i386 syscall
		{x86, "socketcall", [6]uint64{3, 0}, def},
		// bind names argument 0 twice: runc splits the rule, and each
		// part's argument 0 becomes SYS_BIND.
		{x86, "socketcall", [6]uint64{2, 0}, Decision{ActAllow, 0, 4}},
		{x86, "ipc", [6]uint64{2, 0, 0}, Decision{ActLog, 0, 3}}, // semget is call 2
		{x86, "ipc", [6]uint64{2, 0, 7}, def},
		{x86, "ipc", [6]uint64{1, 0, 0}, def},
		// The direct syscalls keep the rules as written.
		{x86, "socket", [6]uint64{2, 0x80001}, Decision{ActAllow, 0, 0}},
		{x86, "socket", [6]uint64{10, 1}, def},
		{x86, "socketpair", [6]uint64{2}, def},
		{x86, "bind", [6]uint64{3}, Decision{ActAllow, 0, 4}},
		{x86, "bind", [6]uint64{2}, def},
		{x64, "socket", [6]uint64{10, 1}, def},
		// x32 has no socketcall copies.
		{syscalls.X32, "socketcall", [6]uint64{1, 1}, def},
	} {
		got, err := p.Evaluate(Query{Arch: tc.arch, Name: tc.name, Args: tc.args})
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s %s%#x: got %+v, want %+v", tc.arch, tc.name, tc.args[:3], got, tc.want)
		}
	}
	ds, err := p.Outcomes(x86, "socketcall", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Decision{{ActAllow, 0, 0}, {ActAllow, 0, 1}, {ActAllow, 0, 2}, {ActAllow, 0, 4}, def}
	if !reflect.DeepEqual(ds, want) {
		t.Errorf("Outcomes(socketcall): got %+v, want %+v", ds, want)
	}

	// A rule without conditions for socketcall replaces the copies,
	// wherever it is (db_rule_add).
	for _, order := range []string{
		`{"names": ["socketcall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}, {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}`,
		`{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}, {"names": ["socketcall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}`,
	} {
		p := parseForEval(t, `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [`+order+`]}`)
		ds, err := p.Outcomes(x86, "socketcall", nil)
		if err != nil || len(ds) != 1 || ds[0].Action != ActErrno || ds[0].ErrnoRet != 13 {
			t.Errorf("%s: got %+v, %v; want ERRNO(13) only", order, ds, err)
		}
		if d, err := p.Evaluate(Query{Arch: x86, Name: "socket", Args: [6]uint64{2}}); err != nil || d.Action != ActAllow {
			t.Errorf("%s: direct socket: got %+v, %v; want allowed", order, d, err)
		}
	}
}
