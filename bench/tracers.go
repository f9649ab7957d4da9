package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/recorder"
)

// tracer runs a workload under one way of watching its syscalls.
type tracer struct {
	name string
	how  string
	// run returns the wall time of the workload as the user sees it, and
	// the rusage of the process that was timed.
	run func(ctx context.Context, w workload) (time.Duration, *runUsage, error)
}

// runUsage is what the kernel accounted to a finished process.
type runUsage struct {
	maxRSSKiB int64
}

func usage(ps *os.ProcessState) *runUsage {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return &runUsage{maxRSSKiB: ru.Maxrss}
	}
	return &runUsage{}
}

// allTracers names every tracer, in the order the report lists them.
var allTracers = []string{"none", "floor", "sysrec", "sysrec-args-none", "sysrec-args-all", "sysrec-untraced", "sysrec-exit-untraced", "strace", "bpftrace", "perf-trace"}

// tracers returns the selected tracers, after checking that the programs
// they need are installed.
func tracers(e *env, selected []string) ([]tracer, error) {
	var strace, bpftrace, perf string
	var err error
	if slices.Contains(selected, "strace") {
		if strace, err = exec.LookPath("strace"); err != nil {
			return nil, fmt.Errorf("strace: %w: run scripts/install-deps.sh bench", err)
		}
	}
	if slices.Contains(selected, "bpftrace") {
		if bpftrace, err = exec.LookPath("bpftrace"); err != nil {
			return nil, fmt.Errorf("bpftrace: %w: run scripts/install-deps.sh bench", err)
		}
	}
	if slices.Contains(selected, "perf-trace") {
		if perf, err = findPerf(); err != nil {
			return nil, err
		}
	}
	if bpftrace != "" || perf != "" {
		if err := mountTracefs(); err != nil {
			return nil, err
		}
	}
	out := func(name string) string { return filepath.Join(e.tmp, name) }
	all := []tracer{
		{"none", "the workload alone", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			return e.timed(ctx, w.argv)
		}},
		{"floor", "an empty BPF program on the sys_enter raw tracepoint, attached before the run", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			f, err := attachFloor("raw_tp")
			if err != nil {
				return 0, nil, err
			}
			defer f.Close()
			return e.timed(ctx, w.argv)
		}},
		{"sysrec", "`sysrec record -o FILE -- CMD`, its start-up (load and attach) included; it captures the default argument groups (`--args socket,namespaces`)", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			return e.timed(ctx, append([]string{e.sysrec, "record", "-o", out("sysrec.json"), "--"}, w.argv...))
		}},
		{"sysrec-args-none", "`sysrec record --args none`: no argument captured", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			return e.timed(ctx, append([]string{e.sysrec, "record", "--args", "none", "-o", out("sysrec.json"), "--"}, w.argv...))
		}},
		{"sysrec-args-all", "`sysrec record --args all`: every argument group captured, mmap and mprotect included", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			return e.timed(ctx, append([]string{e.sysrec, "record", "--args", "all", "-o", out("sysrec.json"), "--"}, w.argv...))
		}},
		{"sysrec-untraced", "the workload alone while `sysrec record` traces another process", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			stop, err := e.sysrecElsewhere(ctx)
			if err != nil {
				return 0, nil, err
			}
			defer stop()
			return e.timed(ctx, w.argv)
		}},
		{"sysrec-exit-untraced", "the workload alone while `sysrec record --capture-denied sys-exit` traces another process", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			stop, err := e.sysrecElsewhere(ctx, "--capture-denied", "sys-exit")
			if err != nil {
				return 0, nil, err
			}
			defer stop()
			return e.timed(ctx, w.argv)
		}},
		{"strace", "`strace -f -c -o FILE -- CMD`", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			took, ru, err := e.timed(ctx, append([]string{strace, "-f", "-c", "-o", out("strace.txt"), "--"}, w.argv...))
			if err == nil && e.syscalls[w.name] == 0 {
				e.syscalls[w.name], err = straceTotal(out("strace.txt"))
			}
			return took, ru, err
		}},
		{"bpftrace", "a bpftrace count map on tracepoint:raw_syscalls:sys_enter, filtered by the workload's cgroup, attached before the run", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			b, err := startBpftrace(ctx, bpftrace, e.cgroup.path)
			if err != nil {
				return 0, nil, err
			}
			defer b.stop()
			return e.timed(ctx, w.argv)
		}},
		{"perf-trace", "`perf trace -s -o FILE -- CMD`", func(ctx context.Context, w workload) (time.Duration, *runUsage, error) {
			return e.timed(ctx, append([]string{perf, "trace", "-s", "-o", out("perf.txt"), "--"}, w.argv...))
		}},
	}
	var chosen []tracer
	for _, name := range selected {
		i := slices.IndexFunc(all, func(t tracer) bool { return t.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown tracer %q: want some of %s", name, strings.Join(allTracers, ","))
		}
		chosen = append(chosen, all[i])
	}
	return chosen, nil
}

