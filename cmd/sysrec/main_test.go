package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/syscalls"
)

// The test binary doubles as sysrec: with this variable set it runs main,
// so the tests exercise the real exit statuses and signal handling.
const asMain = "SYSREC_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == goWorkloadArg {
		os.Exit(goWorkload())
	}
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

// sysrec runs the CLI in a child process.
func sysrec(t *testing.T, args ...string) result {
	t.Helper()
	cmd := sysrecCmd(t, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return finish(t, cmd, &stdout, &stderr)
}

func sysrecCmd(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	return cmd
}

func finish(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer) result {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running sysrec: %v", err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

func readProfile(t *testing.T, path string) (*profiles.Profile, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the profile: %v", err)
	}
	var p profiles.Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decoding the profile: %v\n%s", err, data)
	}
	return &p, data
}

// allowed returns the names that p's allow rules hold, with or without
// argument conditions, but not those that completion added, sorted: what a
// recorded profile says was used.
func allowed(p *profiles.Profile) []string {
	var names []string
	for _, s := range p.Syscalls {
		if s.Action == profiles.ActAllow && !strings.HasPrefix(s.Comment, profiles.CompletionPrefix) {
			names = append(names, s.Names...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Programs sysrec's authors did not write are recorded exactly as strace -f
// sees them, twice to the same bytes, and sysrec exits with their status.
func TestRecordThirdPartyPrograms(t *testing.T) {
	testenv.RequireBPF(t)
	tree := t.TempDir()
	for _, f := range []string{"a/x.gz", "a/b/y.txt", "c/z.gz", "d.txt"} {
		path := filepath.Join(tree, f)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, argv := range map[string][]string{
		"sh pipeline": {"/bin/sh", "-c", "ls -la " + tree + " >/dev/null; echo hi | tr a-z A-Z >/dev/null; exit 5"},
		"tar":         {"tar", "-cf", "/dev/null", "-C", tree, "."},
		"find":        {"find", tree, "-type", "f", "-name", "*.gz"},
	} {
		t.Run(name, func(t *testing.T) {
			want := testenv.Strace(t, argv...)
			dir := t.TempDir()
			var first []byte
			for i := 0; i < 2; i++ {
				out := filepath.Join(dir, "p.json")
				res := sysrec(t, append([]string{"record", "-o", out, "--"}, argv...)...)
				wantCode := 0
				if name == "sh pipeline" {
					wantCode = 5
				}
				if res.code != wantCode {
					t.Fatalf("exit status: got %d, want %d\n%s", res.code, wantCode, res.stderr)
				}
				if !strings.Contains(res.stderr, "profile written to "+out) {
					t.Errorf("stderr lacks the summary: %q", res.stderr)
				}
				p, data := readProfile(t, out)
				if i == 0 {
					first = data
					testenv.MatchStrace(t, allowed(p), want)
					native, _, _ := syscalls.Host()
					if p.DefaultAction != profiles.ActErrno || len(p.Architectures) != 1 || p.Architectures[0] != native {
						t.Errorf("got default %s, architectures %v; want SCMP_ACT_ERRNO, [%s]", p.DefaultAction, p.Architectures, native)
					}
				} else if !bytes.Equal(first, data) {
					t.Errorf("two recordings differ:\n%s\n---\n%s", first, data)
				}
			}
		})
	}
}

// A command under a seccomp filter: with sys-exit capture the denied
// syscall is in the profile and stderr says it was captured; without, it
// is missing and stderr says so.
func TestRecordUnderFilter(t *testing.T) {
	testenv.RequireBPF(t)
	wl := testenv.Workload(t)
	for _, tc := range []struct {
		mode, stderr string
		denied       bool
	}{
		{"sys-exit", "the syscalls it denied were captured (sys-exit)", true},
		{"none", "the syscalls it denied never reached the recorder and are missing", false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			res := sysrec(t, "record", "--capture-denied", tc.mode, "--", wl, "filtered")
			if res.code != 0 {
				t.Fatalf("exit status %d: %s", res.code, res.stderr)
			}
			var p profiles.Profile
			if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
				t.Fatalf("stdout is not a profile: %v\n%s", err, res.stdout)
			}
			if got := slices.Contains(allowed(&p), "mkdirat"); got != tc.denied {
				t.Errorf("denied mkdirat in the profile: got %v, want %v", got, tc.denied)
			}
			if !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("stderr: got\n%s\nwant %q", res.stderr, tc.stderr)
			}
		})
	}
	if res := sysrec(t, "record", "--capture-denied", "sometimes", "--", wl); res.code != 2 || !strings.Contains(res.stderr, "want auto, seccomp-entry, sys-exit or none") {
		t.Errorf("bad --capture-denied: got %d, %q; want 2 and the choices", res.code, res.stderr)
	}
}

func TestRecordToStdout(t *testing.T) {
	testenv.RequireBPF(t)
	wl := testenv.Workload(t)
	res := sysrec(t, "record", "--default-action", "log", "--", wl, "exec")
	if res.code != 0 {
		t.Fatalf("exit status %d: %s", res.code, res.stderr)
	}
	var p profiles.Profile
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		t.Fatalf("stdout is not a profile: %v\n%s", err, res.stdout)
	}
	if p.DefaultAction != profiles.ActLog {
		t.Errorf("default action: got %s, want SCMP_ACT_LOG", p.DefaultAction)
	}
	if names := allowed(&p); len(names) == 0 || names[0] == "" {
		t.Errorf("no syscalls allowed: %+v", p)
	}
	if n := strings.Count(strings.TrimSpace(res.stderr), "\n"); n != 0 {
		t.Errorf("want one summary line on stderr, got:\n%s", res.stderr)
	}
}

func TestExitStatus(t *testing.T) {
	testenv.RequireBPF(t)
	wl := testenv.Workload(t)
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	for _, tc := range []struct {
		name   string
		argv   []string
		code   int
		stderr string
	}{
		{"workload status", []string{wl}, 3, "syscalls"},
		{"killed by a signal", []string{"/bin/sh", "-c", "kill -KILL $$"}, 128 + 9, "syscalls"},
		{"not found", []string{"no-such-command-sysrec"}, 127, "no-such-command-sysrec: command not found"},
		{"not executable", []string{notExec}, 126, "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sysrec(t, append([]string{"record", "-o", filepath.Join(dir, "p.json"), "--"}, tc.argv...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("got status %d, stderr %q; want %d and %q", res.code, res.stderr, tc.code, tc.stderr)
			}
		})
	}
}

