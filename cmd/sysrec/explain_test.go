package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	syscallexplain "github.com/sysrec/sysrec/profiles/explain"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/syscalls"
)

// readSidecar reads the provenance beside the profile at path.
func readSidecar(t *testing.T, path string) *provenance.File {
	t.Helper()
	f, err := provenance.Read(provenance.Path(path))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// record -o writes the provenance beside the profile: one recording,
// every recorded name seen once, and who made it first; explain names
// the ls that listed the directory.
func TestRecordProvenance(t *testing.T) {
	testenv.RequireBPF(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "app.json")
	if res := sysrec(t, "record", "-o", out, "--", "sh", "-c", "ls / >/dev/null"); res.code != 0 {
		t.Fatalf("record: exit %d: %s", res.code, res.stderr)
	}
	p, data := readProfile(t, out)
	f := readSidecar(t, out)
	if f.Profile != "app.json" || f.Inputs != 1 || f.ProfileSHA256 != provenance.Digest(data) {
		t.Errorf("sidecar: profile %q, inputs %d, digest %q; want app.json, 1, the profile's", f.Profile, f.Inputs, f.ProfileSHA256)
	}
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range allowed(p) {
		if s, ok := f.Lookup(native, n); !ok || s.Seen != 1 && s.Completion == "" {
			t.Errorf("%s: sidecar has %+v, want it seen once, or added by completion", n, s)
		}
	}
	res := sysrec(t, "explain", out, "getdents64")
	if res.code != 0 || !strings.Contains(res.stdout, "getdents64 in "+out+": allowed") || !strings.Contains(res.stdout, "seen in 1 of 1 recordings") {
		t.Fatalf("explain: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// Who made it comes from the kernel's capture of each first call.
	if !strings.Contains(res.stdout, "made first by ls (") {
		t.Errorf("explain does not name ls:\n%s", res.stdout)
	}
	res = sysrec(t, "explain", "-o", "json", out, "getdents64")
	var r syscallexplain.Report
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil || res.code != 0 {
		t.Fatalf("explain -o json: exit %d, %v\n%s", res.code, err, res.stdout)
	}
	if i := slices.IndexFunc(r.Arches, func(a syscallexplain.Arch) bool { return a.Arch == native }); i < 0 || r.Arches[i].Origin == nil || r.Arches[i].Origin.Comm != "ls" || r.Arches[i].Origin.PID == 0 {
		t.Errorf("explain -o json: %+v", r)
	}

	// To stdout, no sidecar unless --provenance names one.
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := sysrecCmd(t, "record", "--", "true")
	cmd.Dir = other
	if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "defaultAction") {
		t.Fatalf("record to stdout: %v", err)
	}
	if ents, _ := os.ReadDir(other); len(ents) != 0 {
		t.Errorf("record to stdout wrote %v", ents)
	}
	side := filepath.Join(dir, "true.prov.json")
	if res := sysrec(t, "record", "--provenance", side, "--", "true"); res.code != 0 {
		t.Fatalf("record --provenance: exit %d: %s", res.code, res.stderr)
	}
	if f, err := provenance.Read(side); err != nil || f.Inputs != 1 || f.Profile != "" || f.ProfileSHA256 == "" {
		t.Errorf("--provenance: %+v, %v", f, err)
	}
	// --provenance none: none.
	none := filepath.Join(dir, "none.json")
	if res := sysrec(t, "record", "-o", none, "--provenance", "none", "--", "true"); res.code != 0 {
		t.Fatalf("record --provenance none: exit %d: %s", res.code, res.stderr)
	}
	if _, err := os.Stat(provenance.Path(none)); !os.IsNotExist(err) {
		t.Errorf("--provenance none wrote a sidecar: %v", err)
	}
}

func TestRecordProvenanceUsage(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "app.json")
	if res := sysrec(t, "record", "-o", out, "--provenance", out, "--", "true"); res.code != 2 || !strings.Contains(res.stderr, "that is the profile's file") {
		t.Errorf("--provenance = -o: exit %d, %s", res.code, res.stderr)
	}
	if res := sysrec(t, "record", "-o", out, "--provenance", filepath.Join(dir, "no", "such", "dir", "p.json"), "--", "true"); res.code == 0 || !strings.Contains(res.stderr, "provenance") {
		t.Errorf("unwritable --provenance: exit %d, %s", res.code, res.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed record left %s: %v", out, err)
	}
	if res := sysrec(t, "record", "--help"); !strings.Contains(res.stdout, "--provenance FILE") || !strings.Contains(res.stdout, "app.provenance.json") {
		t.Errorf("record --help does not say where the provenance goes:\n%s", res.stdout)
	}
}

// merge writes the coverage of the merged profile: how many inputs had
// each syscall, counting an input with provenance as the recordings it
// merged; explain makes a syscall that few had stand out.
func TestMergeProvenance(t *testing.T) {
	dir := t.TempDir()
	a := writeProfile(t, dir, "a.json", allowList(syscalls.X86_64, "read", "write"))
	b := writeProfile(t, dir, "b.json", allowList(syscalls.X86_64, "read", "futex"))
	c := writeProfile(t, dir, "c.json", allowList(syscalls.X86_64, "read"))
	// a merged three recordings already; b and c have no provenance.
	aData, _ := os.ReadFile(a)
	if err := provenance.Write(provenance.Path(a), &provenance.File{Profile: "a.json", Inputs: 3, ProfileSHA256: provenance.Digest(aData),
		Syscalls: map[syscalls.Arch]map[string]provenance.Syscall{syscalls.X86_64: {
			"read":  {Seen: 3, Origin: &provenance.Origin{Comm: "reader", PID: 12}},
			"write": {Seen: 2},
		}}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.json")
	if res := sysrec(t, "merge", "-o", out, a, b, c); res.code != 0 || res.stderr != "" {
		t.Fatalf("merge: exit %d: %s", res.code, res.stderr)
	}
	_, data := readProfile(t, out)
	f := readSidecar(t, out)
	got := f.Syscalls[syscalls.X86_64]
	if f.Inputs != 5 || f.Profile != "out.json" || f.ProfileSHA256 != provenance.Digest(data) ||
		got["read"].Seen != 5 || got["write"].Seen != 2 || got["futex"].Seen != 1 || got["read"].Origin == nil || got["read"].Origin.Comm != "reader" {
		t.Errorf("merged provenance: %+v", f)
	}
	res := sysrec(t, "explain", out, "futex")
	if res.code != 0 || !strings.Contains(res.stdout, "seen in 1 of 5 recordings  <-- RARE: 4 of 5 recordings did without it") {
		t.Errorf("explain futex: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = sysrec(t, "explain", out, "read")
	if res.code != 0 || !strings.Contains(res.stdout, "made first by reader, pid 12") || !strings.Contains(res.stdout, "seen in 5 of 5 recordings\n") {
		t.Errorf("explain read: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// A merged profile merged again counts its inputs.
	again := filepath.Join(dir, "again.json")
	if res := sysrec(t, "merge", "-o", again, out, c); res.code != 0 {
		t.Fatalf("merge again: exit %d: %s", res.code, res.stderr)
	}
	if f := readSidecar(t, again); f.Inputs != 6 || f.Syscalls[syscalls.X86_64]["read"].Seen != 6 {
		t.Errorf("merged again: %+v", f)
	}

	// A sidecar that describes other bytes is used, with a warning.
	if err := os.WriteFile(a, append(aData, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := sysrec(t, "merge", "-o", out, a, b); res.code != 0 || !strings.Contains(res.stderr, "was written for other content of "+a) {
		t.Errorf("merge with a stale sidecar: exit %d: %s", res.code, res.stderr)
	}
	// To stdout: no sidecar, unless --provenance.
	if err := os.Remove(provenance.Path(out)); err != nil {
		t.Fatal(err)
	}
	cmd := sysrecCmd(t, "merge", a, b)
	cmd.Dir = dir
	if _, err := cmd.Output(); err != nil {
		t.Fatal(err)
	}
	side := filepath.Join(dir, "side.json")
	if res := sysrec(t, "merge", "--provenance", side, a, b); res.code != 0 {
		t.Fatalf("merge --provenance: exit %d: %s", res.code, res.stderr)
	}
	if f, err := provenance.Read(side); err != nil || f.Inputs != 4 {
		t.Errorf("merge --provenance: %+v, %v", f, err)
	}
	if _, err := os.Stat(provenance.Path(out)); !os.IsNotExist(err) {
		t.Errorf("merge to stdout wrote a sidecar: %v", err)
	}
}

// explain's errors say what is wrong, and what is missing.
func TestExplainErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeProfile(t, dir, "app.json", allowList(syscalls.X86_64, "read", "ptrace", "openat"))
	res := sysrec(t, "explain", path, "getdents65")
	if res.code != 2 || !strings.Contains(res.stderr, `unknown syscall "getdents65" (did you mean getdents64`) {
		t.Errorf("unknown name: exit %d, %s", res.code, res.stderr)
	}
	res = sysrec(t, "explain", path, "mount")
	if res.code != 1 || !strings.Contains(res.stdout, "denied: SCMP_ACT_ERRNO(1) by the defaultAction") || !strings.Contains(res.stderr, "does not allow mount") {
		t.Errorf("a syscall the profile denies: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = sysrec(t, "explain", path, "ptrace")
	if res.code != 0 || !strings.Contains(res.stdout, "warning: no provenance for "+path) || !strings.Contains(res.stdout, "allowed: SCMP_ACT_ALLOW by syscalls[0]") ||
		!strings.Contains(res.stdout, "dangerous-syscall") {
		t.Errorf("no sidecar: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, args := range [][]string{{"explain"}, {"explain", path}, {"explain", path, "read", "extra"}} {
		if res := sysrec(t, args...); res.code != 2 {
			t.Errorf("%v: exit %d, want 2", args, res.code)
		}
	}
	if res := sysrec(t, "explain", filepath.Join(dir, "missing.json"), "read"); res.code != 1 || !strings.Contains(res.stderr, "missing.json") {
		t.Errorf("a missing profile: exit %d, %s", res.code, res.stderr)
	}
}

// A profile in a container tree is explained from its index entry.
func TestExplainIndex(t *testing.T) {
	dir := t.TempDir()
	path := writeProfile(t, dir, "shop/web/app.json", allowList(syscalls.X86_64, "read", "flock"))
	writeFile(t, dir, "index.json", `{"profiles": [{"profile": "shop/web/app.json", "inputs": 4, "provenance": {"SCMP_ARCH_X86_64": {
		"read": {"seen": 4, "origin": {"exe": "/usr/bin/web", "comm": "web", "pid": 1, "time": "2026-12-01T21:00:00Z"}},
		"flock": {"seen": 1}}}}]}`)
	res := sysrec(t, "explain", path, "flock")
	if res.code != 0 || !strings.Contains(res.stdout, "seen in 1 of 4 recordings  <-- RARE") || !strings.Contains(res.stdout, "provenance: "+filepath.Join(dir, "index.json")) {
		t.Errorf("flock: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = sysrec(t, "explain", path, "read")
	if res.code != 0 || !strings.Contains(res.stdout, "made first by web (/usr/bin/web), pid 1, at 2026-12-01 21:00:00.000 Z") {
		t.Errorf("read: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	// merge counts the index's recordings.
	out := filepath.Join(dir, "merged.json")
	other := writeProfile(t, t.TempDir(), "b.json", allowList(syscalls.X86_64, "read"))
	if res := sysrec(t, "merge", "-o", out, path, other); res.code != 0 {
		t.Fatalf("merge: exit %d: %s", res.code, res.stderr)
	}
	if f := readSidecar(t, out); f.Inputs != 5 || f.Syscalls[syscalls.X86_64]["read"].Seen != 5 || f.Syscalls[syscalls.X86_64]["flock"].Seen != 1 {
		t.Errorf("merged from a tree: %+v", f)
	}
}

// record --containers keeps the provenance in the index: the replicas
// that recorded each syscall, and who made it first.
func TestRecordContainersProvenance(t *testing.T) {
	rt := testenv.Runtimes[0]
	endpoint := rt.Endpoint(t)
	testenv.RequireBPF(t)
	out := filepath.Join(t.TempDir(), "profiles")
	cmd, stderr := recordContainersCmd(t, "--runtime-endpoint", endpoint,
		"--namespace", "sysrec-prov", "--output-dir", out, "--duration", "5s")
	labels := map[string]string{"app": "web", "pod-template-hash": "7c9d8f6b5"}
	testenv.RunPod(t, endpoint, testenv.Pod{Name: "web-7c9d8f6b5-bcdfg", Namespace: "sysrec-prov", Labels: labels, Seccomp: testenv.Unconfined,
		Command: []string{"/bin/sh", "-c", "mkdir /tmp/sysrec && uname -s && exec sleep 2"}})
	testenv.RunPod(t, endpoint, testenv.Pod{Name: "web-7c9d8f6b5-hjklm", Namespace: "sysrec-prov", Labels: labels, Seccomp: testenv.Unconfined,
		Command: []string{"/bin/sh", "-c", "uname -s && exec sleep 2"}})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sysrec: %v\n%s", err, stderr())
	}
	idx, data := readIndex(t, out)
	if len(idx.Profiles) != 1 {
		t.Fatalf("index:\n%s", data)
	}
	e := idx.Profiles[0]
	native, _, _ := syscalls.Host()
	mkdir := "mkdir"
	if _, ok := e.Provenance[native][mkdir]; !ok {
		mkdir = "mkdirat"
	}
	if e.Inputs != 2 || e.Provenance[native]["uname"].Seen != 2 || e.Provenance[native][mkdir].Seen != 1 {
		t.Errorf("index entry: inputs %d, uname %+v, %s %+v; want 2, seen 2 and 1:\n%s", e.Inputs, e.Provenance[native]["uname"], mkdir, e.Provenance[native][mkdir], data)
	}
	if o := e.Provenance[native]["uname"].Origin; o == nil || o.PID == 0 {
		t.Errorf("uname: no origin: %+v", e.Provenance[native]["uname"])
	}
	profile := filepath.Join(out, filepath.FromSlash(e.Profile))
	res := sysrec(t, "explain", profile, mkdir)
	if res.code != 0 || !strings.Contains(res.stdout, "seen in 1 of 2 recordings") || !strings.Contains(res.stdout, "made first by ") {
		t.Errorf("explain %s: exit %d\n%s%s", mkdir, res.code, res.stdout, res.stderr)
	}
	if p, _ := readProfile(t, profile); !slices.Contains(allowed(p), mkdir) {
		t.Errorf("profile lacks %s", mkdir)
	}
	_ = profiles.ActAllow
}
