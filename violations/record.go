// Package violations reads the kernel's seccomp audit records: the
// type=1326 (AUDIT_SECCOMP) lines that a filter's SCMP_ACT_LOG action, and
// the kill, trap and errno actions where the kernel logs them, produce.
// They are how a profile is rolled out in stages: record, deploy with
// defaultAction SCMP_ACT_LOG, collect what was logged, add it, enforce.
//
// The same record reaches user space three ways, and each source reads
// one: the kernel log (/dev/kmsg, where printk's rate limit drops records
// past 10 in 5 seconds and says how many), the audit netlink multicast
// group (every record, live only, needs CAP_AUDIT_READ), and the systemd
// journal (journalctl -k). Parsing is pure Go and table-tested; the
// readers take their input from an io.Reader where they can.
package violations

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sysrec/sysrec/syscalls"
)

// AuditSeccomp is the audit record type of a seccomp event.
const AuditSeccomp = 1326

// Record is one seccomp audit record.
type Record struct {
	// Time is the audit event's time, from its audit(SECONDS.MILLIS:SERIAL)
	// stamp.
	Time   time.Time `json:"time"`
	Serial uint64    `json:"serial"`
	PID    int       `json:"pid"`
	UID    int       `json:"uid"`
	Comm   string    `json:"comm"`
	Exe    string    `json:"exe"`
	// Arch is the syscall's ABI, as a profile names it.
	Arch syscalls.Arch `json:"arch"`
	// Number is the syscall's number for Arch, and Syscall its name ("" if
	// sysrec's tables do not know it).
	Number  int    `json:"number"`
	Syscall string `json:"syscall"`
	// Action is what the filter did, in a profile's terms
	// (SCMP_ACT_LOG, SCMP_ACT_ERRNO, ...).
	Action string `json:"action"`
	// Errno is the errno that an SCMP_ACT_ERRNO action returned.
	Errno int `json:"errno,omitempty"`
	// Signal is the signal the action sent (sig=), 0 for none.
	Signal int `json:"signal,omitempty"`
	// Args are the syscall's six arguments, as the filter saw them, where
	// they are known: the record itself does not carry them, so only Read
	// with an ArgTracer fills them in, for records it follows live.
	Args *[6]uint64 `json:"args,omitempty"`
}

// AUDIT_ARCH values (include/uapi/linux/audit.h) of the ABIs sysrec names.
var auditArches = map[uint32]syscalls.Arch{
	0xc000003e: syscalls.X86_64,
	0x40000003: syscalls.X86,
	0xc00000b7: syscalls.AArch64,
	0x40000028: syscalls.ARM,
}

// x32SyscallBit marks an x32 syscall, which is audited as x86_64.
const x32SyscallBit = 0x40000000

// Seccomp return actions (include/uapi/linux/seccomp.h), as code= shows
// them.
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retUserNotif   = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	retActionFull  = 0xffff0000
	retData        = 0x0000ffff
)

