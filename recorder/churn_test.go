package recorder

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/internal/testenv"
)

// A node's containers come and go for days: thousands of short-lived
// container cgroups pass through one recorder whose container targets are
// a small fraction of them. Each is recorded whole and returned once by
// PopFinished, nothing is dropped, and once all are popped the kernel maps
// and the recorder's own state hold nothing of them.
func TestContainerChurn(t *testing.T) {
	const (
		containers = 5000
		// Half the targets are for containers: 256 slots, so every slot is
		// reused about 20 times.
		maxTargets = 512
		popEvery   = 200 // as an agent would, well below the 256 slots
		parallel   = 4
	)
	testenv.RequireBPF(t)
	root := churnRoot(t)
	r := newRecorder(t, Options{MaxTargets: maxTargets, ContainerRoots: []string{root}})
	start := time.Now()

	names := map[uint64]string{} // cgroup id → directory name
	popped := map[uint64]*Recording{}
	pop := func() {
		t.Helper()
		recs, err := r.PopFinished()
		if err != nil {
			t.Fatalf("PopFinished: %v", err)
		}
		for cg, rec := range recs {
			if popped[cg] != nil {
				t.Errorf("cgroup %d: popped twice", cg)
			}
			popped[cg] = rec
		}
	}
	for first := 0; first < containers; first += popEvery {
		n := min(popEvery, containers-first)
		ids, err := runContainers(root, first, n, parallel)
		if err != nil {
			t.Fatalf("containers %d to %d: %v", first, first+n-1, err)
		}
		for i, id := range ids {
			names[id] = fmt.Sprintf("c%d", first+i)
		}
		pop()
		if s, err := r.DropStats(); err != nil || s != (bpf.DropStats{}) {
			t.Fatalf("drop counters after %d containers: got %+v, %v; want all zero", first+n, s, err)
		}
	}
	testenv.WaitFor(t, 30*time.Second, func() error {
		pop()
		if len(popped) < containers {
			return fmt.Errorf("popped recordings: got %d, want %d", len(popped), containers)
		}
		return nil
	})
	t.Logf("%d containers through %d container targets in %v", containers, maxTargets/2, time.Since(start))

	for cg, rec := range popped {
		name, ok := names[cg]
		if !ok {
			t.Errorf("popped cgroup %d (%q), which the test did not make", cg, rec.Cgroup)
			continue
		}
		n := nativeNames(t, rec)
		if rec.Cgroup != name || !slices.Contains(n, "execve") || !slices.Contains(n, "exit_group") ||
			rec.Tasks != 1 || rec.Execs != 1 || rec.Live != 0 || rec.Adopted != 0 || rec.Lost.Any() {
			t.Errorf("cgroup %d: got name %q, %v, %d tasks, %d execs, %d live, %d adopted, lost %+v; want %q, execve and exit_group, 1 task, 1 exec, nothing live, adopted or lost",
				cg, rec.Cgroup, n, rec.Tasks, rec.Execs, rec.Live, rec.Adopted, rec.Lost, name)
		}
		// Each container's origins are its own: a reused target starts
		// without its last container's.
		origins := rec.Origins[nativeArch(t)]
		for _, s := range n {
			if o, ok := origins[s]; !ok || o.Exe != "/bin/true" {
				t.Errorf("cgroup %d: %s: got origin %+v, %v; want one of /bin/true", cg, s, o, ok)
			}
		}
		if len(origins) != len(n) || rec.EventsLost != 0 {
			t.Errorf("cgroup %d: %d origins for %d syscalls, %d events lost", cg, len(origins), len(n), rec.EventsLost)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	if s, err := r.DropStats(); err != nil || s != (bpf.DropStats{}) {
		t.Errorf("drop counters: got %+v, %v; want all zero", s, err)
	}
	ids, err := r.CgroupIDs()
	if err != nil || len(ids) != 0 {
		t.Errorf("CgroupIDs after popping all: got %v, %v; want none", ids, err)
	}
	tags, used, handedOut := cgroupOccupancy(t, r, maxTargets/2)
	if tags != 0 || used != 0 {
		t.Errorf("kernel occupancy after popping all: got %d cgroup_tags entries and %d target slots in use, want 0 and 0", tags, used)
	}
	if handedOut > maxTargets/2 {
		t.Errorf("container target ids ever handed out: got %d, want at most %d", handedOut, maxTargets/2)
	}
	r.mu.Lock()
	left := len(r.names)
	r.mu.Unlock()
	if left != 0 {
		t.Errorf("cgroup names kept after popping all: got %d, want 0", left)
	}
	if n, exes, o := r.provenanceSize(); n != 0 || exes != 0 || o != 0 {
		t.Errorf("provenance kept after popping all: %d targets, %d executables, %d origins; want none", n, exes, o)
	}
}

// churnRoot makes a container root cgroup for the test below the cgroup
// v2 mount, removed with whatever is left below it when the test ends.
func churnRoot(t *testing.T) string {
	t.Helper()
	cg2, err := Cgroup2Mount("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(cg2, fmt.Sprintf("sysrec-%s-%d", t.Name(), os.Getpid()))
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		children, _ := os.ReadDir(root)
		for _, c := range children {
			if c.IsDir() {
				if err := testenv.RemoveCgroup(filepath.Join(root, c.Name())); err != nil {
					t.Error(err)
				}
			}
		}
		if err := testenv.RemoveCgroup(root); err != nil {
			t.Error(err)
		}
	})
	return root
}

// runContainers runs n containers, parallel at a time, in cgroups c<first>
// to c<first+n-1> below root, and returns their cgroups' ids.
func runContainers(root string, first, n, parallel int) ([]uint64, error) {
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprintf("c%d", first+i))
	}
	return testenv.RunContainers(dirs, parallel)
}

