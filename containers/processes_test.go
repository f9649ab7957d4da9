package containers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysrec/sysrec/cri"
)

// fakeLookup names containers by id, and counts its calls.
type fakeLookup struct {
	byID  map[string]*cri.Container
	calls int
}

func (f *fakeLookup) Container(_ context.Context, id string) (*cri.Container, error) {
	f.calls++
	if c, ok := f.byID[id]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("no container %s", id)
}

// writeProc puts a process in a fake /proc: its stat, with start time
// start, and its cgroup, in container id.
func writeProc(t *testing.T, root string, pid int, start uint64, id string) {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The command name holds a space and a ')', as a name may.
	stat := fmt.Sprintf("%d (a) b) S 1 %d %d 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %d 1000 100 18446744073709551615\n", pid, pid, pid, start)
	cg := "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-" + id + ".scope\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProcessesReuse(t *testing.T) {
	root := t.TempDir()
	idA, idB := fmt.Sprintf("%064x", 0xa), fmt.Sprintf("%064x", 0xb)
	lookup := &fakeLookup{byID: map[string]*cri.Container{
		idA: {ID: idA, Name: "a", PodName: "pa"},
		idB: {ID: idB, Name: "b", PodName: "pb"},
	}}
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := NewProcesses(lookup, root, time.Minute, clk.Now)
	ctx := context.Background()

	writeProc(t, root, 42, 100, idA)
	if c := p.Container(ctx, 42); c == nil || c.Name != "a" {
		t.Fatalf("pid 42: got %+v, want container a", c)
	}
	if c := p.Container(ctx, 42); c == nil || c.Name != "a" || lookup.calls != 1 {
		t.Errorf("pid 42 again: got %+v after %d lookups, want container a after 1", c, lookup.calls)
	}
	// Pid 42 exits, and a process of another container gets its pid.
	writeProc(t, root, 42, 200, idB)
	if c := p.Container(ctx, 42); c == nil || c.Name != "b" {
		t.Errorf("pid 42 reused: got %+v, want container b, not the old a", c)
	}
	// Past the TTL, the runtime is asked again, and old entries go.
	calls := lookup.calls
	clk.add(2 * time.Minute)
	if c := p.Container(ctx, 42); c == nil || c.Name != "b" || lookup.calls != calls+1 {
		t.Errorf("after the TTL: got %+v after %d lookups, want container b after %d", c, lookup.calls, calls+1)
	}
	if n := p.cache.len(); n != 1 {
		t.Errorf("cache after the TTL: got %d entries, want 1 (the expired ones swept)", n)
	}
	if c := p.Container(ctx, 99); c != nil {
		t.Errorf("pid 99, gone: got %+v, want nil", c)
	}
	if c := NewProcesses(nil, root, time.Minute, nil).Container(ctx, 42); c != nil {
		t.Errorf("without a runtime: got %+v, want nil", c)
	}
}

func TestCacheExpiry(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newCache[string, int](time.Second, clk.Now)
	c.put("a", 1)
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Errorf("get: got %d, %v; want 1, true", v, ok)
	}
	clk.add(time.Second)
	if v, ok := c.get("a"); ok {
		t.Errorf("get at the TTL: got %d, true; want expired", v)
	}
	c.sweep()
	if c.len() != 0 {
		t.Errorf("after sweep: got %d entries, want 0", c.len())
	}
}
