package main

import (
	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/profiles/report"
	"github.com/sysrec/sysrec/profiles/runtimes"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write one self-contained HTML page of profiles: workloads by syscall group, dangerous syscalls, provenance, what each removes against runtime/default",
		ArgsUsage: "PROFILE|DIR...",
		Description: "report reads each PROFILE, with its provenance (its sidecar file, or its\n" +
			"entry in the index of the tree it is in), and each DIR: a tree that\n" +
			"record --containers wrote (every profile its index.json lists, named\n" +
			"namespace/workload/container), or a directory of profiles (every *.json\n" +
			"below it but sidecars and index.json). It writes one HTML page that\n" +
			"loads nothing and runs no script: a matrix of the workloads by syscall\n" +
			"group, each cell with its syscalls and, for each, who made it first, in\n" +
			"how many recordings it was seen and whether completion added it; the\n" +
			"dangerous syscalls (as lint finds them) highlighted; for each workload,\n" +
			"how many of runtime/default's syscalls it no longer lets run, and its\n" +
			"argument rules. The matrix is for the host's architecture, evaluated\n" +
			"for a container with the default capabilities. The same inputs give the\n" +
			"same page.\n\n" +
			"Example:\n   sysrec report -o report.html app.json profiles/",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "report.html", Usage: "write the page to `FILE`, atomically (- for stdout)"},
			&cli.StringFlag{Name: "runtime", Value: "containerd", Usage: "runtime/default is `RUNTIME`'s default profile: containerd, crio or docker"},
		},
		Action: reportAction,
	}
}

func reportAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError("report: no profile given: usage: sysrec report [-o FILE] PROFILE|DIR...")
	}
	if _, err := runtimes.Default(c.String("runtime")); err != nil {
		return usageError("--runtime: %w", err)
	}
	ws, err := report.Load(c.Args().Slice())
	if err != nil {
		return err
	}
	data, err := report.HTML(ws, report.Options{Runtime: c.String("runtime")})
	if err != nil {
		return err
	}
	if out := c.String("output"); out != "-" {
		return atomicfile.WriteFile(out, data, 0o644)
	}
	_, err = c.App.Writer.Write(data)
	return err
}
