package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/recorder"
	"github.com/sysrec/sysrec/syscalls"
)

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:      "record",
		Usage:     "record the syscalls of a command, or of every container on this node, as seccomp profiles",
		ArgsUsage: "-- CMD [ARGS...] | --containers",
		Description: "record starts CMD and records every syscall made by CMD and all its\n" +
			"descendants (threads, forked children, exec'd programs and daemons that\n" +
			"outlive CMD) from CMD's execve on. It ends when the last of them exits.\n" +
			"SIGINT and SIGTERM are forwarded to CMD; one that arrives after CMD has\n" +
			"exited stops the wait for its descendants. The profile is written either\nway.\n\n" +
			"sysrec exits with CMD's status: 128+N if signal N killed it, 127 if CMD\n" +
			"was not found, 126 if it could not be executed.\n\n" +
			"With --containers, it records every container that starts on this node\n" +
			"from its entrypoint's execve on, until SIGINT, SIGTERM or --duration, and\n" +
			"writes one profile per workload container: replicas of one Deployment,\n" +
			"StatefulSet, DaemonSet or Job share one. Containers are named through the\n" +
			"CRI API of containerd or CRI-O.\n\n" +
			"With -o FILE, record also writes the profile's provenance beside it:\n" +
			"app.json's is app.provenance.json. For each syscall it says which\n" +
			"executable and process made it first, and when, and why completion\n" +
			"added it if it did; sysrec explain reads it. The profile itself is\n" +
			"unchanged: runtimes never read the provenance.\n" + provenanceStdout +
			"With --containers, each profile's provenance is in index.json, with\n" +
			"the number of replicas that recorded each syscall.\n\n" +
			"Examples:\n   sysrec record -o app.json -- go test ./...\n" +
			"   sysrec record --containers --namespace shop --output-dir profiles",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "write the profile to `FILE` (- for stdout)"},
			provenanceFlag(),
			&cli.StringFlag{Name: "default-action", Value: "errno", Usage: "`ACTION` for syscalls that were not recorded: errno, log, kill-process, kill-thread or trap"},
			&cli.StringFlag{Name: "kernel-btf", Value: recorder.DefaultKernelBTF, Usage: "kernel BTF `FILE`, for a host /sys mounted elsewhere"},
			&cli.StringFlag{Name: "capture-denied", Value: "auto", Usage: "how to record the syscalls that a seccomp filter the workload already runs under denies (they never reach the tracepoint): `MODE` auto (seccomp-entry where the kernel allows fentry, else none), seccomp-entry, sys-exit (works everywhere; one more eBPF program on every syscall of every task) or none"},
			argsFlag(),
			&cli.BoolFlag{Name: "exact", Usage: "allow exactly what was recorded: no rare-path completion (restart_syscall after a pause, rt_sigreturn for signal handlers, futex for contended locks, ...)"},
			&cli.BoolFlag{Name: "groups", Value: true, Usage: "split the allowed syscalls into rules by functional group (file I/O, network, process, ...), each with a comment; --groups=false writes one flat list"},
			&cli.BoolFlag{Name: "containers", Usage: "record every container on this node instead of a command, one profile per workload container"},
			&cli.StringFlag{Name: "runtime-endpoint", Usage: "with --containers: the CRI `ENDPOINT` (default: containerd's, then CRI-O's socket; none: name containers by their cgroup only, as unknown/<id>/<id>.json)"},
			&cli.StringFlag{Name: "containerd-address", Usage: "with --containers: containerd's `SOCKET`, to name plain containers (ctr run, nerdctl) <containerd namespace>/<id> (default: the CRI endpoint when it is containerd's, else /run/containerd/containerd.sock if it exists; none: don't)"},
			&cli.StringFlag{Name: "output-dir", Value: "profiles", Usage: "with --containers: write DIR/<namespace>/<workload>/<container>.json and DIR/index.json; a DIR with an index is continued, its profiles merged into"},
			&cli.DurationFlag{Name: "duration", Usage: "with --containers: stop after `D` (default: at SIGINT or SIGTERM)"},
			&cli.DurationFlag{Name: "flush-interval", Value: time.Minute, Usage: "with --containers: write the profiles and the index every `D` while recording, so that a crash loses at most D (0: only at the end)"},
		}, containerFilterFlags("with --containers: only containers")...),
		Action: record,
	}
}

