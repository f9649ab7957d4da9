package tree

import (
	"bytes"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParseIndex checks that ParseIndex rejects, and does not panic on,
// any index.json, that every profile path it accepts stays below the
// tree's directory, and that what it accepts survives WriteIndex's
// encoding:
//
//	go test -run '^$' -fuzz FuzzParseIndex -fuzztime 15s ./profiles/tree
func FuzzParseIndex(f *testing.F) {
	for _, s := range []string{
		recorded,
		`{"profiles": []}`, // what the command's tests write
		`{"profiles": [], "drops": {"lostTasks": 0, "outOfRange": 0, "targetMissing": 0, "cgroupsFull": 0, "eventsLost": 0}, "filterCapture": "sys-exit"}`,
		`{"profiles": [{"profile": "../../etc/shadow.json"}]}`,
		`{"profiles": [{"profile": "a/b/c.json"}, {"profile": "a/b/c.json"}]}`,
		`{"profiles": [{"profile": "a/b/c.json", "firstSeen": "2025-11-30T10:00:00.5-07:00", "images": null}]}`,
		`{"profiles": [{"profile": "a/b/c.json", "inputs": 2, "provenance": {"SCMP_ARCH_X86_64": {"read": {"seen": 2, "origin": {"exe": "/bin/sh\n", "pid": 1, "time": "2026-12-01T21:00:00Z"}}, "x": {}}}}]}`,
		`{"profiles": [{"profile": "a/b/c.json", "provenance": {"provenance": {"provenance": {"completion": "}\n  {"}}}}]}`,
		``, `null`, `[]`, `{"profiles": null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(data)
		if err != nil {
			if idx != nil {
				t.Fatalf("ParseIndex returned both an index and %v", err)
			}
			return
		}
		const dir = "/var/lib/sysrec/profiles"
		for _, e := range idx.Profiles {
			p := e.Profile
			if err := CheckPath(p); err != nil {
				t.Fatalf("accepted profile %q: %v", p, err)
			}
			if !filepath.IsLocal(p) || path.Clean(p) != p || path.IsAbs(p) || slices.Contains(strings.Split(p, "/"), "..") || strings.ContainsAny(p, "\\\x00") {
				t.Fatalf("accepted profile %q: want a clean relative path without \"..\"", p)
			}
			if joined := filepath.Join(dir, p); !strings.HasPrefix(joined, dir+"/") || filepath.Base(joined) != path.Base(p) {
				t.Fatalf("accepted profile %q: joined to %s, it is %s", p, dir, joined)
			}
		}
		out, err := encode(idx)
		if err != nil {
			t.Fatalf("encoding an accepted index: %v", err)
		}
		again, err := ParseIndex(out)
		if err != nil {
			t.Fatalf("re-reading an encoded index: %v\n%s", err, out)
		}
		out2, err := encode(again)
		if err != nil {
			t.Fatalf("encoding a re-read index: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("the encoding changed on a round trip:\n%s\n%s", out, out2)
		}
	})
}
