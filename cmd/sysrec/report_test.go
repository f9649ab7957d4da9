package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

// report writes the page to -o FILE (report.html by default), or to
// stdout with -o -; without a profile it is a usage error.
func TestReportCommand(t *testing.T) {
	native, _, err := syscalls.Host()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	prof := filepath.Join(dir, "app.json")
	data := `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["` + string(native) + `"],
  "syscalls": [{"names": ["read", "write", "exit_group", "ptrace"], "action": "SCMP_ACT_ALLOW"}]}`
	if err := os.WriteFile(prof, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.html")
	res := sysrec(t, "report", "-o", out, prof)
	if res.code != 0 {
		t.Fatalf("report: exit %d: %s", res.code, res.stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<tr class="workload" id="row-w1"`, "syscalls no longer reachable", `data-syscall="ptrace"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
	res = sysrec(t, "report", prof, "-o", "-")
	if res.code != 0 || res.stdout != string(page) {
		t.Errorf("report -o -: exit %d, %d bytes on stdout, want the same page (%d bytes): %s", res.code, len(res.stdout), len(page), res.stderr)
	}
	cmd := sysrecCmd(t, "report", prof)
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		t.Fatalf("report without -o: %v", err)
	}
	if def, err := os.ReadFile(filepath.Join(dir, "report.html")); err != nil || string(def) != string(page) {
		t.Errorf("report without -o: report.html: %v", err)
	}
	if res := sysrec(t, "report"); res.code != 2 || !strings.Contains(res.stderr, "no profile given") {
		t.Errorf("report without a profile: exit %d: %s", res.code, res.stderr)
	}
	if res := sysrec(t, "report", "--runtime", "nope", prof); res.code != 2 || !strings.Contains(res.stderr, "--runtime") {
		t.Errorf("report --runtime nope: exit %d: %s", res.code, res.stderr)
	}
	if res := sysrec(t, "report", filepath.Join(dir, "missing.json")); res.code != 1 {
		t.Errorf("report of a missing file: exit %d: %s", res.code, res.stderr)
	}
}
