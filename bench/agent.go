package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sysrec/sysrec/agent"
	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/internal/kube"
)

const (
	// agentNamespace and agentLabels find the agents' pods (deploy/).
	agentNamespace = "sysrec-system"
	// agentMetricsPort is where a (hostNetwork) agent serves /metrics on
	// its pod IP, which is its node's.
	agentMetricsPort = 9090
	// agentImage is the test cluster's busybox (docs/cluster.md).
	agentImage = "localhost/busybox:sysrec"
	// agentWait bounds every wait of the phase on the cluster.
	agentWait = 10 * time.Minute
	// agentPoll is how often the latency rounds read the recording.
	agentPoll = 100 * time.Millisecond
	// agentScrape is how often a window reads the agents' metrics, as a
	// Prometheus would: each read costs the agent some CPU of its own.
	agentScrape = 15 * time.Second
	// agentScrapes are read back to back to measure what one read costs.
	agentScrapes = 50
)

var agentLabels = client.MatchingLabels{"app.kubernetes.io/name": "sysrec", "app.kubernetes.io/component": "agent"}

// agentResult is what the agent phase measured.
type agentResult struct {
	nodes        []string
	pods         int                      // pods of the loaded side, in all
	perNode      map[string]int           // of which on each node
	window       time.Duration            // each sample's
	idle, loaded map[string]agentSample   // per node
	latency      []time.Duration          // one per round
	clusterNote  string                   // how the cluster was found
	otherPods    int                      // pods outside sysrec-system when the idle sample began
	images       []string                 // node and the agent's image id, shortened
	scrapeCPU    map[string]time.Duration // CPU that one read of /metrics costs each agent
}

// agentSample is one agent's cost over a window.
type agentSample struct {
	rssBytes float64 // the largest process_resident_memory_bytes read in the window
	heap     float64 // go_memstats_heap_inuse_bytes at the window's end
	cpuPct   float64 // process_cpu_seconds_total's increase over the window, in % of a core
	tracked  int     // sysrec_containers_tracked at the window's end
}

