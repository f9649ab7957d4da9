package runtimes

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sysrec/sysrec/profiles"
)

var update = flag.Bool("update", false, "rewrite the committed copies of the default profiles in ../testdata")

// copyPath is where a committed copy of runtime's default profile lies,
// relative to this package: package profiles' tests (lint, diff, FuzzParse)
// read the copies, so that they need not import this package and the
// runtimes' modules behind it.
func copyPath(runtime string) string {
	return filepath.Join("..", "testdata", runtime+"-default.json")
}

// The committed copies are what Default returns, marshalled; after a
// runtime module's upgrade, go test ./profiles/runtimes -update rewrites
// them. containerd's is the one it builds for x86_64, checked on x86_64
// hosts only.
func TestCommittedCopies(t *testing.T) {
	for _, rt := range Names {
		if rt == "containerd" && runtime.GOARCH != "amd64" {
			continue
		}
		p, err := Default(rt)
		if err != nil {
			t.Fatal(err)
		}
		want, err := profiles.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(copyPath(rt), want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(copyPath(rt))
		if err != nil {
			t.Fatalf("%v: run go test ./profiles/runtimes -update", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the %s default: run go test ./profiles/runtimes -update", copyPath(rt), rt)
		}
	}
}
