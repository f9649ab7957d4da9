package violations

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Source names where records are read from.
type Source string

// The sources.
const (
	Kmsg    Source = "kmsg"
	Audit   Source = "audit"
	Journal Source = "journal"
)

// ParseSource accepts kmsg, audit or journal.
func ParseSource(s string) (Source, error) {
	switch src := Source(s); src {
	case Kmsg, Audit, Journal:
		return src, nil
	}
	return "", fmt.Errorf("unknown source %q: want kmsg, audit or journal", s)
}

// Options say what Read reads.
type Options struct {
	Source Source
	// Follow keeps reading new records until ctx is done; otherwise Read
	// returns once the records the source holds are read. The audit
	// source holds none: it only follows.
	Follow bool
	// Since drops records older than this.
	Since time.Time
	// KmsgPath is the kernel log device, /dev/kmsg if empty.
	KmsgPath string
	// Args, with Follow, fills in each record's Args from the kernel's
	// events where it has them. Open it before Read starts, so that it
	// sees the syscalls of the first records.
	Args *ArgTracer
	// ArgsLogged says whether the filter that made r would have logged a
	// call with args: the profile's rules do. The tracer's fallback needs
	// it (see ArgTracer.Args); nil leaves its records without arguments.
	ArgsLogged func(r Record, args [6]uint64) bool
}

// Stats counts what a source said it dropped.
type Stats struct {
	// Suppressed counts records that printk's rate limit kept out of the
	// kernel log ("kauditd_printk_skb: N callbacks suppressed").
	Suppressed int `json:"suppressed"`
	// Lost counts records the audit subsystem itself lost (audit_lost=).
	Lost int `json:"lost"`
}

// Read calls fn for each seccomp record the source yields, in order. It
// returns when the source is exhausted (without Follow), when ctx is done,
// or when fn returns an error.
func Read(ctx context.Context, opts Options, fn func(Record) error) (Stats, error) {
	var st Stats
	keep := func(r Record) error {
		if r.Time.Before(opts.Since) || r.Comm == MarkerComm {
			return nil
		}
		if opts.Follow && opts.Args != nil {
			var logged func([6]uint64) bool
			if opts.ArgsLogged != nil {
				logged = func(args [6]uint64) bool { return opts.ArgsLogged(r, args) }
			}
			r.Args = opts.Args.Args(r, logged)
		}
		return fn(r)
	}
	switch opts.Source {
	case Kmsg, "":
		path := opts.KmsgPath
		if path == "" {
			path = "/dev/kmsg"
		}
		err := readKmsg(ctx, path, opts.Follow, func(line string) error { return scanLine(line, &st, keep) })
		return st, err
	case Journal:
		err := readJournal(ctx, opts, func(line string) error { return scanLine(line, &st, keep) })
		return st, err
	case Audit:
		if !opts.Follow {
			return st, errors.New("the audit source has no history, it only follows: add --follow, or read the kernel log with --source kmsg")
		}
		return st, readAudit(ctx, keep)
	}
	return st, fmt.Errorf("unknown source %q", opts.Source)
}

var (
	suppressedRE = regexp.MustCompile(`kauditd_printk_skb: (\d+) callbacks suppressed`)
	lostRE       = regexp.MustCompile(`audit_lost=(\d+)`)
)

// scanLine handles one kernel log message.
func scanLine(line string, st *Stats, fn func(Record) error) error {
	if m := suppressedRE.FindStringSubmatch(line); m != nil {
		n, _ := strconv.Atoi(m[1])
		st.Suppressed += n
		return nil
	}
	if m := lostRE.FindStringSubmatch(line); m != nil && !strings.Contains(line, "type=") {
		// "audit: audit_lost=N audit_rate_limit=..." is cumulative.
		n, _ := strconv.Atoi(m[1])
		st.Lost = max(st.Lost, n)
		return nil
	}
	r, ok, err := Parse(line)
	if err != nil || !ok {
		return nil // not a seccomp record; a malformed one is skipped too
	}
	return fn(r)
}

// scanKmsg reads /dev/kmsg records ("PRIO,SEQ,USEC,FLAGS;MESSAGE", one per
// read, continuation lines starting with a space) from r, for tests and
// for saved logs; Read uses the device itself.
func scanKmsg(r io.Reader, fn func(line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, " ") {
			continue
		}
		if err := fn(kmsgMessage(line)); err != nil {
			return err
		}
	}
	return sc.Err()
}

// kmsgMessage strips a /dev/kmsg record's header.
func kmsgMessage(rec string) string {
	if _, msg, ok := strings.Cut(rec, ";"); ok {
		msg, _, _ = strings.Cut(msg, "\n")
		return msg
	}
	return rec
}

// readKmsg reads the kernel log device from its oldest record on.
func readKmsg(ctx context.Context, path string, follow bool, fn func(string) error) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reading the kernel log: %w: run as root, or use --source journal", &os.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == nil:
			if e := fn(kmsgMessage(string(buf[:n]))); e != nil {
				return e
			}
			continue
		case errors.Is(err, unix.EPIPE):
			continue // overwritten before we read it; the next one follows
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EAGAIN):
			return fmt.Errorf("reading the kernel log: %w", err)
		}
		if !follow {
			return nil
		}
		if err := waitReadable(ctx, fd); err != nil {
			return err
		}
	}
}

// waitReadable returns when fd has data, or ctx.Err() when ctx is done.
// It sleeps in poll(2) until one of the two happens (ctx's end is an
// eventfd's write), so that a follower that waits for days wakes for
// nothing else.
func waitReadable(ctx context.Context, fd int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("waiting for the kernel log: %w", err)
	}
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(woken)
		unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	})
	defer func() {
		if !stop() {
			<-woken // the write must be done before efd is closed
		}
		unix.Close(efd)
	}()
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(efd), Events: unix.POLLIN}}
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for the kernel log: %w", err)
		}
		if fds[1].Revents != 0 {
			return ctx.Err()
		}
		if fds[0].Revents != 0 {
			return nil
		}
	}
}

// readJournal reads the kernel's messages from the systemd journal.
func readJournal(ctx context.Context, opts Options, fn func(string) error) error {
	args := []string{"-k", "-o", "cat", "--no-pager", "-q"}
	if !opts.Since.IsZero() {
		args = append(args, "--since", fmt.Sprintf("@%d", opts.Since.Unix()))
	}
	if opts.Follow {
		args = append(args, "-f")
	}
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("reading the journal: %w: is systemd-journald installed? or use --source kmsg", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var ferr error
	for sc.Scan() {
		if ferr = fn(sc.Text()); ferr != nil {
			break
		}
	}
	if ferr != nil {
		cmd.Process.Kill()
	}
	err = cmd.Wait()
	switch {
	case ferr != nil:
		return ferr
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("reading the journal: journalctl: %w", err)
	}
	return nil
}

// readAudit follows the audit multicast group: every record, with no rate
// limit, whether or not auditd runs.
func readAudit(ctx context.Context, fn func(Record) error) error {
	log, err := OpenAudit()
	if err != nil {
		return err
	}
	defer log.Close()
	for {
		r, err := log.Next(ctx)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}
