package recorder

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/syscalls"
)

// originSlack allows for the conversion of the kernel's boot clock to
// wall-clock time.
const originSlack = 50 * time.Millisecond

// nativeArch is the host's native architecture.
func nativeArch(t *testing.T) syscalls.Arch {
	t.Helper()
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	return native
}

// sameFile reports whether paths a and b name the same file.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// pids reads the process ids that a shell script printed, one a line.
func pids(t *testing.T, out []byte) []int {
	t.Helper()
	var ps []int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		p, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil {
			t.Fatalf("script output %q: %v", out, err)
		}
		ps = append(ps, p)
	}
	return ps
}

// A shell script's syscalls are attributed to the processes that made them
// first: getdents64 to the first of two ls processes, each of which lives
// a millisecond, named by its executable's full path; the shell's own to
// the shell. Every kernel path that sets a bit reports: the tasks' own
// entries, the general path (one entry for all), and the portable program.
// Once the target is closed, nothing of its provenance is kept.
func TestOrigins(t *testing.T) {
	for name, opts := range map[string]Options{
		"default":   {},
		"one entry": {TaskSlots: 1},
		"portable":  {portable: true},
	} {
		t.Run(name, func(t *testing.T) { testOrigins(t, opts) })
	}
}

func testOrigins(t *testing.T, opts Options) {
	r := newRecorder(t, opts)
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls")
	}
	// Each ls runs in the background, so that $! is its pid; the second
	// starts once the first has exited.
	cmd := exec.Command("/bin/sh", "-c", "ls / >/dev/null & echo $!; wait; ls / >/dev/null & echo $!; wait")
	var out strings.Builder
	cmd.Stdout = &out
	start := time.Now()
	target, err := r.StartCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := target.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	rec, err := target.Recording()
	if err != nil {
		t.Fatal(err)
	}
	ps := pids(t, []byte(out.String()))
	if len(ps) != 2 {
		t.Fatalf("script printed %q, want two pids", out.String())
	}
	if rec.EventsLost != 0 {
		t.Errorf("events lost: %d", rec.EventsLost)
	}
	origins := rec.Origins[native]
	for _, name := range nativeNames(t, rec) {
		if _, ok := origins[name]; !ok {
			t.Errorf("%s was recorded, but has no origin", name)
		}
	}
	for name := range origins {
		if !slices.Contains(rec.Syscalls[native], name) {
			t.Errorf("%s has an origin, but was not recorded", name)
		}
	}
	for name, o := range origins {
		if o.Time.Before(start.Add(-originSlack)) || o.Time.After(end.Add(originSlack)) {
			t.Errorf("%s: made at %v, outside the run (%v to %v)", name, o.Time, start, end)
		}
		if o.PID <= 0 || o.TID <= 0 || o.Comm == "" || o.Exe == "" {
			t.Errorf("%s: incomplete origin %+v", name, o)
		}
	}
	ge, ok := origins["getdents64"]
	if !ok {
		t.Fatalf("no origin of getdents64: %v", origins)
	}
	if !filepath.IsAbs(ge.Exe) || filepath.Base(ge.Exe) != "ls" || !sameFile(ge.Exe, ls) || ge.Comm != "ls" {
		t.Errorf("getdents64: got %+v, want the executable %s, command ls", ge, ls)
	}
	if ge.PID != ps[0] || ge.TID != ps[0] {
		t.Errorf("getdents64: got pid %d, tid %d; want the first ls, %d (the second was %d)", ge.PID, ge.TID, ps[0], ps[1])
	}
	// The shell's: it forks the ls processes.
	sh, ok := origins["wait4"]
	if !ok {
		t.Fatalf("no origin of wait4: %v", origins)
	}
	if sh.Exe != "/bin/sh" || sh.PID != cmd.Process.Pid || slices.Contains(ps, sh.PID) {
		t.Errorf("wait4: got %+v, want /bin/sh, pid %d", sh, cmd.Process.Pid)
	}
	// execve: the command's own, from its first exec on.
	if ev := origins["execve"]; ev.PID != cmd.Process.Pid || ev.Exe != "/bin/sh" {
		t.Errorf("execve: got %+v, want /bin/sh, pid %d", ev, cmd.Process.Pid)
	}
	if ge.Time.Before(origins["execve"].Time) {
		t.Errorf("getdents64 (%v) before the command's execve (%v)", ge.Time, origins["execve"].Time)
	}

	if n, _, _ := r.provenanceSize(); n != 1 {
		t.Errorf("provenance kept for %d targets while one is open, want 1", n)
	}
	if err := target.Close(); err != nil {
		t.Fatal(err)
	}
	if n, exes, o := r.provenanceSize(); n != 0 || exes != 0 || o != 0 {
		t.Errorf("provenance kept after the target closed: %d targets, %d executables, %d origins; want none", n, exes, o)
	}
}