// SIGINT and SIGTERM to sysrec reach the command, and the profile is
// still written.
func TestSignalIsForwarded(t *testing.T) {
	testenv.RequireBPF(t)
	wl := testenv.Workload(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "p.json")
			cmd := sysrecCmd(t, "record", "-o", out, "--", wl, "sleep")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			startGroup(t, cmd)
			var pid int
			if _, err := fmt.Fscanf(stdout, "ready %d\n", &pid); err != nil {
				t.Fatalf("reading the workload's pid: %v", err)
			}
			waitSleeping(t, pid)
			cmd.Process.Signal(sig)
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Fatalf("got %v, want exit status %d\n%s", err, 128+int(sig), stderr.String())
			}
			p, _ := readProfile(t, out)
			// glibc's pause() is ppoll where the table has no pause (aarch64).
			pause := "pause"
			native, _, _ := syscalls.Host()
			if _, ok := syscalls.Number(native, pause); !ok {
				pause = "ppoll"
			}
			if names := allowed(p); !slices.Contains(names, pause) || !slices.Contains(names, "execve") {
				t.Errorf("got %v, want %s and execve among them", names, pause)
			}
		})
	}
}

// Once the command has exited, a signal stops the wait for descendants
// that outlive it; the profile is written and says it is incomplete.
func TestSignalStopsWaitingForDescendants(t *testing.T) {
	testenv.RequireBPF(t)
	wl := testenv.Workload(t)
	out := filepath.Join(t.TempDir(), "p.json")
	cmd, stderr := startLogged(t, "waiting for its descendants", "record", "-o", out, "--", "/bin/sh", "-c", wl+" sleep & exit 4")
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("got %v, want the command's exit status 4\n%s", err, stderr())
	}
	if !strings.Contains(stderr(), "incomplete") || !strings.Contains(stderr(), "descendants still ran") {
		t.Errorf("stderr does not say the recording is incomplete:\n%s", stderr())
	}
	readProfile(t, out)
}

// startGroup starts cmd in a process group of its own, which the test
// kills at its end, so that no workload outlives a failed test.
func startGroup(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
}

