package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	"github.com/urfave/cli/v2"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/sysrec/sysrec/internal/kube"
)

// kubeconfigFlag is the flag of every command that talks to an API
// server; restConfig reads it.
var kubeconfigFlag = &cli.StringFlag{
	Name:    "kubeconfig",
	EnvVars: []string{"KUBECONFIG"},
	Usage:   "the kubeconfig `FILE` to reach the API server with; without it, the pod's service account, then ~/.kube/config",
}

// restConfig is the API server connection that --kubeconfig says.
func restConfig(c *cli.Context) (*rest.Config, error) {
	if path := c.String("kubeconfig"); path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("reading the kubeconfig %s: %w (check --kubeconfig)", path, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the API server: %w (run in a pod, or give --kubeconfig)", err)
	}
	return cfg, nil
}

// managerFlags are the serving flags of the long-running commands (agent
// and controller), with their default ports.
func managerFlags(metricsPort, healthPort int) []cli.Flag {
	return []cli.Flag{
		kubeconfigFlag,
		&cli.StringFlag{Name: "metrics-address", Value: fmt.Sprintf(":%d", metricsPort), Usage: "serve Prometheus metrics at `ADDRESS`/metrics (\"0\" for none)"},
		&cli.StringFlag{Name: "health-address", Value: fmt.Sprintf(":%d", healthPort), Usage: "serve /healthz and /readyz at `ADDRESS`"},
		&cli.StringFlag{Name: "pprof-address", Usage: "serve Go's /debug/pprof at `ADDRESS` (default: none)"},
	}
}

// newManager builds a controller-runtime manager from managerFlags and
// opts, with a liveness check; ready, when not nil, is its readiness.
func newManager(c *cli.Context, log *slog.Logger, opts manager.Options, ready healthz.Checker) (manager.Manager, error) {
	cfg, err := restConfig(c)
	if err != nil {
		return nil, err
	}
	if opts.Scheme, err = kube.Scheme(); err != nil {
		return nil, err
	}
	opts.Metrics = metricsserver.Options{BindAddress: c.String("metrics-address")}
	opts.HealthProbeBindAddress = c.String("health-address")
	opts.PprofBindAddress = c.String("pprof-address")
	opts.Logger = logr.FromSlogHandler(log.Handler())
	ctrllog.SetLogger(opts.Logger)
	grace := 20 * time.Second
	opts.GracefulShutdownTimeout = &grace
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("setting up the API client: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if ready == nil {
		ready = healthz.Ping
	}
	if err := mgr.AddReadyzCheck("ready", ready); err != nil {
		return nil, err
	}
	return mgr, nil
}
