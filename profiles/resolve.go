package profiles

import (
	"fmt"
	"slices"

	"github.com/sysrec/sysrec/syscalls"
)

// Resolve does what containerd, CRI-O and Docker do before they hand a
// profile to the OCI runtime, for one process on a host whose native
// architecture is native, with capabilities caps, on kernel release
// kernel ("" ignores minKernel): it keeps the rules whose includes and
// excludes select that process (see applies), turns errno names into
// numbers, and takes the archMap entry of the native architecture. The
// result has no includes, excludes, archMap or errno names: it is the OCI
// runtime-spec LinuxSeccomp form, which runc and crun compile.
func (p *Profile) Resolve(native syscalls.Arch, caps []string, kernel string) (*Profile, error) {
	var kv [2]uint64
	if kernel != "" {
		k, m, err := parseKernel(kernel)
		if err != nil {
			return nil, fmt.Errorf("resolving the profile: %w", err)
		}
		kv = [2]uint64{k, m}
	}
	out := &Profile{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  errnoOf(p.DefaultErrnoRet, p.DefaultErrno),
		Architectures:    slices.Clone(p.Architectures),
		Flags:            slices.Clone(p.Flags),
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	for _, m := range p.ArchMap {
		if m.Arch != native {
			continue
		}
		for _, a := range append([]syscalls.Arch{m.Arch}, m.SubArches...) {
			if !slices.Contains(out.Architectures, a) {
				out.Architectures = append(out.Architectures, a)
			}
		}
	}
	host := goArch(native)
	for i := range p.Syscalls {
		s := &p.Syscalls[i]
		if !applies(s, host, caps, kernel != "", kv) {
			continue
		}
		out.Syscalls = append(out.Syscalls, Syscall{
			Names:    s.AllNames(),
			Action:   s.Action,
			ErrnoRet: errnoOf(s.ErrnoRet, s.Errno),
			Args:     slices.Clone(s.Args),
			Comment:  s.Comment,
		})
	}
	return out, nil
}

// errnoOf is the errno a rule returns: its errno name, which
// containers-common lets override the number, else the number.
func errnoOf(ret *uint, name string) *uint {
	if name != "" {
		if v, ok := errnoName(name); ok {
			return &v
		}
	}
	if ret == nil {
		return nil
	}
	v := *ret
	return &v
}

// CapabilityNames names the capabilities in set, bit N for capability N,
// as includes and excludes spell them.
func CapabilityNames(set uint64) []string {
	var out []string
	for i, name := range capabilities {
		if set&(1<<uint(i)) != 0 {
			out = append(out, name)
		}
	}
	return out
}
