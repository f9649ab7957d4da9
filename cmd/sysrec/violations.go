package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/sysrec/sysrec/containers"
	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/violations"
)

func violationsCommand() *cli.Command {
	return &cli.Command{
		Name:      "violations",
		Usage:     "list the kernel's seccomp audit records: what a LOG profile logged, or a filter killed or denied",
		ArgsUsage: " ",
		Description: "violations reads the kernel's seccomp audit records (type=1326), names\n" +
			"each syscall for its architecture, and attributes its process to a\n" +
			"container and workload through CRI while the process still runs.\n\n" +
			"Roll a profile out in stages: deploy it with defaultAction SCMP_ACT_LOG\n" +
			"(sysrec record --default-action log), run the workload, then add what\n" +
			"was logged:\n\n" +
			"   sysrec violations --since 1h --into profile.json\n\n" +
			"Sources: kmsg (the kernel log, the default; printk's rate limit keeps\n" +
			"records past 10 in 5 s out of it, and sysrec says how many), audit (the\n" +
			"audit netlink multicast group: every record, live only, with --follow)\n" +
			"and journal (journalctl -k).\n\n" +
			"A record does not carry the syscall's arguments. With --follow, sysrec\n" +
			"reads them from the kernel (eBPF, as root) for the records it follows,\n" +
			"so that --into widens a rule that allows a syscall only with some\n" +
			"argument values (socket for some address families) with the value the\n" +
			"workload used, rather than allowing every value. Such a syscall in a\n" +
			"record without arguments (read from the log's history) is not added:\n\n" +
			"   sysrec violations --follow --source audit --into profile.json",
		Flags: append([]cli.Flag{
			outputFlag(),
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new records until SIGINT or SIGTERM"},
			&cli.StringFlag{Name: "since", Usage: "only records from `T` on: a time (RFC 3339) or a duration ago (10m)"},
			&cli.StringFlag{Name: "source", Value: "kmsg", Usage: "read `SOURCE`: kmsg, audit or journal"},
			&cli.StringFlag{Name: "runtime-endpoint", Usage: "the CRI `ENDPOINT` that attributes processes to containers (default: containerd's, then CRI-O's socket; none: don't)"},
			&cli.StringFlag{Name: "into", Usage: "add the syscalls of the records listed to the allow list of profile `FILE` (rewritten atomically)"},
			&cli.StringSliceFlag{Name: "comm", Usage: "only records of processes whose command name is `NAME` (repeatable)"},
			&cli.IntFlag{Name: "pid", Usage: "only records of process `PID`"},
		}, containerFilterFlags("only records of containers")...),
		Action: listViolations,
	}
}

