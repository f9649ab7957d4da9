package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/recorder"
	"github.com/sysrec/sysrec/syscalls"
)

// podCgroupRoots are the cgroup v2 directories, below the cgroup2 mount,
// under which the kubelet (cgroupfs and systemd drivers) puts pods.
var podCgroupRoots = []string{"kubepods", "kubepods.slice"}

// containerFilter selects the containers whose profiles are written.
type containerFilter struct {
	namespaces []string
	pod        *regexp.Regexp
	container  string
}

// containerFilterFlags are --namespace, --pod and --container, which
// parseContainerFilter reads; what says what they select.
func containerFilterFlags(what string) []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "namespace", Usage: what + " in Kubernetes (or containerd) namespace `NS` (repeatable)"},
		&cli.StringFlag{Name: "pod", Usage: what + " in pods whose name matches `REGEX`"},
		&cli.StringFlag{Name: "container", Usage: what + " called `NAME`"},
	}
}

// parseContainerFilter reads --namespace, --pod and --container.
func parseContainerFilter(c *cli.Context) (containerFilter, error) {
	f := containerFilter{namespaces: c.StringSlice("namespace"), container: c.String("container")}
	if p := c.String("pod"); p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			return f, usageError("--pod: %w", err)
		}
		f.pod = re
	}
	return f, nil
}

// set reports whether any selection was asked for.
func (f containerFilter) set() bool {
	return len(f.namespaces) > 0 || f.pod != nil || f.container != ""
}

func (f containerFilter) match(c *cri.Container) bool {
	if len(f.namespaces) > 0 && !slices.Contains(f.namespaces, c.PodNamespace) {
		return false
	}
	if f.pod != nil && !f.pod.MatchString(c.PodName) {
		return false
	}
	return f.container == "" || f.container == c.Name
}

// seenContainer is one container cgroup the recorder found, and what the
// runtime said about it.
type seenContainer struct {
	info      *cri.Container
	firstSeen time.Time
	lastSeen  time.Time
}

