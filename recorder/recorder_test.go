package recorder

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/syscalls"
)

func newRecorder(t *testing.T, opts ...Options) *Recorder {
	t.Helper()
	testenv.RequireBPF(t)
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	r, err := New(o)
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

// recordCmd runs cmd under r until its last task exits, and returns the
// recording and cmd's own error.
func recordCmd(t *testing.T, r *Recorder, cmd *exec.Cmd) (*Recording, error) {
	t.Helper()
	rec, waitErr, err := record(r, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return rec, waitErr
}

// record is recordCmd for goroutines other than the test's, which must
// not end the test: it returns the recording, cmd's own error, and an
// error where recording failed.
func record(r *Recorder, cmd *exec.Cmd) (rec *Recording, waitErr, err error) {
	target, err := r.StartCommand(cmd)
	if err != nil {
		return nil, nil, fmt.Errorf("StartCommand: %w", err)
	}
	defer target.Close()
	waitErr = cmd.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := target.Wait(ctx); err != nil {
		return nil, waitErr, fmt.Errorf("waiting for the target's last task: %w", err)
	}
	rec, err = target.Recording()
	return rec, waitErr, err
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
// same test process starts meanwhile are not recorded at all. Every kernel
// path is covered: the per-task entries; a single entry, so that all tasks
// but one take the general path; and the portable sys_enter program.
func TestRecordMatchesStrace(t *testing.T) {
	for name, opts := range map[string]Options{
		"default":   {},
		"one entry": {TaskSlots: 1},
		"portable":  {portable: true},
	} {
		t.Run(name, func(t *testing.T) { testRecordMatchesStrace(t, opts) })
	}
}

func testRecordMatchesStrace(t *testing.T, opts Options) {
	r := newRecorder(t, opts)
	wl := testenv.Workload(t)
	want := testenv.Strace(t, wl)

	// Noise: processes started from other OS threads of this same process
	// while the workload is launched, making syscalls the workload never
	// makes. The workload starts once each noise loop has started its
	// first process.
	const loops = 2
	stop := make(chan struct{})
	started := make(chan struct{}, loops)
	noiseErrs := make(chan error, loops)
	var wg sync.WaitGroup
	for i := 0; i < loops; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			noiseErrs <- noise(wl, stop, started)
		}()
	}
	var stopOnce sync.Once
	stopNoise := func() {
		stopOnce.Do(func() {
			close(stop)
			wg.Wait()
			close(noiseErrs)
		})
	}
	defer stopNoise()
	timeout := time.After(30 * time.Second)
	for i := 0; i < loops; i++ {
		select {
		case <-started:
		case err := <-noiseErrs:
			t.Fatalf("noise: %v", err)
		case <-timeout:
			t.Fatalf("got %d noise loops started within 30 s, want %d", i, loops)
		}
	}

	cmd := exec.Command(wl)
	// Setpgid makes the launched child call setpgid before its execve:
	// that must not be recorded.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	rec, err := recordCmd(t, r, cmd)
	stopNoise()
	for err := range noiseErrs {
		if err != nil {
			t.Errorf("noise: %v", err)
		}
	}
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

// noise runs the workload's noise mode again and again until stop is
// closed, and says on started when its first process has started.
func noise(wl string, stop <-chan struct{}, started chan<- struct{}) error {
	for first := true; ; first = false {
		select {
		case <-stop:
			return nil
		default:
		}
		cmd := exec.Command(wl, "noise", "2000")
		if err := cmd.Start(); err != nil {
			return err
		}
		if first {
			started <- struct{}{}
		}
		if err := cmd.Wait(); err != nil {
			return err
		}
	}
}

// Two targets recorded at the same time keep separate sets.
func TestConcurrentTargetsStaySeparate(t *testing.T) {
	r := newRecorder(t)
	wl := testenv.Workload(t)

	type result struct {
		rec             *Recording
		waitErr, recErr error
	}
	run := func(args ...string) chan result {
		ch := make(chan result, 1)
		go func() {
			rec, waitErr, err := record(r, exec.Command(wl, args...))
			ch <- result{rec, waitErr, err}
		}()
		return ch
	}
	noiseCh, execCh := run("noise", "100000"), run("exec")
	noise, execd := <-noiseCh, <-execCh
	for _, res := range []result{noise, execd} {
		if res.recErr != nil {
			t.Fatalf("recording: %v", res.recErr)
		}
		if res.waitErr != nil {
			t.Fatalf("workload: %v", res.waitErr)
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

// A running task's syscalls are in the recording before it exits.
func TestRecordingOfRunningTasks(t *testing.T) {
	r := newRecorder(t)
	wl := testenv.Workload(t)
	cmd := exec.Command(wl, "sleep")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	target, err := r.StartCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		target.Wait(context.Background())
		target.Close()
	}()
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	rec, err := target.Recording()
	if err != nil {
		t.Fatal(err)
	}
	names := nativeNames(t, rec)
	if rec.Live != 1 || !slices.Contains(names, "write") || !slices.Contains(names, "execve") {
		t.Errorf("got live %d and %v, want 1 live task that made write and execve", rec.Live, names)
	}
}

// Many targets at once: each is attributed, nothing is lost, and each
// recording is exactly its workload's.
func TestThousandConcurrentTargets(t *testing.T) {
	const n = 1000
	r := newRecorder(t)
	wl := testenv.Workload(t)
	want := testenv.Strace(t, wl, "wait")

	type run struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		target *Target
	}
	runs := make([]run, 0, n)
	defer func() {
		for _, x := range runs {
			x.cmd.Process.Kill()
			x.cmd.Wait()
			x.target.Close()
		}
	}()
	for i := 0; i < n; i++ {
		cmd := exec.Command(wl, "wait")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		target, err := r.StartCommand(cmd)
		if err != nil {
			t.Fatalf("target %d: %v", i, err)
		}
		runs = append(runs, run{cmd, stdin, target})
	}
	// All n are alive at once; let them go.
	for _, x := range runs {
		if live, err := x.target.Live(); err != nil || live != 1 {
			t.Fatalf("got %d live tasks (%v), want 1 per target while all run", live, err)
		}
	}
	for _, x := range runs {
		x.stdin.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, x := range runs {
		if err := x.cmd.Wait(); err != nil {
			t.Fatalf("workload %d: %v", i, err)
		}
		if err := x.target.Wait(ctx); err != nil {
			t.Fatalf("target %d: %v", i, err)
		}
		rec, err := x.target.Recording()
		if err != nil {
			t.Fatal(err)
		}
		if rec.Lost.Any() || rec.Processes != 1 {
			t.Fatalf("target %d: got lost %+v, %d processes; want nothing lost, 1 process", i, rec.Lost, rec.Processes)
		}
		testenv.MatchStrace(t, nativeNames(t, rec), want)
		if t.Failed() {
			t.Fatalf("target %d differs", i)
		}
	}
	if s, err := r.DropStats(); err != nil || s.TargetMissing != 0 {
		t.Errorf("drop counters: %+v, %v", s, err)
	}
}

// A command that runs under a seccomp filter is flagged, and the syscalls
// the filter denies are captured: the recording equals what strace sees.
// Without capture, the denied syscall is missing, and the flag is what
// tells. The seccomp-entry mode needs fentry, which some kernels refuse
// (this project's CI VMs among them): there, auto falls back to none.
func TestRecordUnderFilter(t *testing.T) {
	wl := testenv.Workload(t)
	want := testenv.Strace(t, wl, "filtered")
	for _, mode := range []FilterCapture{CaptureAuto, CaptureExit, CaptureNone} {
		t.Run(fmt.Sprintf("mode=%q", mode), func(t *testing.T) {
			r := newRecorder(t, Options{FilterCapture: mode})
			got := r.FilterCapture()
			switch {
			case mode == CaptureAuto && got != CaptureEntry && got != CaptureNone,
				mode != CaptureAuto && got != mode:
				t.Fatalf("FilterCapture: got %q for %q", got, mode)
			}
			t.Logf("capturing with %q", got)
			rec, err := recordCmd(t, r, exec.Command(wl, "filtered"))
			if err != nil {
				t.Fatalf("workload: %v (exit 21: mkdirat was not denied)", err)
			}
			if rec.Filtered != 1 {
				t.Errorf("filtered tasks: got %d, want 1", rec.Filtered)
			}
			names := nativeNames(t, rec)
			if got != CaptureNone {
				testenv.MatchStrace(t, names, want)
				// The capture program sends the origin of what it records.
				if o := rec.Origins[nativeArch(t)]["mkdirat"]; o.Exe != wl || o.PID <= 0 {
					t.Errorf("mkdirat, which the filter denied: got origin %+v, want the workload's", o)
				}
			} else if slices.Contains(names, "mkdirat") || !slices.Contains(names, "getppid") {
				t.Errorf("without capture: got %v, want getppid and not the denied mkdirat", names)
			}
		})
	}
}

// Asking for seccomp-entry capture records what a filter denies where the
// kernel allows fentry. Where it refuses fentry (this project's CI VMs:
// their BPF LSM refuses every fentry program), New fails, not silently
// falling back, and with the kernel's own refusal, which a plain fentry
// program of the test's meets too.
func TestFilterCaptureEntry(t *testing.T) {
	testenv.RequireBPF(t)
	wl := testenv.Workload(t)
	plain := loadPlainFentry()
	r, err := New(Options{FilterCapture: CaptureEntry})
	if err != nil {
		if plain == nil {
			t.Fatalf("New: got %v, want it to load: a plain fentry program on __secure_computing loads and attaches here", err)
		}
		refusal := fentryRefusal(plain)
		if refusal == nil {
			t.Fatalf("plain fentry program: got %v, want EPERM, ENOTSUPP, EOPNOTSUPP or ebpf.ErrNotSupported", plain)
		}
		if !errors.Is(err, refusal) || !strings.Contains(err.Error(), "secure_computing, which captures what seccomp filters deny") {
			t.Fatalf("New: got %v, want the kernel's refusal of fentry (%v), naming the capture program", err, refusal)
		}
		t.Logf("this kernel refuses fentry: %v", plain)
		return
	}
	defer r.Close()
	if plain != nil {
		t.Errorf("the recorder's fentry program loaded, but the test's plain one did not: %v", plain)
	}
	if got := r.FilterCapture(); got != CaptureEntry {
		t.Fatalf("FilterCapture: got %q, want %q", got, CaptureEntry)
	}
	rec, err := recordCmd(t, r, exec.Command(wl, "filtered"))
	if err != nil {
		t.Fatalf("workload: %v (exit 21: mkdirat was not denied)", err)
	}
	if rec.Filtered != 1 {
		t.Errorf("filtered tasks: got %d, want 1", rec.Filtered)
	}
	if names := nativeNames(t, rec); !slices.Contains(names, "mkdirat") || !slices.Contains(names, "getppid") {
		t.Errorf("got %v, want the denied mkdirat and the allowed getppid", names)
	}
}

// loadPlainFentry loads and attaches the smallest fentry program on
// __secure_computing, apart from the recorder: the error, if any, is the
// kernel's answer to fentry itself.
func loadPlainFentry() error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceFEntry,
		AttachTo:     "__secure_computing",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		return fmt.Errorf("loading: %w", err)
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceFEntry})
	if err != nil {
		return fmt.Errorf("attaching: %w", err)
	}
	return l.Close()
}

// enotsupp is the kernel's ENOTSUPP, which it returns for fentry where
// the architecture or configuration lacks trampolines.
const enotsupp = unix.Errno(524)

// fentryRefusal returns which of the ways a kernel refuses fentry err is,
// or nil.
func fentryRefusal(err error) error {
	for _, refusal := range []error{unix.EPERM, enotsupp, unix.EOPNOTSUPP, ebpf.ErrNotSupported} {
		if errors.Is(err, refusal) {
			return refusal
		}
	}
	return nil
}
