package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// without returns p with names taken out of its rules (dropNames), and a
// default errno of errno.
func without(p *profiles.Profile, errno uint, names ...string) *profiles.Profile {
	q := dropNames(p, names...)
	q.DefaultErrnoRet = &errno
	return q
}

// The closed loop: a recorded workload runs under its own profile with
// the same output and exit status, and fails with the configured errno at
// the syscall taken out of it.
func TestRunClosedLoop(t *testing.T) {
	testenv.RequireBPF(t)
	dir := t.TempDir()
	script := "uname -s; mkdir " + dir + "/$1 && echo made; exit 4"
	cmd := func(sub string) []string { return []string{"/bin/sh", "-c", script, "sh", sub} }

	plain, err := exec.Command(cmd("plain")[0], cmd("plain")[1:]...).Output()
	if code := exitCode(err); code != 4 {
		t.Fatalf("plain run: exit %d (%v)", code, err)
	}
	profile := filepath.Join(dir, "profile.json")
	if res := sysrec(t, append([]string{"record", "-o", profile, "--"}, cmd("recorded")...)...); res.code != 4 {
		t.Fatalf("record: exit %d: %s", res.code, res.stderr)
	}
	res := sysrec(t, append([]string{"run", "--profile", profile, "--"}, cmd("enforced")...)...)
	if res.code != 4 || res.stdout != string(plain) {
		t.Errorf("under its profile: got exit %d, stdout %q, stderr %q; want 4 and %q", res.code, res.stdout, res.stderr, plain)
	}

	p, _ := readProfile(t, profile)
	strict := writeProfile(t, dir, "strict.json", without(p, uint(syscall.EACCES), "mkdir", "mkdirat"))
	res = sysrec(t, append([]string{"run", "--profile", strict, "--"}, cmd("denied")...)...)
	if res.code != 4 || strings.Contains(res.stdout, "made") || !strings.Contains(res.stderr, "Permission denied") {
		t.Errorf("without mkdir: got exit %d, stdout %q, stderr %q; want mkdir to fail with EACCES", res.code, res.stdout, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "denied")); err == nil {
		t.Errorf("the directory was made under a profile without mkdir")
	}
}

// exitCode is the exit status of a command that err came from.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// Every action does what the evaluator says it does, on a real process.
func TestRunActions(t *testing.T) {
	testenv.RequireRoot(t)
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	errno := uint(syscall.EACCES)
	for _, tc := range []struct {
		action   profiles.Action
		errnoRet *uint
		code     int // 128+N: killed by signal N
		stderr   string
	}{
		{profiles.ActAllow, nil, 0, ""},
		{profiles.ActErrno, &errno, 1, "Permission denied"},
		{profiles.ActErrno, nil, 1, "Operation not permitted"},
		{profiles.ActLog, nil, 0, ""},
		{profiles.ActTrace, nil, 1, "Function not implemented"},
		{profiles.ActTrap, nil, 128 + int(syscall.SIGSYS), ""},
		{profiles.ActKillThread, nil, 128 + int(syscall.SIGSYS), ""},
		{profiles.ActKillProcess, nil, 128 + int(syscall.SIGSYS), ""},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			p := &profiles.Profile{DefaultAction: profiles.ActAllow, Syscalls: []profiles.Syscall{
				{Names: []string{"uname"}, Action: tc.action, ErrnoRet: tc.errnoRet},
			}}
			d, err := p.Evaluate(profiles.Query{Arch: native, Name: "uname"})
			if err != nil || d.Action != tc.action {
				t.Fatalf("Evaluate: got %+v, %v; want %s", d, err, tc.action)
			}
			cmd := sysrecCmd(t, "run", "--profile", writeProfile(t, t.TempDir(), "profile.json", p), "--", "/bin/uname", "-s")
			out, err := cmd.CombinedOutput()
			code := exitCode(err)
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			if code != tc.code || !strings.Contains(string(out), tc.stderr) || tc.code == 0 && !strings.Contains(string(out), "Linux") {
				t.Errorf("got exit %d, output %q; want %d and %q", code, out, tc.code, tc.stderr)
			}
		})
	}
}

