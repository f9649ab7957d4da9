package recorder

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Caps is a set of Linux capabilities, bit N for capability N.
type Caps uint64

// Capabilities that loading and attaching sysrec's programs needs.
const (
	CapSysAdmin = 21
	CapPerfmon  = 38
	CapBPF      = 39
)

// Has reports whether c holds capability n.
func (c Caps) Has(n int) bool { return c&(1<<uint(n)) != 0 }

// CurrentCaps reads the effective capabilities of the calling thread.
func CurrentCaps() (Caps, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("reading capabilities: %w", err)
	}
	return Caps(data[0].Effective) | Caps(data[1].Effective)<<32, nil
}

// checkCaps fails early, with what to do, when the process cannot load
// tracing programs: that takes CAP_BPF and CAP_PERFMON (Linux 5.8+), or
// CAP_SYS_ADMIN.
func checkCaps(read func() (Caps, error)) error {
	c, err := read()
	if err != nil {
		return fmt.Errorf("checking privileges: %w", err)
	}
	if c.Has(CapSysAdmin) || (c.Has(CapBPF) && c.Has(CapPerfmon)) {
		return nil
	}
	var missing []string
	if !c.Has(CapBPF) {
		missing = append(missing, "CAP_BPF")
	}
	if !c.Has(CapPerfmon) {
		missing = append(missing, "CAP_PERFMON")
	}
	return fmt.Errorf("checking privileges: missing %s: run as root or grant CAP_BPF and CAP_PERFMON", strings.Join(missing, " and "))
}
