package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/profiles"
	syscallexplain "github.com/sysrec/sysrec/profiles/explain"
	"github.com/sysrec/sysrec/profiles/provenance"
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
			"With -o FILE, merge also writes the merged profile's provenance beside\n" +
			"it (out.json's is out.provenance.json), with its coverage: for each\n" +
			"syscall, in how many of the inputs it appeared. An input with\n" +
			"provenance (its own sidecar, or its entry in the index of the tree it\n" +
			"is in) counts as the recordings it merged, each syscall as often as\n" +
			"they had it; an input without counts as one recording of each syscall\n" +
			"it allows. sysrec explain shows it, so that a syscall seen in one run\n" +
			"of ten stands out. " + provenanceStdout +
			"Example:\n   sysrec merge -o web.json web-run1.json web-run2.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "write the merged profile to `FILE` (- for stdout)"},
			provenanceFlag(),
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
	sidecar, err := sidecarFile(c)
	if err != nil {
		return err
	}
	if sidecar != nil {
		defer sidecar.Abort()
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
	var inputs []*provenance.File
	for i, path := range paths {
		f, err := syscallexplain.Input(path, ps[i])
		if err != nil {
			return err
		}
		if f.Warning != "" {
			fmt.Fprintf(c.App.ErrWriter, "sysrec: warning: %s\n", f.Warning)
		}
		inputs = append(inputs, f.File)
	}
	if out := c.String("output"); out != "-" {
		if err := atomicfile.WriteFile(out, data, 0o644); err != nil {
			return err
		}
	} else if _, err := c.App.Writer.Write(data); err != nil {
		return err
	}
	return writeSidecar(sidecar, c.String("output"), data, provenance.Merge("", inputs...))
}

// provenanceFlag is --provenance, which sidecarFile reads.
func provenanceFlag() cli.Flag {
	return &cli.StringFlag{Name: "provenance", Usage: "write the profile's provenance to `FILE` (default: beside -o FILE, as NAME" + provenance.Suffix + "; none when the profile goes to stdout; \"none\": don't)"}
}

// provenanceStdout ends the help on provenance of record and merge.
const provenanceStdout = "With -o - nothing is written beside the profile\n" +
	"unless --provenance FILE names a file; --provenance none writes none.\n\n"

// sidecarFile creates the provenance file that --provenance and -o name,
// before the work starts, so that a path that cannot be written fails
// early; nil when none is to be written.
func sidecarFile(c *cli.Context) (*atomicfile.File, error) {
	out, name := c.String("output"), c.String("provenance")
	switch {
	case name == "none", name == "" && out == "-":
		return nil, nil
	case name == "":
		name = provenance.Path(out)
	case name == "-":
		return nil, usageError("--provenance: want a FILE, or none (the profile may be on stdout)")
	case out != "-" && filepath.Clean(name) == filepath.Clean(out):
		return nil, usageError("--provenance %s: that is the profile's file (-o)", name)
	}
	f, err := atomicfile.Create(name, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating the provenance file: %w", err)
	}
	return f, nil
}

// writeSidecar writes prov, the provenance of the profile whose bytes are
// data and whose file is output, to f, when f is not nil.
func writeSidecar(f *atomicfile.File, output string, data []byte, prov *provenance.File) error {
	if f == nil {
		return nil
	}
	name := ""
	if output != "-" {
		name = filepath.Base(output)
	}
	enc, err := provenance.Describe(prov, name, data)
	if err != nil {
		return err
	}
	if _, err := f.Write(enc); err != nil {
		return fmt.Errorf("writing the provenance file: %w", err)
	}
	return f.Commit()
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
