package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/syscalls"
)

// host is the architecture the tests' profiles are for: containerd's
// default profile, the reference, is generated for the host's.
func host(t testing.TB) syscalls.Arch {
	t.Helper()
	native, _, err := syscalls.Host()
	if err != nil {
		t.Skipf("no syscall table for this host: %v", err)
	}
	return native
}

// appProfile is a recorded-looking profile: a group, a dangerous
// syscall, an argument rule and a completion rule.
func appProfile(arch syscalls.Arch) string {
	return `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["` + string(arch) + `"],
  "syscalls": [
    {"names": ["close", "openat", "read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "group: file I/O"},
    {"names": ["exit_group", "execve"], "action": "SCMP_ACT_ALLOW", "comment": "group: process"},
    {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "comment": "group: debugging"},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]},
    {"names": ["restart_syscall"], "action": "SCMP_ACT_ALLOW", "comment": "` + profiles.CompletionPrefix + `restart_syscall: sleeps restart through it"}
  ]
}
`
}

var firstCall = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func appProvenance(arch syscalls.Arch) *provenance.File {
	o := func(exe, comm string, pid int) *provenance.Origin {
		return &provenance.Origin{Exe: exe, Comm: comm, PID: pid, TID: pid, Time: firstCall}
	}
	return &provenance.File{Profile: "app.json", Inputs: 4, Syscalls: map[syscalls.Arch]map[string]provenance.Syscall{arch: {
		"close":           {Origin: o("/usr/bin/app", "app", 42), Seen: 4},
		"openat":          {Origin: o("/usr/bin/app", "app", 42), Seen: 4},
		"read":            {Origin: o("/usr/bin/app", "app", 42), Seen: 4},
		"write":           {Origin: o("/usr/bin/app", "app", 42), Seen: 1},
		"execve":          {Origin: o("/usr/bin/app", "app", 42), Seen: 4},
		"exit_group":      {Origin: o("/usr/bin/app", "app", 42), Seen: 4},
		"ptrace":          {Origin: o("/usr/bin/gdb", "gdb", 43), Seen: 2},
		"socket":          {Origin: o("/usr/bin/app", "app", 42), Seen: 4},
		"restart_syscall": {Completion: "restart_syscall: sleeps restart through it"},
	}}}
}