// sysrecElsewhere starts `sysrec record` with flags on a sleeping process
// and returns once its programs are attached; stop ends it.
func (e *env) sysrecElsewhere(ctx context.Context, flags ...string) (stop func(), err error) {
	args := append([]string{"record", "-o", filepath.Join(e.tmp, "elsewhere.json")}, flags...)
	cmd := exec.CommandContext(ctx, e.sysrec, append(args, "--", e.wl, "sleep")...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The sleeper prints once it runs, which is after sysrec attached.
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("starting sysrec on a sleeper: %w", err)
	}
	return func() {
		cmd.Process.Signal(unix.SIGINT)
		cmd.Wait()
	}, nil
}

// straceTotal reads the call count of strace -c's total line.
func straceTotal(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[len(f)-1] == "total" {
			return strconv.ParseUint(f[3], 10, 64)
		}
	}
	return 0, fmt.Errorf("no total line in strace -c output:\n%s", data)
}

// findPerf finds Debian's versioned perf binary: /usr/bin/perf is a
// wrapper that refuses kernels other than Debian's own.
func findPerf() (string, error) {
	matches, _ := filepath.Glob("/usr/bin/perf_*")
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode()&0o111 != 0 {
			return m, nil
		}
	}
	if p, err := exec.LookPath("perf"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("perf is not installed: run scripts/install-deps.sh bench")
}

// mountTracefs mounts tracefs, which perf trace and bpftrace's tracepoints
// need (sysrec does not).
func mountTracefs() error {
	if _, err := os.Stat("/sys/kernel/tracing/events"); err == nil {
		return nil
	}
	if err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		return fmt.Errorf("mounting tracefs for perf and bpftrace: %w", err)
	}
	return nil
}

// bpftraceRun is a running bpftrace.
type bpftraceRun struct {
	cmd   *exec.Cmd
	progs []progRef
}

// startBpftrace starts a count-map one-liner limited to cgroup and returns
// once its program is attached.
func startBpftrace(ctx context.Context, bin, cgroup string) (*bpftraceRun, error) {
	before, err := progIDs()
	if err != nil {
		return nil, err
	}
	script := fmt.Sprintf(`tracepoint:raw_syscalls:sys_enter /cgroup == cgroupid("%s")/ { @[args->id] = count(); }`, cgroup)
	cmd := exec.CommandContext(ctx, bin, "-e", script)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &bpftraceRun{cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		progs, err := newProgs(before)
		if err != nil {
			b.stop()
			return nil, err
		}
		for _, p := range progs {
			if info, err := p.prog.Info(); err == nil && info.Type == ebpf.TracePoint {
				b.progs = append(b.progs, p)
			} else {
				p.prog.Close()
			}
		}
		if len(b.progs) > 0 {
			// Loaded; give it a moment to attach.
			time.Sleep(300 * time.Millisecond)
			return b, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.stop()
	return nil, fmt.Errorf("bpftrace did not load its program within 30s")
}

func (b *bpftraceRun) stop() {
	closeAll(b.progs)
	b.cmd.Process.Signal(unix.SIGINT)
	b.cmd.Wait()
}

// cgroup is a cgroup v2 group that the timed processes are started in, so
// that bpftrace can filter on it.
type cgroup struct {
	path string
	fd   int
}

func newCgroup() (*cgroup, error) {
	root, err := recorder.Cgroup2Mount("/proc/self/mounts")
	if err != nil {
		return nil, fmt.Errorf("bpftrace filters on a cgroup v2 group: %w", err)
	}
	path := filepath.Join(root, fmt.Sprintf("sysrec-bench-%d", os.Getpid()))
	if err := os.Mkdir(path, 0o755); err != nil {
		return nil, fmt.Errorf("creating the benchmark cgroup: %w", err)
	}
	fd, err := unix.Open(path, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return &cgroup{path: path, fd: fd}, nil
}

func (c *cgroup) procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: c.fd}
}

func (c *cgroup) Close() {
	unix.Close(c.fd)
	// Processes that lingered keep the group busy for a moment.
	for i := 0; i < 50; i++ {
		if err := os.Remove(c.path); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
