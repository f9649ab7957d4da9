package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/recorder"
)

// wallResult holds, per workload and tracer, one wall time per round.
type wallResult struct {
	walls  map[string]map[string][]time.Duration
	rssKiB []int64 // peak RSS of sysrec record on the microloop
}

func measureWall(ctx context.Context, e *env, rounds int) (*wallResult, error) {
	res := &wallResult{walls: map[string]map[string][]time.Duration{}}
	for _, w := range e.workloads {
		res.walls[w.name] = map[string][]time.Duration{}
	}
	for r := 0; r < rounds; r++ {
		for _, w := range e.workloads {
			// Rotate the order, so no tracer always runs first or last.
			for i := range e.tracers {
				t := e.tracers[(i+r)%len(e.tracers)]
				took, ru, err := t.run(ctx, w)
				if err != nil {
					return nil, fmt.Errorf("%s under %s: %w", w.name, t.name, err)
				}
				res.walls[w.name][t.name] = append(res.walls[w.name][t.name], took)
				if t.name == "sysrec" && w.name == "microloop" {
					res.rssKiB = append(res.rssKiB, ru.maxRSSKiB)
				}
			}
		}
		progress("round %d of %d done", r+1, rounds)
	}
	return res, nil
}

// kernelResult holds in-kernel nanoseconds per program run on the
// microloop, one figure per round for each kind of program.
type kernelResult map[string][]float64

// Kinds of program whose in-kernel time is measured.
const (
	kFloorRaw          = "empty raw_tp (floor)"
	kFloorBTF          = "empty tp_btf (floor, sysrec's attach point)"
	kSysrecTraced      = "sysrec sys_enter, traced process (default --args)"
	kSysrecTracedNone  = "sysrec sys_enter, traced process, --args none"
	kSysrecTracedAll   = "sysrec sys_enter, traced process, --args all"
	kSysrecUntraced    = "sysrec sys_enter, untraced process"
	kSysrecMmapNone    = "sysrec sys_enter on the mmap workload, --args none"
	kSysrecMmapDefault = "sysrec sys_enter on the mmap workload (default --args)"
	kSysrecMmapAll     = "sysrec sys_enter on the mmap workload, --args all"
	kSysrecTarNone     = "sysrec sys_enter on tar, --args none"
	kSysrecTarDefault  = "sysrec sys_enter on tar (default --args)"
	kBpftrace          = "bpftrace count map, traced process"
)

var kernelKinds = []string{kFloorRaw, kFloorBTF, kSysrecTracedNone, kSysrecTraced, kSysrecTracedAll, kSysrecUntraced,
	kSysrecMmapNone, kSysrecMmapDefault, kSysrecMmapAll, kSysrecTarNone, kSysrecTarDefault, kBpftrace}

// sysrecKinds are the kinds that run sysrec's own recorder: with which
// argument groups, on the mmap workload or the microloop, and whether
// the workload is traced.
var sysrecKinds = map[string]struct {
	args   []profiles.ArgGroup
	mmap   bool
	tar    bool
	traced bool
}{
	kSysrecTracedNone:  {args: []profiles.ArgGroup{}, traced: true},
	kSysrecTraced:      {args: profiles.DefaultArgGroups, traced: true},
	kSysrecTracedAll:   {args: profiles.ArgGroups, traced: true},
	kSysrecUntraced:    {args: profiles.DefaultArgGroups},
	kSysrecMmapNone:    {args: []profiles.ArgGroup{}, mmap: true, traced: true},
	kSysrecMmapDefault: {args: profiles.DefaultArgGroups, mmap: true, traced: true},
	kSysrecMmapAll:     {args: profiles.ArgGroups, mmap: true, traced: true},
	kSysrecTarNone:     {args: []profiles.ArgGroup{}, tar: true, traced: true},
	kSysrecTarDefault:  {args: profiles.DefaultArgGroups, tar: true, traced: true},
}