// The audit stage: a LOG profile lets a syscall it lacks through and logs
// it; violations --into adds it, and then the profile enforces.
func TestRunAuditStage(t *testing.T) {
	testenv.RequireBPF(t)
	dir := t.TempDir()
	cmd := []string{"/bin/sh", "-c", "mkdir " + dir + "/$1 && echo made", "sh"}
	logProfile := filepath.Join(dir, "log.json")
	if res := sysrec(t, append([]string{"record", "--default-action", "log", "-o", logProfile, "--"}, append(cmd, "a")...)...); res.code != 0 {
		t.Fatalf("record: exit %d: %s", res.code, res.stderr)
	}
	p, _ := readProfile(t, logProfile)
	if p.DefaultAction != profiles.ActLog {
		t.Fatalf("got default action %s, want SCMP_ACT_LOG", p.DefaultAction)
	}
	lacking := without(p, uint(syscall.EPERM), "mkdir", "mkdirat")
	lacking.DefaultErrnoRet = nil
	path := writeProfile(t, t.TempDir(), "profile.json", lacking)

	// The audit source has every record, whatever else logs meanwhile;
	// --into takes effect when it stops.
	tmp := t.TempDir()
	stdout, stderr := filepath.Join(tmp, "stdout"), filepath.Join(tmp, "stderr")
	follow := sysrecCmd(t, "violations", "--follow", "--source", "audit", "--runtime-endpoint", "none",
		"--comm", "mkdir", "--into", path, "-o", "json")
	for name, w := range map[string]*io.Writer{stdout: &follow.Stdout, stderr: &follow.Stderr} {
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		*w = f
	}
	startGroup(t, follow)
	read := func(name string) string { data, _ := os.ReadFile(name); return string(data) }
	waitAuditJoined(t, follow)
	res := sysrec(t, append([]string{"run", "--profile", path, "--"}, append(cmd, "b")...)...)
	if res.code != 0 || !strings.Contains(res.stdout, "made") {
		t.Fatalf("under the LOG profile: got exit %d, %q, %q; want mkdir to go through", res.code, res.stdout, res.stderr)
	}
	testenv.WaitFor(t, 30*time.Second, func() error {
		if !strings.Contains(read(stdout), "\n") {
			return fmt.Errorf("violations --follow printed no mkdir record:\n%s", read(stderr))
		}
		return nil
	})
	follow.Process.Signal(syscall.SIGINT)
	if err := follow.Wait(); err != nil || !strings.Contains(read(stderr), "1 syscalls added to "+path) {
		t.Fatalf("violations --into: %v; stderr %s; want 1 syscall added", err, read(stderr))
	}
	var v violation
	if err := json.Unmarshal([]byte(strings.SplitN(read(stdout), "\n", 2)[0]), &v); err != nil ||
		(v.Syscall != "mkdir" && v.Syscall != "mkdirat") || v.Comm != "mkdir" || v.Action != string(profiles.ActLog) {
		t.Errorf("got %+v, %v; want a logged mkdir", v, err)
	}

	// Enforce: errno by default now, and mkdir is back in the profile.
	merged, _ := readProfile(t, path)
	merged.DefaultAction = profiles.ActErrno
	res = sysrec(t, append([]string{"run", "--profile", writeProfile(t, t.TempDir(), "profile.json", merged), "--"}, append(cmd, "c")...)...)
	if res.code != 0 || !strings.Contains(res.stdout, "made") {
		t.Errorf("enforced after --into: got exit %d, %q, %q; want mkdir to work", res.code, res.stdout, res.stderr)
	}
}

func TestRunUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"defaultAction": "SCMP_ACT_ERNO"}`), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--", "true"}, 2, "no profile given"},
		{[]string{"run", "--profile", bad}, 2, "no command given"},
		{[]string{"run", "--profile", bad, "--", "true"}, 1, bad + ":1:19: defaultAction: unknown action"},
		{[]string{"run", "--profile", "/nonexistent.json", "--", "true"}, 1, "/nonexistent.json"},
	} {
		res := sysrec(t, tc.args...)
		if res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: got exit %d, %q; want %d and %q", tc.args, res.code, res.stderr, tc.code, tc.want)
		}
	}
}