func recordContainers(c *cli.Context, log *slog.Logger, action profiles.Action, capture recorder.FilterCapture) error {
	if c.NArg() > 0 {
		return usageError("record --containers takes no command; got %q", c.Args().First())
	}
	outDir := c.String("output-dir")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	filter, err := parseContainerFilter(c)
	if err != nil {
		return err
	}

	ctx := c.Context
	var client *cri.Client
	switch ep := c.String("runtime-endpoint"); ep {
	case "none":
		// Attribution from cgroup names alone.
	case "":
		if client, err = cri.Detect(ctx, cri.DefaultEndpoints); err != nil {
			log.Warn("no CRI runtime answered; containers are named by their cgroup only", "err", err)
		}
	default:
		if client, err = cri.Dial(ctx, ep); err != nil {
			return err
		}
	}
	if client != nil {
		defer client.Close()
	}
	ctrd, err := dialContainerd(ctx, c.String("containerd-address"), c.String("runtime-endpoint"), client, log)
	if err != nil {
		return err
	}
	var ctrdNamespaces []string
	if ctrd != nil {
		defer ctrd.Close()
		if ctrdNamespaces, err = ctrd.Namespaces(ctx); err != nil {
			return err
		}
	}

	cg2, err := recorder.Cgroup2Mount("/proc/self/mounts")
	if err != nil {
		return err
	}
	roots, err := containerRoots(cg2, ctrdNamespaces, log)
	if err != nil {
		return err
	}

	rec, err := recorder.New(recorder.Options{Logger: log, KernelBTF: c.String("kernel-btf"), ContainerRoots: roots, FilterCapture: capture})
	if err != nil {
		return err
	}
	defer rec.Close()
	log.Info("recording containers; stop with Ctrl-C", "roots", roots)

	runCtx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if d := c.Duration("duration"); d > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(runCtx, d)
		defer cancel()
	}

	seen := map[uint64]*seenContainer{}
	var (
		warnings []string
		lost     tree.Drops
	)
	discover := func() {
		ids, err := rec.CgroupIDs()
		if err != nil {
			log.Warn("reading container cgroups", "err", err)
			return
		}
		now := time.Now()
		for _, cg := range ids {
			s := seen[cg]
			if s == nil {
				s = &seenContainer{firstSeen: now}
				seen[cg] = s
			}
			s.lastSeen = now
			if s.info == nil {
				if name, ok := rec.CgroupName(cg); ok {
					s.info = attribute(ctx, client, ctrd, ctrdNamespaces, "/"+name)
					if s.info != nil {
						log.Debug("container attributed", "cgroup", name, "pod", s.info.PodName)
					}
				}
			}
		}
	}
	view := newLiveView(c.App.ErrWriter)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n, running := 0, true; running; n++ {
		select {
		case <-runCtx.Done():
			running = false
		case <-tick.C:
		}
		discover()
		if view != nil && n%10 == 0 {
			if recs, err := rec.Cgroups(); err == nil {
				view.draw(seen, recs, filter)
			}
		}
	}

	recs, err := rec.Cgroups()
	if err != nil {
		return err
	}
	// Replicas of one workload's container go into one profile.
	type key struct{ ns, workload, container string }
	type group struct {
		entry tree.Entry
		names map[syscalls.Arch]map[string]bool
	}
	groups := map[key]*group{}
	for cg, r := range recs {
		lost.LostTasks += r.Lost.Tasks
		lost.OutOfRange += r.Lost.OutOfRange
		s := seen[cg]
		if s == nil || s.info == nil {
			if len(r.Syscalls) > 0 {
				warnings = append(warnings, fmt.Sprintf("cgroup %d: not attributed to a container (its announcement was lost); its syscalls are not in any profile", cg))
			}
			continue
		}
		info := s.info
		if info.PodName == "" || !filter.match(info) {
			continue // a pod sandbox, or filtered out
		}
		k := key{info.PodNamespace, info.Workload, info.Name}
		g := groups[k]
		if g == nil {
			g = &group{names: map[syscalls.Arch]map[string]bool{}, entry: tree.Entry{
				Namespace: k.ns, Workload: k.workload, Kind: info.WorkloadKind, Container: k.container,
				FirstSeen: s.firstSeen, LastSeen: s.lastSeen,
			}}
			if client != nil {
				g.entry.Runtime = client.Runtime()
			}
			groups[k] = g
		}
		e := &g.entry
		e.Pods = appendUnique(e.Pods, info.PodName)
		e.Images = appendUnique(e.Images, info.Image)
		e.Replicas = len(e.Pods)
		if s.firstSeen.Before(e.FirstSeen) {
			e.FirstSeen = s.firstSeen
		}
		if s.lastSeen.After(e.LastSeen) {
			e.LastSeen = s.lastSeen
		}
		e.Incomplete = e.Incomplete || r.Live > 0 || r.Lost.Any()
		e.Partial = e.Partial || r.Adopted > 0
		e.Filtered = e.Filtered || r.Filtered > 0
		for arch, names := range r.Syscalls {
			if g.names[arch] == nil {
				g.names[arch] = map[string]bool{}
			}
			for _, n := range names {
				g.names[arch][n] = true
			}
		}
	}

	idx := tree.Index{Profiles: []tree.Entry{}, Warnings: warnings, FilterCapture: string(rec.FilterCapture())}
	for _, g := range groups {
		recorded := map[syscalls.Arch][]string{}
		for arch, set := range g.names {
			for n := range set {
				recorded[arch] = append(recorded[arch], n)
			}
		}
		// The runtime's own syscalls between loading the filter and the
		// entrypoint's execve are never recorded, but must be allowed.
		p, err := profiles.Generate(profiles.WithSyscalls(recorded, profiles.OCIRuntimeSyscalls), action)
		if err != nil {
			return err
		}
		data, err := profiles.Marshal(p)
		if err != nil {
			return err
		}
		rel := filepath.Join(cri.SanitizeName(g.entry.Namespace), cri.SanitizeName(g.entry.Workload), cri.SanitizeName(g.entry.Container)+".json")
		path := filepath.Join(outDir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		g.entry.Profile = rel
		if len(p.Syscalls) > 0 {
			g.entry.Syscalls = len(p.Syscalls[0].Names)
		}
		idx.Profiles = append(idx.Profiles, g.entry)
		if e := g.entry; e.Partial {
			idx.Warnings = append(idx.Warnings, fmt.Sprintf("%s: a replica already ran when recording began; the syscalls it made before are missing (restart it while recording for a complete profile)", e.Profile))
		}
		if e := g.entry; e.Filtered {
			idx.Warnings = append(idx.Warnings, fmt.Sprintf("%s: a replica %s", e.Profile, filteredWarning(rec.FilterCapture())))
		}
	}
	sort.Slice(idx.Profiles, func(i, j int) bool { return idx.Profiles[i].Profile < idx.Profiles[j].Profile })
	s, err := rec.DropStats()
	if err != nil {
		return err
	}
	lost.TargetMissing, lost.CgroupsFull, lost.EventsLost = s.TargetMissing, s.CgroupsFull, s.EventsLost
	idx.Drops = lost
	if lost.Any() {
		idx.Warnings = append(idx.Warnings, fmt.Sprintf("kernel-side drops: %d tasks untracked, %d syscalls out of range, %d tasks without a target slot, %d container cgroups without a target, %d cgroup announcements lost",
			lost.LostTasks, lost.OutOfRange, lost.TargetMissing, lost.CgroupsFull, lost.EventsLost))
	}
	if err := tree.WriteIndex(outDir, &idx); err != nil {
		return err
	}
	for _, w := range idx.Warnings {
		log.Warn(w)
	}
	fmt.Fprintf(c.App.ErrWriter, "sysrec: %d profiles from %d container cgroups written to %s\n", len(idx.Profiles), len(recs), outDir)
	return nil
}

