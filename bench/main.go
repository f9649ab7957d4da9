// Command bench measures what sysrec costs a workload, side by side with
// the other ways to see a workload's syscalls: no tracer, an empty BPF
// program on sys_enter (the floor every sys_enter tracer pays), strace -f,
// a bpftrace count map and perf trace; and what `sysrec record` costs to
// start, against `strace -f`, on a command that does nearly nothing; and
// what `sysrec record --containers` costs a node whose containers come and
// go: per container start, and in memory over a long churn of container
// cgroups through one session; and, when -phases names agent, what the
// Kubernetes node agent costs a node of the test cluster and how soon its
// merged profiles reach every node. `make bench` runs it as root.
//
// The machine is noisy, so every figure comes from several rounds in which
// the tracers take turns on the same workload, and ratios are taken round
// by round before their median is reported.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/internal/testenv"
)

type config struct {
	rounds  int
	starts  int
	loop    int
	threads int
	files   int
	sysrec  string
	out     string
	phases  string
	tracers string
	churn   int
	// The agent phase's.
	agentPods   int
	agentWindow time.Duration
}

func main() {
	var c config
	flag.IntVar(&c.rounds, "rounds", 5, "rounds of every measurement but the start-up's")
	flag.IntVar(&c.starts, "startup-rounds", 31, "rounds of the start-up measurement (one sysrec and one strace run each)")
	flag.IntVar(&c.loop, "loop", 1000000, "getppid calls of the microloop")
	flag.IntVar(&c.threads, "threads", 4, "threads of the multi-threaded workload")
	flag.IntVar(&c.files, "files", 5000, "files in the tree that tar reads")
	flag.IntVar(&c.churn, "churn", 20000, "the churn phase runs `N` container cgroups through one sysrec record --containers session")
	flag.IntVar(&c.agentPods, "agent-pods", 100, "the agent phase measures the node agents with `N` pods running, spread over the nodes")
	flag.DurationVar(&c.agentWindow, "agent-window", time.Minute, "the agent phase samples each agent's RSS and CPU over `DURATION`, idle and loaded")
	flag.StringVar(&c.sysrec, "sysrec", "bin/sysrec", "sysrec binary to measure")
	flag.StringVar(&c.out, "o", "docs/benchmarks.md", "also write the report to `FILE` (empty: stdout only)")
	flag.StringVar(&c.phases, "phases", strings.Join(allPhases, ","), "comma-separated `PHASES` to run: "+strings.Join(slices.Concat(allPhases, extraPhases), ", ")+" ("+strings.Join(extraPhases, ", ")+" only when named)")
	flag.StringVar(&c.tracers, "tracers", strings.Join(allTracers, ","), "comma-separated `TRACERS` to measure")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// allPhases names every phase, in the order they run.
var allPhases = []string{"wall", "kernel", "cost", "startup", "churn"}

// extraPhases run only when -phases names them, after allPhases: agent
// measures the Kubernetes node agent on the test cluster
// (scripts/cluster.sh), which a plain `make bench` should not start.
var extraPhases = []string{"agent"}

func run(ctx context.Context, c config) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the benchmark loads BPF programs: run it as root")
	}
	phases := strings.Split(c.phases, ",")
	for _, p := range phases {
		if !slices.Contains(allPhases, p) && !slices.Contains(extraPhases, p) {
			return fmt.Errorf("unknown phase %q: want some of %s", p, strings.Join(slices.Concat(allPhases, extraPhases), ","))
		}
	}
	sysrec, err := filepath.Abs(c.sysrec)
	if err != nil {
		return err
	}
	if _, err := os.Stat(sysrec); err != nil {
		return fmt.Errorf("sysrec binary: %w: run make build first", err)
	}
	// The start-up, churn and agent phases need neither the workloads nor
	// the tracers.
	workloads := slices.ContainsFunc(phases, func(p string) bool { return p != "startup" && p != "churn" && p != "agent" })
	env, err := newEnv(c, sysrec, workloads)
	if err != nil {
		return err
	}
	defer env.Close()

	rep := &report{config: c, started: time.Now()}
	if slices.Contains(phases, "wall") {
		progress("measuring wall time: %d rounds of %d workloads under %d tracers", c.rounds, len(env.workloads), len(env.tracers))
		if rep.wall, err = measureWall(ctx, env, c.rounds); err != nil {
			return err
		}
	}
	if slices.Contains(phases, "kernel") {
		progress("measuring in-kernel time per program run")
		if rep.kernel, err = measureKernel(ctx, env, c.rounds); err != nil {
			return err
		}
	}
	if slices.Contains(phases, "cost") {
		progress("measuring load, attach and memory")
		if rep.cost, err = measureCost(env, c.rounds); err != nil {
			return err
		}
	}
	if slices.Contains(phases, "startup") {
		progress("measuring start-up: %d rounds of sysrec record and strace -f on /bin/true", c.starts)
		if rep.startup, err = measureStartup(ctx, env, c.starts); err != nil {
			return err
		}
	}
	if slices.Contains(phases, "churn") {
		if c.churn < churnCheckpoints {
			return fmt.Errorf("-churn %d: want at least %d containers", c.churn, churnCheckpoints)
		}
		progress("measuring container churn: %d rounds of %d container starts with and without sysrec record --containers, then %d through one session", c.rounds, min(churnBatch, c.churn), c.churn)
		if rep.churn, err = measureChurn(ctx, env, c.churn, c.rounds); err != nil {
			return err
		}
	}
	if slices.Contains(phases, "agent") {
		progress("measuring the node agent on the test cluster: idle and with %d pods over %s each, then %d rounds of profile latency", c.agentPods, c.agentWindow, c.rounds)
		if rep.agent, err = measureAgent(ctx, c.agentPods, c.agentWindow, c.rounds); err != nil {
			return err
		}
	}
	rep.syscalls = env.syscalls
	rep.workloads = env.workloads

	text := rep.String()
	fmt.Print(text)
	if c.out != "" {
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
			return err
		}
		return atomicfile.WriteFile(c.out, []byte(text), 0o644)
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// workload is a program the tracers are measured on.
type workload struct {
	name string
	argv []string
	what string
}