func measureKernel(ctx context.Context, e *env, rounds int) (kernelResult, error) {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enabling BPF run-time statistics: %w", err)
	}
	defer stats.Close()
	kinds := kernelKinds
	if !slices.ContainsFunc(e.tracers, func(t tracer) bool { return t.name == "bpftrace" }) {
		kinds = slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == kBpftrace })
	}
	res := kernelResult{}
	for r := 0; r < rounds; r++ {
		for i := range kinds {
			kind := kinds[(i+r)%len(kinds)]
			ns, err := kernelRun(ctx, e, kind)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kind, err)
			}
			res[kind] = append(res[kind], ns)
		}
	}
	return res, nil
}

// kernelRun runs the microloop (or the mmap workload) once with one kind
// of program attached and returns the program's average run time over
// the run.
func kernelRun(ctx context.Context, e *env, kind string) (float64, error) {
	loop := e.workloads[0].argv
	runLoop := func() error { _, _, err := e.timed(ctx, loop); return err }
	if k, ok := sysrecKinds[kind]; ok {
		switch {
		case k.mmap:
			loop = mmapArgv(e.wl, e.loop)
		case k.tar:
			// tar makes far fewer syscalls than the microloop: ten runs in
			// one measurement, for as steady a figure.
			loop = append([]string{"/bin/sh", "-c", `for i in 1 2 3 4 5 6 7 8 9 10; do "$0" "$@" >/dev/null; done`}, e.workloads[1].argv...)
		}
		before, err := progIDs()
		if err != nil {
			return 0, err
		}
		rec, err := recorder.New(recorder.Options{ArgGroups: k.args})
		if err != nil {
			return 0, err
		}
		defer rec.Close()
		progs, err := newProgs(before, "sys_enter")
		if err != nil || len(progs) != 1 {
			return 0, fmt.Errorf("finding sysrec's sys_enter program: %v (found %d)", err, len(progs))
		}
		defer closeAll(progs)
		if !k.traced {
			sleeper := exec.Command(e.wl, "sleep")
			out, err := sleeper.StdoutPipe()
			if err != nil {
				return 0, err
			}
			t, err := rec.StartCommand(sleeper)
			if err != nil {
				return 0, err
			}
			defer func() {
				sleeper.Process.Kill()
				sleeper.Wait()
				t.Wait(ctx)
				t.Close()
			}()
			if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
				return 0, err
			}
			s0, _ := statsOf(progs)
			if err := runLoop(); err != nil {
				return 0, err
			}
			s1, err := statsOf(progs)
			return nsPerRun(s0, s1), err
		}
		s0, _ := statsOf(progs)
		cmd := exec.CommandContext(ctx, loop[0], loop[1:]...)
		t, err := rec.StartCommand(cmd)
		if err != nil {
			return 0, err
		}
		defer t.Close()
		if err := cmd.Wait(); err != nil {
			return 0, err
		}
		if err := t.Wait(ctx); err != nil {
			return 0, err
		}
		s1, err := statsOf(progs)
		return nsPerRun(s0, s1), err
	}
	switch kind {
	case kFloorRaw, kFloorBTF:
		f, err := attachFloor(map[string]string{kFloorRaw: "raw_tp", kFloorBTF: "tp_btf"}[kind])
		if err != nil {
			return 0, err
		}
		defer f.Close()
		s0, err := f.stats()
		if err != nil {
			return 0, err
		}
		if err := runLoop(); err != nil {
			return 0, err
		}
		s1, err := f.stats()
		return nsPerRun(s0, s1), err

	case kBpftrace:
		bin, err := exec.LookPath("bpftrace")
		if err != nil {
			return 0, err
		}
		b, err := startBpftrace(ctx, bin, e.cgroup.path)
		if err != nil {
			return 0, err
		}
		defer b.stop()
		s0, _ := statsOf(b.progs)
		if err := runLoop(); err != nil {
			return 0, err
		}
		s1, err := statsOf(b.progs)
		return nsPerRun(s0, s1), err
	}
	return 0, fmt.Errorf("unknown kind %q", kind)
}

