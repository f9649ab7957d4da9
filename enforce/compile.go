//go:build cgo

package enforce

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// Compile turns p into the filter that runc would load for a process with
// opts' capabilities on this host: the runtime's resolution of includes,
// excludes and archMap (profiles.Resolve), runc's translation into
// libseccomp rules (libcontainer/seccomp: errno defaults to EPERM, rules
// equal to the default action are skipped, a rule that names one argument
// twice is split, names libseccomp does not know are skipped), libseccomp's
// compilation, and runc's patch that makes syscalls newer than the profile
// return ENOSYS. The profile evaluator (Profile.Evaluate) follows the same
// steps; a differential test holds the two together.
func Compile(p *profiles.Profile, opts Options) (*Filter, error) {
	native, _, err := syscalls.Host()
	if err != nil {
		return nil, err
	}
	caps, kernel, err := opts.process()
	if err != nil {
		return nil, err
	}
	r, err := p.Resolve(native, caps, kernel)
	if err != nil {
		return nil, err
	}
	def, err := scmpAction(r.DefaultAction, r.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("compiling the profile: defaultAction: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("compiling the profile: %w", err)
	}
	defer f.Release()
	// Exec sets no_new_privs itself, only where it is needed.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("compiling the profile: %w", err)
	}
	for _, a := range r.Architectures {
		sa, err := scmpArch(a)
		if err != nil {
			return nil, fmt.Errorf("compiling the profile: %w", err)
		}
		if present, _ := f.IsArchPresent(sa); present {
			continue // the native one
		}
		if err := f.AddArch(sa); err != nil {
			return nil, fmt.Errorf("compiling the profile: adding architecture %s: %w", a, err)
		}
	}
	for i, s := range r.Syscalls {
		act, err := scmpAction(s.Action, s.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("compiling the profile: syscalls[%d]: %w", i, err)
		}
		if act == def {
			continue // runc: redundant with the default action
		}
		conds, split, err := conditions(s.Args)
		if err != nil {
			return nil, fmt.Errorf("compiling the profile: syscalls[%d]: %w", i, err)
		}
		for _, name := range s.Names {
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // runc: not known to this libseccomp; ignored
			}
			switch {
			case len(conds) == 0:
				err = f.AddRule(nr, act)
			case split:
				for _, c := range conds {
					if err = f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
						break
					}
				}
			default:
				err = f.AddRuleConditional(nr, act, conds)
			}
			if err != nil {
				return nil, fmt.Errorf("compiling the profile: syscalls[%d]: %s: %w", i, name, err)
			}
		}
	}
	prog, err := export(f)
	if err != nil {
		return nil, err
	}
	if enosysPatch(r) {
		prog = append(enosysStub(r), prog...)
	}
	flags, err := filterFlags(r.Flags)
	if err != nil {
		return nil, err
	}
	return &Filter{Program: prog, Flags: flags, NoNewPrivs: !opts.hasSysAdmin(caps)}, nil
}

func scmpAction(a profiles.Action, errnoRet *uint) (libseccomp.ScmpAction, error) {
	ret := int16(unix.EPERM)
	if errnoRet != nil {
		ret = int16(*errnoRet)
	}
	switch a {
	case profiles.ActKill, profiles.ActKillThread:
		return libseccomp.ActKillThread, nil
	case profiles.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case profiles.ActTrap:
		return libseccomp.ActTrap, nil
	case profiles.ActAllow:
		return libseccomp.ActAllow, nil
	case profiles.ActLog:
		return libseccomp.ActLog, nil
	case profiles.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case profiles.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case profiles.ActNotify:
		return 0, fmt.Errorf("%s needs a seccomp agent listening at listenerPath, which sysrec run is not", a)
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

var operators = map[profiles.Operator]libseccomp.ScmpCompareOp{
	profiles.OpNotEqual:     libseccomp.CompareNotEqual,
	profiles.OpLessThan:     libseccomp.CompareLess,
	profiles.OpLessEqual:    libseccomp.CompareLessOrEqual,
	profiles.OpEqualTo:      libseccomp.CompareEqual,
	profiles.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	profiles.OpGreaterThan:  libseccomp.CompareGreater,
	profiles.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// conditions converts a rule's arguments; split says that runc adds one
// rule per condition because an argument is named twice.
func conditions(args []profiles.Arg) (conds []libseccomp.ScmpCondition, split bool, err error) {
	seen := map[uint]bool{}
	for _, a := range args {
		op, ok := operators[a.Op]
		if !ok {
			return nil, false, fmt.Errorf("unknown operator %q", a.Op)
		}
		vals := []uint64{a.Value}
		if a.Op == profiles.OpMaskedEqual {
			vals = append(vals, a.ValueTwo)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, vals...)
		if err != nil {
			return nil, false, fmt.Errorf("argument %d: %w", a.Index, err)
		}
		split = split || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	return conds, split, nil
}

func scmpArch(a syscalls.Arch) (libseccomp.ScmpArch, error) {
	names := map[syscalls.Arch]string{
		syscalls.X86_64: "amd64", syscalls.X86: "x86", syscalls.X32: "x32",
		syscalls.AArch64: "arm64", syscalls.ARM: "arm",
	}
	n, ok := names[a]
	if !ok {
		return 0, fmt.Errorf("architecture %s: sysrec run supports %v", a, []syscalls.Arch{syscalls.X86_64, syscalls.X86, syscalls.X32, syscalls.AArch64, syscalls.ARM})
	}
	return libseccomp.GetArchFromString(n)
}

// export writes the filter's BPF through a memfd (libseccomp 2.5 has no
// in-memory export) and decodes it.
func export(f *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("sysrec-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("exporting the compiled filter: %w", err)
	}
	file := os.NewFile(uintptr(fd), "sysrec-bpf")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("exporting the compiled filter: %w", err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("exporting the compiled filter: %w", err)
	}
	data, err := io.ReadAll(file)
	if err != nil {
		return nil, fmt.Errorf("exporting the compiled filter: %w", err)
	}
	prog := make([]unix.SockFilter, len(data)/8)
	if err := binary.Read(bytes.NewReader(data), binary.NativeEndian, prog); err != nil {
		return nil, fmt.Errorf("decoding the compiled filter: %w", err)
	}
	return prog, nil
}
