package violations

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

// FuzzParse checks that Parse never panics on a log line, and that every
// record it returns is one the kernel could have written: written back in
// the kernel's format, it parses to the same record.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 15s ./violations
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`audit: type=1326 audit(1795395971.678:764): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=6977 comm="crun" exe="/usr/bin/crun" sig=0 arch=c000003e syscall=63 compat=0 ip=0x7f41ba8649f0 code=0x7ffc0000`,
		`type=SECCOMP msg=audit(1795395971.678:765): auid=1000 uid=1000 gid=1000 ses=2 pid=42 comm=6D7920617070 exe="/app" sig=0 arch=c00000b7 syscall=34 compat=0 ip=0x1 code=0x50001`,
		`type=1326 audit(1795395971.678:766): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7 comm="a" exe="/a" sig=31 arch=40000003 syscall=1 compat=1 ip=0x1 code=0x80000000`,
		`type=1326 audit(1795395971.678:767): pid=8 comm="b" exe="/b" sig=0 arch=c000003e syscall=1073741824 compat=0 ip=0x1 code=0x7ffc0000`,
		`audit(1795396873.100:3019): pid=20170 comm="wl" exe="/tmp/wl" sig=0 arch=40000028 syscall=0 compat=0 ip=0x1 code=0x7ff00000`,
		`audit: type=1300 audit(1795395971.678:768): arch=c000003e syscall=59 success=yes exit=0 pid=9`,
		`audit: type=1326 audit(1795395971.678:769): comm="c" arch=c000003e syscall=1 code=0x7ffc0000`,
		`audit: type=1326 audit(yesterday): pid=1 arch=c000003e syscall=1 code=0x7ffc0000`,
		`audit: audit_lost=3 audit_rate_limit=0 audit_backlog_limit=64`,
		`[  12.3] eth0: link up`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		parseAuditMessage([]byte(line)) // must not panic either
		r, ok, err := Parse(line)
		if err != nil || !ok {
			if ok {
				t.Fatalf("Parse returned ok and %v", err)
			}
			return
		}
		if r.Time.Location().String() != "UTC" {
			t.Errorf("time %v: want UTC", r.Time)
		}
		if r.PID < 0 || r.UID < 0 || r.Signal < 0 || r.Number < 0 || r.Errno < 0 || r.Errno > retData {
			t.Errorf("out of range: %+v", r)
		}
		if r.Errno != 0 && r.Action != "SCMP_ACT_ERRNO" {
			t.Errorf("errno %d with action %s", r.Errno, r.Action)
		}
		if r.Syscall != "" {
			if name, ok := syscalls.Name(r.Arch, r.Number); !ok || name != r.Syscall {
				t.Errorf("syscall %s is not %s's number %d (%s)", r.Syscall, r.Arch, r.Number, name)
			}
		}
		again, ok, err := Parse(format(t, r))
		if err != nil || !ok || again != r {
			t.Fatalf("written back as\n%s\nit parses to %+v, %v, %v\nwant %+v", format(t, r), again, ok, err, r)
		}
	})
}

// format writes r as the kernel logs a seccomp record, with comm and exe
// in hex, as audit writes values with unusual bytes.
func format(t *testing.T, r Record) string {
	t.Helper()
	var arch uint32
	nr := r.Number
	for a, name := range auditArches {
		if name == r.Arch {
			arch = a
		}
	}
	if r.Arch == syscalls.X32 {
		arch, nr = 0xc000003e, nr|x32SyscallBit
	}
	if arch == 0 {
		t.Fatalf("Parse returned arch %q, which has no AUDIT_ARCH", r.Arch)
	}
	var code uint32
	switch r.Action {
	case "SCMP_ACT_KILL_PROCESS":
		code = retKillProcess
	case "SCMP_ACT_KILL_THREAD":
		code = retKillThread
	case "SCMP_ACT_TRAP":
		code = retTrap
	case "SCMP_ACT_ERRNO":
		code = retErrno | uint32(r.Errno)
	case "SCMP_ACT_NOTIFY":
		code = retUserNotif
	case "SCMP_ACT_TRACE":
		code = retTrace
	case "SCMP_ACT_LOG":
		code = retLog
	case "SCMP_ACT_ALLOW":
		code = retAllow
	default:
		if _, err := fmt.Sscanf(r.Action, "0x%08x", &code); err != nil {
			t.Fatalf("Parse returned action %q, neither a profile's action nor a code", r.Action)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "audit: type=1326 audit(%d.%03d:%d): auid=4294967295 uid=%d gid=0 ses=4294967295 pid=%d",
		r.Time.Unix(), r.Time.Nanosecond()/1e6, r.Serial, r.UID, r.PID)
	if r.Comm != "" {
		b.WriteString(" comm=" + strings.ToUpper(hex.EncodeToString([]byte(r.Comm))))
	}
	if r.Exe != "" {
		b.WriteString(" exe=" + strings.ToUpper(hex.EncodeToString([]byte(r.Exe))))
	}
	fmt.Fprintf(&b, " sig=%d arch=%x syscall=%d compat=0 ip=0x7f41ba8649f0 code=0x%x", r.Signal, arch, nr, code)
	return b.String()
}
