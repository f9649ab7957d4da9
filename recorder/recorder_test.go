package recorder

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/syscalls"
)

func newRecorder(t *testing.T) *Recorder {
	t.Helper()
	testenv.RequireBPF(t)
	r, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %+v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// recordCmd runs cmd under r until its last task exits.
func recordCmd(t *testing.T, r *Recorder, cmd *exec.Cmd) (*Recording, error) {
	t.Helper()
	target, err := r.StartCommand(cmd)
	if err != nil {
		t.Fatalf("StartCommand: %v", err)
	}
	defer target.Close()
	waitErr := cmd.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := target.Wait(ctx); err != nil {
		t.Fatalf("waiting for the target's last task: %v", err)
	}
	rec, err := target.Recording()
	if err != nil {
		t.Fatal(err)
	}
	return rec, waitErr
}

func nativeNames(t *testing.T, rec *Recording) []string {
	t.Helper()
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	for arch := range rec.Syscalls {
		if arch != native {
			t.Errorf("recorded syscalls under %s, want only %s", arch, native)
		}
	}
	return rec.Syscalls[native]
}

// The workload's tree (thread, fork, exec, daemonized grandchild) is
// recorded exactly as strace -f sees it, while unrelated processes that the
// same test process starts meanwhile are not recorded at all.
func TestRecordMatchesStrace(t *testing.T) {
	r := newRecorder(t)
	wl := testenv.Workload(t)
	want := testenv.Strace(t, wl)

	// Noise: processes started from other OS threads of this same process
	// while the workload is launched, making syscalls the workload never
	// makes.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := exec.Command(wl, "noise", "2000").Run(); err != nil {
					t.Errorf("noise: %v", err)
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)

	cmd := exec.Command(wl)
	// Setpgid makes the launched child call setpgid before its execve:
	// that must not be recorded.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	rec, err := recordCmd(t, r, cmd)
	close(stop)
	wg.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("workload: got %v, want exit status 3", err)
	}

	names := nativeNames(t, rec)
	testenv.MatchStrace(t, names, want)
	for _, marker := range []string{"execve", "uname", "umask", "getcwd", "setsid", "statfs", "clock_nanosleep"} {
		if !slices.Contains(names, marker) {
			t.Errorf("marker %s missing from %v", marker, names)
		}
	}
	for _, noise := range []string{"sysinfo", "getpriority", "times", "setpgid"} {
		if slices.Contains(names, noise) {
			t.Errorf("recorded %s, which only unrelated processes or the pre-exec child made", noise)
		}
	}
	// main + exec'd child + daemonizing middle child + daemon, one thread.
	if rec.Processes != 4 || rec.Tasks != 5 || rec.Execs != 2 {
		t.Errorf("got %d processes, %d tasks, %d execs; want 4, 5, 2", rec.Processes, rec.Tasks, rec.Execs)
	}
	if rec.Lost.Any() || rec.Unnamed != nil || rec.Live != 0 {
		t.Errorf("got lost %+v, unnamed %v, live %d; want nothing lost and no task left", rec.Lost, rec.Unnamed, rec.Live)
	}
}

// Two targets recorded at the same time keep separate sets.
func TestConcurrentTargetsStaySeparate(t *testing.T) {
	r := newRecorder(t)
	wl := testenv.Workload(t)

	type result struct {
		rec *Recording
		err error
	}
	run := func(args ...string) chan result {
		ch := make(chan result, 1)
		go func() {
			rec, err := recordCmd(t, r, exec.Command(wl, args...))
			ch <- result{rec, err}
		}()
		return ch
	}
	noiseCh, execCh := run("noise", "100000"), run("exec")
	noise, execd := <-noiseCh, <-execCh
	for _, res := range []result{noise, execd} {
		if res.err != nil {
			t.Fatalf("workload: %v", res.err)
		}
	}
	if n := nativeNames(t, noise.rec); !slices.Contains(n, "sysinfo") || slices.Contains(n, "getcwd") {
		t.Errorf("noise target: got %v, want sysinfo and no getcwd", n)
	}
	if n := nativeNames(t, execd.rec); slices.Contains(n, "sysinfo") || !slices.Contains(n, "getcwd") {
		t.Errorf("exec target: got %v, want getcwd and no sysinfo", n)
	}
}

// A program that exits before exec (the command failed to start) leaves
// its slot reusable, and a reused slot starts empty.
func TestSlotsAreReused(t *testing.T) {
	testenv.RequireBPF(t)
	r, err := New(Options{MaxTargets: 1})
	if err != nil {
		t.Fatalf("New: %+v", err)
	}
	defer r.Close()
	wl := testenv.Workload(t)

	first, err := recordCmd(t, r, exec.Command(wl, "noise", "1"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := recordCmd(t, r, exec.Command(wl, "exec"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(nativeNames(t, first), "sysinfo") {
		t.Fatalf("first recording lacks sysinfo: %v", first.Syscalls)
	}
	if slices.Contains(nativeNames(t, second), "sysinfo") {
		t.Errorf("the reused slot still held the first target's syscalls: %v", second.Syscalls)
	}
	// With the only slot held, a further target is refused with a reason.
	sleeper := exec.Command(wl, "sleep")
	held, err := r.StartCommand(sleeper)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sleeper.Process.Kill()
		sleeper.Wait()
	}()
	_, err = r.StartCommand(exec.Command(wl, "exec"))
	if err == nil || !strings.Contains(err.Error(), "target slots are in use") {
		t.Errorf("got %v, want an error about slots in use", err)
	}
	held.Close() // the sleeper still runs: its slot must be retired
	if _, err := r.newTarget(); err == nil {
		t.Errorf("a slot whose tasks still run was handed out again")
	}
}

func TestNoBTF(t *testing.T) {
	allCaps := func() (Caps, error) { return ^Caps(0), nil }
	_, err := New(Options{KernelBTF: "/nonexistent/vmlinux", Capabilities: allCaps})
	if err == nil || !strings.Contains(err.Error(), "CONFIG_DEBUG_INFO_BTF") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error that names CONFIG_DEBUG_INFO_BTF", err)
	}
}

func TestCheckCaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps Caps
		want string // "" for no error
	}{
		{"root", ^Caps(0), ""},
		{"sys_admin", 1 << CapSysAdmin, ""},
		{"bpf+perfmon", 1<<CapBPF | 1<<CapPerfmon, ""},
		{"bpf only", 1 << CapBPF, "missing CAP_PERFMON: run as root or grant CAP_BPF and CAP_PERFMON"},
		{"none", 0, "missing CAP_BPF and CAP_PERFMON: run as root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkCaps(func() (Caps, error) { return tc.caps, nil })
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// New stops at the check, before touching the kernel.
	_, err := New(Options{Capabilities: func() (Caps, error) { return 0, nil }})
	if err == nil || !strings.Contains(err.Error(), "run as root or grant CAP_BPF and CAP_PERFMON") {
		t.Fatalf("New without capabilities: got %v", err)
	}
}
