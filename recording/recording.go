// Package recording holds what sysrec's node agents, its controller and
// its CLI agree on about a SyscallRecording: where its profiles are
// installed, what their content and version are, how node results merge,
// when a recording ends and when a promotion to Enforce is granted. It is
// pure: it talks to no API server and no kernel.
package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// Dir is the directory below the kubelet's seccomp root that holds the
// profiles of all recordings.
const Dir = "sysrec"

// DefaultWindow is how recent a violation must be to refuse a promotion
// when the recording does not say.
const DefaultWindow = 10 * time.Minute

// ErrRecentViolations refuses a promotion to Enforce.
var ErrRecentViolations = errors.New("violations newer than the promotion window")

// LocalhostProfile is the path, relative to the kubelet's seccomp root,
// of the profile of one container of a recording: what a pod puts in
// seccompProfile.localhostProfile.
func LocalhostProfile(namespace, name, container string) string {
	return path.Join(Dir, namespace, name, container+".json")
}

// Parse returns the namespace, recording and container of a
// localhostProfile path that LocalhostProfile made; ok is false for any
// other path.
func Parse(localhost string) (namespace, name, container string, ok bool) {
	parts := strings.Split(localhost, "/")
	if len(parts) != 4 || parts[0] != Dir {
		return "", "", "", false
	}
	container, ok = strings.CutSuffix(parts[3], ".json")
	if !ok {
		return "", "", "", false
	}
	for _, p := range []string{parts[1], parts[2], container} {
		if p == "" || p == "." || p == ".." {
			return "", "", "", false
		}
	}
	return parts[1], parts[2], container, true
}

// Action is the default action of a stage's profiles.
func Action(s v1alpha1.Stage) profiles.Action {
	if s == v1alpha1.StageEnforce {
		return profiles.ActErrno
	}
	return profiles.ActLog
}

// Content is the profile JSON that allows names (per architecture, as
// the API spells them: SCMP_ARCH_X86_64) at stage s, those with argument
// values in args only with those values, completed for rare paths and
// grouped, as `sysrec record` writes profiles (profiles.Build). Equal
// inputs give equal bytes.
func Content(names map[string][]string, args []v1alpha1.SyscallArgs, s v1alpha1.Stage) ([]byte, error) {
	rec := make(map[syscalls.Arch][]string, len(names))
	for a, n := range names {
		rec[syscalls.Arch(a)] = n
	}
	p, _, err := profiles.Build(rec, Recorded(args), profiles.BuildOptions{DefaultAction: Action(s), Groups: true})
	if err != nil {
		return nil, fmt.Errorf("making the %s profile: %w", s, err)
	}
	return profiles.Marshal(p)
}

// Version names a profile's content: the first 16 hex digits of its
// SHA-256.
func Version(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:8])
}