func record(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	action, err := profiles.ParseAction(c.String("default-action"))
	if err != nil {
		return usageError("--default-action: %w", err)
	}
	if _, err := profiles.Generate(nil, action); err != nil {
		return usageError("--default-action: %w", err)
	}
	capture, err := recorder.ParseFilterCapture(c.String("capture-denied"))
	if err != nil {
		return usageError("--capture-denied: %w", err)
	}
	groups, err := argGroups(c)
	if err != nil {
		return err
	}
	opts := recorder.Options{Logger: log, KernelBTF: c.String("kernel-btf"), FilterCapture: capture, ArgGroups: groups}
	if c.Bool("containers") {
		return recordContainers(c, log, action, opts)
	}
	argv := c.Args().Slice()
	if len(argv) == 0 {
		return usageError("record: no command given: usage: sysrec record [-o FILE] -- CMD [ARGS...], or sysrec record --containers")
	}

	// Everything that can fail cheaply fails before CMD starts, so that a
	// long test run is never wasted.
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return &exitError{code: 126, err: fmt.Errorf("%s: permission denied", argv[0])}
		}
		return &exitError{code: 127, err: fmt.Errorf("%s: command not found", argv[0])}
	}
	var out *atomicfile.File
	if name := c.String("output"); name != "-" {
		out, err = atomicfile.Create(name, 0o644)
		if err != nil {
			return fmt.Errorf("checking the output file before starting %s: %w", argv[0], err)
		}
		defer out.Abort()
	}
	sidecar, err := sidecarFile(c)
	if err != nil {
		return fmt.Errorf("checking the provenance file before starting %s: %w", argv[0], err)
	}
	if sidecar != nil {
		defer sidecar.Abort()
	}

	// Until CMD runs, the heap is mostly the kernel BTF that loading the
	// recorder decodes: collecting it then would only delay CMD (by about
	// 5 ms; docs/performance.md). The collector is back on once CMD runs.
	gcPercent := debug.SetGCPercent(-1)
	restoreGC := func() { debug.SetGCPercent(gcPercent) }
	defer restoreGC()
	rec, err := recorder.New(opts)
	if err != nil {
		return err
	}
	defer rec.Close()

	// Catch signals before CMD starts, so none is lost in between.
	sigs, stopSignals := forwardedSignals()
	defer stopSignals()
	cmd := childCommand(path, argv)
	start := time.Now()
	target, err := rec.StartCommand(cmd)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return &exitError{code: 126, err: fmt.Errorf("%s: %w", argv[0], err)}
		}
		return &exitError{code: 127, err: fmt.Errorf("starting %s: %w", argv[0], err)}
	}
	defer target.Close()
	restoreGC()

	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	// Forward signals while CMD runs; once it has exited, a signal stops the
	// wait for its remaining descendants.
	waitCtx, stopWaiting := context.WithCancel(c.Context)
	defer stopWaiting()
	go func() {
		for {
			select {
			case s := <-sigs:
				select {
				case <-exited:
					log.Info("stopping: not waiting for the remaining descendants", "signal", s)
					stopWaiting()
					return
				default:
					cmd.Process.Signal(s)
				}
			case <-waitCtx.Done():
				return
			}
		}
	}()
	<-exited
	if live, _ := target.Live(); live > 0 {
		log.Info("command exited; waiting for its descendants", "tasks", live)
	}
	if err := target.Wait(waitCtx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("waiting for descendants: %w", err)
	}

	recording, err := target.Recording()
	if err != nil {
		return err
	}
	profile, completion, err := profiles.Build(recording.Syscalls, recording.Args, buildOptions(c, action))
	if err != nil {
		return err
	}
	data, err := profiles.Marshal(profile)
	if err != nil {
		return err
	}
	dest := "stdout"
	if out != nil {
		if _, err := out.Write(data); err != nil {
			return fmt.Errorf("writing profile: %w", err)
		}
		if err := out.Commit(); err != nil {
			return err
		}
		dest = c.String("output")
	} else if _, err := c.App.Writer.Write(data); err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	if err := writeSidecar(sidecar, c.String("output"), data, provenance.Recorded("", recording.Syscalls, recording.Origins, completion)); err != nil {
		return err
	}
	fmt.Fprintln(c.App.ErrWriter, summary(recording, profile, time.Since(start), dest))
	warn(log, rec, recording)
	return &exitError{code: exitStatus(cmd.ProcessState)}
}

