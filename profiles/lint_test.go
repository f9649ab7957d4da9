package profiles

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
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
				// These profiles are fragments about one rule, and
				// nothing can start under them: TestLintCannotStart.
				if f.Code == CodeCannotStart {
					continue
				}
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

// The runtimes' defaults let runc and crun start a container, and name
// no syscall that is one on none of their architectures: they list
// other architectures' names (chown32, recv, arm_fadvise64_64) for the
// archMap entries of those, or i386's socketcall.
func TestLintRuntimeDefaultsStart(t *testing.T) {
	files := []string{"testdata/containers-common-seccomp.json"}
	for _, rt := range runtimeDefaults {
		files = append(files, runtimeDefaultFile(rt))
	}
	for _, file := range files {
		p, err := ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []Target{TargetAny, TargetContainer, TargetCommand} {
			for _, f := range LintFor(p, target) {
				if f.Code == CodeCannotStart || f.Code == CodeNotSyscall {
					t.Errorf("%s, for %q: %+v", file, target, f)
				}
			}
		}
	}
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

// Lint's order is whether anything can start, the profile's, then the
// dangerous syscalls by name.
func TestLintOrder(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["unshare", "bpf", "read", "read"], "action": "SCMP_ACT_ALLOW"}]}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Lint(p) {
		got = append(got, f.Code+" "+f.Path)
	}
	want := []string{"cannot-start defaultAction", "duplicate-name syscalls[0].names[3]", "dangerous-syscall syscalls[0].names[1]", "dangerous-syscall syscalls[0].names[0]"}
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