// measureAgent measures the Kubernetes node agent on the test cluster
// (scripts/cluster.sh): each agent's RSS and CPU, from its own metrics,
// over a window with no workload and again with pods running on every
// node under a recording; then, over rounds, the time from the start of
// a fresh Deployment's last replica to the merged profile, which holds a
// syscall both replicas make at start, being installed on every node.
// Everything it creates lives in a namespace of its own, deleted at the
// end; it starts the cluster only when none runs, and stops only one it
// started.
func measureAgent(ctx context.Context, pods int, window time.Duration, rounds int) (res *agentResult, err error) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, unix.SIGTERM)
	defer stop()
	kubeconfig, started, err := clusterUp(ctx)
	if err != nil {
		return nil, err
	}
	res = &agentResult{window: window, pods: pods, clusterNote: "the running test cluster"}
	if started {
		res.clusterNote = "a test cluster that the phase started and stopped"
		defer func() {
			progress("stopping the cluster the phase started")
			if out, stopErr := exec.Command("scripts/cluster.sh", "stop").CombinedOutput(); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("scripts/cluster.sh stop: %w\n%s", stopErr, out))
			}
		}()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	c, err := kube.Client(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}

	agents, err := agentEndpoints(ctx, c)
	if err != nil {
		return nil, err
	}
	for n := range agents {
		res.nodes = append(res.nodes, n)
	}
	slices.Sort(res.nodes)
	slices.Sort(res.images)
	if len(res.nodes) < 2 {
		return nil, fmt.Errorf("agents run on %v: the phase wants two nodes", res.nodes)
	}
	if res.perNode, err = spread(ctx, c, res.nodes, pods); err != nil {
		return nil, err
	}

	var all corev1.PodList
	if err := c.List(ctx, &all); err != nil {
		return nil, err
	}
	for _, p := range all.Items {
		if p.Namespace == agentNamespace && p.Labels["app.kubernetes.io/component"] == "agent" {
			for _, st := range p.Status.ContainerStatuses {
				id := st.ImageID[strings.LastIndexByte(st.ImageID, ':')+1:]
				res.images = append(res.images, p.Spec.NodeName+" "+id[:min(12, len(id))])
			}
		}
		if p.Namespace != agentNamespace && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			res.otherPods++
		}
	}
	progress("idle: sampling the agents on %v over %s (%d pods outside %s)", res.nodes, window, res.otherPods, agentNamespace)
	if res.idle, err = sampleAgentsSettled(ctx, agents, window); err != nil {
		return nil, err
	}
	if res.scrapeCPU, err = scrapeCost(ctx, agents); err != nil {
		return nil, err
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "sysrec-bench-"}}
	if err := c.Create(ctx, ns); err != nil {
		return nil, fmt.Errorf("creating the phase's namespace: %w", err)
	}
	defer func() { err = errors.Join(err, deleteNamespace(c, ns)) }()
	progress("loaded: %d pods in namespace %s", pods, ns.Name)
	if err := c.Create(ctx, recording(ns.Name, "load")); err != nil {
		return nil, fmt.Errorf("creating the recording: %w", err)
	}
	if err := c.Create(ctx, benchDeployment(ns.Name, "load", int32(pods),
		`while true; do cat /proc/self/stat >/dev/null; sleep 1; done`)); err != nil {
		return nil, fmt.Errorf("creating the deployment: %w", err)
	}
	if err := poll(ctx, time.Second, func() error { return running(ctx, c, ns.Name, "load", res.perNode) }); err != nil {
		return nil, err
	}
	// The agents track the pods' containers, and the merged profile of
	// the 100 replicas is on every node: the agents do their full work.
	if err := poll(ctx, time.Second, func() error {
		for n, ep := range agents {
			m, err := scrape(ctx, ep)
			if err != nil {
				return err
			}
			if got, want := int(m["sysrec_containers_tracked"]), res.idle[n].tracked+res.perNode[n]; got < want {
				return fmt.Errorf("the agent on %s tracks %d containers, want at least %d", n, got, want)
			}
		}
		_, err := merged(ctx, c, ns.Name, "load", res.nodes, "")
		return err
	}); err != nil {
		return nil, err
	}
	progress("loaded: sampling the agents over %s", window)
	if res.loaded, err = sampleAgentsSettled(ctx, agents, window); err != nil {
		return nil, err
	}

	for r := 0; r < rounds; r++ {
		// The agents report every agent.DefaultInterval: start each
		// round at a random point of their period.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(rand.N(agent.DefaultInterval)):
		}
		lat, err := latencyRound(ctx, c, cs, ns.Name, fmt.Sprintf("lat%d", r), res.nodes)
		if err != nil {
			return nil, fmt.Errorf("latency round %d: %w", r, err)
		}
		progress("round %d: the last replica's start to the merged profile on every node: %s", r, lat.Round(time.Millisecond))
		res.latency = append(res.latency, lat)
	}
	return res, nil
}

// clusterUp returns the test cluster's kubeconfig, starting the cluster
// when none runs (started).
func clusterUp(ctx context.Context) (kubeconfig string, started bool, err error) {
	if _, err := os.Stat("scripts/cluster.sh"); err != nil {
		return "", false, fmt.Errorf("the agent phase runs from the repository's root (scripts/cluster.sh): %w", err)
	}
	out, err := exec.CommandContext(ctx, "scripts/cluster.sh", "env").Output()
	if err != nil {
		progress("no test cluster runs: starting one (scripts/cluster.sh start; cold, it builds Kubernetes first)")
		cmd := exec.CommandContext(ctx, "scripts/cluster.sh", "start")
		cmd.Stderr = os.Stderr
		if out, err = cmd.Output(); err != nil {
			return "", false, fmt.Errorf("scripts/cluster.sh start: %w", err)
		}
		started = true
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "KUBECONFIG="); ok {
			return v, started, nil
		}
	}
	return "", started, fmt.Errorf("scripts/cluster.sh printed no KUBECONFIG line:\n%s", out)
}

