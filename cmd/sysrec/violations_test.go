package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// A real LOG record is listed, named, and merged into a profile with
// --into.
func TestViolations(t *testing.T) {
	testenv.RequireRoot(t)
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	var list []violation
	pid := testenv.LogUntilSeen(t, func(pid int) bool {
		res := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none", "-o", "json")
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		list = nil
		if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
			t.Fatalf("-o json: %v\n%s", err, res.stdout)
		}
		return slices.ContainsFunc(list, func(v violation) bool { return v.PID == pid })
	})
	i := slices.IndexFunc(list, func(v violation) bool { return v.PID == pid })
	if v := list[i]; v.Syscall != "uname" || v.Arch != native || v.Action != "SCMP_ACT_LOG" || v.Comm != "workload" {
		t.Errorf("got %+v, want uname logged on %s by workload", v, native)
	}

	one := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none", "--pid", strconv.Itoa(pid), "-o", "json")
	var only []violation
	if err := json.Unmarshal([]byte(one.stdout), &only); err != nil || len(only) != 1 || only[0].PID != pid {
		t.Errorf("--pid %d: got %v, %s; want its one record", pid, err, one.stdout)
	}

	table := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none")
	if table.code != 0 || !strings.Contains(table.stdout, "SYSCALL") || !strings.Contains(table.stdout, strconv.Itoa(pid)) {
		t.Errorf("table: exit %d, got\n%s", table.code, table.stdout)
	}

	// --into adds what was logged to a profile that lacks it.
	p, err := profiles.Generate(map[syscalls.Arch][]string{native: {"read", "write"}}, profiles.ActLog)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := profiles.Marshal(p)
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	into := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none", "--into", path)
	if into.code != 0 || !strings.Contains(into.stderr, "added to "+path) {
		t.Fatalf("--into: exit %d, stderr %s", into.code, into.stderr)
	}
	got, _ := readProfile(t, path)
	if names := allowed(got); !slices.Contains(names, "uname") || !slices.Contains(names, "read") {
		t.Errorf("after --into: got %v, want read and write plus uname", names)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after --into: got mode %v, %v; want 0600 kept", fi.Mode(), err)
	}
}

// --follow with the audit source prints each new record as a JSON line.
func TestViolationsFollow(t *testing.T) {
	testenv.RequireRoot(t)
	cmd := sysrecCmd(t, "violations", "--follow", "--source", "audit", "--runtime-endpoint", "none", "-o", "json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startGroup(t, cmd)
	waitAuditJoined(t, cmd)
	pid := testenv.RunLogged(t)
	lines := bufio.NewScanner(out)
	deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	found := false
	for !found && lines.Scan() {
		var v violation
		if err := json.Unmarshal(lines.Bytes(), &v); err != nil {
			t.Fatalf("not a JSON line: %q", lines.Text())
		}
		found = v.PID == pid && v.Syscall == "uname"
	}
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if !found {
		t.Fatalf("no JSON line for pid %d", pid)
	}
	if err != nil {
		t.Errorf("after SIGINT: got %v, want exit 0", err)
	}
}

// waitAuditJoined returns once the sysrec that cmd runs has joined the
// audit log multicast group: a record made from then on reaches it.
func waitAuditJoined(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, func() error {
		err := testenv.AuditJoined(cmd.Process.Pid)
		if state, serr := procState(cmd.Process.Pid); err != nil && (serr != nil || state == "Z") {
			t.Fatalf("sysrec exited before it joined the audit log group: %v", err)
		}
		return err
	})
}

func TestViolationsUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"violations", "--source", "syslog"}, "want kmsg, audit or journal"},
		{[]string{"violations", "--since", "yesterday"}, "want a time as"},
		{[]string{"violations", "-o", "xml"}, "-o"},
		{[]string{"violations", "extra"}, "takes no arguments"},
	} {
		res := sysrec(t, tc.args...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: got exit %d, %q; want 2 and %q", tc.args, res.code, res.stderr, tc.want)
		}
	}
}

// A record from a container's process is attributed to its pod,
// namespace and container through CRI, on each runtime.
func TestViolationsAttribution(t *testing.T) {
	for _, rt := range testenv.Runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			endpoint := rt.Endpoint(t)
			// The shell itself writes (echo is a builtin), and keeps running,
			// so its pid can be attributed when the record arrives.
			profile := writeFile(t, t.TempDir(), "log-write.json",
				`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_LOG"}]}`)
			cmd := sysrecCmd(t, "violations", "--follow", "--source", "audit", "--runtime-endpoint", endpoint, "--namespace", "sysrec-viol", "-o", "json")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			startGroup(t, cmd)
			waitAuditJoined(t, cmd)
			testenv.RunPod(t, endpoint, testenv.Pod{Name: "logger", Namespace: "sysrec-viol", Seccomp: profile,
				Command: []string{"/bin/sh", "-c", "while :; do echo x >/dev/null; sleep 0.2; done"}})
			deadline := time.AfterFunc(15*time.Second, func() { cmd.Process.Kill() })
			defer deadline.Stop()
			lines := bufio.NewScanner(out)
			var got violation
			for lines.Scan() {
				var v violation
				if err := json.Unmarshal(lines.Bytes(), &v); err != nil {
					t.Fatalf("not a JSON line: %q", lines.Text())
				}
				if v.Namespace != "sysrec-viol" {
					t.Fatalf("--namespace sysrec-viol let through %+v", v)
				}
				if v.Syscall == "write" {
					got = v
					break
				}
			}
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
			if got.Pod != "logger" || got.Container != "app" || got.Workload != "logger" || got.Action != "SCMP_ACT_LOG" {
				t.Errorf("got %+v, want a logged write attributed to sysrec-viol/logger/app", got)
			}
		})
	}
}
