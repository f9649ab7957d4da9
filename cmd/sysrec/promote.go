package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/controller"
	"github.com/sysrec/sysrec/internal/kube"
	"github.com/sysrec/sysrec/recording"
)

func namespaceFlag() cli.Flag {
	return &cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "the recording's `NAMESPACE` (default: the kubeconfig context's)"}
}

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:      "promote",
		Usage:     "promote a SyscallRecording's profiles from Audit to Enforce",
		ArgsUsage: "NAME",
		Description: "promote sets spec.stage to Enforce on the SyscallRecording NAME, unless its nodes\n" +
			"reported a violation newer than --window: a pod made a syscall that the auditing\n" +
			"profile does not allow, which the enforcing profile would deny. Fix the workload or\n" +
			"wait, or promote anyway with --force. The controller then publishes the enforcing\n" +
			"profiles, and every node's agent installs them.",
		Flags: []cli.Flag{
			kubeconfigFlag, namespaceFlag(),
			&cli.DurationFlag{Name: "window", Value: recording.DefaultWindow, Usage: "refuse while a violation newer than `DURATION` exists"},
			&cli.BoolFlag{Name: "force", Usage: "promote even with recent violations"},
		},
		Action: promote,
	}
}

func promote(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("promote takes one recording NAME; got %d arguments", c.NArg())
	}
	if c.Duration("window") <= 0 {
		return usageError("--window %s: want a positive duration; to promote whatever the violations, use --force", c.Duration("window"))
	}
	log, err := logger(c)
	if err != nil {
		return err
	}
	cl, err := kubeClient(c)
	if err != nil {
		return err
	}
	key := types.NamespacedName{Namespace: kubeNamespace(c), Name: c.Args().First()}
	rec, err := controller.Promote(c.Context, cl, log, key, c.Duration("window"), c.Bool("force"), time.Now())
	if errors.Is(err, recording.ErrRecentViolations) {
		return fmt.Errorf("%w with --force", err)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s %s\n", rec.Name, rec.Spec.Stage)
	return err
}

func recordingsCommand() *cli.Command {
	return &cli.Command{
		Name:      "recordings",
		Usage:     "list the SyscallRecordings: their phase, stage, nodes and profiles",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			outputFlag(), kubeconfigFlag, namespaceFlag(),
			&cli.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"}, Usage: "list the recordings of every namespace"},
		},
		Action: listRecordings,
	}
}

func listRecordings(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("recordings takes no arguments; got %q", c.Args().First())
	}
	format, err := checkOutput(c)
	if err != nil {
		return err
	}
	cl, err := kubeClient(c)
	if err != nil {
		return err
	}
	var opts []client.ListOption
	if !c.Bool("all-namespaces") {
		opts = append(opts, client.InNamespace(kubeNamespace(c)))
	}
	list := &v1alpha1.SyscallRecordingList{}
	if err := cl.List(c.Context, list, opts...); err != nil {
		return fmt.Errorf("listing the recordings: %w (is the SyscallRecording CRD installed? sysrec export deploy prints it)", err)
	}
	rows := make([]controller.Summary, 0, len(list.Items))
	for i := range list.Items {
		rows = append(rows, controller.Summarize(&list.Items[i]))
	}
	return writeOutput(c.App.Writer, format, rows, func(tw *tabwriter.Writer) { recordingsTable(tw, rows) })
}

func recordingsTable(tw *tabwriter.Writer, rows []controller.Summary) {
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tPHASE\tSTAGE\tINSTALLED\tNODES\tPROFILES\tVIOLATIONS")
	for _, s := range rows {
		stage := string(s.Stage)
		if s.Requested != s.Stage {
			stage += "->" + string(s.Requested)
		}
		var profs []string
		for _, p := range s.Profiles {
			profs = append(profs, p.Container+"@"+p.Version)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\n", s.Namespace, s.Name, dash(s.Phase), dash(stage), s.Installed,
			len(s.Nodes), dash(strings.Join(profs, ",")), s.Violations)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// kubeClient is an API client for --kubeconfig.
func kubeClient(c *cli.Context) (client.Client, error) {
	cfg, err := restConfig(c)
	if err != nil {
		return nil, err
	}
	cl, err := kube.Client(cfg)
	if err != nil {
		return nil, fmt.Errorf("setting up the API client: %w", err)
	}
	return cl, nil
}

// kubeNamespace is -n, or the namespace of the kubeconfig's context, or
// the pod's, or default.
func kubeNamespace(c *cli.Context) string {
	if ns := c.String("namespace"); ns != "" {
		return ns
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path := c.String("kubeconfig"); path != "" {
		rules.ExplicitPath = path
	}
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}
