package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/profiles"
)

func mergeCommand() *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "merge seccomp profiles into one that allows what any of them allows",
		ArgsUsage: "PROFILE PROFILE...",
		Description: "merge reads seccomp profiles, for example recordings of several runs or\n" +
			"replicas of one workload, and writes their union: the union of their\n" +
			"architectures, and rules that share an action and conditions merged into\n" +
			"one with the union of their names. The output has the same bytes\n" +
			"whatever the order of the inputs.\n\n" +
			"The inputs must have the same defaultAction and defaultErrnoRet, unless\n" +
			"--default-action says which one the result gets.\n\n" +
			"Example:\n   sysrec merge -o web.json web-run1.json web-run2.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "write the merged profile to `FILE` (- for stdout)"},
			&cli.StringFlag{Name: "default-action", Usage: "`ACTION` of the merged profile, when the inputs disagree: errno, log, kill-process, kill-thread or trap"},
		},
		Action: merge,
	}
}

func merge(c *cli.Context) error {
	paths := c.Args().Slice()
	if len(paths) == 0 {
		return usageError("merge: no profile given: usage: sysrec merge [-o FILE] PROFILE PROFILE...")
	}
	var action profiles.Action
	if s := c.String("default-action"); s != "" {
		a, err := profiles.ParseAction(s)
		if err != nil {
			return usageError("--default-action: %w", err)
		}
		action = a
	}
	ps, err := parseProfiles(paths)
	if err != nil {
		return err
	}
	merged, err := profiles.Merge(ps, action)
	var ce *profiles.ConflictError
	if errors.As(err, &ce) {
		return conflictError(ce, paths)
	}
	if err != nil {
		return err
	}
	data, err := profiles.Marshal(merged)
	if err != nil {
		return err
	}
	if out := c.String("output"); out != "-" {
		return atomicfile.WriteFile(out, data, 0o644)
	}
	_, err = c.App.Writer.Write(data)
	return err
}

// conflictError names the files behind a *profiles.ConflictError.
func conflictError(ce *profiles.ConflictError, paths []string) error {
	var parts []string
	for i, v := range ce.Values {
		if v == "" {
			v = "none"
		}
		parts = append(parts, fmt.Sprintf("%s has %s", paths[i], v))
	}
	hint := "pass --default-action to choose the merged profile's"
	if !strings.HasPrefix(ce.Field, "default") {
		hint = "merge only profiles written for the same seccomp agent"
	}
	return fmt.Errorf("merging profiles: %s differs: %s: %s", ce.Field, strings.Join(parts, ", "), hint)
}

// parseProfiles parses every file strictly, and reports every file's
// problems at once.
func parseProfiles(paths []string) ([]*profiles.Profile, error) {
	var ps []*profiles.Profile
	var errs []error
	for _, path := range paths {
		p, err := profiles.ParseFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ps = append(ps, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ps, nil
}