// buildOptions are the --exact and --groups flags.
func buildOptions(c *cli.Context, action profiles.Action) profiles.BuildOptions {
	return profiles.BuildOptions{DefaultAction: action, Exact: c.Bool("exact"), Groups: c.Bool("groups")}
}

// argsFlag chooses the syscall arguments whose values record captures
// and turns into argument rules.
func argsFlag() cli.Flag {
	names := make([]string, len(profiles.ArgGroups))
	for i, g := range profiles.ArgGroups {
		names[i] = string(g)
	}
	def := make([]string, len(profiles.DefaultArgGroups))
	for i, g := range profiles.DefaultArgGroups {
		def[i] = string(g)
	}
	return &cli.StringFlag{Name: "args", Value: strings.Join(def, ","),
		Usage: "capture the argument values of these syscall groups and allow those syscalls only with the values recorded: `LIST` of " + strings.Join(names, ", ") + ", or all, or none (name-only rules)"}
}

func argGroups(c *cli.Context) ([]profiles.ArgGroup, error) {
	groups, err := profiles.ParseArgGroups(c.String("args"))
	if err != nil {
		return nil, usageError("--args: %w", err)
	}
	return groups, nil
}

// summary is the one line that record prints on stderr.
func summary(r *recorder.Recording, p *profiles.Profile, took time.Duration, dest string) string {
	seen := map[string]bool{}
	for _, names := range r.Syscalls {
		for _, n := range names {
			seen[n] = true
		}
	}
	n := len(seen)
	arches := make([]string, len(p.Architectures))
	for i, a := range p.Architectures {
		arches[i] = string(a)
	}
	s := fmt.Sprintf("sysrec: %d syscalls (%s) from %d processes, %d threads in %s; profile written to %s",
		n, strings.Join(arches, ", "), r.Processes, r.Tasks-r.Processes, took.Round(time.Millisecond), dest)
	if r.Lost.Any() || len(r.Unnamed) > 0 || r.Live > 0 || r.Filtered > 0 {
		s += " (incomplete: see warnings)"
	}
	return s
}

// warn logs everything that makes a recording less than complete.
func warn(log *slog.Logger, rec *recorder.Recorder, r *recorder.Recording) {
	if r.Live > 0 {
		log.Warn("recording stopped while descendants still ran; their later syscalls are missing", "tasks", r.Live)
	}
	if r.Lost.Tasks > 0 {
		log.Warn("the kernel could not track some tasks; their syscalls are missing", "tasks", r.Lost.Tasks)
	}
	if r.Lost.OutOfRange > 0 {
		log.Warn("syscalls with numbers beyond sysrec's bitmap were seen and not recorded", "count", r.Lost.OutOfRange)
	}
	for arch, nrs := range r.Unnamed {
		what := "numbers missing from sysrec's table (a kernel newer than sysrec?)"
		if !syscalls.Known(arch) {
			what = "an ABI that sysrec has no table for"
		}
		log.Warn("syscalls left out of the profile: "+what, "arch", arch, "numbers", nrs)
	}
	if over := r.Args.Overflowed(); len(over) > 0 {
		log.Warn("more distinct argument values than the recorder keeps: these syscalls are allowed for any value", "syscalls", over, "captures", r.ArgOverflows)
	}
	if r.Filtered > 0 {
		log.Warn(filteredWarning(rec.FilterCapture()), "tasks", r.Filtered)
	}
	if s, err := rec.DropStats(); err == nil && s.TargetMissing > 0 {
		log.Warn("kernel-side drops: tasks pointed at target slots that did not exist", "count", s.TargetMissing)
	}
}

// filteredWarning says what a recording of tasks that ran under a seccomp
// filter holds, given how the recorder captured what the filter denied.
func filteredWarning(mode recorder.FilterCapture) string {
	if mode == recorder.CaptureNone {
		return "ran under a seccomp filter: the syscalls it denied never reached the recorder and are missing (record unconfined, or with --capture-denied sys-exit)"
	}
	return fmt.Sprintf("ran under a seccomp filter: the syscalls it denied were captured (%s), except one that killed the task", mode)
}

// exitStatus is the status a shell would report for the command.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// forwardedSignals catches SIGINT and SIGTERM, which record and run pass
// on to the command they started, until stop is called.
func forwardedSignals() (sigs <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	return ch, func() { signal.Stop(ch) }
}

// childCommand runs the program at path with argv, whose first word it
// keeps as the user typed it, on sysrec's own stdin, stdout and stderr.
func childCommand(path string, argv []string) *exec.Cmd {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd
}
