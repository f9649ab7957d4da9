package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/recorder"
	"github.com/sysrec/sysrec/syscalls"
)

// Rare-path completion, proven on real processes: each test records a
// workload with sysrec record, and shows that the workload survives a rare
// path under the profile that record wrote (completed), and fails under
// the same profile without the names that completion added; with --exact,
// record leaves them out.

// completionProfiles records argv and returns the paths of the recorded
// (completed) profile and of the same without drop. It fails the test
// when completion did not add every name of drop, with a reason (the
// recording held one already, or --exact kept it): then the run proves
// nothing.
func completionProfiles(t *testing.T, drop []string, argv ...string) (completed, without string) {
	t.Helper()
	dir := t.TempDir()
	completed = filepath.Join(dir, "completed.json")
	if res := sysrec(t, append([]string{"record", "-o", completed, "--"}, argv...)...); res.code != 0 {
		t.Fatalf("record %v: exit %d: %s", argv, res.code, res.stderr)
	}
	p, _ := readProfile(t, completed)
	reasons := profiles.Completed(p)
	for _, n := range drop {
		if reasons[n] == "" {
			t.Fatalf("completion did not add %s to the recording of %v (it added %v)", n, argv, reasons)
		}
		t.Logf("completion: %s: %s", n, reasons[n])
	}
	exact := filepath.Join(dir, "exact.json")
	if res := sysrec(t, append([]string{"record", "--exact", "-o", exact, "--"}, argv...)...); res.code != 0 {
		t.Fatalf("record --exact %v: exit %d: %s", argv, res.code, res.stderr)
	}
	if q, data := readProfile(t, exact); len(profiles.Completed(q)) != 0 {
		t.Errorf("record --exact completed the profile:\n%s", data)
	}
	return completed, writeProfile(t, dir, "without.json", dropNames(p, drop...))
}

// dropNames returns p without names in any rule (a rule left empty goes).
func dropNames(p *profiles.Profile, names ...string) *profiles.Profile {
	q := *p
	q.Syscalls = nil
	for _, r := range p.Syscalls {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return slices.Contains(names, n) })
		if len(r.Names) > 0 {
			q.Syscalls = append(q.Syscalls, r)
		}
	}
	return &q
}

// started is a `sysrec run` in progress.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
}

func startRun(t *testing.T, attr *syscall.SysProcAttr, profile string, argv ...string) *started {
	t.Helper()
	s := &started{cmd: sysrecCmd(t, append([]string{"run", "--profile", profile, "--"}, argv...)...)}
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Setpgid = true
	s.cmd.SysProcAttr = attr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) })
	return s
}

func (s *started) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("sysrec run did not end in 60 s: stderr %q", s.stderr.String())
	}
	return s.cmd.ProcessState.ExitCode()
}

// children returns the children of pid, from every thread's list.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(w); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// sleepingIn returns nil once pid is the program comm, blocked in one
// of the syscalls names (from /proc/PID/syscall).
func sleepingIn(pid int, comm string, names ...string) error {
	c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(string(c)); got != comm {
		return fmt.Errorf("pid %d is %s, not %s yet", pid, got, comm)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
	if err != nil {
		return err
	}
	f := strings.Fields(string(data))
	nr, err := strconv.Atoi(f[0])
	if err != nil {
		return fmt.Errorf("pid %d is in no syscall (%s)", pid, data)
	}
	native, _, _ := syscalls.Host()
	name, _ := syscalls.Name(native, nr)
	if !slices.Contains(names, name) {
		return fmt.Errorf("pid %d is in syscall %d (%s), not in %v", pid, nr, name, names)
	}
	if st, err := procState(pid); err != nil || st != "S" {
		return fmt.Errorf("pid %d is in state %s (%v), not S", pid, st, err)
	}
	return nil
}

var sleepCalls = []string{"nanosleep", "clock_nanosleep"}

// waitSleepChild returns the pid of the sleep that `sysrec run` (pid)
// started, once it sleeps in nanosleep.
func waitSleepChild(t *testing.T, pid int) int {
	t.Helper()
	var child int
	testenv.WaitFor(t, 30*time.Second, func() error {
		kids := children(pid)
		if len(kids) == 0 {
			// run --report-denied=false execs in place.
			kids = []int{pid}
		}
		for _, k := range kids {
			if err := sleepingIn(k, "sleep", sleepCalls...); err != nil {
				return err
			}
			child = k
		}
		return nil
	})
	return child
}

// checkBoth runs the completed profile and the one without the
// completion's names through try, which returns the exit status and
// stderr; it wants 0 and non-zero.
func checkBoth(t *testing.T, completed, without string, drop []string, try func(profile string) (int, string, string)) {
	t.Helper()
	if code, stdout, stderr := try(completed); code != 0 {
		t.Errorf("under the completed profile: exit %d, want 0; stdout %q, stderr %q", code, stdout, stderr)
	}
	start := time.Now()
	code, stdout, stderr := try(without)
	t.Logf("without %v: exit %d after %v; stdout %q; stderr %q", drop, code, time.Since(start).Round(time.Millisecond), stdout, stderr)
	if code == 0 {
		t.Errorf("under the profile without %v: exit 0, want non-zero: the test cannot fail; stdout %q, stderr %q", drop, stdout, stderr)
	}
	if !slices.ContainsFunc(drop, func(n string) bool { return strings.Contains(stderr, "  "+n+" ") }) {
		t.Errorf("under the profile without %v: stderr %q does not name it as denied", drop, stderr)
	}
}

// A recorded sleep survives its cgroup being frozen and thawed, as docker
// pause, ctr task pause and CRI-O's pause do, because of restart_syscall.
func TestCompletionFreezeThaw(t *testing.T) {
	testenv.RequireBPF(t)
	cg2, err := recorder.Cgroup2Mount("/proc/self/mounts")
	if err != nil {
		testenv.Skip(t, "%v", err)
	}
	drop := []string{"restart_syscall"}
	completed, without := completionProfiles(t, drop, "/bin/sleep", "1.5")
	checkBoth(t, completed, without, drop, func(profile string) (int, string, string) {
		dir, err := os.MkdirTemp(cg2, "sysrec-freeze-")
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
			if err := testenv.RemoveCgroup(dir); err != nil {
				t.Error(err)
			}
		}()
		fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		s := startRun(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}, profile, "/bin/sleep", "3")
		waitSleepChild(t, s.cmd.Process.Pid)
		freeze(t, dir, true)
		time.Sleep(300 * time.Millisecond) // frozen for 0.3 s: the pause itself
		freeze(t, dir, false)
		return s.wait(t), s.stdout.String(), s.stderr.String()
	})
}