// cgroupOccupancy counts what the kernel side holds for container
// cgroups: cgroup_tags entries, container target ids in use (handed out
// and not back in the free queue), and ids ever handed out. The recorder
// must be idle: the free queue is read by emptying and refilling it.
func cgroupOccupancy(t *testing.T, r *Recorder, slots uint32) (tags, used, handedOut int) {
	t.Helper()
	m, err := r.cgroupTags()
	if err != nil {
		t.Fatal(err)
	}
	var next uint32
	if err := r.objs.NextCgroupTarget.Get(&next); err != nil {
		t.Fatalf("reading next_cgroup_target: %v", err)
	}
	handedOut = int(min(next, 2*slots) - slots)
	var queued []uint32
	for {
		var id uint32
		err := r.objs.FreeCgroupTargets.LookupAndDelete(nil, &id)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			t.Fatalf("reading the free target queue: %v", err)
		}
		queued = append(queued, id)
	}
	for _, id := range queued {
		if err := r.objs.FreeCgroupTargets.Update(nil, id, ebpf.UpdateAny); err != nil {
			t.Fatalf("refilling the free target queue: %v", err)
		}
	}
	return len(m), handedOut - len(queued), handedOut
}

// A container whose cgroup is removed while one of its tasks, moved to
// another cgroup, still runs is not finished: PopFinished returns it only
// once that task has exited, since the task still carries its target.
func TestMovedTaskKeepsContainerLive(t *testing.T) {
	testenv.RequireBPF(t)
	root := churnRoot(t)
	r := newRecorder(t, Options{ContainerRoots: []string{root}})
	dir := filepath.Join(root, "moved")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	cg := st.Ino
	cmd := exec.Command("/bin/cat")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, UseCgroupFD: true, CgroupFD: fd}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if rec := recs(t, r)[cg]; rec == nil || rec.Live != 1 {
			return fmt.Errorf("cgroup %d: got %+v, want a recording with 1 live task", cg, rec)
		}
		return nil
	})
	// cat moves to the test's root cgroup, and its own cgroup goes.
	if err := os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(fmt.Sprint(cmd.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	if err := testenv.RemoveCgroup(dir); err != nil {
		t.Fatal(err)
	}
	got, err := r.PopFinished()
	if err != nil || got[cg] != nil {
		t.Fatalf("PopFinished while the moved task runs: got %v, %v; want no recording of cgroup %d", got, err, cg)
	}
	if rec := recs(t, r)[cg]; rec == nil || rec.Live != 1 || rec.Cgroup != "moved" {
		t.Fatalf("Cgroups while the moved task runs: got %+v, want cgroup %q with 1 live task", rec, "moved")
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	var rec *Recording
	testenv.WaitFor(t, 10*time.Second, func() error {
		got, err := r.PopFinished()
		if err != nil {
			t.Fatal(err)
		}
		if rec = got[cg]; rec == nil {
			return fmt.Errorf("PopFinished after the moved task exited: got %v, want cgroup %d", got, cg)
		}
		return nil
	})
	if n := nativeNames(t, rec); rec.Cgroup != "moved" || rec.Live != 0 || !slices.Contains(n, "read") || !slices.Contains(n, "exit_group") {
		t.Errorf("got %q, %d live, %v; want %q, nothing live, read and exit_group", rec.Cgroup, rec.Live, n, "moved")
	}
	if got, err := r.PopFinished(); err != nil || len(got) != 0 {
		t.Errorf("PopFinished again: got %v, %v; want nothing", got, err)
	}
}

// A task that joins a finished container's target after PopFinished has
// read its live count as zero (one that execs while it is moved out of the
// cgroup that is being removed) keeps the target: PopFinished returns it
// only once that task has gone, and Cgroups reports it meanwhile. The
// join is simulated where PopFinished has deleted the tag.
func TestLateJoinRetiresTarget(t *testing.T) {
	testenv.RequireBPF(t)
	root := churnRoot(t)
	r := newRecorder(t, Options{ContainerRoots: []string{root}})
	ids, err := runContainers(root, 0, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	cg := ids[0]
	tags, err := r.cgroupTags()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := tags[cg]
	if !ok {
		t.Fatalf("cgroup %d: got no target, want one", cg)
	}
	setLive := func(live int64) error {
		s, err := (&Target{r: r, id: id}).state()
		if err != nil {
			return err
		}
		s.Live = live
		return r.objs.Targets.Put(id, s)
	}
	var joinErr error
	r.tagsDeleted = func() { joinErr = setLive(1) }
	got, err := r.PopFinished()
	if err != nil || joinErr != nil || got[cg] != nil {
		t.Fatalf("PopFinished with a late join: got %v, %v (join: %v); want no recording of cgroup %d", got, err, joinErr, cg)
	}
	r.tagsDeleted = nil
	if rec := recs(t, r)[cg]; rec == nil || rec.Live != 1 || rec.Cgroup != "c0" {
		t.Fatalf("Cgroups with the late task running: got %+v, want cgroup %q with 1 live task", rec, "c0")
	}
	if got, err := r.PopFinished(); err != nil || len(got) != 0 {
		t.Fatalf("PopFinished with the late task running: got %v, %v; want nothing", got, err)
	}
	if err := setLive(0); err != nil {
		t.Fatal(err)
	}
	got, err = r.PopFinished()
	if rec := got[cg]; err != nil || len(got) != 1 || rec == nil || rec.Cgroup != "c0" || !slices.Contains(nativeNames(t, rec), "execve") {
		t.Fatalf("PopFinished once the late task is gone: got %v, %v; want cgroup %d, named %q, that made execve", got, err, cg, "c0")
	}
	if got, err := r.PopFinished(); err != nil || len(got) != 0 {
		t.Errorf("PopFinished again: got %v, %v; want nothing", got, err)
	}
	if tags, used, _ := cgroupOccupancy(t, r, DefaultMaxTargets/2); tags != 0 || used != 0 || len(r.retired) != 0 {
		t.Errorf("after popping: got %d cgroup_tags entries, %d target slots in use, %d retired; want 0, 0, 0", tags, used, len(r.retired))
	}
}

// A finished cgroup that the cgroup_rmdir hook did not mark (one removed
// before its target was created, by a task moved out of it during that
// execve) is found gone by its file handle. One whose tasks are gone but
// that still exists is not finished.
func TestUnmarkedRemovedCgroupIsFinished(t *testing.T) {
	testenv.RequireBPF(t)
	root := churnRoot(t)
	r := newRecorder(t, Options{ContainerRoots: []string{root}})
	dir := filepath.Join(root, "unmarked")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cg, err := testenv.RunIn(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.PopFinished(); err != nil || len(got) != 0 {
		t.Fatalf("PopFinished while the cgroup exists: got %v, %v; want nothing", got, err)
	}
	if err := testenv.RemoveCgroup(dir); err != nil {
		t.Fatal(err)
	}
	tags, err := r.cgroupTags()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := tags[cg]
	if !ok {
		t.Fatalf("cgroup %d: got no target, want one", cg)
	}
	s, err := (&Target{r: r, id: id}).state()
	if err != nil {
		t.Fatal(err)
	}
	if s.Removed == 0 {
		t.Fatalf("cgroup %d: the cgroup_rmdir hook did not mark its target", cg)
	}
	s.Removed = 0 // as if the hook had missed it
	if err := r.objs.Targets.Put(id, s); err != nil {
		t.Fatal(err)
	}
	got, err := r.PopFinished()
	if rec := got[cg]; err != nil || len(got) != 1 || rec == nil || rec.Cgroup != "unmarked" {
		t.Fatalf("PopFinished after rmdir: got %v, %v; want cgroup %d, named %q", got, err, cg, "unmarked")
	}
}