// Names converts a recorded profile's allowed names per architecture to
// the API's form.
func Names(m map[syscalls.Arch][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for a, n := range m {
		if len(n) > 0 {
			out[string(a)] = slices.Clone(n)
		}
	}
	return out
}

// Args converts recorded argument values to the API's form: one entry
// per architecture and syscall, sorted by both, each one's values sorted
// and unique; nil when r holds none.
func Args(r profiles.RecordedArgs) []v1alpha1.SyscallArgs {
	var out []v1alpha1.SyscallArgs
	for arch, m := range r {
		for name, v := range m {
			a := v1alpha1.SyscallArgs{Arch: string(arch), Syscall: name, Overflow: v.Overflow}
			vals := slices.Clone(v.Values)
			slices.Sort(vals)
			for _, x := range slices.Compact(vals) {
				a.Values = append(a.Values, int64(x))
			}
			out = append(out, a)
		}
	}
	sortArgs(out)
	return out
}

func sortArgs(l []v1alpha1.SyscallArgs) {
	slices.SortFunc(l, func(a, b v1alpha1.SyscallArgs) int {
		if c := strings.Compare(a.Arch, b.Arch); c != 0 {
			return c
		}
		return strings.Compare(a.Syscall, b.Syscall)
	})
}

// Recorded converts the API's argument values back to the recorder's
// form (Args' inverse); nil when l is empty.
func Recorded(l []v1alpha1.SyscallArgs) profiles.RecordedArgs {
	if len(l) == 0 {
		return nil
	}
	out := profiles.RecordedArgs{}
	for _, a := range l {
		v := profiles.ArgValues{Overflow: a.Overflow}
		for _, x := range a.Values {
			v.Values = append(v.Values, uint64(x))
		}
		out.Add(profiles.RecordedArgs{syscalls.Arch(a.Arch): {a.Syscall: v}})
	}
	return out
}

// UnionArgs returns the union of the argument values a and b, which were
// recorded with the names aNames and bNames: each syscall's values
// unioned, and it overflows when either side's does. A syscall that one
// side recorded without capturing its argument (no entry: an agent that
// captures other groups, or none) is allowed by name on that side, so
// its entry in the union overflows, which allows it by name there too.
// Neither input is changed; the output is sorted as Args sorts, and does
// not depend on the order of a and b.
func UnionArgs(aNames map[string][]string, a []v1alpha1.SyscallArgs, bNames map[string][]string, b []v1alpha1.SyscallArgs) []v1alpha1.SyscallArgs {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	ra, rb := Recorded(a), Recorded(b)
	u := profiles.RecordedArgs{}
	u.Add(ra)
	u.Add(rb)
	for _, side := range []struct {
		names map[string][]string
		args  profiles.RecordedArgs
	}{{aNames, ra}, {bNames, rb}} {
		for arch, names := range side.names {
			for _, n := range names {
				v, ok := u[syscalls.Arch(arch)][n]
				if _, captured := side.args[syscalls.Arch(arch)][n]; ok && !captured {
					v.Overflow = true
					u[syscalls.Arch(arch)][n] = v
				}
			}
		}
	}
	return Args(u)
}

// Union adds b's names into a, keeping each list sorted and unique.
func Union(a, b map[string][]string) map[string][]string {
	if a == nil {
		a = map[string][]string{}
	}
	for arch, names := range b {
		l := append(a[arch], names...)
		sort.Strings(l)
		a[arch] = slices.Compact(l)
	}
	return a
}

// Count is the number of distinct names over all architectures.
func Count(names map[string][]string) int {
	seen := map[string]bool{}
	for _, l := range names {
		for _, n := range l {
			seen[n] = true
		}
	}
	return len(seen)
}

// Merge makes one profile per container from every node's result: the
// union of what each node recorded (names and argument values, see
// UnionArgs), with the nodes and the replicas that contributed. Its
// output is sorted by container and does not depend on the order of
// nodes. Version, Stage, LocalhostProfile and InstalledOn are left for
// Publish.
func Merge(nodes []v1alpha1.NodeResult) []v1alpha1.Profile {
	byName := map[string]*v1alpha1.Profile{}
	for _, n := range nodes {
		for _, c := range n.Containers {
			p := byName[c.Name]
			if p == nil {
				p = &v1alpha1.Profile{Container: c.Name}
				byName[c.Name] = p
			}
			p.Args = UnionArgs(p.Syscalls, p.Args, c.Syscalls, c.Args)
			p.Syscalls = Union(p.Syscalls, c.Syscalls)
			if !slices.Contains(p.Nodes, n.Node) {
				p.Nodes = append(p.Nodes, n.Node)
			}
			p.Replicas += len(c.Pods)
		}
	}
	out := make([]v1alpha1.Profile, 0, len(byName))
	for _, p := range byName {
		sort.Strings(p.Nodes)
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Container < out[j].Container })
	return out
}

// Publish completes merged profiles for recording r at stage s: their
// path, content version and the nodes that hold that version.
func Publish(r *v1alpha1.SyscallRecording, merged []v1alpha1.Profile, s v1alpha1.Stage) ([]v1alpha1.Profile, error) {
	out := make([]v1alpha1.Profile, len(merged))
	for i, p := range merged {
		content, err := Content(p.Syscalls, p.Args, s)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", p.Container, err)
		}
		p.Stage = s
		p.Version = Version(content)
		p.LocalhostProfile = LocalhostProfile(r.Namespace, r.Name, p.Container)
		p.InstalledOn = nil
		for _, n := range r.Status.Nodes {
			for _, in := range n.Installed {
				if in.Container == p.Container && in.Version == p.Version {
					p.InstalledOn = append(p.InstalledOn, n.Node)
				}
			}
		}
		sort.Strings(p.InstalledOn)
		out[i] = p
	}
	return out, nil
}

