package profiles

import (
	"os/exec"
	"strings"
	"testing"
)

// Package profiles, with its tests, links the standard library, package
// syscalls and internal/spelling (the standard library's too) only: go test -fuzz instruments every package in
// FuzzParse's binary, and with Kubernetes' and the runtimes' modules in it
// FuzzParse ran a few inputs a second. Exporting, installing and the
// runtimes' defaults live in the packages below this one.
func TestDependencies(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to list the dependencies: %v", err)
	}
	out, err := exec.Command(gotool, "list", "-deps", "-test", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, _, _ := strings.Cut(line, " ") // "p [p.test]"
		switch strings.TrimSuffix(pkg, ".test") {
		case "github.com/sysrec/sysrec/profiles", "github.com/sysrec/sysrec/syscalls", "github.com/sysrec/sysrec/internal/spelling":
		default:
			t.Errorf("package profiles or its tests import %s: only the standard library, syscalls and internal/spelling are allowed", pkg)
		}
	}
}