// writeApp writes app.json and its sidecar into dir.
func writeApp(t *testing.T, dir string, arch syscalls.Arch) string {
	t.Helper()
	path := filepath.Join(dir, "app.json")
	if err := os.WriteFile(path, []byte(appProfile(arch)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := provenance.Write(provenance.Path(path), appProvenance(arch)); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostile is what a container tree may carry in its index: names that
// are markup.
const hostile = `<script>alert("x")</script>`

// writeTree writes a container tree with one profile whose index entry
// has hostile names, and returns its directory.
func writeTree(t *testing.T, arch syscalls.Arch) string {
	t.Helper()
	dir := t.TempDir()
	rel := "default/web/app.json"
	if err := tree.WriteProfile(dir, rel, []byte(appProfile(arch))); err != nil {
		t.Fatal(err)
	}
	prov := appProvenance(arch)
	s := prov.Syscalls[arch]["read"]
	s.Origin.Comm = hostile
	s.Origin.Exe = "/bin/" + hostile
	prov.Syscalls[arch]["read"] = s
	idx := &tree.Index{Profiles: []tree.Entry{{
		Profile:    rel,
		Namespace:  "default",
		Workload:   `web"><img src=x onerror=alert(1)>`,
		Kind:       "Deployment",
		Container:  hostile,
		Images:     []string{"example.com/web:" + hostile},
		Pods:       []string{"web-1", "web-0"},
		Replicas:   2,
		Runtime:    "runc",
		FirstSeen:  firstCall,
		LastSeen:   firstCall.Add(time.Minute),
		Inputs:     prov.Inputs,
		Provenance: prov.Syscalls,
	}}}
	if err := tree.WriteIndex(dir, idx); err != nil {
		t.Fatal(err)
	}
	return dir
}

func build(t *testing.T, paths ...string) (*Page, []byte) {
	t.Helper()
	ws, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	page, err := Build(ws, Options{Arch: host(t)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, page); err != nil {
		t.Fatal(err)
	}
	return page, buf.Bytes()
}

func cell(t *testing.T, r Row, key string) Cell {
	t.Helper()
	for _, c := range r.Cells {
		if c.Group.Key == key {
			return c
		}
	}
	t.Fatalf("row %s has no cell for group %s", r.Name, key)
	return Cell{}
}

func TestReportStructure(t *testing.T) {
	arch := host(t)
	path := writeApp(t, t.TempDir(), arch)
	page, html := build(t, path)

	if len(page.Rows) != 1 || page.Rows[0].Name != path {
		t.Fatalf("rows: %+v, want one named %s", page.Rows, path)
	}
	if len(page.Groups) != len(syscalls.Groups()) {
		t.Errorf("%d groups, want %d", len(page.Groups), len(syscalls.Groups()))
	}
	r := page.Rows[0]
	if len(r.Cells) != len(page.Groups) || len(page.Reference.Row.Cells) != len(page.Groups) {
		t.Errorf("cells: %d and %d for the reference, want one per group (%d)", len(r.Cells), len(page.Reference.Row.Cells), len(page.Groups))
	}
	// 10 names; restart_syscall is in no syscall table? It is in every
	// one sysrec knows.
	if r.Allowed != 9 {
		t.Errorf("allowed %d, want 9", r.Allowed)
	}
	file := cell(t, r, syscalls.GroupFile.Key())
	var names []string
	for _, s := range file.Syscalls {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"close", "openat", "read", "write"}) || file.Dangerous {
		t.Errorf("file I/O cell: %v dangerous=%v, want close openat read write, not dangerous", names, file.Dangerous)
	}
	write := file.Syscalls[3]
	if !write.Rare || write.Seen != 1 || write.Inputs != 4 || !strings.Contains(write.Origin, "app (/usr/bin/app), pid 42") {
		t.Errorf("write: %+v, want rare, seen 1 of 4, made by app", write)
	}
	if got := write.Provenance(); !strings.Contains(got, "seen in 1 of 4 recordings (rare)") || !strings.Contains(got, "2026-11-30 12:00:00.000 UTC") {
		t.Errorf("write's provenance: %q", got)
	}
	debug := cell(t, r, syscalls.GroupDebug.Key())
	if !debug.Dangerous || len(debug.Syscalls) != 1 || !debug.Syscalls[0].Dangerous {
		t.Errorf("debugging cell: %+v, want ptrace, dangerous", debug)
	}
	if len(r.Dangerous) != 1 || !strings.HasPrefix(r.Dangerous[0], "ptrace is allowed") {
		t.Errorf("dangerous findings: %q, want lint's about ptrace", r.Dangerous)
	}
	var restart, socket Syscall
	for _, c := range r.Cells {
		for _, s := range c.Syscalls {
			switch s.Name {
			case "restart_syscall":
				restart = s
			case "socket":
				socket = s
			}
		}
	}
	if restart.Completion == "" || restart.Seen != 0 || restart.Short() != "not recorded" {
		t.Errorf("restart_syscall: %+v (%q), want added by completion, not recorded", restart, restart.Short())
	}
	if !socket.Conditional {
		t.Errorf("socket: %+v, want allowed only for some arguments", socket)
	}
	if !slices.Contains(r.Rules, Rule{Call: "socket(AF_INET6)", Action: "SCMP_ACT_ALLOW"}) {
		t.Errorf("rules: %+v, want socket(AF_INET6)", r.Rules)
	}

	// Against runtime/default: every syscall the default allows is
	// counted once, removed or not.
	ref := page.Reference.Row
	if r.RefAllowed != ref.Allowed || r.RefAllowed < 250 {
		t.Errorf("the default allows %d (its row: %d), want the same, and a few hundred", r.RefAllowed, ref.Allowed)
	}
	kept := 0
	for _, c := range r.Cells {
		for _, s := range c.Syscalls {
			if !slices.Contains(r.Added, s.Name) {
				kept++
			}
		}
	}
	if r.NumRemoved != r.RefAllowed-kept {
		t.Errorf("removed %d, want %d of the default's %d minus the %d it keeps", r.NumRemoved, r.RefAllowed-kept, r.RefAllowed, kept)
	}
	n := 0
	for _, g := range r.Removed {
		n += len(g.Names)
	}
	if n != r.NumRemoved {
		t.Errorf("removed lists %d names, counts %d", n, r.NumRemoved)
	}
	want := []string{
		`<tr class="workload" id="row-w1"`,
		`<tr class="reference" id="row-ref"`,
		`no longer reachable`,
		`class="cell l1 dangerous" data-group="debug"`,
		`<li class="syscall rare" data-syscall="write"`,
		`<code>socket(AF_INET6)</code>`,
		`runtime/default is containerd&#39;s default profile`,
	}
	for _, w := range want {
		if !bytes.Contains(html, []byte(w)) {
			t.Errorf("the page lacks %s", w)
		}
	}
	if re := regexp.MustCompile(`(\d+) of the default's (\d+) syscalls no longer reachable`); !re.Match(html) {
		t.Errorf("the page does not say what the workload removes against the default")
	}
}

// The page loads nothing: no script, no stylesheet or image from
// elsewhere, no link out of the page.
func TestReportSelfContained(t *testing.T) {
	_, html := build(t, writeApp(t, t.TempDir(), host(t)))
	lower := strings.ToLower(string(html))
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "src=", "url(", "@import", "http://", "https://"} {
		if strings.Contains(lower, bad) {
			i := strings.Index(lower, bad)
			t.Errorf("the page has %q: ...%s...", bad, lower[max(0, i-80):min(len(lower), i+80)])
		}
	}
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(lower, -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("a link out of the page: %s", m[1])
		}
	}
}

// Names from a container tree's index and from provenance are text,
// never markup.
func TestReportEscapesTreeNames(t *testing.T) {
	dir := writeTree(t, host(t))
	page, html := build(t, dir)
	if len(page.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(page.Rows))
	}
	r := page.Rows[0]
	if want := "default/" + `web"><img src=x onerror=alert(1)>` + "/" + hostile; r.Name != want {
		t.Errorf("row name %q, want %q", r.Name, want)
	}
	if r.Provenance != filepath.Join(dir, tree.IndexFile) || r.Inputs != 4 {
		t.Errorf("provenance %q of %d inputs, want the index, 4", r.Provenance, r.Inputs)
	}
	s := string(html)
	for _, bad := range []string{"<script", "<img", `web"`} {
		if strings.Contains(s, bad) {
			t.Errorf("the page has %q unescaped", bad)
		}
	}
	for _, want := range []string{
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,        // text
		`web&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`,         // text and attributes
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; pid 42`, // provenance
		`<dt>pods</dt><dd>web-0, web-1</dd>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

// The same inputs give the same bytes, whatever order maps iterate in and
// files were made in.
func TestReportDeterministic(t *testing.T) {
	arch := host(t)
	dir := t.TempDir()
	for _, n := range []string{"zeta", "alpha", "mid"} {
		sub := filepath.Join(dir, n)
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		writeApp(t, sub, arch)
	}
	treeDir := writeTree(t, arch)
	_, first := build(t, dir, treeDir)
	for range 5 {
		if _, again := build(t, dir, treeDir); !bytes.Equal(first, again) {
			t.Fatal("two renders of the same inputs differ")
		}
	}
	page, _ := build(t, dir)
	var names []string
	for _, r := range page.Rows {
		names = append(names, filepath.Base(filepath.Dir(r.Name)))
	}
	if !slices.Equal(names, []string{"alpha", "mid", "zeta"}) {
		t.Errorf("rows %v, want the directory's profiles in lexical order", names)
	}
}

// A directory of profiles: sidecars are not profiles, a profile given
// twice is one row, an empty directory is an error.
func TestReportLoad(t *testing.T) {
	arch := host(t)
	dir := t.TempDir()
	path := writeApp(t, dir, arch)
	ws, err := Load([]string{dir, path})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Provenance == nil || ws[0].Provenance.Inputs != 4 {
		t.Fatalf("workloads %+v, want app.json once, with its sidecar", ws)
	}
	if _, err := Load([]string{t.TempDir()}); err == nil {
		t.Error("an empty directory loads")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"defaultAction": "SCMP_ACT_NOPE"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load([]string{bad}); err == nil {
		t.Error("a profile that does not parse loads")
	}
	// A profile without provenance still reports, and says so.
	bare := filepath.Join(t.TempDir(), "bare.json")
	if err := os.WriteFile(bare, []byte(appProfile(arch)), 0o644); err != nil {
		t.Fatal(err)
	}
	page, html := build(t, bare)
	if r := page.Rows[0]; r.Inputs != 0 || len(r.Warnings) == 0 || !bytes.Contains(html, []byte("no provenance")) {
		t.Errorf("a profile without provenance: inputs %d, warnings %q", r.Inputs, r.Warnings)
	}
	data, _ := json.Marshal(page.Rows[0].Cells[0].Syscalls)
	if !bytes.Contains(data, []byte(`"Inputs":0`)) {
		t.Errorf("cells of a profile without provenance: %s", data)
	}
}
