package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/profiles"
)

func lintCommand() *cli.Command {
	return &cli.Command{
		Name:      "lint",
		Usage:     "check seccomp profiles for errors and questionable rules",
		ArgsUsage: "PROFILE...",
		Description: "lint parses each profile strictly, as the runtimes would read it, and\n" +
			"reports every error with its file:line:col. Profiles that parse are then\n" +
			"checked for what keeps anything from starting under them:\n\n" +
			"  cannot-start       runc and crun load the filter, make a few syscalls\n" +
			"                     (capset, prctl, ...) and exec the entrypoint; sysrec\n" +
			"                     run loads it and execs the command. A profile that\n" +
			"                     denies execve (on x86_64 or aarch64) is an error:\n" +
			"                     nothing starts. One that allows execve but denies the\n" +
			"                     runtimes' other needs is an error with --for container,\n" +
			"                     a warning by default (sysrec record's profiles of a\n" +
			"                     command lack them and work with sysrec run), and fine\n" +
			"                     with --for command.\n\n" +
			"and for questionable rules, reported as warnings:\n\n" +
			"  default-allows     defaultAction SCMP_ACT_ALLOW or SCMP_ACT_LOG\n" +
			"  dangerous-syscall  a syscall that reaches past the container is allowed\n" +
			"                     (ptrace, mount, bpf, ...), always, for some arguments,\n" +
			"                     or with more than the default capabilities\n" +
			"  duplicate-name     a name listed twice in a rule, or in two rules alike\n" +
			"  not-a-syscall      a name that is no syscall on any architecture of the\n" +
			"                     profile that its rule applies on (recv and send on\n" +
			"                     x86_64 and aarch64): libseccomp ignores it there\n" +
			"  unreachable-rule   a rule that never decides its syscall: an earlier\n" +
			"                     rule always does (as libseccomp orders rules)\n" +
			"  redundant-rule     a rule whose action is the defaultAction: runc skips it\n" +
			"  never-applies      a rule whose includes/excludes arches leave out every\n" +
			"                     architecture of the profile\n\n" +
			"The exit status is 1 if a profile has errors, 2 with --strict if there are\n" +
			"warnings, and 0 otherwise.\n\n" +
			"Example:\n   sysrec lint --strict profiles/*.json\n" +
			"   sysrec lint --for container pod/*.json",
		Flags: []cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "for", Usage: "the profiles are for `WHAT`: container (runc's and crun's syscalls after loading the filter must be allowed) or command (sysrec run: only execve); by default a denied execve is an error and the runtimes' other syscalls a warning"},
			&cli.BoolFlag{Name: "strict", Usage: "exit with status 2 when there are warnings"},
		},
		Action: lint,
	}
}

// lintReport is what lint prints with -o json and -o yaml.
type lintReport struct {
	Findings []profiles.Finding `json:"findings"`
	Errors   int                `json:"errors"`
	Warnings int                `json:"warnings"`
}

func lint(c *cli.Context) error {
	format, err := checkOutput(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageError("lint: no profile given: usage: sysrec lint [--strict] [--for container|command] [-o FORMAT] PROFILE...")
	}
	target := profiles.Target(c.String("for"))
	switch target {
	case profiles.TargetAny, profiles.TargetContainer, profiles.TargetCommand:
	default:
		return usageError("lint: --for %q: want container or command", c.String("for"))
	}
	report := lintReport{Findings: []profiles.Finding{}}
	for _, path := range c.Args().Slice() {
		report.Findings = append(report.Findings, lintFile(path, target)...)
	}
	for _, f := range report.Findings {
		if f.Severity == profiles.SeverityError {
			report.Errors++
		} else {
			report.Warnings++
		}
	}
	err = writeOutput(c.App.Writer, format, report, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "FILE\tLINE/PATH\tSEVERITY\tMESSAGE")
		for _, f := range report.Findings {
			where := f.Path
			if f.Line > 0 {
				where = fmt.Sprintf("%d:%d", f.Line, f.Col)
				if f.Path != "" {
					where += " " + f.Path
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s [%s]\n", f.File, where, f.Severity, f.Msg, f.Code)
		}
	})
	if err != nil {
		return err
	}
	switch {
	case report.Errors > 0:
		return &exitError{code: 1}
	case report.Warnings > 0 && c.Bool("strict"):
		return &exitError{code: 2}
	}
	return nil
}

// lintFile parses and lints one profile meant for target.
func lintFile(path string, target profiles.Target) []profiles.Finding {
	data, err := os.ReadFile(path)
	if err != nil {
		return []profiles.Finding{{File: path, Severity: profiles.SeverityError, Code: profiles.CodeParse, Msg: fmt.Sprintf("reading seccomp profile: %v", err)}}
	}
	p, err := profiles.Parse(data, path)
	var pes profiles.ParseErrors
	switch {
	case errors.As(err, &pes):
		out := make([]profiles.Finding, len(pes))
		for i, pe := range pes {
			out[i] = profiles.Finding{File: path, Line: pe.Line, Col: pe.Col, Path: pe.Path,
				Severity: profiles.SeverityError, Code: profiles.CodeParse, Msg: pe.Msg}
		}
		return out
	case err != nil:
		return []profiles.Finding{{File: path, Severity: profiles.SeverityError, Code: profiles.CodeParse, Msg: err.Error()}}
	}
	out := profiles.LintFor(p, target)
	for i := range out {
		out[i].File = path
		out[i].Line, out[i].Col, _ = profiles.Locate(data, out[i].Path)
	}
	return out
}
