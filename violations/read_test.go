package violations

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/syscalls"
)

func checkRecord(t *testing.T, r Record, pid int) {
	t.Helper()
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	if r.PID != pid || r.Syscall != "uname" || r.Arch != native || r.Action != "SCMP_ACT_LOG" || r.Comm != "workload" || time.Since(r.Time) > time.Minute {
		t.Errorf("got %+v, want a recent SCMP_ACT_LOG record of uname on %s from workload pid %d", r, native, pid)
	}
}

// A real SCMP_ACT_LOG record is read back from the kernel log.
func TestReadKmsg(t *testing.T) {
	testenv.RequireRoot(t)
	var got []Record
	pid := testenv.LogUntilSeen(t, func(pid int) bool {
		got = nil
		_, err := Read(context.Background(), Options{Source: Kmsg, Since: time.Now().Add(-10 * time.Second)}, func(r Record) error {
			if r.PID == pid {
				got = append(got, r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(got) > 0
	})
	if len(got) != 1 {
		t.Fatalf("got %d records of pid %d, want 1: %+v", len(got), pid, got)
	}
	checkRecord(t, got[0], pid)
}

// The audit multicast group delivers the same record live.
func TestReadAuditFollow(t *testing.T) {
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := make(chan Record, 16)
	done := make(chan error, 1)
	go func() {
		_, err := Read(ctx, Options{Source: Audit, Follow: true}, func(r Record) error {
			recs <- r
			return nil
		})
		done <- err
	}()
	// A record made once the reader has joined the group reaches it.
	testenv.WaitFor(t, 30*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("reading audit records: got %v before joining the group", err)
		default:
		}
		return testenv.AuditJoined(os.Getpid())
	})
	pid := testenv.RunLogged(t)
	for {
		select {
		case r := <-recs:
			if r.PID != pid {
				continue
			}
			checkRecord(t, r, pid)
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("after cancel: got %v, want context.Canceled", err)
			}
			return
		case err := <-done:
			t.Fatalf("reading audit records: %v", err)
		case <-ctx.Done():
			t.Fatalf("no audit record of pid %d within 60 s", pid)
		}
	}
}

func TestReadAuditNeedsFollow(t *testing.T) {
	_, err := Read(context.Background(), Options{Source: Audit}, func(Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "--follow") {
		t.Errorf("got %v, want an error that suggests --follow", err)
	}
}

func TestParseSource(t *testing.T) {
	for _, s := range []string{"kmsg", "audit", "journal"} {
		if got, err := ParseSource(s); err != nil || string(got) != s {
			t.Errorf("ParseSource(%q): got %q, %v", s, got, err)
		}
	}
	if _, err := ParseSource("syslog"); err == nil {
		t.Error(fmt.Sprintf("ParseSource(%q): got no error", "syslog"))
	}
}
