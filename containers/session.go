package containers

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/recorder"
	"github.com/sysrec/sysrec/syscalls"
)

// Recorder is what a Session reads from the recorder package's Recorder
// in container mode.
type Recorder interface {
	// CgroupIDs lists the container cgroups that have a target.
	CgroupIDs() ([]uint64, error)
	// CgroupName is the directory name of a cgroup the kernel announced.
	CgroupName(id uint64) (string, bool)
	// Cgroups is what each container cgroup recorded so far.
	Cgroups() (map[uint64]*recorder.Recording, error)
	DropStats() (bpf.DropStats, error)
	FilterCapture() recorder.FilterCapture
}

// finisher is a Recorder that hands over the recordings of container
// cgroups that have finished, each once, and frees their kernel state.
type finisher interface {
	PopFinished() (map[uint64]*recorder.Recording, error)
}

// Resolver names the container of a cgroup, given its path (or its
// directory's name, after a '/'): cri.Conn does, through the runtimes,
// and ResolveCgroup from the name alone. A cgroup that holds no container
// (a pod sandbox) gets a Container without a pod name. An error means
// that the answer may come later: the Session asks again.
type Resolver interface {
	Resolve(ctx context.Context, cgroupPath string) (*cri.Container, error)
}

// ResolveCgroup is the Resolver that names containers from their cgroup
// alone (cri.ResolveCgroup), for nodes where no runtime answers.
type ResolveCgroup struct{}

// Resolve implements Resolver.
func (ResolveCgroup) Resolve(_ context.Context, cgroupPath string) (*cri.Container, error) {
	return cri.ResolveCgroup(cgroupPath), nil
}

// Defaults of Options.
const (
	DefaultInterval = 100 * time.Millisecond
	DefaultTTL      = time.Minute
)

// Options configure a Session.
type Options struct {
	// Resolver names containers; nil for ResolveCgroup.
	Resolver Resolver
	// Filter selects the containers whose profiles are made.
	Filter Filter
	// Build says how profiles are made: Build.DefaultAction is their
	// action for every syscall they do not allow.
	Build profiles.BuildOptions
	// Runtime is the runtime's name, as each Workload's entry says it.
	Runtime string
	// Logger logs what goes wrong while polling; nil for none.
	Logger *slog.Logger
	// Interval is how often the recorder is polled for new containers;
	// 0 for DefaultInterval.
	Interval time.Duration
	// TTL is how long an answer of the Resolver is kept before it is
	// asked again; 0 for DefaultTTL.
	TTL time.Duration
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// Previous is what earlier sessions recorded (see ReadTree): the
	// session merges what it records into these workloads, and its
	// snapshots hold them. PreviousSessions counts those sessions.
	Previous         []Workload
	PreviousSessions int
}

// Session records the containers that a Recorder tracks, and groups their
// recordings by workload. Its methods may be called concurrently.
type Session struct {
	rec    Recorder
	opts   Options
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	cgroups map[uint64]*cgroupState
	cache   *cache[cgroupKey, *cri.Container]
	// What finished cgroups left, folded in by PopFinished.
	finished     map[workloadKey]*Workload
	nFinished    int
	unattributed int
	lost         recorder.Lost
}

// cgroupState is one container cgroup the recorder tracks, and what the
// Resolver said about it.
type cgroupState struct {
	name      string
	info      *cri.Container
	firstSeen time.Time
	lastSeen  time.Time
}

// cgroupKey names a cgroup for the cache: a cgroup id that is reused
// comes with another cgroup's name.
type cgroupKey struct {
	id   uint64
	name string
}

type workloadKey struct{ namespace, workload, container string }

// Workload is the recording of one container of a workload: all its
// replicas together.
type Workload struct {
	// Entry describes it as the profile tree's index does; Entry.Profile
	// is the profile's path below the tree.
	Entry tree.Entry
	// Profile allows what any replica did.
	Profile *profiles.Profile
	// Syscalls are the names that the replicas recorded in this session
	// per architecture, with the runtime's own (OCIRuntimeSyscalls), and
	// Args the values of their captured arguments, unioned over the
	// replicas: what Profile was made from. A workload read from an
	// earlier session's tree has only its Profile.
	Syscalls map[syscalls.Arch][]string
	Args     profiles.RecordedArgs
	// PodLabels are the labels of the replica seen last, as the runtime
	// reports them, for selecting workloads by label.
	PodLabels map[string]string
}