// Ends is when r stops recording; the zero time when it lasts until it
// is deleted.
func Ends(r *v1alpha1.SyscallRecording) time.Time {
	if r.Spec.Duration == nil {
		return time.Time{}
	}
	return r.CreationTimestamp.Add(r.Spec.Duration.Duration)
}

// Active reports whether r still records at now.
func Active(r *v1alpha1.SyscallRecording, now time.Time) bool {
	if r.DeletionTimestamp != nil {
		return false
	}
	end := Ends(r)
	return end.IsZero() || now.Before(end)
}

// Violations folds every node's violations into one list per container
// and syscall, the newest first, counting over all nodes.
func Violations(nodes []v1alpha1.NodeResult) []v1alpha1.Violation {
	type key struct{ container, syscall string }
	m := map[key]*v1alpha1.Violation{}
	for _, n := range nodes {
		for _, v := range n.Violations {
			k := key{v.Container, v.Syscall}
			agg := m[k]
			if agg == nil {
				agg = &v1alpha1.Violation{Container: v.Container, Syscall: v.Syscall}
				m[k] = agg
			}
			agg.Count += v.Count
			if !v.Last.Time.Before(agg.Last.Time) {
				agg.Last, agg.Pod, agg.Node = v.Last, v.Pod, n.Node
				if agg.Node == "" {
					agg.Node = v.Node
				}
			}
		}
	}
	out := make([]v1alpha1.Violation, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Last.Equal(&out[j].Last) {
			return out[j].Last.Before(&out[i].Last)
		}
		if out[i].Container != out[j].Container {
			return out[i].Container < out[j].Container
		}
		return out[i].Syscall < out[j].Syscall
	})
	return out
}

// Stage decides the stage whose profiles r publishes at now: Enforce when
// r asks for it and the promotion is granted, else Audit. err says why a
// promotion that r asks for is refused (wrapping ErrRecentViolations).
func Stage(r *v1alpha1.SyscallRecording, now time.Time) (v1alpha1.Stage, error) {
	if r.Spec.Stage != v1alpha1.StageEnforce {
		return v1alpha1.StageAudit, nil
	}
	if r.Status.Stage == v1alpha1.StageEnforce {
		// Granted before: a later violation (which Enforce turns into
		// EPERM, not a log) does not demote it.
		return v1alpha1.StageEnforce, nil
	}
	if err := CanPromote(r, now); err != nil {
		return v1alpha1.StageAudit, err
	}
	return v1alpha1.StageEnforce, nil
}

// CanPromote says whether r may move to Enforce at now: no node reported
// a violation newer than its promotion window, or the promotion is
// forced.
func CanPromote(r *v1alpha1.SyscallRecording, now time.Time) error {
	if r.Spec.Promotion.Force {
		return nil
	}
	window := DefaultWindow
	if w := r.Spec.Promotion.Window; w != nil {
		window = w.Duration
	}
	since := now.Add(-window)
	var recent []v1alpha1.Violation
	for _, v := range Violations(r.Status.Nodes) {
		if v.Last.Time.After(since) {
			recent = append(recent, v)
		}
	}
	if len(recent) == 0 {
		return nil
	}
	v := recent[0]
	return fmt.Errorf("%w: %d in the last %s, the newest %s in container %s of pod %s on node %s at %s; fix the workload or its profile, wait, or force the promotion",
		ErrRecentViolations, len(recent), window, v.Syscall, v.Container, v.Pod, v.Node, v.Last.UTC().Format(time.RFC3339))
}

// Now is a metav1.Time for now, at the API's one-second precision, so
// that what is written compares equal to what is read back.
func Now(now time.Time) metav1.Time {
	return metav1.NewTime(now.UTC().Truncate(time.Second))
}
