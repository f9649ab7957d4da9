package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/runtimes"
	"github.com/sysrec/sysrec/syscalls"
)

// runtimeDefault names the runtimes' default profiles as a DEPLOYED
// argument, as the kubelet's seccompProfile type RuntimeDefault does.
const runtimeDefault = "runtime/default"

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "check a recorded profile against the profile a workload is deployed with",
		ArgsUsage: "RECORDED DEPLOYED",
		Description: "diff evaluates every syscall that RECORDED allows (what sysrec saw the\n" +
			"workload use) with the DEPLOYED profile, and lists for each one its\n" +
			"verdict and the rule that decides it:\n\n" +
			"  denied         the deployed profile never lets it run: the workload\n" +
			"                 would break (diff then exits with status 1)\n" +
			"  partly-denied  RECORDED allows it only with some argument values\n" +
			"                 (socket families, namespace flags...), and the deployed\n" +
			"                 profile denies some of them (diff exits with status 1)\n" +
			"  conditional    allowed only for some argument values\n" +
			"  allowed        allowed\n" +
			"  unused         allowed, but the workload did not use it: the deployed\n" +
			"                 profile could be tightened\n\n" +
			"A syscall that RECORDED allows only with argument values is evaluated\n" +
			"on each recorded value; a denied value is named with the rule that\n" +
			"denies it and the deployed rules that allow the syscall:\n" +
			"  recorded socket(AF_NETLINK, SOCK_RAW) -> defaultAction: SCMP_ACT_ERRNO(1);\n" +
			"  allowed only when: socket(AF_INET6, SOCK_STREAM) (syscalls[1]), ...\n\n" +
			"DEPLOYED is a profile file; runtime/default, for the default profiles of\n" +
			"containerd, CRI-O and Docker, each compared in turn; runtime/default:NAME\n" +
			"for one of them (containerd, crio, docker); or container:ID, the profile\n" +
			"that the runtime enforces on a running container, read through CRI.\n\n" +
			"Profiles that depend on capabilities are evaluated for a container with\n" +
			"the runtimes' default capabilities, and those that --cap adds.\n\n" +
			"Examples:\n   sysrec diff web.json runtime/default\n" +
			"   sysrec diff --cap CAP_NET_ADMIN -o json web.json container:4f2a9c",
		Flags: []cli.Flag{
			outputFlag(),
			&cli.StringSliceFlag{Name: "arch", Usage: "compare only architecture `ARCH` (x86_64, x86, aarch64 or SCMP_ARCH_...; repeatable)"},
			&cli.StringSliceFlag{Name: "cap", Usage: "the container also has capability `CAP` (repeatable)"},
			&cli.StringFlag{Name: "runtime-endpoint", Usage: "for container:ID, the CRI `ENDPOINT` (default: containerd's, then CRI-O's socket)"},
		},
		Action: diff,
	}
}

// diffReport is what diff prints with -o json and -o yaml.
type diffReport struct {
	Recorded    string      `json:"recorded"`
	Comparisons []diffEntry `json:"comparisons"`
}

type diffEntry struct {
	Deployed string `json:"deployed"`
	profiles.Comparison
}