// agentEndpoints returns each node's agent's metrics address.
func agentEndpoints(ctx context.Context, c client.Client) (map[string]string, error) {
	eps := map[string]string{}
	err := poll(ctx, time.Second, func() error {
		var list corev1.PodList
		if err := c.List(ctx, &list, client.InNamespace(agentNamespace), agentLabels); err != nil {
			return err
		}
		clear(eps)
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				eps[p.Spec.NodeName] = fmt.Sprintf("http://%s:%d/metrics", p.Status.PodIP, agentMetricsPort)
			}
		}
		if len(eps) < 2 {
			return fmt.Errorf("running agents: %v", eps)
		}
		return nil
	})
	return eps, err
}

// spread says how many of n pods go to each node, one node taking the
// odd one, after checking that every node has room for them.
func spread(ctx context.Context, c client.Client, nodes []string, n int) (map[string]int, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods); err != nil {
		return nil, err
	}
	used := map[string]int{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			used[p.Spec.NodeName]++
		}
	}
	per := map[string]int{}
	for i, name := range nodes {
		per[name] = n/len(nodes) + map[bool]int{true: 1}[i < n%len(nodes)]
		var node corev1.Node
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &node); err != nil {
			return nil, err
		}
		room := node.Status.Allocatable.Pods().Value() - int64(used[name])
		// Two more for a latency round's replica and one terminating.
		if room < int64(per[name]+2) {
			return nil, fmt.Errorf("node %s has room for %d more pods (allocatable %s, %d running): %d pods do not fit", name, room, node.Status.Allocatable.Pods(), used[name], per[name])
		}
	}
	return per, nil
}

// errRestarted says that an agent restarted during a sample's window.
var errRestarted = errors.New("an agent restarted during the window")

// agentSettle is how long an agent must have run before it is sampled:
// its start (loading the BPF programs, the first lists) is not idle.
const agentSettle = time.Minute

// sampleAgentsSettled samples the agents, after each has run for
// agentSettle, and again when one restarted during the window (as a
// redeployed agent does), three times at most.
func sampleAgentsSettled(ctx context.Context, agents map[string]string, window time.Duration) (map[string]agentSample, error) {
	for try := 1; ; try++ {
		for n, ep := range agents {
			m, err := scrape(ctx, ep)
			if err != nil {
				return nil, fmt.Errorf("the agent on %s: %w", n, err)
			}
			started := time.Unix(0, int64(m["process_start_time_seconds"]*1e9))
			if wait := time.Until(started.Add(agentSettle)); wait > 0 {
				progress("the agent on %s started %s ago: waiting %s", n, time.Since(started).Round(time.Second), wait.Round(time.Second))
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(wait):
				}
			}
		}
		out, err := sampleAgents(ctx, agents, window)
		if !errors.Is(err, errRestarted) || try == 3 {
			return out, err
		}
		progress("%v: sampling again", err)
	}
}

// sampleAgents reads every agent's metrics at the start and the end of
// the window, and every agentScrape in between for the largest RSS.
func sampleAgents(ctx context.Context, agents map[string]string, window time.Duration) (map[string]agentSample, error) {
	type first struct {
		cpu, started float64
		at           time.Time
	}
	start := map[string]first{}
	out := map[string]agentSample{}
	read := func(last bool) error {
		for n, ep := range agents {
			m, err := scrape(ctx, ep)
			at := time.Now()
			if err != nil {
				return fmt.Errorf("the agent on %s: %w", n, err)
			}
			s := out[n]
			s.rssBytes = max(s.rssBytes, m["process_resident_memory_bytes"])
			s.tracked = int(m["sysrec_containers_tracked"])
			s.heap = m["go_memstats_heap_inuse_bytes"]
			if f, ok := start[n]; !ok {
				start[n] = first{m["process_cpu_seconds_total"], m["process_start_time_seconds"], at}
			} else if m["process_start_time_seconds"] != f.started {
				return fmt.Errorf("%w (on %s)", errRestarted, n)
			} else if last {
				s.cpuPct = (m["process_cpu_seconds_total"] - f.cpu) / at.Sub(f.at).Seconds() * 100
			}
			out[n] = s
		}
		return nil
	}
	if err := read(false); err != nil {
		return nil, err
	}
	end := time.Now().Add(window)
	for {
		wait := min(agentScrape, time.Until(end))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		last := !time.Now().Before(end)
		if err := read(last); err != nil {
			return nil, err
		}
		if last {
			return out, nil
		}
	}
}

