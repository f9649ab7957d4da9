package main

import (
	"context"
	"net/http"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sysrec/sysrec/agent"
	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/containers"
	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/internal/memtrim"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/kubelet"
	"github.com/sysrec/sysrec/recorder"
)

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run the Kubernetes node agent: record the pods that SyscallRecordings select, install their profiles",
		Description: "The agent runs on every node as a DaemonSet (sysrec export deploy prints it). It records\n" +
			"the node's containers, writes what the pods of each SyscallRecording did to the recording's\n" +
			"status (one entry per node), installs the merged profiles that the controller publishes into\n" +
			"the kubelet's seccomp directory, and reports the seccomp violations of pods that run them.",
		Flags: append(managerFlags(9090, 9091),
			&cli.StringFlag{Name: "node-name", EnvVars: []string{"NODE_NAME"}, Required: true, Usage: "the `NAME` of this node in the API"},
			&cli.StringFlag{Name: "seccomp-root", Value: kubelet.SeccompRoot, Usage: "the kubelet's seccomp `DIR`, where Localhost profiles are read"},
			&cli.StringFlag{Name: "runtime-endpoint", Usage: "the CRI `ENDPOINT` (unix:///path); default: the first that answers"},
			&cli.StringFlag{Name: "containerd-address", Value: cri.None, Usage: "containerd's API socket `PATH`, for containers outside Kubernetes (none: pods only)"},
			&cli.StringFlag{Name: "cgroup-fs", Usage: "where the host's cgroup file system is mounted `DIR` (default: the cgroup2 mount this process sees)"},
			&cli.StringSliceFlag{Name: "pod-cgroup-root", Usage: "the kubelet's pod cgroup `DIR` below the cgroup2 mount (repeatable; default kubepods and kubepods.slice)"},
			&cli.StringFlag{Name: "proc", Value: "/proc", Usage: "the host's /proc `DIR` (the pod needs hostPID)"},
			&cli.DurationFlag{Name: "interval", Value: agent.DefaultInterval, Usage: "bring the recordings' node entries up to date every `DURATION`"},
			&cli.StringFlag{Name: "kernel-btf", Usage: "the kernel's BTF `FILE` (default /sys/kernel/btf/vmlinux)"},
			argsFlag(),
		),
		Action: runAgent,
	}
}

func runAgent(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	node := c.String("node-name")
	groups, err := argGroups(c)
	if err != nil {
		return err
	}

	conn, err := connect(ctx, c.String("runtime-endpoint"), c.String("containerd-address"), "see --runtime-endpoint")
	if err != nil {
		return err
	}
	defer conn.Close()
	rec, err := containers.OpenNode(conn, containers.NodeOptions{
		CgroupFS: c.String("cgroup-fs"), PodRoots: c.StringSlice("pod-cgroup-root"), PodsOnly: true,
		Recorder: recorder.Options{KernelBTF: c.String("kernel-btf"), ArgGroups: groups}, Logger: log,
	})
	if err != nil {
		return err
	}
	defer rec.Close()
	sess, err := containers.Start(ctx, rec.Recorder, containers.Options{
		Resolver: conn, Build: profiles.BuildOptions{DefaultAction: profiles.ActErrno, Groups: true}, Runtime: conn.Runtime(), Logger: log, Interval: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	defer sess.Close()

	var ag *agent.Agent
	mgr, err := newManager(c, log, manager.Options{Cache: cache.Options{
		// The agent reads the pods of its own node only.
		ByObject:         map[client.Object]cache.ByObject{&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", node)}},
		DefaultTransform: cache.TransformStripManagedFields(),
	}}, func(*http.Request) error { return ag.Ready() })
	if err != nil {
		return err
	}
	metrics, err := agent.NewMetrics(ctrlmetrics.Registry)
	if err != nil {
		return err
	}
	ag, err = agent.New(agent.Options{
		Node: node, SeccompRoot: c.String("seccomp-root"), Session: sess, Client: mgr.GetClient(),
		Interval: c.Duration("interval"), Metrics: metrics, Logger: log,
	})
	if err != nil {
		return err
	}
	recordings, err := mgr.GetCache().GetInformer(ctx, &v1alpha1.SyscallRecording{})
	if err != nil {
		return err
	}
	if err := ag.PokeOnChange(recordings); err != nil {
		return err
	}
	var lookup containers.Lookup
	if conn.CRI != nil {
		lookup = conn.CRI
	}
	procs := containers.NewProcesses(lookup, c.String("proc"), time.Minute, nil)
	if err := mgr.Add(manager.RunnableFunc(ag.Run)); err != nil {
		return err
	}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error { return ag.WatchViolations(ctx, procs) })); err != nil {
		return err
	}
	// Once the agent has reported, what only start-up used (the kernel's
	// BTF, the executable's init code and data) goes back to the kernel:
	// the agent runs on every node for good, and its RSS should be its
	// working set.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		select {
		case <-ctx.Done():
		case <-ag.ReadyC():
			debug.FreeOSMemory()
			if _, err := memtrim.Executable(); err != nil {
				log.Warn("handing back the start-up pages", "err", err)
			}
		}
		return nil
	})); err != nil {
		return err
	}
	log.Info("node agent running", "node", node, "roots", rec.Roots, "seccomp-root", c.String("seccomp-root"))
	return mgr.Start(ctx)
}
