package recorder

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ErrVerifierRejected is what errors.Is finds in an error of New when the
// kernel's verifier rejected one of sysrec's eBPF programs: the kernel
// cannot run that program as built, and no privilege changes that. The
// error is a *RejectedError.
var ErrVerifierRejected = errors.New("the kernel's verifier rejected an eBPF program")

// RejectedError says that the kernel's verifier rejected an eBPF program
// while the recorder loaded it. Its Error is one line that ends with the
// last lines of the verifier's log; formatting it with %+v prints the
// whole log (%-Nv the last N lines), as cilium/ebpf's VerifierError,
// which it wraps, does.
type RejectedError struct {
	// Op is what the recorder was doing, e.g. "loading eBPF objects".
	Op string
	// Program names the rejected program, e.g. "sys_exit_filtered"; empty
	// if the error did not say which of the programs loaded together it
	// was.
	Program string
	// Err holds the verifier's log.
	Err *ebpf.VerifierError
}

func (e *RejectedError) prefix() string {
	p := e.Program
	if p == "" {
		p = "(unknown)"
	}
	return fmt.Sprintf("%s: the kernel's verifier rejected eBPF program %s", e.Op, p)
}

func (e *RejectedError) Error() string {
	return e.prefix() + ": " + e.Err.Error()
}

// Unwrap gives the *ebpf.VerifierError, and through it the kernel's errno.
func (e *RejectedError) Unwrap() error { return e.Err }

// Is matches ErrVerifierRejected.
func (e *RejectedError) Is(target error) bool { return target == ErrVerifierRejected }

// Format prints Error for %s and %v; %+v, %-v and their widths print the
// verifier's log as ebpf.VerifierError does, after what was rejected.
func (e *RejectedError) Format(f fmt.State, verb rune) {
	if verb != 'v' || (!f.Flag('+') && !f.Flag('-')) {
		fmt.Fprint(f, e.Error())
		return
	}
	var spec strings.Builder
	spec.WriteByte('%')
	if f.Flag('+') {
		spec.WriteByte('+')
	}
	if f.Flag('-') {
		spec.WriteByte('-')
	}
	if w, ok := f.Width(); ok {
		fmt.Fprint(&spec, w)
	}
	spec.WriteByte('v')
	fmt.Fprintf(f, "%s: "+spec.String(), e.prefix(), e.Err)
}

// loadError describes err, from loading programs (loaded together) while
// doing op. A verifier rejection is a *RejectedError that names the
// program; a permission error without a verifier log (the kernel refused
// before verifying) says which privileges to grant; anything else is
// wrapped as it is.
func loadError(op string, err error, programs ...string) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		return &RejectedError{Op: op, Program: rejectedProgram(err, programs), Err: ve}
	}
	return fmt.Errorf("%s: %w", op, privilegeHint(err))
}

// rejectedProgram picks which of programs err is about: cilium/ebpf
// prefixes a collection's load errors with "program NAME: ".
func rejectedProgram(err error, programs []string) string {
	if len(programs) == 1 {
		return programs[0]
	}
	msg := err.Error()
	for _, p := range programs {
		if strings.HasPrefix(msg, "program "+p+": ") || strings.Contains(msg, ": program "+p+": ") {
			return p
		}
	}
	return ""
}

// privilegeHint adds what to do to a permission error from the kernel. A
// verifier rejection is not one, though the kernel reports most of them
// with EACCES (and some with EPERM): that error has the verifier's log.
func privilegeHint(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		return err
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: run as root or grant CAP_BPF and CAP_PERFMON", err)
	}
	return err
}