// scrapeCost reads each agent's metrics agentScrapes times back to back
// and returns the CPU that one read costs it (with the agent's idle work
// meanwhile, a few ms in all).
func scrapeCost(ctx context.Context, agents map[string]string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for n, ep := range agents {
		var cpu [2]float64
		var started [2]float64
		for i := 0; i <= agentScrapes; i++ {
			m, err := scrape(ctx, ep)
			if err != nil {
				return nil, fmt.Errorf("the agent on %s: %w", n, err)
			}
			if i == 0 || i == agentScrapes {
				cpu[min(i, 1)], started[min(i, 1)] = m["process_cpu_seconds_total"], m["process_start_time_seconds"]
			}
		}
		if started[0] != started[1] {
			return nil, fmt.Errorf("%w (on %s)", errRestarted, n)
		}
		out[n] = time.Duration((cpu[1] - cpu[0]) / agentScrapes * float64(time.Second))
	}
	return out, nil
}

// scrape reads the unlabelled samples of an agent's /metrics.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			m[name] = f
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, want := range []string{"process_resident_memory_bytes", "process_cpu_seconds_total", "process_start_time_seconds", "sysrec_containers_tracked"} {
		if _, ok := m[want]; !ok {
			return nil, fmt.Errorf("%s has no %s", url, want)
		}
	}
	return m, nil
}

// recording selects the pods labelled app=name.
func recording(ns, name string) *v1alpha1.SyscallRecording {
	return &v1alpha1.SyscallRecording{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1alpha1.SyscallRecordingSpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	}
}

// benchDeployment runs replicas of script in container app, spread
// evenly over the nodes, as the e2e test's Deployment is.
func benchDeployment(ns, name string, replicas int32, script string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector:  &metav1.LabelSelector{MatchLabels: labels},
						MatchLabelKeys: []string{appsv1.DefaultDeploymentUniqueLabelKey},
					}},
					Containers: []corev1.Container{{
						Name: "app", Image: agentImage, ImagePullPolicy: corev1.PullNever,
						Command: []string{"/bin/sh", "-c", script},
					}},
				},
			},
		},
	}
}

// running returns nil once the pods labelled app=name run, as many on
// each node as per says.
func running(ctx context.Context, c client.Client, ns, name string, per map[string]int) error {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": name}); err != nil {
		return err
	}
	on := map[string]int{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			on[p.Spec.NodeName]++
		}
	}
	for n, want := range per {
		if on[n] != want {
			return fmt.Errorf("%s: running pods per node %v, want %v", name, on, per)
		}
	}
	return nil
}

// merged returns the recording's profile for container app once it was
// merged from every node, holds syscall (when not empty) and is installed
// on every node.
func merged(ctx context.Context, c client.Client, ns, name string, nodes []string, syscall string) (*v1alpha1.Profile, error) {
	var r v1alpha1.SyscallRecording
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
		return nil, err
	}
	for i := range r.Status.Profiles {
		p := &r.Status.Profiles[i]
		if p.Container != "app" {
			continue
		}
		for _, n := range nodes {
			if !slices.Contains(p.Nodes, n) || !slices.Contains(p.InstalledOn, n) {
				return nil, fmt.Errorf("recording %s: profile from %v, installed on %v; want both from and on %v", name, p.Nodes, p.InstalledOn, nodes)
			}
		}
		if syscall != "" && !slices.Contains(p.Syscalls["SCMP_ARCH_X86_64"], syscall) && !slices.Contains(p.Syscalls["SCMP_ARCH_AARCH64"], syscall) {
			return nil, fmt.Errorf("recording %s: the merged profile lacks %s", name, syscall)
		}
		return p, nil
	}
	return nil, fmt.Errorf("recording %s: no profile for container app yet", name)
}