// waitSleeping returns once pid sleeps, which the sleep workload does
// only in pause().
func waitSleeping(t *testing.T, pid int) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, func() error {
		state, err := procState(pid)
		if err != nil {
			t.Fatal(err)
		}
		if state != "S" {
			return fmt.Errorf("the workload does not sleep: got state %s, want S", state)
		}
		return nil
	})
}

// procState returns the state letter of pid from /proc/PID/stat: S for
// sleeping, Z for a zombie.
func procState(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// pid (comm) state ...
	return strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))[0], nil
}

// An output path that cannot be written fails before the command starts.
func TestUnwritableOutputFailsFirst(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for _, out := range []string{filepath.Join(dir, "missing", "p.json"), dir} {
		res := sysrec(t, "record", "-o", out, "--", "/bin/sh", "-c", "touch "+marker)
		if res.code != 1 || !strings.Contains(res.stderr, "checking the output file before starting /bin/sh") {
			t.Errorf("-o %s: got status %d, stderr %q", out, res.code, res.stderr)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("-o %s: the command ran although the output could not be written", out)
		}
	}
}

// Without CAP_BPF and CAP_PERFMON, sysrec says what to do.
func TestNotRoot(t *testing.T) {
	cmd := sysrecCmd(t, "record", "--", "/bin/true")
	if os.Geteuid() == 0 {
		// Drop to nobody; the binary must be reachable for that user.
		dir, err := os.MkdirTemp("", "sysrec-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755)
		bin := filepath.Join(dir, "sysrec")
		copyFile(t, os.Args[0], bin)
		cmd = exec.Command(bin, "record", "--", "/bin/true")
		cmd.Env = append(os.Environ(), asMain+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res := finish(t, cmd, &stdout, &stderr)
	if res.code != 1 || !strings.Contains(res.stderr, "run as root or grant CAP_BPF and CAP_PERFMON") {
		t.Errorf("got status %d, stderr %q", res.code, res.stderr)
	}
}

// sysrec attaches through BTF, not tracefs, so it records where tracefs
// is not mounted (as on a fresh boot of many machines).
func TestNoTracefsNeeded(t *testing.T) {
	testenv.RequireBPF(t)
	unshare := testenv.RequireTool(t, "unshare")
	script := `for m in $(awk '$3 == "tracefs" || $3 == "debugfs" {print $2}' /proc/self/mounts | sort -r); do umount -l "$m" || exit 90; done
if grep -q tracefs /proc/self/mounts; then echo tracefs still mounted; exit 91; fi
exec "$@"`
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh",
		os.Args[0], "record", "-o", filepath.Join(t.TempDir(), "p.json"), "--", "/bin/true")
	cmd.Env = append(os.Environ(), asMain+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res := finish(t, cmd, &stdout, &stderr)
	if res.code != 0 || !strings.Contains(res.stderr, "profile written") {
		t.Errorf("got status %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"record"}, 2, "no command given"},
		{[]string{"record", "--default-action", "deny", "--", "/bin/true"}, 2, "unknown seccomp action"},
		{[]string{"record", "--default-action", "allow", "--", "/bin/true"}, 2, "would allow every syscall"},
		{[]string{"--log-level", "loud", "record", "--", "/bin/true"}, 2, "--log-level"},
		{[]string{"recrod", "--", "/bin/true"}, 2, `unknown command "recrod"`},
		{[]string{"record", "-o", "-", "--", "/bin/true", "--default-action", "log"}, 0, "profile written to stdout"},
	} {
		if tc.code == 0 && os.Geteuid() != 0 {
			continue
		}
		res := sysrec(t, tc.args...)
		if res.code != tc.code || !strings.Contains(res.stderr, tc.stderr) {
			t.Errorf("%v: got status %d, stderr %q; want %d and %q", tc.args, res.code, res.stderr, tc.code, tc.stderr)
		}
	}
	res := sysrec(t, "record", "--help")
	if res.code != 0 || !strings.Contains(res.stdout, "-- CMD [ARGS...]") || !strings.Contains(res.stdout, "--default-action") {
		t.Errorf("record --help: got status %d, stdout %q", res.code, res.stdout)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// record --containers writes one profile per workload container, with the
// replicas of a Deployment merged, and an index, on each runtime.
func TestRecordContainers(t *testing.T) {
	for _, rt := range testenv.Runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			endpoint := rt.Endpoint(t)
			testenv.RequireBPF(t)
			dir := t.TempDir()
			out := filepath.Join(dir, "profiles")
			cmd, stderr := recordContainersCmd(t, "--runtime-endpoint", endpoint,
				"--namespace", "sysrec-cli", "--output-dir", out, "--duration", "5s")
			labels := map[string]string{"app": "web", "pod-template-hash": "7c9d8f6b5"}
			script := []string{"/bin/sh", "-c", "mkdir /tmp/sysrec && uname -s && exec sleep 3"}
			testenv.RunPod(t, endpoint, testenv.Pod{Name: "web-7c9d8f6b5-bcdfg", Namespace: "sysrec-cli", Labels: labels, Command: script, Seccomp: testenv.Unconfined})
			testenv.RunPod(t, endpoint, testenv.Pod{Name: "web-7c9d8f6b5-hjklm", Namespace: "sysrec-cli", Labels: labels, Command: script, Seccomp: testenv.Unconfined})
			// A container that lives a few milliseconds.
			testenv.RunPod(t, endpoint, testenv.Pod{Name: "quick", Namespace: "sysrec-cli", Command: []string{"/bin/sh", "-c", "uname -s"}, Seccomp: testenv.Unconfined})
			// Another namespace: filtered out.
			testenv.RunPod(t, endpoint, testenv.Pod{Name: "other", Namespace: "elsewhere", Command: script})

			if err := cmd.Wait(); err != nil {
				t.Fatalf("sysrec: %v\n%s", err, stderr())
			}
			if strings.Contains(stderr(), "SYSCALLS") {
				t.Errorf("stderr is no terminal, but got a live view:\n%s", stderr())
			}
			p, _ := readProfile(t, filepath.Join(out, "sysrec-cli", "web", "app.json"))
			names := allowed(p)
			if !slices.Contains(names, "execve") || !slices.Contains(names, "uname") || slices.Contains(names, "pivot_root") ||
				!(slices.Contains(names, "mkdir") || slices.Contains(names, "mkdirat")) {
				t.Errorf("profile: got %v, want execve, uname and mkdir, and no pivot_root", names)
			}
			idx, data := readIndex(t, out)
			if len(idx.Profiles) != 2 || len(idx.Warnings) != 0 || idx.Drops != (tree.Drops{}) {
				t.Fatalf("index: got %d profiles, warnings %v, drops %+v; want 2 (the other namespace filtered out), none and none:\n%s", len(idx.Profiles), idx.Warnings, idx.Drops, data)
			}
			quick, _ := readProfile(t, filepath.Join(out, "sysrec-cli", "quick", "app.json"))
			if names := allowed(quick); !slices.Contains(names, "uname") || !slices.Contains(names, "execve") {
				t.Errorf("short-lived container: got %v, want uname and execve", names)
			}
			e := idx.Profiles[1]
			if e.Profile != filepath.Join("sysrec-cli", "web", "app.json") || e.Kind != "Deployment" || e.Replicas != 2 || e.Runtime != rt.Name {
				t.Errorf("index entry: got %+v, want sysrec-cli/web/app.json, a Deployment, 2 replicas, runtime %s", e, rt.Name)
			}

			closedLoop(t, endpoint, "", filepath.Join(out, "sysrec-cli", "web", "app.json"), script)
		})
	}
}

// closedLoop runs script in a container under the recorded profile, which
// must let it run to completion, then under the profile without mkdir,
// which must make it fail with EPERM.
func closedLoop(t *testing.T, endpoint, handler, profile string, script []string) {
	t.Helper()
	id := testenv.RunPod(t, endpoint, testenv.Pod{Name: "web-7c9d8f6b5-pqrst", Namespace: "sysrec-cli",
		Command: script, Seccomp: profile, Handler: handler})
	if code, log := testenv.WaitExit(t, endpoint, id); code != 0 || !strings.Contains(log, "Linux") {
		t.Errorf("under the recorded profile: got exit %d, log %q; want 0 and the uname output", code, log)
	}
	p, _ := readProfile(t, profile)
	data, err := profiles.Marshal(without(p, 1, "mkdir", "mkdirat"))
	if err != nil {
		t.Fatal(err)
	}
	without := filepath.Join(t.TempDir(), "without-mkdir.json")
	if err := os.WriteFile(without, data, 0o644); err != nil {
		t.Fatal(err)
	}
	id = testenv.RunPod(t, endpoint, testenv.Pod{Name: "web-7c9d8f6b5-vwxzb", Namespace: "sysrec-cli",
		Command: script, Seccomp: without, Handler: handler})
	if code, log := testenv.WaitExit(t, endpoint, id); code == 0 || !strings.Contains(log, "Operation not permitted") {
		t.Errorf("without mkdir: got exit %d, log %q; want mkdir to fail with EPERM", code, log)
	}
}

// The closed loop with crun as the OCI runtime (containerd's "crun"
// handler): the profile holds what crun needs after it loads the filter.
func TestRecordContainersCrun(t *testing.T) {
	endpoint := testenv.Runtimes[0].Endpoint(t)
	testenv.RequireBPF(t)
	out := filepath.Join(t.TempDir(), "profiles")
	cmd, stderr := recordContainersCmd(t, "--runtime-endpoint", endpoint,
		"--namespace", "sysrec-crun", "--output-dir", out, "--duration", "3s")
	script := []string{"/bin/sh", "-c", "mkdir /tmp/sysrec && uname -s"}
	id := testenv.RunPod(t, endpoint, testenv.Pod{Name: "web", Namespace: "sysrec-crun", Command: script, Seccomp: testenv.Unconfined, Handler: "crun"})
	if code, log := testenv.WaitExit(t, endpoint, id); code != 0 {
		t.Fatalf("under crun: exit %d, log %q", code, log)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sysrec: %v\n%s", err, stderr())
	}
	profile := filepath.Join(out, "sysrec-crun", "web", "app.json")
	p, _ := readProfile(t, profile)
	names := allowed(p)
	for _, setup := range []string{"pivot_root", "mount", "sethostname"} {
		if slices.Contains(names, setup) {
			t.Errorf("recorded %s, which only crun's setup makes: %v", setup, names)
		}
	}
	closedLoop(t, endpoint, "crun", profile, script)
}

// 50 short-lived containers started at once are all attributed, each to a
// profile of its own, and each recorded set is the same: the workload's.
func TestRecordFiftyConcurrentContainers(t *testing.T) {
	const n = 50
	for _, rt := range testenv.Runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			endpoint := rt.Endpoint(t)
			testenv.RequireBPF(t)
			out := filepath.Join(t.TempDir(), "profiles")
			cmd, stderr := startLogged(t, "recording containers", "--log-level", "debug", "record", "--containers",
				"--runtime-endpoint", endpoint, "--namespace", "sysrec-fifty", "--output-dir", out)
			pods := make([]testenv.Pod, n)
			for i := range pods {
				pods[i] = testenv.Pod{Name: fmt.Sprintf("c%02d", i), Namespace: "sysrec-fifty", Command: []string{"/bin/uname", "-s"}, Seccomp: testenv.Unconfined}
			}
			ids := testenv.RunPods(t, endpoint, pods)
			for _, id := range ids {
				if code, log := testenv.WaitExit(t, endpoint, id); code != 0 || !strings.Contains(log, "Linux") {
					t.Fatalf("container %s: exit %d, log %q", id, code, log)
				}
			}
			// Each container was attributed while its pod still ran.
			testenv.WaitFor(t, 30*time.Second, func() error { return attributed(stderr(), ids) })
			cmd.Process.Signal(syscall.SIGINT)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("sysrec: %v\n%s", err, stderr())
			}

			idx, _ := readIndex(t, out)
			if len(idx.Profiles) != n || len(idx.Warnings) != 0 {
				t.Fatalf("index: got %d profiles and warnings %v, want %d and none", len(idx.Profiles), idx.Warnings, n)
			}
			// What the workload is known to call: the image's busybox is the
			// host's, so strace sees the same uname there, with its stdout a
			// file as a container's is. Profiles add what the OCI runtimes
			// need after loading the filter.
			native, _, err := syscalls.Host()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
			if err != nil {
				t.Fatal(err)
			}
			defer stdout.Close()
			var want []string
			for nr := range testenv.StraceTo(t, stdout, "/bin/busybox", "uname", "-s") {
				n, _ := syscalls.Name(native, nr)
				want = append(want, n)
			}
			for _, n := range profiles.OCIRuntimeSyscalls {
				if !slices.Contains(want, n) {
					want = append(want, n)
				}
			}
			slices.Sort(want)
			for i := range pods {
				p, _ := readProfile(t, filepath.Join(out, "sysrec-fifty", pods[i].Name, "app.json"))
				if names := allowed(p); !slices.Equal(names, want) {
					t.Errorf("%s: got %v, want strace's set plus the runtimes' %v", pods[i].Name, names, want)
				}
			}
		})
	}
}

