package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/containers"
	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/recorder"
)

const (
	// churnParallel containers start at a time, as on a node.
	churnParallel = 4
	// churnBatch containers are started on each side of a round of the
	// per-start measurement.
	churnBatch = 1000
	// churnCheckpoints is how many times the session's memory is sampled.
	churnCheckpoints = 4
)

// churnResult is what the churn phase measured.
type churnResult struct {
	containers int           // churned through the session
	samples    []churnSample // one per checkpoint
	perQuarter []time.Duration
	hwmKiB     int64 // VmHWM of sysrec before SIGINT
	exitRSSKiB int64 // peak RSS over sysrec's whole run, writing included
	stopTook   time.Duration
	recorded   int // container cgroups that sysrec says it recorded
	profiles   int // profiles that index.json lists: one per workload
	drops      tree.Drops
	// One cost per container start per round, on each side.
	batch        int
	none, sysrec []time.Duration
}

// churnSample is sysrec's memory after some containers.
type churnSample struct {
	containers int
	rssKiB     int64
	memlock    uint64 // BPF map memory, memlock of the maps sysrec holds
	maps       int
}

// measureChurn runs container cgroups through `sysrec record
// --containers`: first rounds of a batch with no recorder and a batch
// under a fresh session, which take turns, for the cost of a container
// start; then n through one session, whose memory is sampled at
// checkpoints and whose index must list every one of them.
func measureChurn(ctx context.Context, e *env, n, rounds int) (res *churnResult, err error) {
	p, err := newChurnParent()
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, p.Close()) }()
	res = &churnResult{containers: n, batch: min(churnBatch, n)}

	sides := []func() (time.Duration, error){
		func() (time.Duration, error) {
			took, _, err := p.churn(res.batch)
			return took, err
		},
		func() (time.Duration, error) {
			s, err := startContainerSession(ctx, e.sysrec, filepath.Join(e.tmp, "churn-batch"))
			if err != nil {
				return 0, err
			}
			took, _, err := p.churn(res.batch)
			if _, stopErr := s.stop(); err == nil {
				err = stopErr
			}
			return took, err
		},
	}
	for r := -1; r < rounds; r++ {
		var took [2]time.Duration
		for i := range sides {
			j := (i + r + 1) % len(sides)
			if took[j], err = sides[j](); err != nil {
				return nil, err
			}
		}
		if r >= 0 {
			res.none = append(res.none, took[0]/time.Duration(res.batch))
			res.sysrec = append(res.sysrec, took[1]/time.Duration(res.batch))
		}
	}

	progress("churning %d containers through one sysrec session", n)
	out := filepath.Join(e.tmp, "churn")
	s, err := startContainerSession(ctx, e.sysrec, out)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			s.stop()
		}
	}()
	var names []string
	for q := 1; q <= churnCheckpoints; q++ {
		k := n*q/churnCheckpoints - n*(q-1)/churnCheckpoints
		took, batch, err := p.churn(k)
		if err != nil {
			return nil, err
		}
		names = append(names, batch...)
		if k > 0 {
			res.perQuarter = append(res.perQuarter, took/time.Duration(k))
		}
		// Two of sysrec's polls, so that it has folded what finished.
		time.Sleep(2 * containers.DefaultInterval)
		rss, err := procStatusKiB(s.pid(), "VmRSS")
		if err != nil {
			return nil, err
		}
		memlock, maps, err := mapMemlock(s.pid())
		if err != nil {
			return nil, err
		}
		res.samples = append(res.samples, churnSample{len(names), rss, memlock, maps})
		progress("%d containers: sysrec's RSS %.1f MiB, BPF maps %s", len(names), float64(rss)/1024, kib(memlock))
	}
	if res.hwmKiB, err = procStatusKiB(s.pid(), "VmHWM"); err != nil {
		return nil, err
	}
	start := time.Now()
	ps, err := s.stop()
	stopped = true
	if err != nil {
		return nil, err
	}
	res.stopTook = time.Since(start)
	res.exitRSSKiB = usage(ps).maxRSSKiB

	idx, err := readIndex(filepath.Join(out, "index.json"))
	if err != nil {
		return nil, err
	}
	// "sysrec: N profiles from M container cgroups written to DIR"
	m := recordedRE.FindStringSubmatch(s.stderr())
	if m == nil {
		return nil, fmt.Errorf("sysrec record --containers did not say how many containers it recorded:\n%s", s.stderr())
	}
	res.recorded, _ = strconv.Atoi(m[1])
	res.profiles, res.drops = len(idx.Profiles), idx.Drops
	return res, nil
}

// churnParent is the cgroup, below the kubelet's pod cgroups that `sysrec
// record --containers` watches, that the churned containers' cgroups are
// made in.
type churnParent struct {
	path     string
	kubepods string // removed by Close when the phase made it
	next     int    // containers made so far, for their names
}

func newChurnParent() (*churnParent, error) {
	cg2, err := recorder.Cgroup2Mount("/proc/self/mounts")
	if err != nil {
		return nil, fmt.Errorf("container churn needs cgroup v2: %w", err)
	}
	p := &churnParent{}
	kubepods := filepath.Join(cg2, containers.PodCgroupRoots[0])
	if err := os.Mkdir(kubepods, 0o755); err == nil {
		p.kubepods = kubepods
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("creating the pod cgroup root: %w", err)
	}
	p.path = filepath.Join(kubepods, fmt.Sprintf("sysrec-bench-%d", os.Getpid()))
	if err := os.Mkdir(p.path, 0o755); err != nil {
		p.Close()
		return nil, fmt.Errorf("creating the churn cgroup: %w", err)
	}
	return p, nil
}

