package main

import (
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/controller"
)

func controllerCommand() *cli.Command {
	return &cli.Command{
		Name:      "controller",
		Usage:     "run the Kubernetes merge controller: merge the nodes' recordings into profiles and publish them",
		ArgsUsage: " ",
		Description: "The controller runs as a Deployment (sysrec export deploy prints it). For each\n" +
			"SyscallRecording it merges what every node's agent reported into one profile per\n" +
			"container, publishes the profiles in the recording's status (which the agents install\n" +
			"on every node), writes them to a ConfigMap or Security Profiles Operator\n" +
			"SeccompProfiles, and grants or refuses promotions from Audit to Enforce.\n\n" +
			"Run more than one replica with --leader-elect: one of them works at a time.",
		Flags: append(managerFlags(9092, 9093),
			&cli.BoolFlag{Name: "leader-elect", Usage: "work only while holding the Lease " + controller.LeaderElectionID},
			&cli.StringFlag{Name: "leader-election-namespace", Value: "sysrec-system", EnvVars: []string{"POD_NAMESPACE"}, Usage: "the `NAMESPACE` of the leader election Lease"},
		),
		Action: runController,
	}
}

func runController(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("controller takes no arguments; got %q", c.Args().First())
	}
	log, err := logger(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := controller.ManagerOptions()
	opts.LeaderElection, opts.LeaderElectionNamespace = c.Bool("leader-elect"), c.String("leader-election-namespace")
	mgr, err := newManager(c, log, opts, nil)
	if err != nil {
		return err
	}
	if err := controller.Setup(mgr, log, controller.Options{}); err != nil {
		return err
	}
	log.Info("controller running", "leader-elect", opts.LeaderElection)
	return mgr.Start(ctx)
}
