package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/syscalls"
)

// chromium runs Debian's chromium headless on the page at path with args
// (--dump-dom, --screenshot=...) and returns its stdout. It runs in its
// own process group with a fresh profile, home and cache, and the test
// fails if anything of that group outlives it.
func chromium(t *testing.T, bin, path string, args ...string) []byte {
	t.Helper()
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	argv := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--user-data-dir=" + filepath.Join(tmp, "profile"),
	}, args...)
	argv = append(argv, "file://"+path)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Env = append(os.Environ(), "HOME="+tmp, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		pgid := cmd.Process.Pid
		if left := groupLeft(pgid); left != nil {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Errorf("chromium left processes behind in its group: %v", left)
		}
	}
	if err != nil {
		t.Fatalf("chromium %s: %v (context: %v)\n%s", strings.Join(args, " "), err, ctx.Err(), tail(stderr.String()))
	}
	return stdout.Bytes()
}

// groupLeft returns the processes still in process group pgid, waiting a
// little for those that are exiting.
func groupLeft(pgid int) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process group %d still has members", pgid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// TestReportChromium renders the page in a real headless Chromium, the
// browser that people open it in, and checks the DOM that Chromium
// built: one row per workload with a cell per group (so no markup was
// moved out of the table), the group headers, the highlighted dangerous
// cell, what each workload removes against runtime/default, and hostile
// names from a container tree kept as text. It takes a screenshot too.
func TestReportChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Skip(t, "no chromium (scripts/install-deps.sh test installs Debian's): %v", err)
	}
	arch := host(t)
	dir := t.TempDir()
	page, html := build(t, writeApp(t, t.TempDir(), arch), writeTree(t, arch))
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, html, 0o644); err != nil {
		t.Fatal(err)
	}

	dom := string(chromium(t, bin, path, "--dump-dom"))
	if !strings.Contains(dom, "<title>sysrec report: seccomp profiles by syscall group</title>") {
		t.Fatalf("chromium's DOM has no report title:\n%s", tail(dom))
	}
	rows := regexp.MustCompile(`(?s)<tr class="workload" id="row-(w\d+)"[^>]*>(.*?)</tr>`).FindAllStringSubmatch(dom, -1)
	if len(rows) != len(page.Rows) {
		t.Fatalf("chromium's DOM has %d workload rows, want %d", len(rows), len(page.Rows))
	}
	if !strings.Contains(dom, `<tr class="reference" id="row-ref"`) {
		t.Error("no runtime/default row")
	}
	heads := regexp.MustCompile(`<th scope="col" class="group" data-group="([a-z-]+)"`).FindAllStringSubmatch(dom, -1)
	if len(heads) != len(syscalls.Groups()) {
		t.Fatalf("%d group headers, want %d", len(heads), len(syscalls.Groups()))
	}
	for i, g := range syscalls.Groups() {
		if heads[i][1] != g.Key() {
			t.Errorf("group header %d is %s, want %s", i, heads[i][1], g.Key())
		}
	}
	reach := regexp.MustCompile(`<span class="removed">(\d+) of the default's (\d+) syscalls no longer reachable</span>`)
	for i, m := range rows {
		r := page.Rows[i]
		if m[1] != r.ID {
			t.Errorf("row %d is %s, want %s", i, m[1], r.ID)
		}
		if n := strings.Count(m[2], `<td class="cell `); n != len(heads) {
			t.Errorf("row %s has %d group cells, want %d", r.ID, n, len(heads))
		}
		got := reach.FindStringSubmatch(m[2])
		if want := fmt.Sprint(r.NumRemoved, r.RefAllowed); got == nil || got[1]+" "+got[2] != want {
			t.Errorf("row %s: %v, want %d of the default's %d syscalls no longer reachable", r.ID, got, r.NumRemoved, r.RefAllowed)
		}
		// ptrace, in the debugging group, is dangerous.
		if !regexp.MustCompile(`<td class="cell l\d dangerous" data-group="debug" data-count="1"[^>]*><details><summary>1</summary><ul><li class="syscall dangerous" data-syscall="ptrace"`).MatchString(m[2]) {
			t.Errorf("row %s has no highlighted debugging cell with ptrace:\n%s", r.ID, m[2])
		}
		if !strings.Contains(m[2], `data-syscall="write"`) || !strings.Contains(m[2], "seen 1 of 4") {
			t.Errorf("row %s: no provenance on write's cell", r.ID)
		}
	}
	// What Chromium made of the hostile names: text, no element.
	for _, bad := range []string{"<script", "<img", "<iframe"} {
		if strings.Contains(dom, bad) {
			t.Errorf("chromium's DOM has a %s element", bad)
		}
	}
	if !strings.Contains(dom, `&lt;script&gt;alert("x")&lt;/script&gt;`) {
		t.Error("the hostile container name is not in the DOM as text")
	}
	if !strings.Contains(dom, `<code>socket(AF_INET6)</code>`) {
		t.Error("no argument rule in the DOM")
	}

	shot := filepath.Join(dir, "report.png")
	chromium(t, bin, path, "--screenshot="+shot, "--window-size=1600,1000")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10000 {
		t.Errorf("screenshot: %d bytes, want a PNG of the page", len(png))
	}
}
