package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/containers"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/kubelet"
	"github.com/sysrec/sysrec/recording"
	"github.com/sysrec/sysrec/syscalls"
)

// Defaults of Options.
const (
	DefaultInterval = 10 * time.Second
	// DefaultHeartbeat is how often a node's entry is written when
	// nothing in it changed.
	DefaultHeartbeat = 5 * time.Minute
	// DefaultRetain is how long the recording of a finished workload that
	// no recording selects is kept, for a recording created later.
	DefaultRetain = time.Hour
	// MaxViolations bounds the violations a node keeps per recording:
	// distinct container and syscall pairs, the oldest dropped first.
	MaxViolations = 64
)

// Snapshotter is what the agent reads of a container recording session
// (containers.Session).
type Snapshotter interface {
	Snapshot() (*containers.Snapshot, error)
}

// forgetter is a Snapshotter that drops finished workloads on request
// (containers.Session), which bounds a long-running agent's memory.
type forgetter interface {
	Forget(keep func(*containers.Workload) bool) int
}

// Options configure an Agent.
type Options struct {
	// Node is the name of the agent's node.
	Node string
	// SeccompRoot is the kubelet's seccomp directory, where Localhost
	// profiles are read.
	SeccompRoot string
	// Session records the node's containers.
	Session Snapshotter
	// Client reads SyscallRecordings and the node's pods (from a cache)
	// and patches the recordings' status.
	Client client.Client
	// Interval is how often the node's entries are brought up to date;
	// 0 for DefaultInterval. Heartbeat: see DefaultHeartbeat.
	Interval, Heartbeat time.Duration
	// Retain: see DefaultRetain; 0 for it.
	Retain time.Duration
	// Metrics receives the agent's metrics; nil for none.
	Metrics *Metrics
	// Now is the clock; nil for time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Agent is a node agent. Run runs it.
type Agent struct {
	opts  Options
	log   *slog.Logger
	poke  chan struct{}
	ready chan struct{}
	once  sync.Once

	mu   sync.Mutex
	recs map[types.NamespacedName]*recState
}

// recState is what the agent holds about one recording.
type recState struct {
	// containers is the node's last result; kept as it was when the
	// recording ends.
	containers []v1alpha1.NodeContainer
	installed  map[string]string // container → version
	violations map[violationKey]*v1alpha1.Violation
	warnings   []string
	written    []byte // the entry last written, without its time
	writtenAt  time.Time
}

type violationKey struct{ container, syscall string }

// New returns an Agent.
func New(opts Options) (*Agent, error) {
	if opts.Node == "" {
		return nil, errors.New("starting the node agent: no node name given")
	}
	if opts.Session == nil || opts.Client == nil {
		return nil, errors.New("starting the node agent: no recording session or API client given")
	}
	if !filepath.IsAbs(opts.SeccompRoot) {
		return nil, fmt.Errorf("starting the node agent: the kubelet's seccomp directory %q is not an absolute path", opts.SeccompRoot)
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Retain <= 0 {
		opts.Retain = DefaultRetain
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{
		opts: opts, log: log.With("node", opts.Node),
		poke: make(chan struct{}, 1), ready: make(chan struct{}),
		recs: map[types.NamespacedName]*recState{},
	}, nil
}

// Poke makes the agent bring its entries up to date now, as when a
// recording changed.
func (a *Agent) Poke() {
	select {
	case a.poke <- struct{}{}:
	default:
	}
}

// Ready returns nil once the agent has brought every recording's entry
// up to date once.
func (a *Agent) Ready() error {
	select {
	case <-a.ready:
		return nil
	default:
		return errors.New("the node agent has not reported yet")
	}
}

// ReadyC is closed when Ready starts returning nil.
func (a *Agent) ReadyC() <-chan struct{} { return a.ready }

// Run brings the node's entries up to date every interval and when
// poked, until ctx is done; then it writes them once more, so that a
// stopping agent (SIGTERM) loses nothing it recorded.
func (a *Agent) Run(ctx context.Context) error {
	tick := time.NewTicker(a.opts.Interval)
	defer tick.Stop()
	for {
		if err := a.Sync(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("updating the recordings; trying again at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := a.Sync(final); err != nil {
				return fmt.Errorf("writing the node's results on the way out: %w", err)
			}
			a.log.Info("wrote the node's results on the way out")
			return nil
		case <-tick.C:
		case <-a.poke:
		}
	}
}

// Sync brings every recording's entry for this node up to date, and
// installs the profiles that the recordings published.
func (a *Agent) Sync(ctx context.Context) error {
	var list v1alpha1.SyscallRecordingList
	if err := a.opts.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing the recordings: %w", err)
	}
	snap, err := a.opts.Session.Snapshot()
	if err != nil {
		return err
	}
	now := a.opts.Now()
	a.opts.Metrics.observe(snap)

	a.mu.Lock()
	seen := map[types.NamespacedName]bool{}
	type write struct {
		key   types.NamespacedName
		entry v1alpha1.NodeResult
		body  []byte
	}
	var writes []write
	for i := range list.Items {
		r := &list.Items[i]
		key := types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
		seen[key] = true
		st := a.recs[key]
		if st == nil {
			st = &recState{installed: map[string]string{}, violations: map[violationKey]*v1alpha1.Violation{}}
			a.recs[key] = st
		}
		if recording.Active(r, now) {
			st.containers, st.warnings = a.selected(r, snap)
		}
		a.install(r, st)
		entry := a.entry(st, snap)
		body, err := json.Marshal(entry)
		if err != nil {
			a.mu.Unlock()
			return fmt.Errorf("encoding the node's entry of %s: %w", key, err)
		}
		if !slices.Equal(body, st.written) || now.Sub(st.writtenAt) >= a.opts.Heartbeat || !reported(r, a.opts.Node) {
			entry.Updated = recording.Now(now)
			writes = append(writes, write{key, entry, body})
		}
		a.opts.Metrics.recording(key, st)
	}
	for key := range a.recs {
		if !seen[key] {
			delete(a.recs, key)
			a.opts.Metrics.forget(key)
		}
	}
	a.mu.Unlock()
	if f, ok := a.opts.Session.(forgetter); ok {
		f.Forget(func(w *containers.Workload) bool {
			return now.Sub(w.Entry.LastSeen) < a.opts.Retain || slices.ContainsFunc(list.Items, func(r v1alpha1.SyscallRecording) bool { return selects(&r, w) })
		})
	}

	var errs []error
	for _, w := range writes {
		if err := a.apply(ctx, w.key, w.entry); err != nil {
			errs = append(errs, err)
			continue
		}
		a.mu.Lock()
		if st := a.recs[w.key]; st != nil {
			st.written, st.writtenAt = w.body, now
		}
		a.mu.Unlock()
	}
	if len(errs) == 0 {
		a.once.Do(func() { close(a.ready) })
	}
	return errors.Join(errs...)
}

// reported says whether r's status holds an entry of node.
func reported(r *v1alpha1.SyscallRecording, node string) bool {
	return slices.ContainsFunc(r.Status.Nodes, func(n v1alpha1.NodeResult) bool { return n.Node == node })
}

// select_ gathers, from what the node recorded, the containers of the
// pods that r selects, per container name.
func (a *Agent) selected(r *v1alpha1.SyscallRecording, snap *containers.Snapshot) ([]v1alpha1.NodeContainer, []string) {
	sel, err := metav1.LabelSelectorAsSelector(&r.Spec.Selector)
	if err != nil {
		return nil, []string{fmt.Sprintf("the selector is invalid: %v", err)}
	}
	byName := map[string]*v1alpha1.NodeContainer{}
	for _, w := range snap.Workloads {
		e := w.Entry
		if !selectsWith(r, sel, &w) {
			continue
		}
		c := byName[e.Container]
		if c == nil {
			c = &v1alpha1.NodeContainer{Name: e.Container}
			byName[e.Container] = c
		}
		names, args := recorded(&w)
		c.Args = recording.UnionArgs(c.Syscalls, c.Args, names, args)
		c.Syscalls = recording.Union(c.Syscalls, names)
		c.Pods = append(c.Pods, e.Pods...)
		c.Partial = c.Partial || e.Partial
		c.Filtered = c.Filtered || e.Filtered
	}
	out := make([]v1alpha1.NodeContainer, 0, len(byName))
	for _, c := range byName {
		sort.Strings(c.Pods)
		c.Pods = slices.Compact(c.Pods)
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// recorded is what w's replicas recorded, in the API's form: the names
// per architecture and the values of their captured arguments. A
// workload without its names (one read from an earlier session's tree)
// gives every name that a rule of its profile names, and no values: the
// merged profile allows them by name, which is wider, never narrower.
func recorded(w *containers.Workload) (map[string][]string, []v1alpha1.SyscallArgs) {
	if w.Syscalls != nil {
		return recording.Names(w.Syscalls), recording.Args(w.Args)
	}
	used := profiles.Used(w.Profile)
	for arch := range used {
		for i := range w.Profile.Syscalls {
			for _, n := range w.Profile.Syscalls[i].AllNames() {
				if _, ok := syscalls.Number(arch, n); ok && !slices.Contains(used[arch], n) {
					used[arch] = append(used[arch], n)
				}
			}
		}
		slices.Sort(used[arch])
	}
	return recording.Names(used), nil
}

// selects says whether r selects the pods of workload w.
func selects(r *v1alpha1.SyscallRecording, w *containers.Workload) bool {
	sel, err := metav1.LabelSelectorAsSelector(&r.Spec.Selector)
	return err == nil && selectsWith(r, sel, w)
}

func selectsWith(r *v1alpha1.SyscallRecording, sel labels.Selector, w *containers.Workload) bool {
	e := w.Entry
	return e.Namespace == r.Namespace && sel.Matches(labels.Set(w.PodLabels)) &&
		(len(r.Spec.Containers) == 0 || slices.Contains(r.Spec.Containers, e.Container))
}

// install writes the profiles that r published into the kubelet's
// seccomp directory, those the node does not hold yet.
func (a *Agent) install(r *v1alpha1.SyscallRecording, st *recState) {
	for _, p := range r.Status.Profiles {
		if st.installed[p.Container] == p.Version {
			continue
		}
		content, err := recording.Content(p.Syscalls, p.Args, p.Stage)
		if err != nil {
			a.log.Warn("not installing a profile", "recording", r.Namespace+"/"+r.Name, "container", p.Container, "err", err)
			continue
		}
		if v := recording.Version(content); v != p.Version {
			a.log.Warn("not installing a profile whose content does not match its version: is this agent older than the controller?",
				"recording", r.Namespace+"/"+r.Name, "container", p.Container, "version", p.Version, "computed", v)
			continue
		}
		dir := filepath.Dir(recording.LocalhostProfile(r.Namespace, r.Name, p.Container))
		file := p.Container + ".json"
		if old, err := os.ReadFile(filepath.Join(a.opts.SeccompRoot, dir, file)); err != nil || recording.Version(old) != p.Version {
			if _, err := kubelet.Install(a.opts.SeccompRoot, dir, []kubelet.File{{Rel: file, Data: content}}); err != nil {
				a.log.Warn("installing a profile; trying again at the next interval", "recording", r.Namespace+"/"+r.Name, "container", p.Container, "err", err)
				continue
			}
			a.log.Info("installed a profile", "path", filepath.Join(dir, file), "version", p.Version, "stage", p.Stage)
		}
		st.installed[p.Container] = p.Version
	}
}

// entry is the node's entry for a recording, without its time.
func (a *Agent) entry(st *recState, snap *containers.Snapshot) v1alpha1.NodeResult {
	e := v1alpha1.NodeResult{
		Node:       a.opts.Node,
		Containers: st.containers,
		Drops: v1alpha1.Drops{
			LostTasks: int64(snap.Drops.LostTasks), OutOfRange: int64(snap.Drops.OutOfRange),
			TargetMissing: int64(snap.Drops.TargetMissing), CgroupsFull: int64(snap.Drops.CgroupsFull),
			EventsLost: int64(snap.Drops.EventsLost),
		},
		Warnings: st.warnings,
	}
	for c, v := range st.installed {
		e.Installed = append(e.Installed, v1alpha1.InstalledProfile{Container: c, Version: v})
	}
	sort.Slice(e.Installed, func(i, j int) bool { return e.Installed[i].Container < e.Installed[j].Container })
	for _, v := range st.violations {
		e.Violations = append(e.Violations, *v)
	}
	sort.Slice(e.Violations, func(i, j int) bool {
		x, y := e.Violations[i], e.Violations[j]
		if x.Container != y.Container {
			return x.Container < y.Container
		}
		return x.Syscall < y.Syscall
	})
	return e
}

// FieldManager is the server-side apply field manager of a node's agent.
func FieldManager(node string) string {
	m := "sysrec-agent/" + node
	if len(m) > 128 {
		m = m[:128]
	}
	return m
}

// apply writes the node's entry of a recording's status.nodes through
// server-side apply, as its own field manager: the other nodes' entries
// and the controller's fields are left alone.
func (a *Agent) apply(ctx context.Context, key types.NamespacedName, entry v1alpha1.NodeResult) error {
	patch := map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "SyscallRecording",
		"metadata":   map[string]any{"name": key.Name, "namespace": key.Namespace},
		"status":     map[string]any{"nodes": []v1alpha1.NodeResult{entry}},
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encoding the node's entry of %s: %w", key, err)
	}
	obj := &v1alpha1.SyscallRecording{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	err = a.opts.Client.Status().Patch(ctx, obj, client.RawPatch(types.ApplyPatchType, body),
		client.FieldOwner(FieldManager(a.opts.Node)), client.ForceOwnership)
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("writing the node's entry of recording %s: %w", key, err)
	}
	return nil
}

// podProfile is the localhostProfile that container name of pod runs
// under, "" when it runs under none.
func podProfile(pod *corev1.Pod, name string) string {
	var sp *corev1.SeccompProfile
	if pod.Spec.SecurityContext != nil {
		sp = pod.Spec.SecurityContext.SeccompProfile
	}
	find := func(cs []corev1.Container) *corev1.Container {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
		return nil
	}
	c := find(pod.Spec.Containers)
	if c == nil {
		c = find(pod.Spec.InitContainers)
	}
	if c != nil && c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
		sp = c.SecurityContext.SeccompProfile
	}
	if sp == nil || sp.Type != corev1.SeccompProfileTypeLocalhost || sp.LocalhostProfile == nil {
		return ""
	}
	return *sp.LocalhostProfile
}
