package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
	"github.com/sysrec/sysrec/violations"
)

// mkdirProfile allows what /bin/mkdir needs and, unless withMkdir, denies
// mkdir and mkdirat with errno. It is recorded, so it holds exactly what
// this machine's mkdir makes, both when it makes a directory and when it
// fails and says so.
func mkdirProfile(t *testing.T, dir string, withMkdir bool) string {
	t.Helper()
	recorded := filepath.Join(dir, "recorded.json")
	made := filepath.Join(dir, "made")
	if res := sysrec(t, "record", "-o", recorded, "--", "/bin/mkdir", made, made); res.code != 1 {
		t.Fatalf("record: got exit %d (%s), want 1 (the second mkdir fails)", res.code, res.stderr)
	}
	if withMkdir {
		return recorded
	}
	p, _ := readProfile(t, recorded)
	return writeProfile(t, dir, "without-mkdir.json", without(p, uint(syscall.EPERM), "mkdir", "mkdirat"))
}

// run names the syscalls that the profile denied the command, from the
// kernel's own records, and says nothing when it denied none.
func TestRunNamesDeniedSyscalls(t *testing.T) {
	testenv.RequireBPF(t)
	res := sysrec(t, "run", "--profile", mkdirProfile(t, t.TempDir(), false), "--", "/bin/mkdir", filepath.Join(t.TempDir(), "denied"))
	if res.code != 1 {
		t.Errorf("under a profile without mkdirat: got exit %d, want 1 (mkdir's own)", res.code)
	}
	if !strings.Contains(res.stderr, "Operation not permitted") {
		t.Errorf("got stderr %q, want mkdir's EPERM", res.stderr)
	}
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^  mkdir(at)? +` + regexp.QuoteMeta(string(native)) + ` +errno +1 time +by mkdir$`)
	if !strings.Contains(res.stderr, "sysrec: the profile denied /bin/mkdir these syscalls:") || !row.MatchString(res.stderr) {
		t.Errorf("got stderr %q, want it to name mkdir or mkdirat, denied once to mkdir", res.stderr)
	}
	if strings.Contains(res.stderr, "incomplete") {
		t.Errorf("got stderr %q, want a complete list", res.stderr)
	}

	res = sysrec(t, "run", "--profile", mkdirProfile(t, t.TempDir(), true), "--", "/bin/mkdir", filepath.Join(t.TempDir(), "allowed"))
	if res.code != 0 || strings.Contains(res.stderr, "denied") {
		t.Errorf("under its own profile: got exit %d, stderr %q; want 0 and no denials", res.code, res.stderr)
	}
}

// The marker record that tells run it has read every record is sysrec's
// own: violations never shows it as a workload's.
func TestRunMarkerIsNotAViolation(t *testing.T) {
	testenv.RequireBPF(t)
	dir := t.TempDir()
	profile := mkdirProfile(t, dir, true)
	audit, err := violations.OpenAudit()
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	if res := sysrec(t, "run", "--profile", profile, "--", "/bin/mkdir", filepath.Join(dir, "x")); res.code != 0 {
		t.Fatalf("run: got exit %d (%s), want 0", res.code, res.stderr)
	}
	// The marker is logged after the command: wait for it on the audit
	// log, then check that the kernel log reader skips it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var marker violations.Record
	for marker.Comm != violations.MarkerComm {
		if marker, err = audit.Next(ctx); err != nil {
			t.Fatalf("waiting for the marker record: %v", err)
		}
	}
	_, err = violations.Read(ctx, violations.Options{Source: violations.Kmsg}, func(r violations.Record) error {
		if r.Comm == violations.MarkerComm {
			t.Errorf("violations read the marker record %+v, want it skipped", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// With --report-denied=false, run execs the command in its own place: the
// command keeps sysrec's pid. By default the command is sysrec's child.
func TestRunExecsInPlace(t *testing.T) {
	testenv.RequireRoot(t)
	p := &profiles.Profile{DefaultAction: profiles.ActAllow}
	profile := writeProfile(t, t.TempDir(), "allow.json", p)
	for _, tc := range []struct {
		flag    string
		samePID bool
	}{
		{"--report-denied=false", true},
		{"--report-denied", false},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			cmd := sysrecCmd(t, "run", "--profile", profile, tc.flag, "--", "/bin/sh", "-c", "echo $$")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatalf("got output %q, want a pid", out)
			}
			if same := pid == cmd.Process.Pid; same != tc.samePID {
				t.Errorf("got the command's pid %d, sysrec's %d: same %v, want %v", pid, cmd.Process.Pid, same, tc.samePID)
			}
		})
	}
}