func diff(c *cli.Context) error {
	format, err := checkOutput(c)
	if err != nil {
		return err
	}
	if c.NArg() != 2 {
		return usageError("diff: want RECORDED and DEPLOYED, got %d arguments: usage: sysrec diff [-o FORMAT] RECORDED DEPLOYED", c.NArg())
	}
	opts := profiles.CompareOptions{Caps: profiles.DefaultCaps}
	for _, a := range c.StringSlice("arch") {
		arch := syscalls.Arch(strings.ToUpper(a))
		if !strings.HasPrefix(string(arch), "SCMP_ARCH_") {
			arch = "SCMP_ARCH_" + arch
		}
		if !syscalls.Known(arch) {
			return usageError("--arch %q: want one of x86_64, x86, aarch64", a)
		}
		opts.Arches = append(opts.Arches, arch)
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		opts.Caps = append([]string(nil), profiles.DefaultCaps...)
		for _, cp := range caps {
			cp = strings.ToUpper(cp)
			if !strings.HasPrefix(cp, "CAP_") {
				cp = "CAP_" + cp
			}
			opts.Caps = append(opts.Caps, cp)
		}
	}
	recordedPath, deployedArg := c.Args().Get(0), c.Args().Get(1)
	recorded, err := profiles.ParseFile(recordedPath)
	if err != nil {
		return err
	}
	deployed, err := deployedProfiles(c.Context, deployedArg, c.String("runtime-endpoint"))
	if err != nil {
		return err
	}
	report := diffReport{Recorded: recordedPath}
	for _, d := range deployed {
		cmp, err := profiles.Compare(recorded, d.profile, opts)
		if err != nil {
			return fmt.Errorf("comparing %s with %s: %w", recordedPath, d.name, err)
		}
		report.Comparisons = append(report.Comparisons, diffEntry{Deployed: d.name, Comparison: *cmp})
	}
	err = writeOutput(c.App.Writer, format, report, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "DEPLOYED\tARCH\tSYSCALL\tVERDICT\tDECIDED BY")
		for _, e := range report.Comparisons {
			for _, ac := range e.Arches {
				for _, v := range ac.Syscalls {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Deployed, strings.TrimPrefix(string(ac.Arch), "SCMP_ARCH_"), v.Name, v.Verdict, v.Explain())
				}
			}
		}
	})
	if err != nil {
		return err
	}
	var broken []string
	for _, e := range report.Comparisons {
		n := e.Counts
		fmt.Fprintf(c.App.ErrWriter, "%s: %d denied, %d partly denied, %d conditional, %d allowed, %d allowed but unused\n", e.Deployed,
			n[profiles.VerdictDenied], n[profiles.VerdictPartlyDenied], n[profiles.VerdictConditional], n[profiles.VerdictAllowed], n[profiles.VerdictUnused])
		switch d, p := n[profiles.VerdictDenied], n[profiles.VerdictPartlyDenied]; {
		case d > 0 && p > 0:
			broken = append(broken, fmt.Sprintf("%s denies %d of the syscalls it used, and some recorded argument values of %d more", e.Deployed, d, p))
		case d > 0:
			broken = append(broken, fmt.Sprintf("%s denies %d of the syscalls it used", e.Deployed, d))
		case p > 0:
			broken = append(broken, fmt.Sprintf("%s denies some recorded argument values of %d of the syscalls it used", e.Deployed, p))
		}
	}
	if len(broken) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("the workload would break: %s (see the denied and partly-denied rows)", strings.Join(broken, "; "))}
	}
	return nil
}

type namedProfile struct {
	name    string
	profile *profiles.Profile
}

// deployedProfiles resolves diff's DEPLOYED argument.
func deployedProfiles(ctx context.Context, arg, endpoint string) ([]namedProfile, error) {
	switch {
	case arg == runtimeDefault || strings.HasPrefix(arg, runtimeDefault+":"):
		names := runtimes.Names
		if rt, ok := strings.CutPrefix(arg, runtimeDefault+":"); ok {
			names = []string{rt}
		}
		var out []namedProfile
		for _, rt := range names {
			p, err := runtimes.Default(rt)
			if err != nil {
				return nil, usageError("%s: %w", arg, err)
			}
			out = append(out, namedProfile{runtimeDefault + ":" + rt, p})
		}
		return out, nil
	case strings.HasPrefix(arg, "container:"):
		id := strings.TrimPrefix(arg, "container:")
		if id == "" {
			return nil, usageError("%s: want container:ID", arg)
		}
		p, err := containerProfile(ctx, id, endpoint)
		if err != nil {
			return nil, err
		}
		return []namedProfile{{arg, p}}, nil
	}
	p, err := profiles.ParseFile(arg)
	if err != nil {
		return nil, err
	}
	return []namedProfile{{arg, p}}, nil
}

// containerProfile reads the profile a running container is confined by.
func containerProfile(ctx context.Context, id, endpoint string) (*profiles.Profile, error) {
	conn, err := connect(ctx, endpoint, cri.None, "see --runtime-endpoint")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	client := conn.CRI
	if client == nil {
		err := conn.CRIErr
		if err == nil {
			err = errors.New("no CRI endpoint to ask")
		}
		return nil, fmt.Errorf("reading the profile of container %s: %w (see --runtime-endpoint)", id, err)
	}
	data, err := client.Seccomp(ctx, id)
	if err != nil {
		return nil, err
	}
	if data == nil {
		// Unconfined: every syscall runs.
		return &profiles.Profile{DefaultAction: profiles.ActAllow}, nil
	}
	p, err := profiles.Parse(data, "container "+id)
	if err != nil {
		return nil, fmt.Errorf("the seccomp profile of container %s: %w", id, err)
	}
	return p, nil
}
