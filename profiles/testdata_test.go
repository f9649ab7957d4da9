package profiles

import (
	"path/filepath"
	"testing"
)

// runtimeDefaults are the runtimes whose default profiles lie in testdata
// as <runtime>-default.json: copies of what package runtimes builds, which
// its tests keep current. This package's tests read the copies so that
// their binary, which FuzzParse instruments, does not link the runtimes'
// modules.
var runtimeDefaults = []string{"containerd", "crio", "docker"}

// runtimeDefaultFile is the committed copy of runtime's default profile.
// containerd's is the one it builds for x86_64.
func runtimeDefaultFile(runtime string) string {
	return filepath.Join("testdata", runtime+"-default.json")
}

// runtimeDefault parses the committed copy of runtime's default profile.
func runtimeDefault(t testing.TB, runtime string) *Profile {
	t.Helper()
	p, err := ParseFile(runtimeDefaultFile(runtime))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
