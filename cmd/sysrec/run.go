package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/enforce"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/violations"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command under a seccomp profile, as a container with that profile would",
		ArgsUsage: "-- CMD [ARGS...]",
		Description: "run compiles the profile with libseccomp the way runc does (includes and\n" +
			"excludes for this process's capabilities and kernel, errno defaults, the\n" +
			"ENOSYS stub for syscalls newer than the profile), loads it, and execs CMD\n" +
			"in place of sysrec: CMD keeps sysrec's pid, and its exit status is\n" +
			"sysrec's. Every action works: allow, errno, log, kill-thread,\n" +
			"kill-process, trap and trace (which returns ENOSYS without a tracer).\n\n" +
			"Close the loop on one machine:\n\n" +
			"   sysrec record -o app.json -- ./app\n" +
			"   sysrec run --profile app.json -- ./app\n\n" +
			"Audit first: record with --default-action log, run under that profile,\n" +
			"then add what it logged with sysrec violations --into app.json.\n\n" +
			"When CMD is denied a syscall, run names it on stderr once CMD has exited:\n" +
			"CMD runs as a child, under the filter with SECCOMP_FILTER_FLAG_LOG, and\n" +
			"sysrec reads the kernel's audit records of CMD and its descendants. That\n" +
			"needs CAP_AUDIT_READ (root has it); without it, or with\n" +
			"--report-denied=false, CMD is exec'd in sysrec's place and keeps its pid.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profile", Aliases: []string{"p"}, Usage: "the seccomp profile `FILE` (containerd/CRI-O/Docker JSON, or OCI LinuxSeccomp)"},
			&cli.StringSliceFlag{Name: "cap", Usage: "test includes and excludes against capability `CAP` (repeatable; default: this process's effective capabilities)"},
			&cli.StringFlag{Name: "kernel", Usage: "test minKernel against kernel `VERSION` (default: the running kernel's)"},
			&cli.BoolFlag{Name: "report-denied", Value: true, Usage: "name on stderr the syscalls the profile denied CMD (needs CAP_AUDIT_READ)"},
		},
		Action: runUnderProfile,
	}
}

func runUnderProfile(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	argv := c.Args().Slice()
	if c.String("profile") == "" {
		return usageError("run: no profile given: usage: sysrec run --profile FILE -- CMD [ARGS...]")
	}
	if len(argv) == 0 {
		return usageError("run: no command given: usage: sysrec run --profile FILE -- CMD [ARGS...]")
	}
	p, err := profiles.ParseFile(c.String("profile"))
	if err != nil {
		return err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return &exitError{code: 126, err: fmt.Errorf("%s: permission denied", argv[0])}
		}
		return &exitError{code: 127, err: fmt.Errorf("%s: command not found", argv[0])}
	}
	f, err := enforce.Compile(p, enforce.Options{Caps: c.StringSlice("cap"), Kernel: c.String("kernel")})
	if err != nil {
		return fmt.Errorf("%s: %w", c.String("profile"), err)
	}
	if !c.Bool("report-denied") {
		return enforce.Exec(path, argv, os.Environ(), f)
	}
	audit, err := violations.OpenAudit()
	if err != nil {
		if c.IsSet("report-denied") {
			return fmt.Errorf("naming denied syscalls: %w (or pass --report-denied=false)", err)
		}
		log.Debug("denied syscalls will not be named", "err", err)
		return enforce.Exec(path, argv, os.Environ(), f)
	}
	defer audit.Close()
	sigs, stopSignals := forwardedSignals()
	defer stopSignals()
	report, err := enforce.Supervise(c.Context, childCommand(path, argv), f, audit, sigs, log)
	if err != nil {
		return err
	}
	printDenied(c.App.ErrWriter, argv[0], p, report)
	return &exitError{code: exitStatus(report.State)}
}

// fallbackNote says when a denial is a rule's ENOSYS, such as the one
// that argument rules give clone3: the C library then falls back to an
// older syscall, and the command is not broken by it.
func fallbackNote(p *profiles.Profile, d enforce.Denial) string {
	ds, err := p.Outcomes(d.Arch, d.Syscall, nil)
	if err != nil || len(ds) != 1 || ds[0].Rule < 0 || ds[0].Action != profiles.ActErrno || ds[0].ErrnoRet != uint(syscall.ENOSYS) {
		return ""
	}
	return fmt.Sprintf("  (ENOSYS by rule syscalls[%d]: the C library falls back to an older syscall)", ds[0].Rule)
}

// printDenied names on w what profile p denied the command.
func printDenied(w io.Writer, name string, p *profiles.Profile, r *enforce.Report) {
	if r.Incomplete != "" {
		fmt.Fprintf(w, "sysrec: the list of denied syscalls may be incomplete: %s\n", r.Incomplete)
	}
	if len(r.Denied) == 0 {
		return
	}
	fmt.Fprintf(w, "sysrec: the profile denied %s these syscalls:\n", name)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range r.Denied {
		action := strings.ToLower(strings.TrimPrefix(d.Action, "SCMP_ACT_"))
		times := "times"
		if d.Count == 1 {
			times = "time"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d %s\tby %s%s\n", d.Name(), d.Arch, action, d.Count, times, strings.Join(d.Comms, ","), fallbackNote(p, d))
	}
	tw.Flush()
}