// Container is one container that is being recorded.
type Container struct {
	Info     *cri.Container
	CgroupID uint64
	// Live is the number of its tasks that run.
	Live int64
	// Syscalls is the number of distinct syscalls recorded, over its
	// architectures.
	Syscalls int
	// Partial and Filtered: as in tree.Entry.
	Partial, Filtered bool
}

// Snapshot is what a Session has recorded up to a point.
type Snapshot struct {
	// Workloads are sorted by their profile's path.
	Workloads []Workload
	// Containers are the selected containers whose cgroups are recorded
	// now, sorted by namespace, pod and name.
	Containers []Container
	// Cgroups counts the container cgroups recorded, finished ones too.
	Cgroups       int
	Drops         tree.Drops
	FilterCapture recorder.FilterCapture
	// Warnings say what is missing from the profiles, and why.
	Warnings []string
	// Sessions counts the sessions whose recordings the snapshot holds:
	// this one and those of Options.Previous.
	Sessions int
}

// Start starts recording the containers that rec tracks; ctx bounds the
// Resolver's calls. Close stops it.
func Start(ctx context.Context, rec Recorder, opts Options) (*Session, error) {
	if _, err := profiles.Generate(nil, opts.Build.DefaultAction); err != nil {
		return nil, fmt.Errorf("starting a container recording: %w", err)
	}
	if opts.Resolver == nil {
		opts.Resolver = ResolveCgroup{}
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Session{
		rec: rec, opts: opts, log: log, done: make(chan struct{}),
		cgroups:  map[uint64]*cgroupState{},
		cache:    newCache[cgroupKey, *cri.Container](opts.TTL, opts.Now),
		finished: map[workloadKey]*Workload{},
	}
	for _, w := range opts.Previous {
		w := w
		s.finished[workloadKey{w.Entry.Namespace, w.Entry.Workload, w.Entry.Container}] = &w
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	go s.run()
	return s, nil
}

func (s *Session) run() {
	defer close(s.done)
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		s.poll()
		s.mu.Unlock()
	}
}

// Close stops polling. It does not close the Recorder, and Snapshot still
// reads it.
func (s *Session) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// poll notes the cgroups the recorder tracks, names the new ones, and
// folds the finished ones into their workloads. s.mu is held.
func (s *Session) poll() {
	ids, err := s.rec.CgroupIDs()
	if err != nil {
		s.log.Warn("reading container cgroups", "err", err)
		return
	}
	now := s.opts.Now()
	for _, id := range ids {
		st := s.note(id, now, "")
		st.lastSeen = now
	}
	s.cache.sweep()

	// Where the recorder frees finished cgroups, their recordings are
	// folded into their workloads here, once, and their state dropped.
	f, ok := s.rec.(finisher)
	if !ok {
		return
	}
	done, err := f.PopFinished()
	if err != nil {
		// What was freed before the error is in done: fold it still.
		s.log.Warn("reading finished container cgroups", "err", err)
	}
	for id, r := range done {
		st := s.note(id, now, r.Cgroup)
		delete(s.cgroups, id)
		// The cgroup is gone: its name is no use any more, and keeping
		// it to the TTL would tie memory to how fast containers come
		// and go rather than to how many run.
		s.cache.forget(cgroupKey{id, st.name})
		s.nFinished++
		s.lost.Tasks += r.Lost.Tasks
		s.lost.OutOfRange += r.Lost.OutOfRange
		if st.info == nil {
			if len(r.Syscalls) > 0 {
				s.unattributed++
			}
			continue
		}
		if err := s.add(s.finished, st, r); err != nil {
			s.log.Warn("adding a finished container to its workload", "cgroup", st.name, "err", err)
		}
	}
}

// note returns the state of cgroup id, new when the id is new or names
// another cgroup than before, and names its container where it is not
// yet named, or the name has expired. The cgroup's name is the
// recorder's, else known, when not "".
func (s *Session) note(id uint64, now time.Time, known string) *cgroupState {
	name, named := s.rec.CgroupName(id)
	if !named && known != "" {
		name, named = known, true
	}
	st := s.cgroups[id]
	if st == nil || named && st.name != "" && st.name != name {
		st = &cgroupState{firstSeen: now, lastSeen: now}
		s.cgroups[id] = st
	}
	if !named {
		return st
	}
	st.name = name
	key := cgroupKey{id, name}
	info, ok := s.cache.get(key)
	if !ok {
		var err error
		if info, err = s.opts.Resolver.Resolve(s.ctx, "/"+name); err != nil {
			s.log.Debug("container not named yet", "cgroup", name, "err", err)
			return st
		}
		s.cache.put(key, info)
		s.log.Debug("container attributed", "cgroup", name, "pod", info.PodName)
	}
	// A container that has gone is no longer known: keep what was said
	// while it ran.
	if st.info == nil || info.PodName != "" {
		st.info = info
	}
	return st
}

// add adds a cgroup's recording to its workload in groups, when its
// container is selected.
func (s *Session) add(groups map[workloadKey]*Workload, st *cgroupState, r *recorder.Recording) error {
	info := st.info
	if info.PodName == "" || !s.opts.Filter.Match(info) {
		return nil // a pod sandbox, or not selected
	}
	// The runtime's own syscalls between loading the filter and the
	// entrypoint's execve are never recorded, but must be allowed.
	// They are allowed by name: the runtime's calls are never captured.
	names := profiles.WithSyscalls(r.Syscalls, profiles.OCIRuntimeSyscalls)
	args := withoutNames(r.Args, profiles.OCIRuntimeSyscalls)
	p, completion, err := profiles.Build(names, args, s.opts.Build)
	if err != nil {
		return err
	}
	k := workloadKey{info.PodNamespace, info.Workload, info.Name}
	w := groups[k]
	if w == nil {
		w = &Workload{Profile: p, Syscalls: names, Args: args, Entry: tree.Entry{
			Profile:   profilePath(k),
			Namespace: k.namespace, Workload: k.workload, Kind: info.WorkloadKind, Container: k.container,
			Runtime:   s.opts.Runtime,
			FirstSeen: st.firstSeen, LastSeen: st.lastSeen,
		}}
		groups[k] = w
	} else {
		// Each value of a captured argument is a rule of its own, so the
		// union of the replicas' profiles unions their values.
		if w.Profile, err = profiles.Merge([]*profiles.Profile{w.Profile, p}, s.opts.Build.DefaultAction); err != nil {
			return fmt.Errorf("merging replicas of %s: %w", w.Entry.Profile, err)
		}
		w.Syscalls = unionNames(w.Syscalls, names)
		merged := profiles.RecordedArgs{}
		merged.Add(w.Args)
		merged.Add(args)
		w.Args = merged
	}
	if info.PodLabels != nil {
		w.PodLabels = info.PodLabels
	}
	e := &w.Entry
	e.Pods = appendUnique(e.Pods, info.PodName)
	e.Images = appendUnique(e.Images, info.Image)
	e.Replicas = len(e.Pods)
	if st.firstSeen.Before(e.FirstSeen) {
		e.FirstSeen = st.firstSeen
	}
	if st.lastSeen.After(e.LastSeen) {
		e.LastSeen = st.lastSeen
	}
	e.Incomplete = e.Incomplete || r.Live > 0 || r.Lost.Any()
	e.Partial = e.Partial || r.Adopted > 0
	e.Filtered = e.Filtered || r.Filtered > 0
	e.Syscalls = len(w.Profile.AllowedNames())
	// Provenance is merged into a new map, never changed in place:
	// Snapshot's copies of the finished workloads share it.
	merged := provenance.Merge(e.Profile, e.ProvenanceFile(), provenance.Recorded(e.Profile, r.Syscalls, r.Origins, withRuntime(completion)))
	e.Inputs, e.Provenance = merged.Inputs, merged.Syscalls
	return nil
}

// withRuntime returns completion with the runtime's syscalls added.
func withRuntime(completion map[string]string) map[string]string {
	out := maps.Clone(runtimeCompletion())
	maps.Copy(out, completion)
	return out
}

// runtimeCompletion gives the syscalls that every container profile
// allows for the runtime (profiles.OCIRuntimeSyscalls), with why, for
// their provenance where a replica did not record them.
var runtimeCompletion = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, len(profiles.OCIRuntimeSyscalls))
	for _, n := range profiles.OCIRuntimeSyscalls {
		m[n] = "the OCI runtime (runc, crun) calls it between loading the filter and the entrypoint's execve, where sysrec does not record"
	}
	return m
})