// violation is a record, with the container of its process where known.
type violation struct {
	violations.Record
	Container string `json:"container,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Workload  string `json:"workload,omitempty"`

	info *cri.Container // what CRI said, for the container filter
}

func listViolations(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("violations takes no arguments; got %q", c.Args().First())
	}
	log, err := logger(c)
	if err != nil {
		return err
	}
	format, err := checkOutput(c)
	if err != nil {
		return err
	}
	src, err := violations.ParseSource(c.String("source"))
	if err != nil {
		return usageError("--source: %w", err)
	}
	since, err := parseSince(c.String("since"), time.Now())
	if err != nil {
		return usageError("--since: %w", err)
	}
	filter, err := parseContainerFilter(c)
	if err != nil {
		return err
	}
	comms, pid := c.StringSlice("comm"), c.Int("pid")
	keep := func(v violation) bool {
		switch {
		case len(comms) > 0 && !slices.Contains(comms, v.Comm), pid != 0 && v.PID != pid:
			return false
		case filter.Set():
			return v.info != nil && filter.Match(v.info)
		}
		return true
	}
	var into *profiles.Profile
	if path := c.String("into"); path != "" {
		if into, err = profiles.ParseFile(path); err != nil {
			return fmt.Errorf("reading the profile to add to: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	attr := newAttributor(ctx, c.String("runtime-endpoint"), log)
	defer attr.close()
	opts := violations.Options{Source: src, Follow: c.Bool("follow"), Since: since}
	if opts.Follow {
		opts.Args, opts.ArgsLogged = openArgTracer(into, log)
		if opts.Args != nil {
			defer opts.Args.Close()
		}
	}

	var (
		all    []violation
		stream = newStream(c.App.Writer, format, c.Bool("follow"))
	)
	st, err := violations.Read(ctx, opts, func(r violations.Record) error {
		v := attr.attribute(ctx, r)
		if !keep(v) {
			return nil
		}
		all = append(all, v)
		return stream.write(v)
	})
	if err != nil && !(c.Bool("follow") && errors.Is(err, context.Canceled)) {
		return err
	}
	if !c.Bool("follow") {
		if all == nil {
			all = []violation{}
		}
		if err := writeOutput(c.App.Writer, format, all, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, violationHeader)
			for _, v := range all {
				fmt.Fprintln(tw, v.row())
			}
		}); err != nil {
			return err
		}
	}
	if st.Suppressed > 0 {
		log.Warn("the kernel log's rate limit suppressed records; read them all with --source audit --follow", "suppressed", st.Suppressed)
	}
	if st.Lost > 0 {
		log.Warn("the audit subsystem lost records", "lost", st.Lost)
	}
	if opts.Args != nil {
		if n := opts.Args.Dropped(); n > 0 {
			log.Warn("the kernel's buffer of syscall arguments overflowed; some records carry none", "dropped", n)
		}
	}
	if into != nil {
		return addToProfile(c.String("into"), into, all, opts.Follow, c.App.ErrWriter)
	}
	return nil
}

// openArgTracer starts reading the arguments of the records that
// violations follows. With a profile to add to, it watches the syscalls
// that the profile allows only with some argument values (for the
// kernels where only the fallback attaches), and tells a logged call from
// an allowed one by the profile's rules. It returns nils, having said why,
// where the kernel refuses.
func openArgTracer(into *profiles.Profile, log *slog.Logger) (*violations.ArgTracer, func(violations.Record, [6]uint64) bool) {
	var watch []string
	var logged func(violations.Record, [6]uint64) bool
	if into != nil {
		watch = into.ConditionalNames()
		logged = func(r violations.Record, args [6]uint64) bool {
			d, err := into.Evaluate(profiles.Query{Arch: r.Arch, Name: r.Syscall, Args: args})
			return err == nil && d.Action != profiles.ActAllow
		}
	}
	t, err := violations.OpenArgTracer(log, violations.ArgOptions{Watch: watch})
	switch {
	case err != nil && len(watch) > 0:
		log.Warn("the syscalls' arguments are not read: rules that allow "+strings.Join(watch, ", ")+" only with some argument values will not be widened", "err", err)
		return nil, nil
	case err != nil:
		log.Debug("the syscalls' arguments are not read", "err", err)
		return nil, nil
	}
	return t, logged
}

// parseSince reads --since: an RFC 3339 time, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: want a positive duration", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a time as 2006-01-02T15:04:05Z or a duration as 10m", s)
	}
	return t, nil
}

const violationHeader = "TIME\tPID\tCOMM\tARCH\tSYSCALL\tACTION\tCONTAINER"

func (v violation) row() string {
	name := v.Syscall
	if name == "" {
		name = fmt.Sprintf("#%d", v.Number)
	}
	ctr := "-"
	if v.Container != "" {
		ctr = v.Namespace + "/" + v.Pod + "/" + v.Container
	}
	return fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s\t%s", v.Time.Local().Format(time.DateTime), v.PID, v.Comm, v.Arch, name, v.Action, ctr)
}

// stream prints records as they arrive in --follow mode: JSON lines, YAML
// documents, or table rows under one header.
type stream struct {
	w       io.Writer
	format  string
	on      bool
	started bool
}

func newStream(w io.Writer, format string, follow bool) *stream {
	return &stream{w: w, format: format, on: follow}
}

func (s *stream) write(v violation) error {
	if !s.on {
		return nil
	}
	switch s.format {
	case "json":
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.w, "%s\n", data)
		return err
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.w, "---\n%s", data)
		return err
	}
	// Rows are not buffered for alignment: fixed tab stops instead.
	tw := tabwriter.NewWriter(s.w, 20, 8, 1, ' ', 0)
	if !s.started {
		fmt.Fprintln(tw, violationHeader)
		s.started = true
	}
	fmt.Fprintln(tw, v.row())
	return tw.Flush()
}

// attributor names the container of a record's process through CRI.
type attributor struct {
	conn  *cri.Conn
	procs *containers.Processes
}

// processTTL is how long the container of a process is kept: its pid may
// be reused, but never with the same start time.
const processTTL = 10 * time.Minute

func newAttributor(ctx context.Context, endpoint string, log *slog.Logger) *attributor {
	a := &attributor{}
	var lookup containers.Lookup
	conn, err := connect(ctx, endpoint, cri.None, "see --runtime-endpoint")
	switch {
	case err != nil:
		log.Warn("processes are not attributed to containers", "err", err)
	case conn.CRIErr != nil:
		log.Debug("no CRI runtime answered; processes are not attributed to containers", "err", conn.CRIErr)
	case conn.CRI != nil:
		lookup = conn.CRI
	}
	a.conn = conn
	a.procs = containers.NewProcesses(lookup, "/proc", processTTL, nil)
	return a
}

func (a *attributor) close() {
	if a.conn != nil {
		a.conn.Close()
	}
}

func (a *attributor) attribute(ctx context.Context, r violations.Record) violation {
	v := violation{Record: r}
	if info := a.procs.Container(ctx, r.PID); info != nil {
		v.Container, v.Pod, v.Namespace, v.Workload = info.Name, info.PodName, info.PodNamespace, info.Workload
		v.info = info
	}
	return v
}

// addToProfile adds the syscalls of vs to the allow list of p, read from
// path, and rewrites path. A syscall that p allows only with some
// argument values gets a rule for the value of each record; one whose
// record carries no arguments is left out, and said so.
func addToProfile(path string, p *profiles.Profile, vs []violation, followed bool, stderr io.Writer) error {
	var add []profiles.Violation
	var unnamed int
	for _, v := range vs {
		if v.Syscall == "" {
			unnamed++
			continue
		}
		add = append(add, profiles.Violation{Arch: v.Arch, Name: v.Syscall, Args: v.Args})
	}
	if unnamed > 0 {
		fmt.Fprintf(stderr, "sysrec: %d records name syscalls that sysrec's tables lack; they are not added\n", unnamed)
	}
	w, err := profiles.Widen(p, add)
	if err != nil {
		return fmt.Errorf("adding to %s: %w", path, err)
	}
	for _, s := range w.Skipped {
		hint := ""
		if s.Reason == profiles.SkipNoArgs {
			hint = "; run `sysrec violations --follow --into " + path + "` while the workload runs, or record it again and merge"
			if followed {
				hint = "; the kernel sent none for it (see the warnings above); record the workload again and merge"
			}
		}
		fmt.Fprintf(stderr, "sysrec: %s (%s) not added: %s%s\n", s.Name, s.Arch, s.Detail, hint)
	}
	data, err := profiles.Marshal(w.Profile)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data, filePerm(path)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sysrec: %d syscalls added to %s\n", w.Added, path)
	return nil
}

// filePerm keeps an existing file's permissions.
func filePerm(path string) os.FileMode {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode().Perm()
	}
	return 0o644
}