// dialContainerd connects to containerd's own API, which names the
// containers that it runs outside Kubernetes. It returns nil when there is
// no containerd to ask.
func dialContainerd(ctx context.Context, address, criEndpoint string, client *cri.Client, log *slog.Logger) (*cri.Containerd, error) {
	const defaultSocket = "/run/containerd/containerd.sock"
	switch {
	case address == "none":
		return nil, nil
	case address != "":
		return cri.DialContainerd(ctx, address)
	case client != nil && client.Runtime() == "containerd":
		address = criEndpoint
		if address == "" {
			address = cri.DefaultEndpoints[0]
		}
	default:
		if _, err := os.Stat(defaultSocket); err != nil {
			return nil, nil
		}
		address = defaultSocket
	}
	ctrd, err := cri.DialContainerd(ctx, address)
	if err != nil {
		log.Warn("containerd does not answer; plain containerd containers are named by their cgroup only", "err", err)
		return nil, nil
	}
	return ctrd, nil
}

// containerRoots returns the cgroup v2 directories below which containers
// run: the kubelet's pod cgroups, and one per containerd namespace (ctr
// run puts a container at /<namespace>/<id>). A namespace's directory is
// created if missing, as runc would for its first container, so that
// containers started later are recorded too.
func containerRoots(cg2 string, ctrdNamespaces []string, log *slog.Logger) ([]string, error) {
	var roots []string
	for _, r := range podCgroupRoots {
		if fi, err := os.Stat(filepath.Join(cg2, r)); err == nil && fi.IsDir() {
			roots = append(roots, filepath.Join(cg2, r))
		}
	}
	for _, ns := range ctrdNamespaces {
		dir := filepath.Join(cg2, cri.SanitizeName(ns))
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			log.Warn("containerd namespace not recorded: creating its cgroup failed", "namespace", ns, "err", err)
			continue
		}
		roots = append(roots, dir)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("no container cgroups under %s (looked for %v and containerd namespaces): is a container runtime running on this node?", cg2, podCgroupRoots)
	}
	if len(roots) > recorder.MaxContainerRoots {
		log.Warn("too many container cgroup roots; recording the first ones only", "max", recorder.MaxContainerRoots, "skipped", roots[recorder.MaxContainerRoots:])
		roots = roots[:recorder.MaxContainerRoots]
	}
	return roots, nil
}

// attribute names the container of a cgroup, given its path or just its
// directory's name: through CRI when a runtime answers, then through
// containerd's own API, else from the name alone. It returns a Container
// without a pod name for cgroups that hold no container, or that the
// runtime does not know as one (pod sandboxes), and nil when ctx is done.
func attribute(ctx context.Context, client *cri.Client, ctrd *cri.Containerd, ctrdNamespaces []string, path string) *cri.Container {
	if ctrd != nil {
		// A plain containerd container's cgroup is named by its id, which
		// need not look like a CRI one.
		name := filepath.Base(path)
		info, err := ctrd.Container(ctx, name, ctrdNamespaces...)
		if err == nil {
			return info
		}
		if errors.Is(err, context.Canceled) {
			return nil
		}
	}
	id, _, ok := cri.ContainerIDFromCgroup(path)
	if !ok {
		return &cri.Container{} // not a container: nothing to write
	}
	if client != nil {
		info, err := client.Container(ctx, id)
		if err == nil {
			return info
		}
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return &cri.Container{ID: id} // a sandbox, or gone: no pod name
	}
	short := id[:12]
	return &cri.Container{ID: id, Name: short, PodName: short, PodNamespace: "unknown", Workload: short, WorkloadKind: cri.KindPod}
}

func appendUnique(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