// Snapshot polls the recorder and returns what it has recorded so far:
// the finished containers' recordings and the running ones' up to now.
func (s *Session) Snapshot() (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.poll()
	recs, err := s.rec.Cgroups()
	if err != nil {
		return nil, fmt.Errorf("reading the containers' recordings: %w", err)
	}
	groups := make(map[workloadKey]*Workload, len(s.finished))
	for k, w := range s.finished {
		c := *w
		c.Entry.Pods, c.Entry.Images = slices.Clone(w.Entry.Pods), slices.Clone(w.Entry.Images)
		groups[k] = &c
	}
	snap := &Snapshot{Cgroups: s.nFinished + len(recs), FilterCapture: s.rec.FilterCapture(), Sessions: s.opts.PreviousSessions + 1}
	lost := s.lost
	ids := make([]uint64, 0, len(recs))
	for id := range recs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := recs[id]
		lost.Tasks += r.Lost.Tasks
		lost.OutOfRange += r.Lost.OutOfRange
		st := s.cgroups[id]
		if st == nil || st.info == nil {
			// A cgroup that appeared after poll read the recorder, whose
			// name came with this read (Cgroups drains the announcements
			// after it reads the map), is named now.
			st = s.note(id, s.opts.Now(), r.Cgroup)
		}
		if st.info == nil {
			if len(r.Syscalls) > 0 {
				snap.Warnings = append(snap.Warnings, fmt.Sprintf("cgroup %d: not attributed to a container (its announcement was lost); its syscalls are not in any profile", id))
			}
			continue
		}
		if err := s.add(groups, st, r); err != nil {
			return nil, err
		}
		if info := st.info; info.PodName != "" && s.opts.Filter.Match(info) {
			n := 0
			for _, names := range r.Syscalls {
				n += len(names)
			}
			snap.Containers = append(snap.Containers, Container{Info: info, CgroupID: id, Live: r.Live, Syscalls: n, Partial: r.Adopted > 0, Filtered: r.Filtered > 0})
		}
	}
	if s.unattributed > 0 {
		snap.Warnings = append(snap.Warnings, fmt.Sprintf("%d finished cgroups: not attributed to a container (their announcement was lost); their syscalls are not in any profile", s.unattributed))
	}
	sort.Slice(snap.Containers, func(i, j int) bool {
		a, b := snap.Containers[i].Info, snap.Containers[j].Info
		return a.PodNamespace+"/"+a.PodName+"/"+a.Name < b.PodNamespace+"/"+b.PodName+"/"+b.Name
	})
	for _, w := range groups {
		snap.Workloads = append(snap.Workloads, *w)
	}
	sort.Slice(snap.Workloads, func(i, j int) bool { return snap.Workloads[i].Entry.Profile < snap.Workloads[j].Entry.Profile })
	ds, err := s.rec.DropStats()
	if err != nil {
		return nil, fmt.Errorf("reading the recorder's drop counts: %w", err)
	}
	snap.Drops = tree.Drops{LostTasks: lost.Tasks, OutOfRange: lost.OutOfRange, TargetMissing: ds.TargetMissing, CgroupsFull: ds.CgroupsFull, EventsLost: ds.EventsLost}
	return snap, nil
}

