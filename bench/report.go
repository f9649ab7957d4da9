package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/agent"
)

type report struct {
	config    config
	started   time.Time
	workloads []workload
	syscalls  map[string]uint64
	wall      *wallResult
	kernel    kernelResult
	cost      *costResult
	startup   *startupResult
	churn     *churnResult
	agent     *agentResult
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := append([]T(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is the median of the round-by-round ratios a[i]/b[i].
func ratio[T time.Duration | float64](a, b []T) float64 {
	var rs []float64
	for i := range a {
		if i < len(b) && b[i] != 0 {
			rs = append(rs, float64(a[i])/float64(b[i]))
		}
	}
	return median(rs)
}

func (r *report) String() string {
	var b strings.Builder
	var uts unix.Utsname
	unix.Uname(&uts)
	fmt.Fprintf(&b, "# sysrec benchmarks\n\n")
	fmt.Fprintf(&b, "Made by `make bench` (`%s`) on %s.\n\n", strings.Join(append([]string{"go run ./bench"}, os.Args[1:]...), " "), r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs, %s\n", cpuModel(), runtime.NumCPU(), memTotal())
	fmt.Fprintf(&b, "- Kernel: %s %s\n", unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Machine[:]))
	fmt.Fprintf(&b, "- Rounds: %d (start-up: %d); every figure is the median over the rounds, and every ratio the median of the round-by-round ratios, the tracers taking turns in a rotating order.\n", r.config.rounds, r.config.starts)

	if len(r.workloads) > 0 {
		b.WriteString("\n## Workloads\n\n")
	}
	for _, w := range r.workloads {
		fmt.Fprintf(&b, "- **%s**: %s", w.name, w.what)
		if n := r.syscalls[w.name]; n > 0 {
			fmt.Fprintf(&b, "; %d syscalls (counted by strace -f -c)", n)
		}
		b.WriteString(".\n")
	}
	if r.wall != nil {
		r.writeWall(&b)
	}
	if r.kernel != nil {
		r.writeKernel(&b)
	}
	if r.cost != nil {
		r.writeCost(&b)
	}
	if r.startup != nil {
		r.writeStartup(&b)
	}
	if r.churn != nil {
		r.writeChurn(&b)
	}
	if r.agent != nil {
		r.writeAgent(&b)
	}
	r.writeTargets(&b)
	return b.String()
}

func (r *report) writeWall(b *strings.Builder) {
	b.WriteString("\n## Wall time\n\n")
	b.WriteString("`ns/syscall` is the time a tracer adds to each of the workload's syscalls over running it alone.\n\n")
	b.WriteString("| workload | tracer | wall (s) | × none | × floor | ns/syscall added |\n|---|---|---:|---:|---:|---:|\n")
	for _, w := range r.workloads {
		walls := r.wall.walls[w.name]
		none := walls["none"]
		for _, t := range tracerOrder(walls) {
			added := "-"
			if n := r.syscalls[w.name]; n > 0 {
				added = fmt.Sprintf("%.0f", float64(median(walls[t])-median(none))/float64(n))
			}
			fmt.Fprintf(b, "| %s | %s | %.3f | %.3f | %.3f | %s |\n", w.name, t, median(walls[t]).Seconds(),
				ratio(walls[t], none), ratio(walls[t], walls["floor"]), added)
		}
	}
	b.WriteString("\nTracers: none is the workload alone; floor an empty BPF program on the sys_enter raw tracepoint, attached before the run; sysrec is `sysrec record -o FILE -- CMD` with its start-up (load and attach) included; sysrec-untraced the workload alone while `sysrec record` traces another process; strace is `strace -f -c`; bpftrace a count map on `tracepoint:raw_syscalls:sys_enter` filtered on the workload's cgroup, attached before the run; perf-trace is `perf trace -s`.\n")

}

func (r *report) writeKernel(b *strings.Builder) {
	b.WriteString("\n## In-kernel time per program run\n\n")
	b.WriteString("From `kernel.bpf_stats_enabled` (BPF_ENABLE_STATS), over the microloop (getppid, whose arguments no group captures: the cost of the one bit test) or, where a row says so, the mmap workload (mmap and mprotect, whose arguments `--args all` captures) or ten runs of the tar workload; the statistics themselves add their own cost to every figure alike.\n\n")
	b.WriteString("| program | ns per run |\n|---|---:|\n")
	for _, k := range kernelKinds {
		if len(r.kernel[k]) > 0 {
			fmt.Fprintf(b, "| %s | %.1f |\n", k, median(r.kernel[k]))
		}
	}

}

func (r *report) writeCost(b *strings.Builder) {
	b.WriteString("\n## sysrec's own cost\n\n")
	fmt.Fprintf(b, "- Load and attach: median %s, slowest %s (from a fresh `sysrec` process each time, with the default --args).\n",
		median(r.cost.loadAttach).Round(time.Millisecond), maxOf(r.cost.loadAttach).Round(time.Millisecond))
	var byArgs []string
	for _, a := range argsChoices {
		if ds := r.cost.loadAttachArgs[a]; len(ds) > 0 {
			byArgs = append(byArgs, fmt.Sprintf("`--args %s` %s", a, median(ds).Round(time.Millisecond)))
		}
	}
	if len(byArgs) > 0 {
		fmt.Fprintf(b, "- Load and attach by argument groups, taking turns (the verifier walks the capture code of the chosen groups only): %s.\n", strings.Join(byArgs, ", "))
	}
	b.WriteString("- BPF maps (memlock as the kernel reports it):\n\n")
	b.WriteString("| map | type | max entries | value bytes | memlock |\n|---|---|---:|---:|---:|\n")
	for _, m := range r.cost.maps {
		fmt.Fprintf(b, "| %s | %s | %d | %d | %s |\n", m.name, m.typ, m.maxEntries, m.valueSize, kib(m.memlock))
	}
	fmt.Fprintf(b, "\nEach target takes one %d-byte slot of `targets` (%d slots preallocated), and each traced task one `task_states` element, allocated at fork and freed at exit.\n", r.cost.targetSize, r.cost.maxTargets)

}

func (r *report) writeStartup(b *strings.Builder) {
	s := r.startup
	b.WriteString("\n## Start-up\n\n")
	fmt.Fprintf(b, "Whole processes on a command that does nearly nothing, taking turns over %d rounds, so start-up is nearly all they cost.\n\n", len(s.sysrec))
	b.WriteString("| command | wall (ms) |\n|---|---:|\n")
	fmt.Fprintf(b, "| `sysrec record -o FILE -- /bin/true` | %.1f |\n", ms(median(s.sysrec)))
	fmt.Fprintf(b, "| `strace -f -o /dev/null /bin/true` | %.1f |\n", ms(median(s.strace)))
	fmt.Fprintf(b, "\nsysrec / strace: %.2f× (the median of the round-by-round ratios).\n", ratio(s.sysrec, s.strace))
}

func (r *report) writeChurn(b *strings.Builder) {
	c := r.churn
	b.WriteString("\n## Container churn\n\n")
	fmt.Fprintf(b, "Container cgroups below `kubepods/`, each a task started in it, in a mount namespace of its own, that execs `/bin/true`, the cgroup removed once it has exited; %d at a time. `sysrec record --containers --runtime-endpoint none --containerd-address none` names them by their cgroup, as %d workloads that start again and again, as CronJobs, CI jobs and crash loops do.\n\n", churnParallel, churnWorkloads)
	fmt.Fprintf(b, "Per container start, over %d rounds of %d starts with no recorder and %d under a fresh session (start-up not timed), taking turns:\n\n", len(c.none), c.batch, c.batch)
	b.WriteString("| recorder | ms per start |\n|---|---:|\n")
	fmt.Fprintf(b, "| none | %.3f |\n", ms(median(c.none)))
	fmt.Fprintf(b, "| `sysrec record --containers` | %.3f |\n", ms(median(c.sysrec)))
	fmt.Fprintf(b, "\nsysrec / none: %.2f× (the median of the round-by-round ratios).\n\n", ratio(c.sysrec, c.none))
	fmt.Fprintf(b, "Then %d through one session, its memory sampled after each %d (two of its polls later):\n\n", c.containers, c.containers/churnCheckpoints)
	b.WriteString("| containers | ms per start since the last | VmRSS | BPF maps (memlock) |\n|---:|---:|---:|---:|\n")
	for i, s := range c.samples {
		per := "-"
		if i < len(c.perQuarter) {
			per = fmt.Sprintf("%.3f", ms(c.perQuarter[i]))
		}
		fmt.Fprintf(b, "| %d | %s | %.1f MiB | %s in %d maps |\n", s.containers, per, float64(s.rssKiB)/1024, kib(s.memlock), s.maps)
	}
	if n := len(c.samples); n >= 2 {
		half, last := c.samples[n/2-1], c.samples[n-1]
		fmt.Fprintf(b, "\nRSS over the second half (%d to %d containers): %+.1f MiB, %.2f KiB per container.\n", half.containers, last.containers,
			float64(last.rssKiB-half.rssKiB)/1024, float64(last.rssKiB-half.rssKiB)/float64(last.containers-half.containers))
	}
	fmt.Fprintf(b, "\n- Peak RSS while recording (VmHWM before SIGINT): %.1f MiB; over the whole run, writing the profiles and the index included (rusage): %.1f MiB.\n", float64(c.hwmKiB)/1024, float64(c.exitRSSKiB)/1024)
	fmt.Fprintf(b, "- SIGINT to exit, writing %d profiles and index.json: %s.\n", c.profiles, c.stopTook.Round(time.Millisecond))
	d := c.drops
	fmt.Fprintf(b, "- sysrec recorded %d of the %d containers churned, into %d profiles; drops: %d lost tasks, %d out of range, %d tasks without a target, %d cgroups without a target (cgroupsFull), %d announcements lost.\n",
		c.recorded, c.containers, c.profiles, d.LostTasks, d.OutOfRange, d.TargetMissing, d.CgroupsFull, d.EventsLost)
}

func (r *report) writeAgent(b *strings.Builder) {
	a := r.agent
	b.WriteString("\n## Node agent\n\n")
	fmt.Fprintf(b, "`sysrec agent` (images: %s) on %s (scripts/cluster.sh: %s on one machine), from each agent's own /metrics: RSS is the largest `process_resident_memory_bytes` read (every %s, as a Prometheus would) and CPU the increase of `process_cpu_seconds_total` over %s of wall time. Idle: no pod but sysrec's own%s. Loaded: %d pods (busybox, `cat /proc/self/stat` then `sleep 1` in a loop; %s) recorded by one SyscallRecording, sampled once every agent tracks them and their merged profile is installed on every node.\n\n",
		strings.Join(a.images, ", "), a.clusterNote, strings.Join(a.nodes, " and "), agentScrape, a.window, map[bool]string{true: fmt.Sprintf(" (but %d other pods were running)", a.otherPods)}[a.otherPods > 0], a.pods, perNode(a))
	b.WriteString("| node | | RSS | Go heap in use | CPU (% of a core) | containers tracked |\n|---|---|---:|---:|---:|---:|\n")
	for _, n := range a.nodes {
		for _, side := range []struct {
			name string
			s    agentSample
		}{{"idle", a.idle[n]}, {"loaded", a.loaded[n]}} {
			s := side.s
			fmt.Fprintf(b, "| %s | %s | %.1f MiB | %.1f MiB | %.2f | %d |\n", n, side.name, s.rssBytes/(1<<20), s.heap/(1<<20), s.cpuPct, s.tracked)
		}
	}
	var costs []string
	for _, n := range a.nodes {
		costs = append(costs, fmt.Sprintf("%.1f ms on %s", ms(a.scrapeCPU[n]), n))
	}
	fmt.Fprintf(b, "\nOne read of /metrics costs the agent %s of CPU (%d reads back to back; the CPU figures above include theirs).\n", strings.Join(costs, " and "), agentScrapes)
	if len(a.latency) > 0 {
		fmt.Fprintf(b, "\nFrom a replica's start to the merged profile on every node, over %d rounds (the loaded pods still running): median %s, fastest %s, slowest %s. Each round creates a SyscallRecording, then a 2-replica Deployment (one per node) whose container calls sync(2) first thing; it runs from the later replica's start (its container's first process, /proc/1/stat, 10 ms) to the first read of the recording (every %s) whose profile holds sync, merged from both nodes and installed on both. The agents report every %s (and at once when a recording changes), and each round starts at a random point of that period.\n",
			len(a.latency), median(a.latency).Round(10*time.Millisecond), minOf(a.latency).Round(10*time.Millisecond), maxOf(a.latency).Round(10*time.Millisecond), agentPoll, agent.DefaultInterval)
	}
}

func perNode(a *agentResult) string {
	var parts []string
	for _, n := range a.nodes {
		parts = append(parts, fmt.Sprintf("%d on %s", a.perNode[n], n))
	}
	return strings.Join(parts, ", ")
}

// writeTargets checks the targets that the phases run measured.
func (r *report) writeTargets(b *strings.Builder) {
	if r.wall != nil && len(r.wall.rssKiB) > 0 {
		fmt.Fprintf(b, "\nPeak RSS of `sysrec record` on the microloop: %.1f MiB.\n", float64(median(r.wall.rssKiB))/1024)
	}
	var rows strings.Builder
	check := func(name string, measured string, ok bool) {
		fmt.Fprintf(&rows, "| %s | %s | %s |\n", name, measured, map[bool]string{true: "yes", false: "no"}[ok])
	}
	if len(r.kernel[kBpftrace]) > 0 {
		traced := ratio(r.kernel[kSysrecTraced], r.kernel[kBpftrace])
		check("in-kernel cost per traced syscall ≤ 0.5× bpftrace's", fmt.Sprintf("%.2f× (%.1f / %.1f ns)", traced, median(r.kernel[kSysrecTraced]), median(r.kernel[kBpftrace])), traced <= 0.5)
	}
	if len(r.kernel[kSysrecUntraced]) > 0 {
		untraced := ratio(r.kernel[kSysrecUntraced], r.kernel[kFloorBTF])
		check("in-kernel cost on untraced processes ≤ 1.3× an empty program on the same attach point", fmt.Sprintf("%.2f× (%.1f / %.1f ns)", untraced, median(r.kernel[kSysrecUntraced]), median(r.kernel[kFloorBTF])), untraced <= 1.3)
	}
	// Argument capture: the in-kernel cost per syscall of the default
	// groups against none is the target, on the microloop and tar; the
	// wall times, which hold sysrec's start-up too, are reported.
	for _, c := range []struct{ with, without, workload string }{{kSysrecTraced, kSysrecTracedNone, "microloop"}, {kSysrecTarDefault, kSysrecTarNone, "tar"}} {
		if len(r.kernel[c.with]) > 0 && len(r.kernel[c.without]) > 0 {
			q := ratio(r.kernel[c.with], r.kernel[c.without])
			check(fmt.Sprintf("%s: in-kernel cost per syscall with the default --args ≤ 1.05× with --args none", c.workload), fmt.Sprintf("%.2f× (%.1f / %.1f ns)", q, median(r.kernel[c.with]), median(r.kernel[c.without])), q <= 1.05)
		}
	}
	for _, pair := range [][2]string{{kSysrecTracedAll, kSysrecTracedNone}, {kSysrecMmapDefault, kSysrecMmapNone}, {kSysrecMmapAll, kSysrecMmapNone}} {
		if len(r.kernel[pair[0]]) > 0 && len(r.kernel[pair[1]]) > 0 {
			q := ratio(r.kernel[pair[0]], r.kernel[pair[1]])
			fmt.Fprintf(&rows, "| in-kernel cost per syscall: %s, against --args none (reported) | %.2f× (%.1f / %.1f ns) | — |\n", pair[0], q, median(r.kernel[pair[0]]), median(r.kernel[pair[1]]))
		}
	}
	if r.wall != nil {
		for _, w := range []string{"microloop", "tar"} {
			if walls := r.wall.walls[w]; len(walls["sysrec"]) > 0 && len(walls["sysrec-args-none"]) > 0 {
				q := ratio(walls["sysrec"], walls["sysrec-args-none"])
				fmt.Fprintf(&rows, "| %s under `sysrec record` (default --args) against `--args none`, start-up included (reported) | %.3f× | — |\n", w, q)
			}
		}
		if walls := r.wall.walls["mmap"]; len(walls["sysrec-args-all"]) > 0 && len(walls["sysrec-args-none"]) > 0 {
			q := ratio(walls["sysrec-args-all"], walls["sysrec-args-none"])
			fmt.Fprintf(&rows, "| mmap workload under `sysrec record --args all` against `--args none` (reported) | %.3f× | — |\n", q)
		}
		if loop := r.wall.walls["microloop"]; len(loop["sysrec"]) > 0 && len(loop["floor"]) > 0 {
			floorRatio := ratio(loop["sysrec"], loop["floor"])
			check("microloop under `sysrec record` ≤ 1.05× under the floor", fmt.Sprintf("%.3f×", floorRatio), floorRatio <= 1.05)
		}
	}
	if r.cost != nil {
		la := median(r.cost.loadAttach)
		check("load and attach ≤ 300 ms", la.Round(time.Millisecond).String(), la <= 300*time.Millisecond)
	}
	if r.startup != nil {
		st := ratio(r.startup.sysrec, r.startup.strace)
		check("`sysrec record -- /bin/true` ≤ 2× `strace -f /bin/true`", fmt.Sprintf("%.2f× (%.1f / %.1f ms)", st, ms(median(r.startup.sysrec)), ms(median(r.startup.strace))), st <= 2)
	}
	if r.churn != nil {
		c := r.churn
		check(fmt.Sprintf("`record --containers`: every one of %d churned containers recorded, one profile per workload, no drops", c.containers),
			fmt.Sprintf("%d recorded in %d profiles, drops %s", c.recorded, c.profiles, map[bool]string{true: "some", false: "none"}[c.drops.Any()]),
			c.recorded == c.containers && c.profiles == min(c.containers, churnWorkloads) && !c.drops.Any())
	}
	if a := r.agent; a != nil {
		var rss, cpu float64
		var each []string
		for _, n := range a.nodes {
			rss, cpu = max(rss, a.idle[n].rssBytes), max(cpu, a.idle[n].cpuPct)
			each = append(each, fmt.Sprintf("%s %.1f MiB, %.2f%%", n, a.idle[n].rssBytes/(1<<20), a.idle[n].cpuPct))
		}
		check("idle node agent: RSS ≤ 50 MiB", strings.Join(each, "; "), rss <= 50<<20)
		check("idle node agent: CPU ≤ 1% of a core", strings.Join(each, "; "), cpu <= 1)
	}
	if rows.Len() == 0 {
		return
	}
	b.WriteString("\n## Targets\n\n")
	b.WriteString("| target | measured | met |\n|---|---|---|\n")
	b.WriteString(rows.String())
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// tracerOrder lists the tracers in the order they were defined.
func tracerOrder(walls map[string][]time.Duration) []string {
	var out []string
	for _, t := range allTracers {
		if _, ok := walls[t]; ok {
			out = append(out, t)
		}
	}
	return out
}

func minOf(ds []time.Duration) time.Duration {
	m := maxOf(ds)
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func kib(n uint64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return "unknown memory"
	}
	return fmt.Sprintf("%.0f GiB memory", float64(si.Totalram)*float64(si.Unit)/(1<<30))
}