// attributed returns nil once a debug log of record --containers says
// that each container of ids was attributed.
func attributed(log string, ids []string) error {
	var lines []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "container attributed") {
			lines = append(lines, line)
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(lines, func(line string) bool { return strings.Contains(line, id) }) {
			return fmt.Errorf("container %s is not attributed yet (%d attributed cgroups)", id, len(lines))
		}
	}
	return nil
}

// Containers that run before sysrec starts are recorded from then on and
// marked partial; one under a seccomp filter is flagged.
func TestRecordRunningContainers(t *testing.T) {
	for _, rt := range testenv.Runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			endpoint := rt.Endpoint(t)
			testenv.RequireBPF(t)
			out := filepath.Join(t.TempDir(), "profiles")
			loop := []string{"/bin/sh", "-c", "while :; do uname >/dev/null; sleep 0.05; done"}
			testenv.RunPods(t, endpoint, []testenv.Pod{
				{Name: "before", Namespace: "sysrec-running", Command: loop, Seccomp: testenv.Unconfined},
				{Name: "confined", Namespace: "sysrec-running", Command: loop, Seccomp: testenv.RuntimeDefault},
			})
			cmd, stderr := recordContainersCmd(t, "--runtime-endpoint", endpoint,
				"--namespace", "sysrec-running", "--output-dir", out, "--duration", "1s")
			if err := cmd.Wait(); err != nil {
				t.Fatalf("sysrec: %v\n%s", err, stderr())
			}
			idx, _ := readIndex(t, out)
			got := map[string]tree.Entry{}
			for _, e := range idx.Profiles {
				got[e.Workload] = e
			}
			if e := got["before"]; !e.Partial || e.Filtered {
				t.Errorf("container started before sysrec: got partial %v, filtered %v; want true, false", e.Partial, e.Filtered)
			}
			if e := got["confined"]; !e.Partial || !e.Filtered {
				t.Errorf("container under RuntimeDefault: got partial %v, filtered %v; want true, true", e.Partial, e.Filtered)
			}
			if len(idx.Warnings) != 3 || !strings.Contains(stderr(), "already ran when recording began") || !strings.Contains(stderr(), "ran under a seccomp filter") {
				t.Errorf("got warnings %q and stderr:\n%s\nwant two partial and one filtered warning, on stderr too", idx.Warnings, stderr())
			}
			for _, w := range []string{"before", "confined"} {
				p, _ := readProfile(t, filepath.Join(out, "sysrec-running", w, "app.json"))
				if names := allowed(p); !slices.Contains(names, "uname") || !slices.Contains(names, "wait4") {
					t.Errorf("%s: got %v, want the loop's uname and wait4", w, names)
				}
			}
		})
	}
}