// env holds what the measurements share.
type env struct {
	sysrec    string
	wl        string
	loop      int // the microloop's getppid calls
	tmp       string
	cgroup    *cgroup
	workloads []workload
	tracers   []tracer
	syscalls  map[string]uint64 // per workload, counted by strace -f -c
}

// newEnv prepares what the phases share; the workloads and the tracers
// only when workloads says a phase needs them.
func newEnv(c config, sysrec string, workloads bool) (*env, error) {
	tmp, err := os.MkdirTemp("", "sysrec-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{sysrec: sysrec, tmp: tmp, loop: c.loop, syscalls: map[string]uint64{}}
	if e.cgroup, err = newCgroup(); err != nil {
		e.Close()
		return nil, err
	}
	if !workloads {
		return e, nil
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("gcc is needed to build the workloads: run scripts/install-deps.sh bench")
	}
	if e.wl, err = testenv.BuildWorkload(gcc); err != nil {
		e.Close()
		return nil, err
	}
	tree := filepath.Join(tmp, "tree")
	if err := makeTree(tree, c.files); err != nil {
		e.Close()
		return nil, err
	}
	wl := e.wl
	e.workloads = []workload{
		{"microloop", []string{wl, "loop", fmt.Sprint(c.loop)}, fmt.Sprintf("%d getppid calls", c.loop)},
		{"tar", []string{"tar", "-cf", "-", "-C", tree, "."}, fmt.Sprintf("GNU tar archiving %d files to a pipe", c.files)},
		{"threads", []string{wl, "threads", fmt.Sprint(c.threads), fmt.Sprint(c.loop / c.threads)}, fmt.Sprintf("%d threads making %d getppid calls in all", c.threads, c.loop/c.threads*c.threads)},
		{"mmap", mmapArgv(wl, c.loop), fmt.Sprintf("%d rounds of mmap, mprotect and munmap of a page: two of every three syscalls have their arguments captured with `--args all`", c.loop/10)},
	}
	if e.tracers, err = tracers(e, strings.Split(c.tracers, ",")); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// mmapArgv is the mmap workload: a tenth of the microloop's rounds, of
// three syscalls each that cost more than getppid.
func mmapArgv(wl string, loop int) []string { return []string{wl, "mmap", fmt.Sprint(loop / 10)} }

func (e *env) Close() {
	if e.cgroup != nil {
		e.cgroup.Close()
	}
	os.RemoveAll(e.tmp)
}

// makeTree writes n small files in 100 directories.
func makeTree(dir string, n int) error {
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("sysrec ", 1+i%64)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// timed runs argv to completion in the benchmark cgroup and returns its
// wall time and its rusage.
func (e *env) timed(ctx context.Context, argv []string) (time.Duration, *runUsage, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = e.cgroup.procAttr()
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	return took, usage(cmd.ProcessState), nil
}
