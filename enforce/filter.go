package enforce

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/recorder"
	"github.com/sysrec/sysrec/syscalls"
)

// Filter is a compiled profile, ready for the kernel.
type Filter struct {
	// Program is the filter's classic BPF.
	Program []unix.SockFilter
	// Flags are seccomp(2)'s SECCOMP_FILTER_FLAG_* bits from the
	// profile's flags.
	Flags uint32
	// NoNewPrivs: the process lacks CAP_SYS_ADMIN, so the kernel loads a
	// filter only after PR_SET_NO_NEW_PRIVS.
	NoNewPrivs bool
}

// Options describe the process a profile is compiled for.
type Options struct {
	// Caps are its capabilities ("CAP_SYS_ADMIN"), which includes and
	// excludes test; nil means this process's effective ones.
	Caps []string
	// Kernel is the kernel release that minKernel tests ("6.1"); empty
	// means the running kernel's.
	Kernel string
}

// process fills in what opts leaves to the running process.
func (o Options) process() (caps []string, kernel string, err error) {
	caps, kernel = o.Caps, o.Kernel
	if caps == nil {
		c, err := recorder.CurrentCaps()
		if err != nil {
			return nil, "", err
		}
		caps = profiles.CapabilityNames(uint64(c))
	}
	if kernel == "" {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			return nil, "", fmt.Errorf("reading the kernel release: %w", err)
		}
		kernel = kernelVersion(unix.ByteSliceToString(u.Release[:]))
	}
	return caps, kernel, nil
}

// kernelVersion keeps "6.18" of a release like "6.18.0-1-cloud-amd64".
func kernelVersion(release string) string {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return release
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	return parts[0] + "." + minor
}

func (o Options) hasSysAdmin(caps []string) bool {
	return slices.Contains(caps, "CAP_SYS_ADMIN")
}

// seccomp(2) filter flags, by the name a profile's flags use.
var filterFlagBits = map[profiles.Flag]uint32{
	"SECCOMP_FILTER_FLAG_TSYNC":              1 << 0,
	"SECCOMP_FILTER_FLAG_LOG":                1 << 1,
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW":         1 << 2,
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 1 << 5,
}

func filterFlags(flags []profiles.Flag) (uint32, error) {
	var bits uint32
	for _, f := range flags {
		b, ok := filterFlagBits[f]
		if !ok {
			return 0, fmt.Errorf("compiling the profile: flag %s: unknown", f)
		}
		bits |= b
	}
	return bits, nil
}

// enosysPatch says whether runc puts its ENOSYS stub in front of the
// filter (libcontainer/seccomp/patchbpf): unless the default action lets
// the syscall through or already returns ENOSYS.
func enosysPatch(r *profiles.Profile) bool {
	switch r.DefaultAction {
	case profiles.ActAllow, profiles.ActLog, profiles.ActTrace:
		return false
	}
	return r.DefaultErrnoRet == nil || *r.DefaultErrnoRet != uint(unix.ENOSYS)
}

// AUDIT_ARCH values of the architectures sysrec compiles for.
var auditArch = map[syscalls.Arch]uint32{
	syscalls.X86_64: unix.AUDIT_ARCH_X86_64, syscalls.X86: unix.AUDIT_ARCH_I386,
	syscalls.AArch64: unix.AUDIT_ARCH_AARCH64, syscalls.ARM: unix.AUDIT_ARCH_ARM,
}

// x32SyscallBit marks x32 syscalls, which share AUDIT_ARCH_X86_64.
const x32SyscallBit = 0x40000000

// enosysStub is the program runc prepends (patchbpf generateEnosysStub):
// for each architecture the profile lists (runc looks at no other, the
// native one included), a syscall numbered above the largest one the
// profile names for it returns ENOSYS, so that libc falls back from
// syscalls newer than the profile; everything else falls through to the
// filter. An architecture whose largest number is 0 gets no check, as in
// runc, and x32 syscalls are left to the filter.
func enosysStub(r *profiles.Profile) []unix.SockFilter {
	var arches []syscalls.Arch
	for _, a := range r.Architectures {
		if !slices.Contains(arches, a) {
			arches = append(arches, a)
		}
	}
	type limit struct {
		audit   uint32
		largest uint32
		x32     bool
	}
	var limits []limit
	for _, a := range arches {
		audit, ok := auditArch[a]
		if !ok {
			continue
		}
		largest := 0
		for _, s := range r.Syscalls {
			for _, n := range s.Names {
				if nr, ok := syscalls.Number(a, n); ok && nr > largest {
					largest = nr
				}
			}
		}
		if largest > 0 {
			limits = append(limits, limit{audit, uint32(largest), a == syscalls.X86_64})
		}
	}
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jgt   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ja    = unix.BPF_JMP | unix.BPF_JA
		ret   = unix.BPF_RET | unix.BPF_K
	)
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
	}
	// Each architecture's block: check the arch, load nr, (skip x32),
	// compare, then jump to the filter. Blocks are laid out so that a
	// mismatch falls into the next block.
	var blocks [][]unix.SockFilter
	for _, l := range limits {
		var b []unix.SockFilter
		b = append(b, stmt(ldAbs, 4))             // seccomp_data.arch
		body := []unix.SockFilter{stmt(ldAbs, 0)} // seccomp_data.nr
		if l.x32 {
			body = append(body, jump(jset, x32SyscallBit, 2, 0))
		}
		body = append(body,
			jump(jgt, l.largest, 0, 1),
			stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)),
		)
		b = append(b, jump(jeq, l.audit, 0, uint8(len(body)+1)))
		b = append(b, body...)
		blocks = append(blocks, b)
	}
	// A block that matched its arch but not the limit jumps over the rest
	// of the stub: every block ends at ret, and its "not greater" (and
	// x32) branch lands right after it, where the jump over the remaining
	// blocks is.
	var out []unix.SockFilter
	for i, b := range blocks {
		out = append(out, b...)
		rest := 0
		for _, later := range blocks[i+1:] {
			rest += len(later) + 1
		}
		out = append(out, stmt(ja, uint32(rest)))
	}
	return out
}