// The workload's roles each make a syscall first: the thread (uname)
// is named by its thread id within the main process; the forked child
// (umask), which never execs, runs its parent's executable, which no exec
// event announces for it; the child that re-execs itself through
// /proc/self/exe (getcwd) is named by the path the target exec'd it by;
// the daemonized grandchild (statfs) outlives the main process.
func TestOriginsOfWorkloadRoles(t *testing.T) {
	r := newRecorder(t)
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	wl := testenv.Workload(t)
	cmd := exec.Command(wl)
	rec, _ := recordCmd(t, r, cmd) // the workload exits with status 3
	origins := rec.Origins[native]
	if len(origins) != len(rec.Syscalls[native]) {
		t.Errorf("%d origins for %d syscalls", len(origins), len(rec.Syscalls[native]))
	}
	for name, o := range origins {
		// The workload execs only itself.
		if o.Exe != wl {
			t.Errorf("%s: got executable %q, want %s", name, o.Exe, wl)
		}
	}
	main := cmd.Process.Pid
	role := func(name string) provenance.Origin {
		o, ok := origins[name]
		if !ok {
			t.Fatalf("no origin of %s: %v", name, origins)
		}
		return o
	}
	if o := role("uname"); o.PID != main || o.TID == main {
		t.Errorf("uname: got %+v, want a thread of %d other than the main one", o, main)
	}
	fork, exec, daemon := role("umask"), role("getcwd"), role("statfs")
	if fork.PID == main || fork.TID != fork.PID {
		t.Errorf("umask: got %+v, want the forked child's", fork)
	}
	if exec.PID != fork.PID {
		t.Errorf("getcwd: got %+v, want the child that made umask (%d) after its exec", exec, fork.PID)
	}
	if daemon.PID == main || daemon.PID == fork.PID {
		t.Errorf("statfs: got %+v, want the daemonized grandchild's", daemon)
	}
	if !fork.Time.Before(exec.Time) || !exec.Time.Before(daemon.Time) {
		t.Errorf("times: umask %v, getcwd %v, statfs %v; want them in that order", fork.Time, exec.Time, daemon.Time)
	}
}

// runInCgroup starts argv in cgroup dir, in a mount namespace of its own,
// as a container's entrypoint; the caller waits for it.
func runInCgroup(t *testing.T, dir string, argv ...string) (*exec.Cmd, uint64) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, st.Ino
}

