package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// containerAllowList is allowList plus a rule for what runc and crun call
// after loading the filter (profiles.OCIRuntimeSyscalls), less names:
// a profile under which a container can start.
func containerAllowList(arch syscalls.Arch, names ...string) *profiles.Profile {
	p := allowList(arch, names...)
	var runtime []string
	for _, n := range profiles.OCIRuntimeSyscalls {
		if !slices.Contains(names, n) {
			runtime = append(runtime, n)
		}
	}
	p.Syscalls = append(p.Syscalls, profiles.Syscall{Names: runtime, Action: profiles.ActAllow, Comment: "the OCI runtime"})
	return p
}

// A hand-written profile as tutorials publish them (default
// SCMP_ACT_ERRNO, 29 network, file and memory names from accept to
// write, recv and send among them) passed lint. No container starts
// under it: runc and crun are denied what they call after loading the
// filter, execve among it; and recv and send are no syscalls on x86_64
// or aarch64.
func TestLintTutorialProfile(t *testing.T) {
	tutorial := filepath.Join("..", "..", "profiles", "testdata", "tutorial-network.json")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"error     no container can start under this profile: runc needs capget, capset, chdir, epoll_ctl, epoll_pwait, execve,",
			" and crun needs capset, execve, prctl, pselect6, rt_sigaction, rt_sigprocmask, setresgid, setresuid after loading the filter; they are denied (by defaultAction SCMP_ACT_ERRNO(1)"}},
		{[]string{"--for", "container"}, []string{"error     no container can start under this profile: runc needs capget,"}},
		{[]string{"--for", "command"}, []string{"error     no command can start under this profile with sysrec run, which loads the filter and then execs the command: execve is denied (by defaultAction SCMP_ACT_ERRNO(1)) [cannot-start]"}},
	} {
		res := sysrec(t, append(append([]string{"lint"}, tc.args...), tutorial)...)
		if res.code != 1 {
			t.Errorf("lint %q: exit status %d, want 1; stderr %s", tc.args, res.code, res.stderr)
		}
		want := append(tc.want,
			"syscalls[0].names[20]  warning   recv is not a syscall on SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64: libseccomp ignores it there (libc's recv() calls recvfrom) [not-a-syscall]",
			"syscalls[0].names[22]  warning   send is not a syscall on SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64: libseccomp ignores it there (libc's send() calls sendto) [not-a-syscall]")
		for _, w := range want {
			if !strings.Contains(res.stdout, w) {
				t.Errorf("lint %q: no %q in\n%s", tc.args, w, res.stdout)
			}
		}
	}

	res := sysrec(t, "lint", "-o", "json", tutorial)
	var rep lintReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || rep.Errors != 1 || rep.Warnings != 2 {
		t.Fatalf("json: got %+v, %v; want 1 error and 2 warnings\n%s", rep, err, res.stdout)
	}
	if f := rep.Findings[0]; f.Code != profiles.CodeCannotStart || f.Path != "defaultAction" || f.Line != 2 {
		t.Errorf("json: first finding %+v, want cannot-start at defaultAction, line 2", f)
	}
}

// What --for changes, on a profile that allows execve but not the
// runtimes' other calls, as sysrec record writes for a command.
func TestLintFor(t *testing.T) {
	dir := t.TempDir()
	command := writeProfile(t, dir, "command.json", allowList(syscalls.X86_64, "brk", "execve", "exit_group", "mmap", "read", "write"))
	container := writeProfile(t, dir, "container.json", containerAllowList(syscalls.X86_64, "brk", "exit_group"))
	for _, tc := range []struct {
		args             []string
		code             int
		errors, warnings int
	}{
		{[]string{command}, 0, 0, 1},
		{[]string{"--strict", command}, 2, 0, 1},
		{[]string{"--for", "container", command}, 1, 1, 0},
		{[]string{"--for", "command", "--strict", command}, 0, 0, 0},
		{[]string{"--strict", container}, 0, 0, 0},
		{[]string{"--for", "container", "--strict", container}, 0, 0, 0},
		{[]string{"--for", "pod", command}, 2, -1, -1},
	} {
		res := sysrec(t, append([]string{"lint", "-o", "json"}, tc.args...)...)
		if res.code != tc.code {
			t.Errorf("lint %q: exit status %d, want %d; stderr %s", tc.args, res.code, tc.code, res.stderr)
		}
		if tc.errors < 0 {
			if !strings.Contains(res.stderr, `--for "pod": want container or command`) {
				t.Errorf("lint %q: stderr %q", tc.args, res.stderr)
			}
			continue
		}
		var rep lintReport
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || rep.Errors != tc.errors || rep.Warnings != tc.warnings {
			t.Errorf("lint %q: got %d errors and %d warnings (%v), want %d and %d\n%s", tc.args, rep.Errors, rep.Warnings, err, tc.errors, tc.warnings, res.stdout)
		}
	}
}

// A real recording of a command starts that command under sysrec run,
// and lint says so: it warns that no container would start under it.
func TestLintRecordedCommand(t *testing.T) {
	testenv.RequireBPF(t)
	profile := filepath.Join(t.TempDir(), "true.json")
	if res := sysrec(t, "record", "-o", profile, "--", "/bin/true"); res.code != 0 {
		t.Fatalf("record: exit status %d: %s", res.code, res.stderr)
	}
	if res := sysrec(t, "run", "--profile", profile, "--", "/bin/true"); res.code != 0 {
		t.Fatalf("run: exit status %d: %s", res.code, res.stderr)
	}
	res := sysrec(t, "lint", "-o", "json", profile)
	var rep lintReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || res.code != 0 || rep.Errors != 0 {
		t.Fatalf("lint: exit status %d, %v:\n%s", res.code, err, res.stdout)
	}
	for _, f := range rep.Findings {
		if f.Code == profiles.CodeNotSyscall || f.Code == profiles.CodeCannotStart && (f.Severity != profiles.SeverityWarning || !strings.Contains(f.Msg, "fine for a command under sysrec run")) {
			t.Errorf("lint: %+v", f)
		}
	}
	if res := sysrec(t, "lint", "--for", "command", "--strict", profile); res.code != 0 {
		t.Errorf("lint --for command --strict: exit status %d:\n%s", res.code, res.stdout)
	}
}