// A hand-written profile as tutorials publish them: default
// SCMP_ACT_ERRNO and a list of network, file and memory names to allow,
// written from what the program's source calls (recv, send) rather than
// from a recording. It parses, and nothing can start under it: runc and
// crun call capset, prctl, ... after loading the filter, then execve, and
// all are denied; recv and send are libc functions that are syscalls
// only on some architectures (i386 through socketcall, arm), not on
// x86_64 or aarch64, where libc calls recvfrom and sendto.
func TestLintTutorial(t *testing.T) {
	p, err := ParseFile("testdata/tutorial-network.json")
	if err != nil {
		t.Fatal(err)
	}
	allowed := p.Syscalls[0].Names
	if len(allowed) != 29 {
		t.Fatalf("the tutorial's profile has %d names, want 29", len(allowed))
	}
	denied := func(needs []string) string {
		var out []string
		for _, n := range needs {
			if !slices.Contains(allowed, n) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return strings.Join(out, ", ")
	}
	starts := "no container can start under this profile: runc needs " + denied(RuncSyscalls) +
		" and crun needs " + denied(CrunSyscalls) + " after loading the filter; they are denied (by defaultAction SCMP_ACT_ERRNO(1)" +
		" and by runc's ENOSYS stub for syscalls newer than any the profile names)"
	notSyscall := []string{
		"warning not-a-syscall syscalls[0].names[20]: recv is not a syscall on SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64: libseccomp ignores it there (libc's recv() calls recvfrom)",
		"warning not-a-syscall syscalls[0].names[22]: send is not a syscall on SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64: libseccomp ignores it there (libc's send() calls sendto)",
	}
	for _, tc := range []struct {
		target Target
		want   string
	}{
		{TargetAny, "error cannot-start defaultAction: " + starts + "; nor can a command under sysrec run, which execs it after loading the filter"},
		{TargetContainer, "error cannot-start defaultAction: " + starts + "; nor can a command under sysrec run, which execs it after loading the filter"},
		{TargetCommand, "error cannot-start defaultAction: no command can start under this profile with sysrec run, which loads the filter and then execs the command: execve is denied (by defaultAction SCMP_ACT_ERRNO(1))"},
	} {
		got := findings(LintFor(p, tc.target))
		if want := strings.Join(append([]string{tc.want}, notSyscall...), "\n") + "\n"; got != want {
			t.Errorf("for %q: got\n%s\nwant\n%s", tc.target, got, want)
		}
	}
	for _, n := range []string{"capget", "capset", "prctl", "setgroups", "execve", "setresuid", "rt_sigaction"} {
		if !strings.Contains(starts, " "+n+",") && !strings.Contains(starts, " "+n+" ") {
			t.Errorf("%s is not named as denied: %s", n, starts)
		}
	}
}

// sysrec's profiles of a container allow what runc and crun need
// (OCIRuntimeSyscalls), on every architecture they are for, and only
// names of those architectures.
func TestLintRecordedContainer(t *testing.T) {
	for _, recorded := range []map[syscalls.Arch][]string{
		{syscalls.X86_64: {"read", "write", "exit_group", "socket", "recvfrom", "sendto"}},
		{syscalls.AArch64: {"read", "write", "exit_group", "ppoll"}},
		{syscalls.X86_64: {"read", "openat", "exit_group"}, syscalls.AArch64: {"read", "openat", "exit_group"}},
		{syscalls.X86_64: {"read", "exit_group"}, syscalls.X86: {"read", "exit_group", "socketcall"}},
	} {
		for _, exact := range []bool{false, true} {
			p, _, err := Build(WithSyscalls(recorded, OCIRuntimeSyscalls), nil, BuildOptions{DefaultAction: ActErrno, Exact: exact, Groups: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, target := range []Target{TargetAny, TargetContainer, TargetCommand} {
				for _, f := range LintFor(p, target) {
					if f.Code == CodeCannotStart || f.Code == CodeNotSyscall {
						t.Errorf("%v (exact %v), for %q: %s %s: %s", recorded, exact, target, f.Code, f.Path, f.Msg)
					}
				}
			}
		}
	}
}

func TestLintCannotStart(t *testing.T) {
	// Everything that runc and crun need but those names.
	except := func(names ...string) string {
		var out []string
		for _, n := range OCIRuntimeSyscalls {
			if !slices.Contains(names, n) {
				out = append(out, `"`+n+`"`)
			}
		}
		return strings.Join(out, ", ")
	}
	const x64 = `"architectures": ["SCMP_ARCH_X86_64"]`
	for _, tc := range []struct {
		name    string
		profile string
		// Per target: "" (no finding) or "severity path: message
		// fragment".
		any, container, command string
	}{
		{
			name:      "everything the runtimes need",
			profile:   `{"defaultAction": "SCMP_ACT_ERRNO", ` + x64 + `, "syscalls": [{"names": [` + except() + `], "action": "SCMP_ACT_ALLOW"}]}`,
			any:       "",
			container: "",
			command:   "",
		},
		{
			// What sysrec record -- CMD writes: execve, not the
			// runtimes' own calls.
			name:      "a command's profile",
			profile:   `{"defaultAction": "SCMP_ACT_ERRNO", ` + x64 + `, "syscalls": [{"names": ["access", "arch_prctl", "brk", "close", "execve", "exit_group", "mmap", "newfstatat", "openat", "read", "restart_syscall"], "action": "SCMP_ACT_ALLOW"}]}`,
			any:       "warning defaultAction: no container can start under this profile: runc needs capget, capset, chdir, epoll_ctl, epoll_pwait, faccessat2, fcntl, fstat, fstatfs, futex, getcwd, getdents64, getpid, getppid, gettid, madvise, munmap, nanosleep, prctl, rt_sigprocmask, rt_sigreturn, sched_yield, setgid, setgroups, setuid, sigaltstack, tgkill, write and crun needs capset, prctl, pselect6, rt_sigaction, rt_sigprocmask, setresgid, setresuid, write after loading the filter; they are denied (by defaultAction SCMP_ACT_ERRNO(1) and by runc's ENOSYS stub for syscalls newer than any the profile names); fine for a command under sysrec run, which needs only execve (sysrec lint --for container makes this an error)",
			container: "error defaultAction: no container can start under this profile: runc needs capget,",
			command:   "",
		},
		{
			name:      "only what crun needs denied",
			profile:   `{"defaultAction": "SCMP_ACT_ERRNO", ` + x64 + `, "syscalls": [{"names": [` + except("pselect6", "rt_sigaction", "setresgid", "setresuid") + `], "action": "SCMP_ACT_ALLOW"}]}`,
			any:       "warning defaultAction: no container can start under this profile with crun: crun needs pselect6, rt_sigaction, setresgid, setresuid after loading the filter; they are denied (by defaultAction SCMP_ACT_ERRNO(1)); fine for a command",
			container: "error defaultAction: no container can start under this profile with crun: crun needs pselect6, rt_sigaction, setresgid, setresuid after loading the filter; they are denied (by defaultAction SCMP_ACT_ERRNO(1))",
		},
		{
			name: "execve killed by a rule",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", ` + x64 + `, "syscalls": [{"names": [` + except() + `], "action": "SCMP_ACT_ALLOW"},
				{"names": ["ptrace", "execve"], "action": "SCMP_ACT_KILL_PROCESS", "comment": "no new programs"}]}`,
			// The rule comes after execve's allow rule: libseccomp keeps
			// the first unconditional rule.
			any: "",
		},
		{
			name: "execve killed by the first rule",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", ` + x64 + `, "syscalls": [{"names": ["ptrace", "execve"], "action": "SCMP_ACT_KILL_PROCESS", "comment": "no new programs"},
				{"names": [` + except() + `], "action": "SCMP_ACT_ALLOW"}]}`,
			any:       "error syscalls[0].names[1]: no container can start under this profile: runc and crun need execve after loading the filter; they are denied (by syscalls[0] (no new programs) SCMP_ACT_KILL_PROCESS); nor can a command under sysrec run",
			container: "error syscalls[0].names[1]: no container can start under this profile: runc and crun need execve",
			command:   "error syscalls[0].names[1]: no command can start under this profile with sysrec run, which loads the filter and then execs the command: execve is denied (by syscalls[0] (no new programs) SCMP_ACT_KILL_PROCESS)",
		},
		{
			// execve is allowed for some arguments: lint cannot tell
			// the entrypoint's.
			name: "execve allowed for some arguments",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", ` + x64 + `, "syscalls": [{"names": [` + except("execve") + `], "action": "SCMP_ACT_ALLOW"},
				{"names": ["execve"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_NE"}]}]}`,
		},
		{
			// runc's stub returns ENOSYS for syscalls numbered above
			// every name of the profile: execve (59) above write (1);
			// read (0) gets the default.
			name:      "execve past runc's ENOSYS stub",
			profile:   `{"defaultAction": "SCMP_ACT_KILL_PROCESS", ` + x64 + `, "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
			any:       "error defaultAction: no container can start under this profile: runc needs capget, capset, chdir, close, epoll_ctl, epoll_pwait, execve, faccessat2, fcntl, fstat, fstatfs, futex, getcwd, getdents64, getpid, getppid, gettid, madvise, mmap, munmap, nanosleep, newfstatat, openat, prctl, read, rt_sigprocmask, rt_sigreturn, sched_yield, setgid, setgroups, setuid, sigaltstack, tgkill and crun needs capset, close, execve, prctl, pselect6, read, rt_sigaction, rt_sigprocmask, setresgid, setresuid after loading the filter; they are denied (by runc's ENOSYS stub for syscalls newer than any the profile names and by defaultAction SCMP_ACT_KILL_PROCESS)",
			container: "error defaultAction: no container can start",
			command:   "error defaultAction: no command can start under this profile with sysrec run, which loads the filter and then execs the command: execve is denied (by runc's ENOSYS stub for syscalls newer than any the profile names)",
		},
		{
			name:    "default allows",
			profile: `{"defaultAction": "SCMP_ACT_LOG", ` + x64 + `}`,
		},
		{
			// An agent decides execve.
			name: "execve notified",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/agent.sock", ` + x64 + `, "syscalls": [{"names": [` + except("execve") + `], "action": "SCMP_ACT_ALLOW"},
				{"names": ["execve"], "action": "SCMP_ACT_NOTIFY"}]}`,
		},
		{
			// Only i386 listed: the runtime runs on x86_64, whose
			// syscalls the filter has too.
			name:      "only a compat architecture",
			profile:   `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "syscalls": [{"names": ["read", "execve"], "action": "SCMP_ACT_ALLOW"}]}`,
			any:       "warning defaultAction: no container can start under this profile: runc needs capget,",
			container: "error defaultAction: no container can start under this profile: runc needs capget,",
		},
		{
			// Each architecture's own names: on aarch64, the runtimes
			// also need newfstatat, epoll_pwait and pselect6, absent here.
			name: "two architectures, one short",
			profile: `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"], "syscalls": [
				{"names": [` + except() + `], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
				{"names": [` + except("newfstatat", "epoll_pwait", "pselect6") + `], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}}]}`,
			any:       "warning defaultAction: no container can start under this profile: runc needs epoll_pwait (on SCMP_ARCH_AARCH64), newfstatat (on SCMP_ARCH_AARCH64) and crun needs pselect6 (on SCMP_ARCH_AARCH64) after loading the filter",
			container: "error defaultAction: no container can start under this profile: runc needs epoll_pwait (on SCMP_ARCH_AARCH64)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.profile), "p.json")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				target Target
				want   string
			}{{TargetAny, tc.any}, {TargetContainer, tc.container}, {TargetCommand, tc.command}} {
				var got []Finding
				for _, f := range LintFor(p, c.target) {
					if f.Code == CodeCannotStart {
						got = append(got, f)
					}
				}
				switch {
				case c.want == "" && len(got) == 0:
				case c.want == "" || len(got) != 1:
					t.Errorf("for %q: got\n%swant %q", c.target, findings(got), c.want)
				default:
					head, frag, _ := strings.Cut(c.want, ": ")
					sev, path, _ := strings.Cut(head, " ")
					if f := got[0]; string(f.Severity) != sev || f.Path != path || !strings.Contains(f.Msg, frag) {
						t.Errorf("for %q: got %s %s: %s\nwant %s %s: ...%s...", c.target, f.Severity, f.Path, f.Msg, sev, path, frag)
					}
				}
			}
		})
	}
}

func TestLintNotSyscall(t *testing.T) {
	host, _, err := syscalls.Host()
	if err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		name   string
		arches string
		rules  string
		want   []string // path: message
	}{
		{
			name:   "recv and send on x86_64 and aarch64",
			arches: `"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]`,
			rules:  `{"names": ["recv", "recvfrom", "send", "open"], "action": "SCMP_ACT_ALLOW"}`,
			// open is a syscall on x86_64: a profile for both names
			// both's syscalls.
			want: []string{
				"syscalls[0].names[0]: recv is not a syscall on SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64: libseccomp ignores it there (libc's recv() calls recvfrom)",
				"syscalls[0].names[2]: send is not a syscall on SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64: libseccomp ignores it there (libc's send() calls sendto)",
			},
		},
		{
			// libseccomp makes recv a socketcall rule on i386.
			name:   "recv with i386",
			arches: `"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]`,
			rules:  `{"names": ["recv", "send", "chown32"], "action": "SCMP_ACT_ALLOW"}`,
		},
		{
			// x32 has x86_64's syscalls.
			name:   "i386's names on x86_64 and x32",
			arches: `"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]`,
			rules:  `{"names": ["read", "chown32"], "action": "SCMP_ACT_ALLOW"}`,
			want:   []string{"syscalls[0].names[1]: chown32 is not a syscall on SCMP_ARCH_X86_64 or SCMP_ARCH_X32: libseccomp ignores it there"},
		},
		{
			// No table for arm, where recv is a syscall.
			name:   "an architecture without a table",
			arches: `"architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]`,
			rules:  `{"names": ["recv", "send"], "action": "SCMP_ACT_ALLOW"}`,
		},
		{
			// The rule applies on aarch64 only.
			name:   "includes arches",
			arches: `"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]`,
			rules:  `{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["openat", "open", "poll"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}}`,
			want: []string{
				"syscalls[1].names[1]: open is not a syscall on SCMP_ARCH_AARCH64: libseccomp ignores it there",
				"syscalls[1].names[2]: poll is not a syscall on SCMP_ARCH_AARCH64: libseccomp ignores it there",
			},
		},
		{
			name:  "no architectures: the host's",
			rules: `{"names": ["read", "send"], "action": "SCMP_ACT_ALLOW"}`,
			want:  []string{"syscalls[0].names[1]: send is not a syscall on " + string(host) + ": libseccomp ignores it there (libc's send() calls sendto)"},
		},
		{
			// runc skips the rule: no word about its names.
			name:   "a redundant rule",
			arches: `"architectures": ["SCMP_ARCH_X86_64"]`,
			rules:  `{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["recv"], "action": "SCMP_ACT_ERRNO"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			profile := `{"defaultAction": "SCMP_ACT_ERRNO", ` + tc.arches
			if tc.arches != "" {
				profile += ", "
			}
			profile += `"syscalls": [` + tc.rules + `]}`
			p, err := Parse([]byte(profile), "p.json")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range Lint(p) {
				if f.Code == CodeNotSyscall {
					if f.Severity != SeverityWarning {
						t.Errorf("severity %s, want warning", f.Severity)
					}
					got = append(got, f.Path+": "+f.Msg)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}