// latencyRound creates a recording, then a Deployment of one replica per
// node that calls sync(2) first thing, and returns the time from the
// later replica's start to the first poll that finds the merged profile,
// holding sync and contributed by both nodes, installed on both. A
// replica's start is its container's first process's start time
// (/proc/1/stat, in clock ticks since boot), which the replica prints
// first; the poll's time is read from the same clock (CLOCK_BOOTTIME):
// the nodes share this machine.
func latencyRound(ctx context.Context, c client.Client, cs *kubernetes.Clientset, ns, name string, nodes []string) (time.Duration, error) {
	rec := recording(ns, name)
	if err := c.Create(ctx, rec); err != nil {
		return 0, err
	}
	dep := benchDeployment(ns, name, int32(len(nodes)),
		`cat /proc/1/stat; sync; while true; do cat /proc/self/stat >/dev/null; sleep 1; done`)
	if err := c.Create(ctx, dep); err != nil {
		return 0, err
	}
	var found time.Duration
	deadline := time.Now().Add(agentWait)
	for {
		_, err := merged(ctx, c, ns, name, nodes, "sync")
		if err == nil {
			found = boottime()
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("still not so after %s: %w", agentWait, err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(agentPoll):
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": name}); err != nil {
		return 0, err
	}
	var last time.Duration
	earliest := time.Duration(-1)
	starts := 0
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		log, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: "app", LimitBytes: ptr.To[int64](4096)}).Stream(ctx)
		if err != nil {
			return 0, fmt.Errorf("the log of %s: %w", p.Name, err)
		}
		first, err := bufio.NewReader(log).ReadString('\n')
		log.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("the log of %s: %w", p.Name, err)
		}
		st, err := statStart(first)
		if err != nil {
			return 0, fmt.Errorf("the log of %s: %w", p.Name, err)
		}
		last = max(last, st)
		if earliest < 0 || st < earliest {
			earliest = st
		}
		starts++
	}
	if starts < len(nodes) {
		return 0, fmt.Errorf("%d running replicas, want %d", starts, len(nodes))
	}
	// The next round starts with this one's pods gone.
	for _, o := range []client.Object{dep, rec} {
		if err := c.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
			return 0, err
		}
	}
	if err := poll(ctx, time.Second, func() error {
		var left corev1.PodList
		if err := c.List(ctx, &left, client.InNamespace(ns), client.MatchingLabels{"app": name}); err != nil {
			return err
		}
		if len(left.Items) > 0 {
			return fmt.Errorf("%d pods of %s left", len(left.Items), name)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	progress("%s: replicas started %s apart; the profile was found %s after the first", name, (last - earliest).Round(10*time.Millisecond), (found - earliest).Round(10*time.Millisecond))
	return found - last, nil
}

// statStart reads the start time, since boot, of a /proc/PID/stat line.
func statStart(line string) (time.Duration, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, fmt.Errorf("not a /proc/PID/stat line: %q", line)
	}
	// Fields from the third (state) on; starttime is the 22nd.
	f := strings.Fields(line[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("not a /proc/PID/stat line: %q", line)
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("starttime of %q: %w", line, err)
	}
	// USER_HZ is 100 on every architecture sysrec runs on.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

func boottime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// poll calls cond every tick until it returns nil, for at most agentWait.
func poll(ctx context.Context, tick time.Duration, cond func() error) error {
	deadline := time.Now().Add(agentWait)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not so after %s: %w", agentWait, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (while waiting: %v)", ctx.Err(), err)
		case <-time.After(tick):
		}
	}
}

// deleteNamespace deletes the phase's namespace and waits until it is
// gone, interrupted or not.
func deleteNamespace(c client.Client, ns *corev1.Namespace) error {
	ctx := context.Background()
	progress("deleting namespace %s", ns.Name)
	if err := c.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting namespace %s: %w", ns.Name, err)
	}
	return poll(ctx, time.Second, func() error {
		err := c.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace %s is still there (%v)", ns.Name, err)
	})
}
