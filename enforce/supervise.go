package enforce

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/sysrec/sysrec/internal/proc"
	"github.com/sysrec/sysrec/syscalls"
	"github.com/sysrec/sysrec/violations"
)

// flagLog is seccomp(2)'s SECCOMP_FILTER_FLAG_LOG: the kernel logs every
// action of the filter but allow (as far as
// /proc/sys/kernel/seccomp/actions_logged lets it, which by default
// includes errno, trap, kill and trace).
const flagLog = 1 << 1

// markerWait bounds the wait for the marker record after the command has
// exited. The audit subsystem delivers a record within microseconds; only
// a lost record (an overflowing backlog) makes the wait run out.
const markerWait = 5 * time.Second

// Denial is a syscall that a filter denied a supervised command, with how
// often it did.
type Denial struct {
	Syscall string        `json:"syscall"`
	Arch    syscalls.Arch `json:"arch"`
	Number  int           `json:"number"`
	// Action is what the filter did (SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS,
	// ...). The kernel's record leaves out the errno that an errno action
	// returned.
	Action string   `json:"action"`
	Count  int      `json:"count"`
	Comms  []string `json:"comms"`
}

// Name is the syscall's name, or its number where sysrec's tables do not
// know it.
func (d Denial) Name() string {
	if d.Syscall != "" {
		return d.Syscall
	}
	return fmt.Sprintf("syscall %d (%s)", d.Number, d.Arch)
}

// Report is what a supervised command did under its filter.
type Report struct {
	// State is the command's exit state.
	State *os.ProcessState
	// Denied lists what the filter denied the command and its
	// descendants, by syscall.
	Denied []Denial
	// Incomplete says why Denied may lack records, "" if it does not.
	Incomplete string
}

// Supervise runs cmd under filter f, as Start does, with the kernel
// logging every syscall that f denies, and reads the records from audit
// (which the caller opens before, so that none is missed). It forwards
// the signals that arrive on sigs to cmd while cmd runs, waits for cmd to
// exit, and reports what f denied to cmd and its descendants.
//
// A record is the command's when its pid is the command's, or when the
// process it names is a descendant of the command when the record is
// read; a descendant that exits before sysrec reads its record is missed.
func Supervise(ctx context.Context, cmd *exec.Cmd, f *Filter, audit *violations.AuditLog, sigs <-chan os.Signal, log *slog.Logger) (*Report, error) {
	logged := *f
	logged.Flags |= flagLog
	if err := Start(cmd, &logged); err != nil {
		return nil, err
	}
	root := cmd.Process.Pid

	readCtx, stopReading := context.WithCancel(ctx)
	records := make(chan auditItem, 1024)
	readErr := make(chan error, 1)
	readerDone := make(chan struct{})
	// The reader is gone before Supervise returns and the caller closes
	// audit.
	defer func() { stopReading(); <-readerDone }()
	go func() {
		defer close(readerDone)
		for {
			r, err := audit.Next(readCtx)
			if err != nil {
				readErr <- err
				return
			}
			it := auditItem{r: r, ours: r.PID == root || descends(r.PID, root)}
			select {
			case records <- it:
			case <-readCtx.Done():
				readErr <- readCtx.Err()
				return
			}
		}
	}()

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	denied := map[denialKey]*Denial{}
	add := func(r violations.Record) {
		key := denialKey{r.Arch, r.Number, r.Action}
		d := denied[key]
		if d == nil {
			d = &Denial{Syscall: r.Syscall, Arch: r.Arch, Number: r.Number, Action: r.Action}
			denied[key] = d
		}
		d.Count++
		if !slices.Contains(d.Comms, r.Comm) {
			d.Comms = append(d.Comms, r.Comm)
		}
	}

	var incomplete string
	var waitErr error
	running := true
	for running {
		select {
		case s := <-sigs:
			cmd.Process.Signal(s)
		case it := <-records:
			if it.ours {
				add(it.r)
			}
		case err := <-readErr:
			incomplete = err.Error()
			readErr = nil
		case waitErr = <-exited:
			running = false
		}
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return nil, fmt.Errorf("waiting for %s: %w", cmd.Args[0], waitErr)
	}

	if incomplete == "" {
		incomplete = drain(ctx, records, readErr, add, log)
	}
	return &Report{State: cmd.ProcessState, Denied: sorted(denied), Incomplete: incomplete}, nil
}

// auditItem is a record read while a command runs, and whether it is the
// command's.
type auditItem struct {
	r    violations.Record
	ours bool
}

// drain reads records until the marker that LogMarker leaves, which comes
// after every record made before the command exited. It says why the
// records may be incomplete, or "".
func drain(ctx context.Context, records <-chan auditItem, readErr <-chan error, add func(violations.Record), log *slog.Logger) string {
	marker, err := LogMarker()
	if err != nil {
		return err.Error()
	}
	timeout := time.NewTimer(markerWait)
	defer timeout.Stop()
	for {
		select {
		case it := <-records:
			if it.r.PID == marker {
				return ""
			}
			if it.ours {
				add(it.r)
			}
		case err := <-readErr:
			return err.Error()
		case <-timeout.C:
			log.Debug("the marker record did not arrive", "pid", marker)
			return fmt.Sprintf("the kernel's audit records did not all arrive within %s", markerWait)
		case <-ctx.Done():
			return ctx.Err().Error()
		}
	}
}

// descends says whether process pid is a descendant of process root now.
func descends(pid, root int) bool {
	for range 64 {
		st, err := proc.ReadStat("/proc", pid)
		ppid := st.PPID
		if err != nil || ppid <= 1 {
			return false
		}
		if ppid == root {
			return true
		}
		pid = ppid
	}
	return false
}

// denialKey tells Denials apart.
type denialKey struct {
	arch   syscalls.Arch
	number int
	action string
}

func sorted(m map[denialKey]*Denial) []Denial {
	out := make([]Denial, 0, len(m))
	for _, d := range m {
		slices.Sort(d.Comms)
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Denial) int {
		return cmp.Or(cmp.Compare(a.Name(), b.Name()), cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Action, b.Action))
	})
	return out
}
