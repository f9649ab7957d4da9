package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/profiles"
	syscallexplain "github.com/sysrec/sysrec/profiles/explain"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "say why a syscall is in a profile: who made it first and when, its group, completion, coverage, rules and lint",
		ArgsUsage: "PROFILE SYSCALL",
		Description: "explain reads PROFILE and its provenance: the sidecar file that record\n" +
			"and merge write beside it (app.json's is app.provenance.json), or, for a\n" +
			"profile in a tree that record --containers wrote, its entry in the\n" +
			"tree's index.json. It says which executable and process made SYSCALL\n" +
			"first and when, its group, whether completion added it and why, in how\n" +
			"many of the merged recordings it was seen (a syscall that few had is\n" +
			"marked RARE), the rules of PROFILE that decide it on each architecture\n" +
			"(for a container with the default capabilities), and what lint says\n" +
			"about it. Without provenance it says what is missing, and still what\n" +
			"the profile does.\n\n" +
			"It exits 1 when PROFILE does not allow SYSCALL on any architecture, 2\n" +
			"when SYSCALL is no syscall.\n\n" +
			"Example:\n   sysrec explain app.json getdents64",
		Flags:  []cli.Flag{outputFlag()},
		Action: explainAction,
	}
}

func explainAction(c *cli.Context) error {
	format, err := checkOutput(c)
	if err != nil {
		return err
	}
	if c.NArg() != 2 {
		return usageError("explain: want PROFILE SYSCALL: usage: sysrec explain [-o json] PROFILE SYSCALL")
	}
	path, name := c.Args().Get(0), c.Args().Get(1)
	p, err := profiles.ParseFile(path)
	if err != nil {
		return err
	}
	src, err := syscallexplain.Find(path)
	if err != nil {
		return err
	}
	r, err := syscallexplain.Explain(path, p, name, src)
	var unknown *syscallexplain.UnknownError
	if errors.As(err, &unknown) {
		return usageError("%w", err)
	} else if err != nil {
		return err
	}
	if err := writeOutput(c.App.Writer, format, r, func(tw *tabwriter.Writer) { syscallexplain.Text(tw, r) }); err != nil {
		return err
	}
	if !r.Allowed {
		return &exitError{code: 1, err: fmt.Errorf("%s does not allow %s on any of its architectures", path, name)}
	}
	return nil
}