// A plain `ctr run` container, outside Kubernetes, is recorded and named
// <containerd namespace>/<id> through containerd's own API.
func TestRecordCtrContainers(t *testing.T) {
	endpoint := testenv.Runtimes[0].Endpoint(t)
	testenv.RequireBPF(t)
	out := filepath.Join(t.TempDir(), "profiles")
	cmd, stderr := recordContainersCmd(t, "--runtime-endpoint", endpoint, "--namespace", testenv.CtrNamespace, "--output-dir", out, "--duration", "3s")
	id := testenv.RunCtr(t, endpoint, "/bin/sh", "-c", "uname -s; mkdir /tmp/x")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sysrec: %v\n%s", err, stderr())
	}
	p, _ := readProfile(t, filepath.Join(out, testenv.CtrNamespace, id, id+".json"))
	if names := allowed(p); !slices.Contains(names, "uname") || !slices.Contains(names, "execve") || !slices.Contains(names, "mkdir") {
		t.Errorf("got %v, want uname, mkdir and execve", names)
	}
	idx, data := readIndex(t, out)
	if len(idx.Profiles) != 1 || idx.Profiles[0].Kind != "containerd" || idx.Profiles[0].Namespace != testenv.CtrNamespace || len(idx.Warnings) != 0 {
		t.Errorf("index: got %s, want one containerd entry in %s and no warnings", data, testenv.CtrNamespace)
	}
}