// A container's origins are in its cgroup's recording, while it runs
// (Cgroups) and when it has finished (PopFinished), starting with the
// entrypoint's execve; popping frees them.
func TestContainerOrigins(t *testing.T) {
	testenv.RequireBPF(t)
	root := churnRoot(t)
	r := newRecorder(t, Options{ContainerRoots: []string{root}})
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls")
	}
	dir := filepath.Join(root, "c")
	start := time.Now()
	cmd, cg := runInCgroup(t, dir, "/bin/sh", "-c", "ls / >/dev/null; exec sleep 60")
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var running *Recording
	testenv.WaitFor(t, 10*time.Second, func() error {
		running = recs(t, r)[cg]
		if running == nil || running.Origins[native]["getdents64"].Exe == "" {
			return fmt.Errorf("cgroup %d: no origin of getdents64 yet: %+v", cg, running)
		}
		if running.Origins[native]["clock_nanosleep"].Exe == "" && running.Origins[native]["nanosleep"].Exe == "" {
			return fmt.Errorf("cgroup %d: not sleeping yet: %+v", cg, running)
		}
		return nil
	})
	ge := running.Origins[native]["getdents64"]
	if !sameFile(ge.Exe, ls) || ge.Comm != "ls" || ge.PID == cmd.Process.Pid {
		t.Errorf("getdents64: got %+v, want %s, command ls, not the shell (%d)", ge, ls, cmd.Process.Pid)
	}
	if ev := running.Origins[native]["execve"]; ev.Exe != "/bin/sh" || ev.PID != cmd.Process.Pid || ev.Time.Before(start.Add(-originSlack)) {
		t.Errorf("execve: got %+v, want the entrypoint's: /bin/sh, pid %d", ev, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := testenv.RemoveCgroup(dir); err != nil {
		t.Fatal(err)
	}
	var rec *Recording
	testenv.WaitFor(t, 10*time.Second, func() error {
		got, err := r.PopFinished()
		if err != nil {
			t.Fatal(err)
		}
		if rec = got[cg]; rec == nil {
			return fmt.Errorf("cgroup %d not finished", cg)
		}
		return nil
	})
	for name, o := range running.Origins[native] {
		if rec.Origins[native][name] != o {
			t.Errorf("%s: popped %+v, was %+v while running", name, rec.Origins[native][name], o)
		}
	}
	for _, name := range nativeNames(t, rec) {
		if _, ok := rec.Origins[native][name]; !ok {
			t.Errorf("%s was recorded, but has no origin", name)
		}
	}
	sleep, ok := rec.Origins[native]["clock_nanosleep"]
	if !ok {
		sleep = rec.Origins[native]["nanosleep"]
	}
	if sleep.Comm != "sleep" || sleep.PID != cmd.Process.Pid || filepath.Base(sleep.Exe) != "sleep" {
		t.Errorf("sleeping: got %+v, want sleep's, pid %d", sleep, cmd.Process.Pid)
	}
	if n, exes, o := r.provenanceSize(); n != 0 || exes != 0 || o != 0 {
		t.Errorf("provenance kept after popping: %d targets, %d executables, %d origins; want none", n, exes, o)
	}
}

// Events for a closed command target are dropped; a container's state is
// created by its first event.
func TestOriginEventRouting(t *testing.T) {
	r := &Recorder{prov: map[uint32]*targetOrigins{}, commandTargets: 4, names: map[uint64]string{},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	event := func(kind bpf.EventKind, v any) []byte {
		b := make([]byte, 0, 512)
		b, err := binary.Append(b, binary.NativeEndian, v)
		if err != nil {
			t.Fatal(err)
		}
		binary.NativeEndian.PutUint32(b, uint32(kind))
		return b
	}
	origin := func(tag uint32, nr uint16, pid uint32, exe bpf.ExeID) []byte {
		e := bpf.OriginEvent{Tag: tag, Nr: nr, Tgid: pid, Tid: pid, Exe: exe}
		copy(e.Comm[:], []int8{'x', 0})
		return event(bpf.EventOrigin, e)
	}
	execEvent := func(tag uint32, exe bpf.ExeID, path string) []byte {
		e := bpf.ExecEvent{Tag: tag, Exe: exe, Tgid: 1}
		for i := range len(path) {
			e.Path[i] = int8(path[i])
		}
		return event(bpf.EventExec, e)
	}
	if unsafe.Sizeof(bpf.OriginEvent{}) != 64 {
		t.Errorf("origin events are %d bytes, want 64", unsafe.Sizeof(bpf.OriginEvent{}))
	}
	// Command target 1 is open, 2 is not; 5 is a container's.
	r.mu.Lock()
	r.openOrigins(1)
	r.mu.Unlock()
	exe := bpf.ExeID{Ino: 42, Dev: 7}
	for _, e := range [][]byte{
		execEvent(2, exe, "/bin/a"), execEvent(6, exe, "/bin/c"), execEvent(3, exe, "/bin/b"),
		origin(2, 0, 10, exe), origin(2, 0, 11, exe), origin(3, 0, 12, exe), origin(6, 0, 13, exe),
	} {
		r.handleEvent(e)
	}
	n, exes, o := r.provenanceSize()
	if n != 2 || exes != 2 || o != 2 {
		t.Errorf("got %d targets, %d executables, %d origins; want 2, 2, 2", n, exes, o)
	}
	if got := r.prov[1].origins[originKey{nr: 0}]; got.PID != 10 || got.Exe != "/bin/a" || got.Comm != "x" {
		t.Errorf("target 1: got %+v, want the first event's, pid 10, /bin/a", got)
	}
	if got := r.prov[5].origins[originKey{nr: 0}]; got.PID != 13 || got.Exe != "/bin/c" {
		t.Errorf("container target 5: got %+v, want pid 13, /bin/c", got)
	}
	if r.prov[2] != nil {
		t.Errorf("closed command target 2 got a state")
	}
}
