package recording

import (
	"strings"
	"testing"
)

// FuzzParse: Parse reads a pod's localhostProfile, which anyone who can
// create a pod writes. What it accepts is exactly what LocalhostProfile
// makes of its parts, and no part can leave the recording's directory.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"sysrec/shop/web/app.json", "sysrec/../etc/passwd.json", "sysrec/a/b/c/d.json", "profiles/x.json", "sysrec/a//b.json", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, name, container, ok := Parse(s)
		if !ok {
			if ns != "" || name != "" || container != "" {
				t.Fatalf("Parse(%q) refused it but returned %q, %q, %q", s, ns, name, container)
			}
			return
		}
		if got := LocalhostProfile(ns, name, container); got != s {
			t.Fatalf("Parse(%q) = %q, %q, %q, which LocalhostProfile makes %q", s, ns, name, container, got)
		}
		for _, part := range []string{ns, name, container} {
			if part == "" || part == "." || part == ".." || strings.Contains(part, "/") {
				t.Fatalf("Parse(%q) accepted the part %q", s, part)
			}
		}
	})
}