// On a terminal, record --containers redraws a live view of the
// containers it sees on stderr; off one (every other test) it prints none.
func TestRecordContainersLiveView(t *testing.T) {
	endpoint := testenv.Runtimes[0].Endpoint(t)
	testenv.RequireBPF(t)
	master, tty := openPTY(t)
	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	screen := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	cmd := sysrecCmd(t, "record", "--containers", "--runtime-endpoint", endpoint, "--namespace", "sysrec-live",
		"--output-dir", filepath.Join(t.TempDir(), "profiles"))
	cmd.Stderr = tty
	startGroup(t, cmd)
	tty.Close()
	testenv.RunPod(t, endpoint, testenv.Pod{Name: "live", Namespace: "sysrec-live", Seccomp: testenv.Unconfined,
		Command: []string{"/bin/sh", "-c", "while :; do uname >/dev/null; sleep 0.1; done"}})
	// The row, and a redraw over an earlier view.
	testenv.WaitFor(t, 30*time.Second, func() error {
		if s := screen(); !strings.Contains(s, "sysrec-live/live/app") || !strings.Contains(s, "\x1b[") {
			return fmt.Errorf("the live view has not shown sysrec-live/live/app and redrawn:\n%q", s)
		}
		return nil
	})
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sysrec: %v\n%s", err, screen())
	}
	if s := screen(); !strings.Contains(s, "CONTAINER") || !strings.Contains(s, "SYSCALLS") || !strings.Contains(s, "\x1b[") {
		t.Errorf("got %q, want a redrawn table with CONTAINER and SYSCALLS columns", s)
	}
}

