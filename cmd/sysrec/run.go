package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/enforce"
	"github.com/sysrec/sysrec/profiles"
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
			"then add what it logged with sysrec violations --into app.json.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profile", Aliases: []string{"p"}, Usage: "the seccomp profile `FILE` (containerd/CRI-O/Docker JSON, or OCI LinuxSeccomp)"},
			&cli.StringSliceFlag{Name: "cap", Usage: "test includes and excludes against capability `CAP` (repeatable; default: this process's effective capabilities)"},
			&cli.StringFlag{Name: "kernel", Usage: "test minKernel against kernel `VERSION` (default: the running kernel's)"},
		},
		Action: runUnderProfile,
	}
}

func runUnderProfile(c *cli.Context) error {
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
	return enforce.Exec(path, argv, os.Environ(), f)
}
