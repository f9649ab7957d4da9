package violations

import (
	"strings"
	"testing"
	"time"

	"github.com/sysrec/sysrec/syscalls"
)

func TestParse(t *testing.T) {
	stamp := time.Unix(1795395971, 678*int64(time.Millisecond)).UTC()
	for _, tc := range []struct {
		name, line string
		ok         bool
		want       Record
		err        string
	}{
		{
			name: "kernel log",
			line: `audit: type=1326 audit(1795395971.678:764): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=6977 comm="crun" exe="/usr/bin/crun" sig=0 arch=c000003e syscall=63 compat=0 ip=0x7f41ba8649f0 code=0x7ffc0000`,
			ok:   true,
			want: Record{Time: stamp, Serial: 764, PID: 6977, Comm: "crun", Exe: "/usr/bin/crun", Arch: syscalls.X86_64, Number: 63, Syscall: "uname", Action: "SCMP_ACT_LOG"},
		},
		{
			name: "auditd log, errno, hex comm",
			line: `type=SECCOMP msg=audit(1795395971.678:765): auid=1000 uid=1000 gid=1000 ses=2 pid=42 comm=6D7920617070 exe="/app" sig=0 arch=c00000b7 syscall=34 compat=0 ip=0x1 code=0x50001`,
			ok:   true,
			want: Record{Time: stamp, Serial: 765, PID: 42, UID: 1000, Comm: "my app", Exe: "/app", Arch: syscalls.AArch64, Number: 34, Syscall: "mkdirat", Action: "SCMP_ACT_ERRNO", Errno: 1},
		},
		{
			name: "netlink payload, kill with a signal, i386",
			line: `type=1326 audit(1795395971.678:766): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7 comm="a" exe="/a" sig=31 arch=40000003 syscall=1 compat=1 ip=0x1 code=0x80000000`,
			ok:   true,
			want: Record{Time: stamp, Serial: 766, PID: 7, Comm: "a", Exe: "/a", Signal: 31, Arch: syscalls.X86, Number: 1, Syscall: "exit", Action: "SCMP_ACT_KILL_PROCESS"},
		},
		{
			name: "x32",
			line: `type=1326 audit(1795395971.678:767): pid=8 comm="b" exe="/b" sig=0 arch=c000003e syscall=1073741824 compat=0 ip=0x1 code=0x7ffc0000`,
			ok:   true,
			want: Record{Time: stamp, Serial: 767, PID: 8, Comm: "b", Exe: "/b", Arch: syscalls.X32, Number: 0, Action: "SCMP_ACT_LOG"}, // sysrec has no x32 table,
		},
		{name: "a syscall record", line: `audit: type=1300 audit(1795395971.678:768): arch=c000003e syscall=59 success=yes exit=0 pid=9`},
		{name: "auditd syscall record", line: `type=SYSCALL msg=audit(1795395971.678:768): arch=c000003e syscall=59 success=yes exit=0 pid=9`},
		{name: "unrelated", line: `[  12.3] eth0: link up`},
		{name: "no pid", line: `audit: type=1326 audit(1795395971.678:769): comm="c" arch=c000003e syscall=1 code=0x7ffc0000`, err: "no pid= field"},
		{name: "bad stamp", line: `audit: type=1326 audit(yesterday): pid=1 arch=c000003e syscall=1 code=0x7ffc0000`, err: "want SECONDS.MILLIS:SERIAL"},
		{name: "unknown arch", line: `audit: type=1326 audit(1795395971.678:770): pid=1 arch=deadbeef syscall=1 code=0x7ffc0000`, err: "unknown arch=deadbeef"},
		{name: "pid out of range", line: `audit: type=1326 audit(1795395971.678:771): pid=18446744073709551615 arch=c000003e syscall=1 code=0x7ffc0000`, err: "pid=18446744073709551615"},
		{name: "arch past 32 bits", line: `audit: type=1326 audit(1795395971.678:772): pid=1 arch=1c000003e syscall=1 code=0x7ffc0000`, err: "arch=1c000003e"},
		{name: "syscall out of range", line: `audit: type=1326 audit(1795395971.678:773): pid=1 arch=c000003e syscall=9223372036854775809 code=0x7ffc0000`, err: "syscall=9223372036854775809"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := Parse(tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok {
				t.Fatalf("got ok %v, err %v; want ok %v and no error", ok, err, tc.ok)
			}
			if ok && got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestScanKmsgCounts(t *testing.T) {
	log := strings.Join([]string{
		`5,3015,10253498187,-;audit: type=1326 audit(1795396873.066:3018): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=20169 comm="wl" exe="/tmp/wl" sig=0 arch=c000003e syscall=63 compat=0 ip=0x436509 code=0x7ffc0000`,
		` SUBSYSTEM=audit`,
		`4,3016,10253498190,-;kauditd_printk_skb: 7 callbacks suppressed`,
		`4,3017,10253498191,-;audit: audit_lost=3 audit_rate_limit=0 audit_backlog_limit=64`,
		`6,3018,10253498192,-;eth0: link up`,
		`5,3019,10253498199,-;audit: type=1326 audit(1795396873.100:3019): pid=20170 comm="wl" exe="/tmp/wl" sig=0 arch=c000003e syscall=0 compat=0 ip=0x1 code=0x7ffc0000`,
	}, "\n")
	var (
		st   Stats
		recs []Record
	)
	err := scanKmsg(strings.NewReader(log), func(line string) error {
		return scanLine(line, &st, func(r Record) error { recs = append(recs, r); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Syscall != "uname" || recs[1].Syscall != "read" {
		t.Errorf("got %+v, want uname and read", recs)
	}
	if st != (Stats{Suppressed: 7, Lost: 3}) {
		t.Errorf("got %+v, want 7 suppressed and 3 lost", st)
	}
}
