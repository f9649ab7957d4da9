package profiles

import (
	"reflect"
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		want    []string // code path: message fragment
	}{
		{
			name:    "clean allow-list",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}`,
		},
		{
			name:    "default allows",
			profile: `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["bpf"], "action": "SCMP_ACT_ERRNO"}]}`,
			// Everything but bpf is allowed by the default.
			want: []string{"default-allows defaultAction: dangerous ones among them: acct, add_key, clock_settime, delete_module,"},
		},
		{
			name:    "default logs",
			profile: `{"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			want:    []string{"default-allows defaultAction: only logs"},
		},
		{
			name: "dangerous, three ways",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
				{"names": ["read", "ptrace"], "action": "SCMP_ACT_ALLOW", "comment": "debugging"},
				{"names": ["unshare"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
				{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
				{"names": ["bpf"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`,
			want: []string{
				"dangerous-syscall syscalls[2].names[0]: mount is allowed when the container has CAP_SYS_ADMIN",
				"dangerous-syscall syscalls[0].names[1]: ptrace is allowed (by syscalls[0] (debugging))",
				"dangerous-syscall syscalls[1].names[0]: unshare is allowed for some argument values",
			},
		},
		{
			name: "duplicates",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
				{"names": ["read", "write", "read"], "action": "SCMP_ACT_ALLOW"},
				{"names": ["close", "write"], "action": "SCMP_ACT_ALLOW"},
				{"names": ["close"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}`,
			want: []string{
				"duplicate-name syscalls[0].names[2]: listed twice",
				"duplicate-name syscalls[1].names[1]: also in syscalls[0]",
				// Not a duplicate (other conditions), but shadowed.
				"unreachable-rule syscalls[2].names[0]: syscalls[1] decides it first",
			},
		},
		{
			name: "shadowed rules",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
				{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
				{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
				{"names": ["write"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
				{"names": ["close"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}`,
			want: []string{
				// libseccomp: an unconditional rule replaces the
				// conditional ones before it, and drops those after.
				"unreachable-rule syscalls[0].names[0]: read never reaches this rule: syscalls[1] decides it first",
				"unreachable-rule syscalls[2].names[0]: write never reaches this rule: syscalls[1] decides it first",
			},
		},
		{
			name: "redundant rules",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
				{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
				{"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
				{"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`,
			want: []string{
				"redundant-rule syscalls[0]: SCMP_ACT_ERRNO(1) is the defaultAction",
				"redundant-rule syscalls[1]: SCMP_ACT_ERRNO(1) is the defaultAction",
			},
		},
		{
			// libseccomp copies socket's rules to socketcall with
			// argument 0 == SYS_SOCKET; the family test then reads
			// socketcall's pointer.
			name: "socket families on i386, socketcall through libseccomp's copies",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
				{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
				{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
				{"names": ["socketpair"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`,
			want: []string{
				"socketcall-args syscalls[1].names[0]: socket's argument rules do not bind i386 socketcall, which passes its arguments in memory: socketcall(1, ...) is allowed (by syscalls[1])",
				"socketcall-args syscalls[2].names[0]: socketpair's argument rules do not bind i386 socketcall",
			},
		},
		{
			name: "socket families on i386, socketcall allowed by name",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
				{"names": ["read", "socketcall"], "action": "SCMP_ACT_ALLOW"},
				{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`,
			want: []string{"socketcall-args syscalls[0].names[1]: socket's argument rules do not bind i386 socketcall"},
		},
		{
			name: "socket families on i386, socketcall refused",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
				{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
				{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
				{"names": ["socketcall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`,
		},
		{
			name: "socketcall refused with the default's errno: runc skips the rule",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
				{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
				{"names": ["socketcall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`,
			want: []string{
				"redundant-rule syscalls[1]: SCMP_ACT_ERRNO(1) is the defaultAction",
				"socketcall-args syscalls[0].names[0]: socket's argument rules do not bind i386 socketcall",
			},
		},
		{
			name: "socket families without i386",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
				{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`,
		},
		{
			name: "rule for no architecture of the profile",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
				{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
				{"names": ["write"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
				{"names": ["close"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}}]}`,
			want: []string{
				"never-applies syscalls[0]: leave out every architecture of the profile (amd64)",
				"never-applies syscalls[1]: leave out every architecture of the profile (amd64)",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.profile), "p.json")
			if err != nil {
				t.Fatal(err)
			}
			var got []Finding
			for _, f := range Lint(p) {
				if f.Severity != SeverityWarning {
					t.Errorf("severity %s, want warning: %+v", f.Severity, f)
				}
				got = append(got, f)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(got), len(tc.want), findings(got))
			}
			for i, w := range tc.want {
				head, frag, _ := strings.Cut(w, ": ")
				code, path, _ := strings.Cut(head, " ")
				if f := got[i]; f.Code != code || f.Path != path || !strings.Contains(f.Msg, frag) {
					t.Errorf("finding %d: got %s %s: %s; want %s %s: ...%s...", i, f.Code, f.Path, f.Msg, code, path, frag)
				}
			}
		})
	}
}

func findings(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(string(f.Severity) + " " + f.Code + " " + f.Path + ": " + f.Msg + "\n")
	}
	return b.String()
}

// The runtimes' default profiles parse without errors; their findings are
// the known quirks, not false alarms of the evaluator.
func TestLintRuntimeDefaults(t *testing.T) {
	for _, rt := range runtimeDefaults {
		t.Run(rt, func(t *testing.T) {
			checkDefaultFindings(t, Lint(runtimeDefault(t, rt)))
		})
	}
	// Debian's /usr/share/containers/seccomp.json, as committed.
	t.Run("containers-common", func(t *testing.T) {
		p, err := ParseFile("testdata/containers-common-seccomp.json")
		if err != nil {
			t.Fatal(err)
		}
		checkDefaultFindings(t, Lint(p))
	})
}

// Docker's and containerd's defaults keep AF_ALG and AF_VSOCK from socket
// but allow i386 socketcall, which creates them all the same.
func TestLintRuntimeDefaultsSocketcall(t *testing.T) {
	for _, rt := range []string{"docker", "containerd"} {
		found := false
		for _, f := range Lint(runtimeDefault(t, rt)) {
			found = found || f.Code == CodeSocketcall && strings.HasPrefix(f.Msg, "socket's argument rules")
		}
		if !found {
			t.Errorf("%s: no %s finding", rt, CodeSocketcall)
		}
	}
}

func checkDefaultFindings(t *testing.T, fs []Finding) {
	t.Helper()
	codes := map[string]int{}
	for _, f := range fs {
		codes[f.Code]++
		if f.Severity != SeverityWarning {
			t.Errorf("not a warning: %+v", f)
		}
		switch f.Code {
		case CodeDangerous, CodeUnreachable, CodeDuplicate, CodeSocketcall:
		default:
			t.Errorf("unexpected finding in a default profile: %+v", f)
		}
	}
	// Every default profile lets some dangerous syscall through, at
	// least with more capabilities (mount with CAP_SYS_ADMIN).
	if codes[CodeDangerous] == 0 {
		t.Errorf("no dangerous syscall found:\n%s", findings(fs))
	}
}

// Lint's order is the profile's, then the dangerous syscalls by name.
func TestLintOrder(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["unshare", "bpf", "read", "read"], "action": "SCMP_ACT_ALLOW"}]}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Lint(p) {
		got = append(got, f.Code+" "+f.Path)
	}
	want := []string{"duplicate-name syscalls[0].names[3]", "dangerous-syscall syscalls[0].names[1]", "dangerous-syscall syscalls[0].names[0]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLocate(t *testing.T) {
	data := []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [\n    {\"names\": [\"read\",\n               \"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\"}\n  ]\n}\n")
	for _, tc := range []struct {
		path      string
		line, col int
		ok        bool
	}{
		{"defaultAction", 2, 20, true},
		{"syscalls[0]", 4, 5, true},
		{"syscalls[0].names[1]", 5, 16, true},
		{"syscalls[0].action", 5, 37, true},
		{"syscalls[1]", 0, 0, false},
		{"syscalls[0].args", 0, 0, false},
		{"defaultAction[0]", 0, 0, false},
		{"syscalls[x]", 0, 0, false},
	} {
		line, col, ok := Locate(data, tc.path)
		if line != tc.line || col != tc.col || ok != tc.ok {
			t.Errorf("Locate(%q): got %d:%d %v, want %d:%d %v", tc.path, line, col, ok, tc.line, tc.col, tc.ok)
		}
	}
	if _, _, ok := Locate([]byte("{"), "defaultAction"); ok {
		t.Error("invalid JSON: got a position")
	}
}
