package agent

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/recording"
	"github.com/sysrec/sysrec/violations"
)

// ProcessNamer names the container of a process (containers.Processes).
type ProcessNamer interface {
	Container(ctx context.Context, pid int) *cri.Container
}

// Violation attributes one seccomp audit record of the node: to the
// recording whose profile the record's container runs under, through the
// pod's seccompProfile. It reports whether the record was attributed;
// records of processes in no pod of this node, or in pods that run no
// profile of a recording, are not.
func (a *Agent) Violation(ctx context.Context, procs ProcessNamer, r violations.Record) bool {
	if r.Action == "SCMP_ACT_ALLOW" {
		return false
	}
	c := procs.Container(ctx, r.PID)
	if c == nil || c.PodName == "" {
		a.log.Debug("a seccomp record of a process in no known container", "pid", r.PID, "comm", r.Comm, "syscall", r.Syscall, "container", c)
		a.opts.Metrics.countUnattributed()
		return false
	}
	var pod corev1.Pod
	if err := a.opts.Client.Get(ctx, types.NamespacedName{Namespace: c.PodNamespace, Name: c.PodName}, &pod); err != nil {
		// Not a pod of this node (the cache holds those only), or gone.
		a.log.Debug("a seccomp record of a process in no pod of this node", "pid", r.PID, "pod", c.PodNamespace+"/"+c.PodName, "syscall", r.Syscall, "err", err)
		a.opts.Metrics.countUnattributed()
		return false
	}
	ns, name, container, ok := recording.Parse(podProfile(&pod, c.Name))
	if !ok || ns != pod.Namespace {
		return false
	}
	syscall := r.Syscall
	if syscall == "" {
		syscall = "unknown"
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	t := r.Time
	if t.IsZero() {
		t = a.opts.Now()
	}
	a.mu.Lock()
	st := a.recs[key]
	if st == nil {
		st = &recState{installed: map[string]string{}, violations: map[violationKey]*v1alpha1.Violation{}}
		a.recs[key] = st
	}
	vk := violationKey{container, syscall}
	v := st.violations[vk]
	if v == nil {
		if len(st.violations) >= MaxViolations {
			dropOldest(st.violations)
		}
		v = &v1alpha1.Violation{Container: container, Syscall: syscall, Node: a.opts.Node}
		st.violations[vk] = v
	}
	v.Count++
	v.Pod = pod.Name
	v.Last = recording.Now(t)
	a.mu.Unlock()
	a.opts.Metrics.violation(key, container, syscall)
	a.log.Info("violation", "recording", key.String(), "pod", pod.Name, "container", container, "syscall", syscall, "action", r.Action)
	a.Poke()
	return true
}

func dropOldest(m map[violationKey]*v1alpha1.Violation) {
	var oldest violationKey
	var at time.Time
	first := true
	for k, v := range m {
		if first || v.Last.Time.Before(at) {
			oldest, at, first = k, v.Last.Time, false
		}
	}
	delete(m, oldest)
}

// WatchViolations reads the node's seccomp audit records until ctx is
// done and attributes them (see Violation): from the audit netlink
// socket, or, where that cannot be joined, from the kernel log.
func (a *Agent) WatchViolations(ctx context.Context, procs ProcessNamer) error {
	fn := func(r violations.Record) error {
		a.Violation(ctx, procs, r)
		return nil
	}
	_, err := violations.Read(ctx, violations.Options{Source: violations.Audit, Follow: true}, fn)
	if err == nil || ctx.Err() != nil {
		return nil
	}
	a.log.Warn("reading the audit netlink socket failed; reading the kernel log instead", "err", err)
	_, err = violations.Read(ctx, violations.Options{Source: violations.Kmsg, Follow: true, Since: a.opts.Now()}, fn)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