// openPTY returns a pseudo-terminal's master and its terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, tty
}

// Without CRI, containers are still recorded and named from their cgroup.
func TestRecordContainersWithoutCRI(t *testing.T) {
	rt := testenv.Runtimes[0]
	endpoint := rt.Endpoint(t)
	testenv.RequireBPF(t)
	out := filepath.Join(t.TempDir(), "profiles")
	cmd, stderr := recordContainersCmd(t, "--runtime-endpoint", "none", "--output-dir", out, "--duration", "3s")
	id := testenv.RunPod(t, endpoint, testenv.Pod{Name: "nocri", Namespace: "sysrec-nocri", Command: []string{"/bin/uname", "-s"}})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sysrec: %v\n%s", err, stderr())
	}
	p, _ := readProfile(t, filepath.Join(out, "unknown", id[:12], id[:12]+".json"))
	if names := allowed(p); !slices.Contains(names, "uname") || !slices.Contains(names, "execve") {
		t.Errorf("got %v, want uname and execve", names)
	}
}

// recordContainersCmd starts sysrec record --containers with args and
// returns once it records.
func recordContainersCmd(t *testing.T, args ...string) (*exec.Cmd, func() string) {
	t.Helper()
	return startLogged(t, "recording containers", append([]string{"record", "--containers"}, args...)...)
}

// startLogged starts sysrec with args in a process group of its own and
// returns once its stderr says until. stderr reads what it has logged so
// far: a file, not a pipe, so that Wait does not also wait for daemons or
// containers that inherited it.
func startLogged(t *testing.T, until string, args ...string) (*exec.Cmd, func() string) {
	t.Helper()
	errFile := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd := sysrecCmd(t, args...)
	cmd.Stderr = f
	startGroup(t, cmd)
	stderr := func() string { data, _ := os.ReadFile(errFile); return string(data) }
	testenv.WaitFor(t, 30*time.Second, func() error {
		if s := stderr(); !strings.Contains(s, until) {
			return fmt.Errorf("sysrec has not logged %q:\n%s", until, s)
		}
		return nil
	})
	return cmd, stderr
}

// readIndex reads the index.json that record --containers wrote to out.
func readIndex(t *testing.T, out string) (tree.Index, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx tree.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatalf("index.json: %v\n%s", err, data)
	}
	return idx, data
}
