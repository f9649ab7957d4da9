// Command sysrec records the syscalls a workload makes, with eBPF, and
// turns them into minimal seccomp profiles.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"
)

// exitError carries an exit status out of a command. A nil err means the
// status is all there is to say (the recorded command's own status).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake on the command line: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	err := run(context.Background(), os.Args, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			fmt.Fprintf(os.Stderr, "sysrec: %+v\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "sysrec: %v\n", err)
		}
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app := &cli.App{
		Name:  "sysrec",
		Usage: "record the syscalls a workload makes and turn them into seccomp profiles",
		Description: "sysrec follows a workload with CO-RE eBPF programs on the raw_syscalls\n" +
			"tracepoints, aggregates its syscalls in the kernel, and writes a minimal\n" +
			"seccomp allow-list profile in the JSON format that containerd, CRI-O,\n" +
			"Docker and the kubelet's Localhost profiles read.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log `LEVEL` on stderr: debug, info, warn or error"},
		},
		Commands: []*cli.Command{recordCommand(), lintCommand(), diffCommand(), explainCommand(), mergeCommand(), exportCommand(), installCommand(), runCommand(), violationsCommand(), agentCommand(), controllerCommand(), promoteCommand(), recordingsCommand(), reportCommand()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("unknown command %q: see sysrec --help", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		// main decides the exit status; urfave/cli must not exit itself.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	app.OnUsageError = usageErrors(app, args)
	reportUsageErrors(app.Commands, app.OnUsageError)
	return app.RunContext(ctx, flagsFirst(app, args))
}

// logger builds the stderr logger from the global flags.
func logger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, usageError("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})), nil
}
