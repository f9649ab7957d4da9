package explain

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/syscalls"
)

var t0 = time.Date(2026, 12, 1, 21, 22, 33, 123e6, time.UTC)

// writeProfile writes a profile that allows names on x86_64 to dir/rel,
// and returns its path and bytes.
func writeProfile(t *testing.T, dir, rel string, names ...string) (string, []byte, *profiles.Profile) {
	t.Helper()
	p := &profiles.Profile{
		DefaultAction: profiles.ActErrno,
		Architectures: []syscalls.Arch{syscalls.X86_64},
		Syscalls:      []profiles.Syscall{{Names: names, Action: profiles.ActAllow, Comment: "recorded"}},
	}
	data, err := profiles.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data, p
}

func explainText(t *testing.T, path string, p *profiles.Profile, name string) (*Report, string) {
	t.Helper()
	src, err := Find(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Explain(path, p, name, src)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	return r, b.String()
}

func TestExplainSidecar(t *testing.T) {
	path, data, p := writeProfile(t, t.TempDir(), "app.json", "getdents64", "futex", "read", "restart_syscall")
	ls := provenance.Origin{Exe: "/usr/bin/ls", Comm: "ls", PID: 4242, TID: 4242, Time: t0}
	f := &provenance.File{Profile: "app.json", Inputs: 10, ProfileSHA256: provenance.Digest(data), Syscalls: map[syscalls.Arch]map[string]provenance.Syscall{
		syscalls.X86_64: {
			"getdents64":      {Origin: &ls, Seen: 10},
			"futex":           {Seen: 1},
			"restart_syscall": {Completion: "nanosleep interrupted by a stop or freeze restarts through it"},
		},
	}}
	if err := provenance.Write(provenance.Path(path), f); err != nil {
		t.Fatal(err)
	}
	r, text := explainText(t, path, p, "getdents64")
	a := r.Arches[0]
	if !r.Allowed || r.Inputs != 10 || r.Group != "file I/O" || a.Origin == nil || a.Origin.Comm != "ls" || a.Seen != 10 || a.Rare || len(r.Warnings) != 0 {
		t.Errorf("report: %+v", r)
	}
	for _, want := range []string{
		"getdents64 in " + path + ": allowed",
		"group: file I/O",
		"added by completion: no",
		"allowed: SCMP_ACT_ALLOW by syscalls[0] getdents64(any arguments) (recorded)",
		"made first by ls (/usr/bin/ls), pid 4242, at 2026-12-01 21:22:33.123 Z",
		"seen in 10 of 10 recordings\n",
		"lint: nothing about getdents64",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}

	r, text = explainText(t, path, p, "futex")
	if !r.Arches[0].Rare || !strings.Contains(text, "seen in 1 of 10 recordings  <-- RARE: 9 of 10 recordings did without it") {
		t.Errorf("a syscall seen once in ten does not stand out: %+v\n%s", r, text)
	}
	r, text = explainText(t, path, p, "restart_syscall")
	if r.Completion == "" || !strings.Contains(text, "added by completion: nanosleep interrupted") {
		t.Errorf("completion is not said: %+v\n%s", r, text)
	}
	// A name the provenance lacks.
	_, text = explainText(t, path, p, "read")
	if !strings.Contains(text, "not in the provenance") {
		t.Errorf("a name the sidecar lacks:\n%s", text)
	}

	// A name the profile denies: said, with the rule that denies it.
	r, text = explainText(t, path, p, "mount")
	if r.Allowed || !strings.Contains(text, "mount in "+path+": NOT allowed") || !strings.Contains(text, "denied: SCMP_ACT_ERRNO(1) by the defaultAction") {
		t.Errorf("a denied syscall: %+v\n%s", r, text)
	}

	// The group comes from systemd's table.
	if r, _ := explainText(t, path, p, "read"); r.Group != "file I/O" {
		t.Errorf("group %q, want file I/O", r.Group)
	}

	// Without provenance, completion is read from the profile's rules.
	q := *p
	q.Syscalls = append(append([]profiles.Syscall(nil), p.Syscalls...),
		profiles.Syscall{Names: []string{"pause"}, Action: profiles.ActAllow, Comment: profiles.CompletionPrefix + "a rule says so"})
	if r, _ := explainText(t, path, &q, "pause"); r.Completion != "a rule says so" {
		t.Errorf("completion %q, want the rules'", r.Completion)
	}
	if r, _ := explainText(t, path, p, "restart_syscall"); r.Completion != "nanosleep interrupted by a stop or freeze restarts through it" {
		t.Errorf("completion %q, want the sidecar's", r.Completion)
	}

	// A sidecar for other bytes of the profile is doubted.
	if err := os.WriteFile(path, append(data, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, text := explainText(t, path, p, "read"); !strings.Contains(text, "warning: "+provenance.Path(path)+" was written for other content") {
		t.Errorf("a stale sidecar is not said:\n%s", text)
	}
}

func TestExplainWithoutProvenance(t *testing.T) {
	path, _, p := writeProfile(t, t.TempDir(), "app.json", "read")
	r, text := explainText(t, path, p, "read")
	if !r.Allowed || r.Inputs != 0 || len(r.Warnings) != 1 || !strings.Contains(text, "warning: no provenance for "+path+": there is no "+provenance.Path(path)+" beside it") ||
		!strings.Contains(text, "allowed: SCMP_ACT_ALLOW by syscalls[0]") || !strings.Contains(text, "added by completion: unknown") {
		t.Errorf("%+v\n%s", r, text)
	}
}

func TestExplainIndex(t *testing.T) {
	dir := t.TempDir()
	path, _, p := writeProfile(t, dir, "shop/web/app.json", "read", "mount")
	idx := &tree.Index{Profiles: []tree.Entry{{Profile: "shop/web/app.json", Inputs: 3, Provenance: map[syscalls.Arch]map[string]provenance.Syscall{
		syscalls.X86_64: {"read": {Seen: 3, Origin: &provenance.Origin{Comm: "web", Exe: "/app/web", PID: 1, Time: t0}}, "mount": {Seen: 1}},
	}}, {Profile: "shop/old/app.json"}}}
	if err := tree.WriteIndex(dir, idx); err != nil {
		t.Fatal(err)
	}
	r, text := explainText(t, path, p, "read")
	if r.Provenance != filepath.Join(dir, tree.IndexFile) || r.Inputs != 3 || !strings.Contains(text, "made first by web (/app/web), pid 1") || !strings.Contains(text, "seen in 3 of 3 recordings") {
		t.Errorf("%+v\n%s", r, text)
	}
	// lint's finding about mount is in mount's report, not in read's.
	r, text = explainText(t, path, p, "mount")
	if len(r.Lint) != 1 || r.Lint[0].Code != profiles.CodeDangerous || !strings.Contains(text, "RARE") {
		t.Errorf("mount: lint %+v\n%s", r.Lint, text)
	}
	if r, _ := explainText(t, path, p, "read"); len(r.Lint) != 0 {
		t.Errorf("read: lint %+v", r.Lint)
	}
	// An entry from an older sysrec, and a profile the index lacks.
	old, _, po := writeProfile(t, dir, "shop/old/app.json", "read")
	if _, text := explainText(t, old, po, "read"); !strings.Contains(text, "has none (written by an older sysrec") {
		t.Errorf("old entry:\n%s", text)
	}
	// An index.json that is no tree's: a warning, not an error.
	stray := t.TempDir()
	sp, _, spp := writeProfile(t, stray, "a/b/c.json", "read")
	if err := os.WriteFile(filepath.Join(stray, "a", tree.IndexFile), []byte("[1, 2]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, text := explainText(t, sp, spp, "read"); !r.Allowed || !strings.Contains(text, "warning: no provenance for "+sp) || !strings.Contains(text, "decoding the profile index") {
		t.Errorf("stray index:\n%s", text)
	}
	other, _, pt := writeProfile(t, dir, "shop/web/other.json", "read")
	if _, text := explainText(t, other, pt, "read"); !strings.Contains(text, "does not list it") {
		t.Errorf("unlisted profile:\n%s", text)
	}
}

func TestUnknownSyscall(t *testing.T) {
	path, _, p := writeProfile(t, t.TempDir(), "app.json", "read")
	_, err := Explain(path, p, "getdents65", nil)
	var ue *UnknownError
	if !errors.As(err, &ue) || !reflect.DeepEqual(ue.Suggestions[:1], []string{"getdents64"}) || !strings.Contains(err.Error(), `unknown syscall "getdents65" (did you mean getdents64`) {
		t.Errorf("got %v", err)
	}
	if _, err := Explain(path, p, "zzzzzzzzzz", nil); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("a name far from every syscall: %v", err)
	}
	// A syscall of another architecture: not an error, but said.
	r, err := Explain(path, p, "socketcall", nil)
	if err != nil || r.Allowed || r.Arches[0].Number != -1 || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "socketcall is no syscall on SCMP_ARCH_X86_64") {
		t.Errorf("socketcall: %+v, %v", r, err)
	}
}

// Lint findings are picked by the rule and the name they are about.
func TestConcerning(t *testing.T) {
	p := &profiles.Profile{DefaultAction: profiles.ActErrno, Syscalls: []profiles.Syscall{
		{Name: "mount", Names: []string{"read", "ptrace"}, Action: profiles.ActAllow},
		{Names: []string{"write"}, Action: profiles.ActErrno},
	}}
	fs := []profiles.Finding{
		{Path: "syscalls[0].name", Msg: "mount"},
		{Path: "syscalls[0].names[1]", Msg: "ptrace"},
		{Path: "syscalls[0]", Msg: "whole rule"},
		{Path: "syscalls[1]", Msg: "redundant"},
		{Path: "defaultAction", Msg: "allows everything, dangerous ones among them: mount, ptrace"},
		{Path: "syscalls[9]", Msg: "out of range"},
	}
	names := func(fs []profiles.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Msg)
		}
		return out
	}
	for name, want := range map[string][]string{
		"mount":  {"mount", "whole rule", "allows everything, dangerous ones among them: mount, ptrace"},
		"ptrace": {"ptrace", "whole rule", "allows everything, dangerous ones among them: mount, ptrace"},
		"read":   {"whole rule"},
		"write":  {"redundant"},
		"open":   nil,
	} {
		if got := names(concerning(p, name, fs)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}