// Close removes the churn cgroup, what is left below it, and the pod
// cgroup root if it made it.
func (p *churnParent) Close() error {
	var errs []error
	children, _ := os.ReadDir(p.path)
	for _, c := range children {
		if c.IsDir() {
			errs = append(errs, testenv.RemoveCgroup(filepath.Join(p.path, c.Name())))
		}
	}
	if p.path != "" {
		if err := testenv.RemoveCgroup(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if p.kubepods != "" {
		if err := testenv.RemoveCgroup(p.kubepods); err != nil {
			errs = append(errs, fmt.Errorf("removing the pod cgroup root the benchmark made: %w", err))
		}
	}
	return errors.Join(errs...)
}

// churn runs n containers, churnParallel at a time, and returns how long
// they took and their cgroups' names. Each is a cgroup named like a
// container id, whose one task, started in it in a mount namespace of its
// own as an OCI runtime's entrypoint is, execs /bin/true; the cgroup is
// removed once the task has exited.
func (p *churnParent) churn(n int) (time.Duration, []string, error) {
	names := make([]string, n)
	for i := range names {
		names[i] = containerID(p.next + i)
	}
	p.next += n
	dirs := make([]string, n)
	for i, name := range names {
		dirs[i] = filepath.Join(p.path, name)
	}
	start := time.Now()
	_, err := testenv.RunContainers(dirs, churnParallel)
	took := time.Since(start)
	if err != nil {
		return 0, nil, fmt.Errorf("churning containers: %w", err)
	}
	return took, names, nil
}

// churnWorkloads is how many workloads the churned containers belong to:
// CronJobs, CI jobs and crash loops start the same few workloads again and
// again, and a session's memory is meant to follow the workloads and the
// running containers, not how many came and went.
const churnWorkloads = 10

// recordedRE finds, in sysrec's last words, how many container cgroups
// it recorded.
var recordedRE = regexp.MustCompile(`profiles from (\d+) container cgroups written`)

// containerID is a 64-digit container id, unique within this run. With no
// runtime, containers are named by their id's first 12 digits
// (cri.ResolveCgroup), so those say the workload: one of churnWorkloads.
func containerID(i int) string {
	return fmt.Sprintf("%06x%06x%052x", os.Getpid()&0xffffff, i%churnWorkloads, i)
}

// containerSession is a running `sysrec record --containers`.
type containerSession struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when stderr is read to its end
	mu   sync.Mutex
	tail []string // the last lines of its stderr
}

// startContainerSession starts `sysrec record --containers`, naming
// containers by their cgroup only and writing below out, and returns once
// it records.
func startContainerSession(ctx context.Context, sysrec, out string) (*containerSession, error) {
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, sysrec, "record", "--containers",
		"--runtime-endpoint", "none", "--containerd-address", "none", "--output-dir", out)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &containerSession{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		recording := false
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.tail = append(s.tail, line)
			if len(s.tail) > 20 {
				s.tail = s.tail[1:]
			}
			s.mu.Unlock()
			// Logged once the programs are attached and the session polls.
			if !recording && strings.Contains(line, `msg="recording containers`) {
				recording = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
		return s, nil
	case <-s.done:
		err := cmd.Wait()
		return nil, fmt.Errorf("sysrec record --containers exited before it recorded: %v\n%s", err, s.stderr())
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("sysrec record --containers did not record within 30s:\n%s", s.stderr())
	}
}

func (s *containerSession) pid() int { return s.cmd.Process.Pid }

func (s *containerSession) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.tail, "\n")
}

// stop stops the session with SIGINT and waits for it to write its
// profiles and index and exit.
func (s *containerSession) stop() (*os.ProcessState, error) {
	if err := s.cmd.Process.Signal(unix.SIGINT); err != nil {
		return nil, fmt.Errorf("stopping sysrec record --containers: %w", err)
	}
	<-s.done
	if err := s.cmd.Wait(); err != nil {
		return nil, fmt.Errorf("sysrec record --containers: %w\n%s", err, s.stderr())
	}
	return s.cmd.ProcessState, nil
}

// procStatusKiB reads a field in kB of /proc/PID/status.
func procStatusKiB(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// mapMemlock sums the memlock that the kernel reports for the BPF maps
// that process pid holds a descriptor of, each map once.
func mapMemlock(pid int) (memlock uint64, maps int, err error) {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	seen := map[string]bool{}
	for _, ent := range ents {
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		var id, lock string
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				switch k {
				case "map_id":
					id = strings.TrimSpace(v)
				case "memlock":
					lock = strings.TrimSpace(v)
				}
			}
		}
		// Programs report a memlock too, but no map_id.
		if id == "" || lock == "" || seen[id] {
			continue
		}
		seen[id] = true
		n, err := strconv.ParseUint(lock, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("memlock of map %s: %w", id, err)
		}
		memlock += n
	}
	if len(seen) == 0 {
		return 0, 0, fmt.Errorf("process %d holds no BPF map", pid)
	}
	return memlock, len(seen), nil
}

func readIndex(path string) (*tree.Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading sysrec's index: %w", err)
	}
	var idx tree.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("reading sysrec's index %s: %w", path, err)
	}
	return &idx, nil
}
