package containers

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRoots(t *testing.T) {
	cg2 := t.TempDir()
	if _, err := Roots(cg2, nil, nil, nil); err == nil {
		t.Errorf("no container cgroups: got nil error, want one")
	}
	if err := os.Mkdir(filepath.Join(cg2, "kubepods.slice"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Roots(cg2, nil, []string{"default", "a/b"}, nil)
	want := []string{filepath.Join(cg2, "kubepods.slice"), filepath.Join(cg2, "default"), filepath.Join(cg2, "a_b")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if fi, err := os.Stat(filepath.Join(cg2, "default")); err != nil || !fi.IsDir() {
		t.Errorf("containerd namespace's cgroup: got %v, want a directory created", err)
	}
}