// The --args choices whose load and attach the cost phase times.
const argsDefault = "socket,namespaces"

var argsChoices = []string{"none", argsDefault, "all"}

// costResult is what sysrec itself costs.
type costResult struct {
	loadAttach     []time.Duration            // with the default --args
	loadAttachArgs map[string][]time.Duration // by --args
	maps           []mapCost
	targetSize     uint32 // bytes of one target slot
	maxTargets     uint32
}

type mapCost struct {
	name       string
	typ        ebpf.MapType
	maxEntries uint32
	valueSize  uint32
	memlock    uint64
}

var tookRE = regexp.MustCompile(`eBPF programs attached.* took=(\S+)`)

func measureCost(e *env, rounds int) (*costResult, error) {
	res := &costResult{}
	// Load and attach in a fresh sysrec process each time, as a user pays
	// it, read from sysrec's own debug log.
	// The argument groups decide how much code the verifier walks, so
	// each choice of --args is timed, taking turns.
	res.loadAttachArgs = map[string][]time.Duration{}
	for r := 0; r < rounds; r++ {
		for i := range argsChoices {
			args := argsChoices[(i+r)%len(argsChoices)]
			cmd := exec.Command(e.sysrec, "--log-level", "debug", "record", "--args", args, "-o", filepath.Join(e.tmp, "la.json"), "--", "/bin/true")
			out, err := cmd.CombinedOutput()
			if err != nil {
				return nil, fmt.Errorf("sysrec record -- /bin/true: %w\n%s", err, out)
			}
			m := tookRE.FindSubmatch(out)
			if m == nil {
				return nil, fmt.Errorf("sysrec's debug log has no load time:\n%s", out)
			}
			d, err := time.ParseDuration(string(m[1]))
			if err != nil {
				return nil, err
			}
			res.loadAttachArgs[args] = append(res.loadAttachArgs[args], d)
			if args == argsDefault {
				res.loadAttach = append(res.loadAttach, d)
			}
		}
	}

	before := mapIDs()
	rec, err := recorder.New(recorder.Options{})
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	for id := range mapIDs() {
		if before[id] {
			continue
		}
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		info, err := m.Info()
		m.Close()
		if err != nil {
			continue
		}
		memlock, _ := info.Memlock()
		res.maps = append(res.maps, mapCost{info.Name, info.Type, info.MaxEntries, info.ValueSize, memlock})
		if info.Name == "targets" {
			res.targetSize, res.maxTargets = info.ValueSize, info.MaxEntries
		}
	}
	sort.Slice(res.maps, func(i, j int) bool { return res.maps[i].name < res.maps[j].name })
	return res, nil
}

// startupResult holds one wall time per round for each command of the
// start-up phase.
type startupResult struct {
	sysrec []time.Duration // sysrec record -o FILE -- /bin/true
	strace []time.Duration // strace -f -o /dev/null /bin/true
}

// measureStartup times what recording costs a command that does nearly
// nothing, against strace -f on the same command: whole processes, which
// take turns, in a different order each round, after one round that is
// not counted.
func measureStartup(ctx context.Context, e *env, rounds int) (*startupResult, error) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return nil, fmt.Errorf("strace: %w: run scripts/install-deps.sh bench", err)
	}
	cmds := [][]string{
		{e.sysrec, "record", "-o", filepath.Join(e.tmp, "startup.json"), "--", "/bin/true"},
		{strace, "-f", "-o", "/dev/null", "/bin/true"},
	}
	res := &startupResult{}
	for r := -1; r < rounds; r++ {
		var took [2]time.Duration
		for i := range cmds {
			j := (i + r + 1) % len(cmds)
			if took[j], _, err = e.timed(ctx, cmds[j]); err != nil {
				return nil, err
			}
		}
		if r >= 0 {
			res.sysrec = append(res.sysrec, took[0])
			res.strace = append(res.strace, took[1])
		}
	}
	return res, nil
}