// profilePath is a workload's profile below a tree:
// <namespace>/<workload>/<container>.json.
func profilePath(k workloadKey) string {
	return path.Join(cri.SanitizeName(k.namespace), cri.SanitizeName(k.workload), cri.SanitizeName(k.container)+".json")
}

// withoutNames returns args without the entries of names.
func withoutNames(args profiles.RecordedArgs, names []string) profiles.RecordedArgs {
	if len(args) == 0 {
		return nil
	}
	out := profiles.RecordedArgs{}
	for arch, m := range args {
		for n, v := range m {
			if slices.Contains(names, n) {
				continue
			}
			if out[arch] == nil {
				out[arch] = map[string]profiles.ArgValues{}
			}
			out[arch][n] = v
		}
	}
	return out
}

// unionNames returns the union of a and b, each list sorted and unique,
// without changing a.
func unionNames(a, b map[syscalls.Arch][]string) map[syscalls.Arch][]string {
	out := make(map[syscalls.Arch][]string, len(a)+len(b))
	for _, m := range []map[syscalls.Arch][]string{a, b} {
		for arch, names := range m {
			l := append(slices.Clone(out[arch]), names...)
			slices.Sort(l)
			out[arch] = slices.Compact(l)
		}
	}
	return out
}

func appendUnique(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Forget drops the finished workloads for which keep returns false, so
// that a long-running session's memory follows the workloads its owner
// still wants (running containers are never dropped). It returns how
// many were dropped.
func (s *Session) Forget(keep func(*Workload) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, w := range s.finished {
		if !keep(w) {
			delete(s.finished, k)
			n++
		}
	}
	return n
}