// freeze freezes or thaws cgroup dir and waits until the kernel says it is.
func freeze(t *testing.T, dir string, on bool) {
	t.Helper()
	v := map[bool]string{true: "1", false: "0"}[on]
	if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(v), 0); err != nil {
		testenv.Skip(t, "this kernel's cgroup v2 cannot freeze: %v", err)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil {
			return err
		}
		if !slices.Contains(strings.Split(string(data), "\n"), "frozen "+v) {
			return fmt.Errorf("%s/cgroup.events: %q, want frozen %s", dir, data, v)
		}
		return nil
	})
}

// A recorded sleep survives SIGSTOP and SIGCONT because of
// restart_syscall.
func TestCompletionStopContinue(t *testing.T) {
	testenv.RequireBPF(t)
	drop := []string{"restart_syscall"}
	completed, without := completionProfiles(t, drop, "/bin/sleep", "1.5")
	checkBoth(t, completed, without, drop, func(profile string) (int, string, string) {
		s := startRun(t, nil, profile, "/bin/sleep", "3")
		pid := waitSleepChild(t, s.cmd.Process.Pid)
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, 10*time.Second, func() error {
			if st, err := procState(pid); err != nil || st != "T" {
				return fmt.Errorf("sleep is in state %s (%v), want T", st, err)
			}
			return nil
		})
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		return s.wait(t), s.stdout.String(), s.stderr.String()
	})
}

// A program that installs a signal handler and was recorded without a
// signal survives one because of rt_sigreturn.
func TestCompletionSignalHandler(t *testing.T) {
	testenv.RequireBPF(t)
	workload := testenv.Workload(t)
	drop := []string{"rt_sigreturn"}
	completed, without := completionProfiles(t, drop, workload, "handler", "50")
	checkBoth(t, completed, without, drop, func(profile string) (int, string, string) {
		cmd := sysrecCmd(t, "run", "--profile", profile, "--", workload, "handler", "30000")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		startGroup(t, cmd)
		r := bufio.NewReader(out)
		line, err := r.ReadString('\n')
		pid, perr := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "ready "))
		if err != nil || perr != nil {
			t.Fatalf("workload handler: got %q (%v), want ready PID", line, err)
		}
		// Signal it in nanosleep, so that the handler ends the sleep.
		testenv.WaitFor(t, 30*time.Second, func() error { return sleepingIn(pid, "workload", sleepCalls...) })
		if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(r)
		cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		if code == 0 && !strings.Contains(string(rest), "handled") {
			t.Errorf("workload handler: stdout %q, want handled: the signal did not reach the handler", rest)
		}
		return code, line + string(rest), stderr.String()
	})
}

// A threaded program recorded when its threads did not collide makes no
// futex call; when they do, it needs futex, which completion adds
// because threads ran.
func TestCompletionLockContention(t *testing.T) {
	testenv.RequireBPF(t)
	workload := testenv.Workload(t)
	drop := []string{"futex"}
	completed, without := completionProfiles(t, drop, workload, "contend", "free")
	checkBoth(t, completed, without, drop, func(profile string) (int, string, string) {
		res := sysrec(t, "run", "--profile", profile, "--", workload, "contend", "hold")
		if res.code == 0 && !strings.Contains(res.stdout, "contend: ok") {
			t.Errorf("contend hold: stdout %q, want contend: ok", res.stdout)
		}
		return res.code, res.stdout, res.stderr
	})
}