// Parse parses one line that holds a seccomp audit record, as the kernel
// log ("audit: type=1326 audit(...): ..."), auditd's log ("type=SECCOMP
// msg=audit(...): ...") or the netlink payload ("audit(...): ...", with
// the type known from the message header) spell it. ok is false for lines
// that are not seccomp records.
func Parse(line string) (r Record, ok bool, err error) {
	i := strings.Index(line, "audit(")
	if i < 0 {
		return r, false, nil
	}
	prefix := line[:i]
	if strings.Contains(prefix, "type=") && !strings.Contains(prefix, "type=1326") && !strings.Contains(prefix, "type=SECCOMP") {
		return r, false, nil
	}
	rest := line[i+len("audit("):]
	end := strings.Index(rest, "):")
	if end < 0 {
		return r, false, fmt.Errorf("seccomp audit record %q: no end to its audit( stamp", line)
	}
	if r.Time, r.Serial, err = parseStamp(rest[:end]); err != nil {
		return r, false, fmt.Errorf("seccomp audit record %q: %w", line, err)
	}
	fields := splitFields(rest[end+2:])
	if _, ok := fields["syscall"]; !ok {
		return r, false, nil // another kind of audit record
	}
	if !strings.Contains(prefix, "type=") {
		// A netlink payload or a journal message: only seccomp records
		// have both syscall= and code=.
		if _, ok := fields["code"]; !ok {
			return r, false, nil
		}
	}
	// bits is the field's width in the kernel (pid_t, a syscall number
	// and a signal are positive ints; uid, arch and code are u32), so that
	// a value out of range is an error, not a negative or truncated one.
	num := func(key string, base, bits int) (uint64, error) {
		v, ok := fields[key]
		if !ok {
			return 0, fmt.Errorf("no %s= field", key)
		}
		if base == 16 {
			v = strings.TrimPrefix(v, "0x")
		}
		n, err := strconv.ParseUint(v, base, bits)
		if err != nil {
			return 0, fmt.Errorf("%s=%s: %w", key, v, err)
		}
		return n, nil
	}
	var errs []error
	get := func(key string, base, bits int) uint64 {
		n, err := num(key, base, bits)
		if err != nil {
			errs = append(errs, err)
		}
		return n
	}
	pid := get("pid", 10, 31)
	arch := get("arch", 16, 32)
	nr := get("syscall", 10, 31)
	code := get("code", 16, 32)
	if len(errs) > 0 {
		return r, false, fmt.Errorf("seccomp audit record %q: %w", line, errs[0])
	}
	r.PID = int(pid)
	if uid, err := num("uid", 10, 32); err == nil {
		r.UID = int(uid)
	}
	if sig, err := num("sig", 10, 31); err == nil {
		r.Signal = int(sig)
	}
	r.Comm = unquote(fields["comm"])
	r.Exe = unquote(fields["exe"])
	a, known := auditArches[uint32(arch)]
	if !known {
		return r, false, fmt.Errorf("seccomp audit record %q: unknown arch=%x", line, arch)
	}
	if a == syscalls.X86_64 && nr&x32SyscallBit != 0 {
		a, nr = syscalls.X32, nr&^x32SyscallBit
	}
	r.Arch, r.Number = a, int(nr)
	r.Syscall, _ = syscalls.Name(a, r.Number)
	r.Action, r.Errno = action(uint32(code))
	return r, true, nil
}

// parseStamp parses "1795395971.678:764".
func parseStamp(s string) (time.Time, uint64, error) {
	secs, serial, ok := strings.Cut(s, ":")
	if !ok {
		return time.Time{}, 0, fmt.Errorf("audit stamp %q: want SECONDS.MILLIS:SERIAL", s)
	}
	sec, frac, _ := strings.Cut(secs, ".")
	sn, err1 := strconv.ParseInt(sec, 10, 64)
	ms, err2 := strconv.ParseInt(frac, 10, 64)
	n, err3 := strconv.ParseUint(serial, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || len(frac) != 3 {
		return time.Time{}, 0, fmt.Errorf("audit stamp %q: want SECONDS.MILLIS:SERIAL", s)
	}
	return time.Unix(sn, ms*int64(time.Millisecond)).UTC(), n, nil
}

// splitFields splits "key=value key="quoted value" ..." into a map.
func splitFields(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				val, rest = rest, ""
			} else {
				val, rest = rest[:end+2], rest[end+2:]
			}
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		out[key] = val
		s = rest
	}
	return out
}

// unquote reads a field that audit either quotes or, when it holds
// unusual bytes, writes in hex.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	if v == "(null)" || v == "" {
		return ""
	}
	if b, err := hexDecode(v); err == nil {
		return string(b)
	}
	return v
}

func hexDecode(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("odd length")
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		n, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		out[i] = byte(n)
	}
	return out, nil
}

// action names a seccomp return value as a profile's action.
func action(code uint32) (string, int) {
	switch code & retActionFull {
	case retKillProcess:
		return "SCMP_ACT_KILL_PROCESS", 0
	case retKillThread:
		return "SCMP_ACT_KILL_THREAD", 0
	case retTrap:
		return "SCMP_ACT_TRAP", 0
	case retErrno:
		return "SCMP_ACT_ERRNO", int(code & retData)
	case retUserNotif:
		return "SCMP_ACT_NOTIFY", 0
	case retTrace:
		return "SCMP_ACT_TRACE", 0
	case retLog:
		return "SCMP_ACT_LOG", 0
	case retAllow:
		return "SCMP_ACT_ALLOW", 0
	}
	return fmt.Sprintf("0x%08x", code), 0
}
