package violations_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/enforce"
	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
	"github.com/sysrec/sysrec/violations"
)

// socketsChild makes the test binary, run with it set, open sockets of the
// families it names and exit, before any test runs.
const socketsChild = "SYSREC_TEST_SOCKETS"

// The families the child opens, and their types.
var childSockets = []struct{ family, typ int }{
	{unix.AF_INET, unix.SOCK_DGRAM},
	{unix.AF_NETLINK, unix.SOCK_RAW},
	{unix.AF_INET, unix.SOCK_DGRAM},
	{unix.AF_UNIX, unix.SOCK_STREAM},
}

func init() {
	if os.Getenv(socketsChild) != "1" {
		return
	}
	for _, s := range childSockets {
		fd, err := unix.Socket(s.family, s.typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			os.Exit(3)
		}
		unix.Close(fd)
	}
	os.Exit(0)
}

// socketProfile allows every syscall of the host's ABI, socket only for
// AF_INET datagram sockets, and logs the rest.
func socketProfile(t *testing.T) *profiles.Profile {
	t.Helper()
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	inet, _, _ := profiles.ArgValue(native, "socket", [6]uint64{unix.AF_INET, unix.SOCK_DGRAM})
	p, err := profiles.GenerateArgs(map[syscalls.Arch][]string{native: syscalls.Names(native)},
		profiles.RecordedArgs{native: {"socket": {Values: []uint64{inet}}}}, profiles.ActLog)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The arguments of real logged syscalls reach their records: a child
// opens AF_INET, AF_NETLINK and AF_UNIX sockets under a profile that
// logs all but AF_INET, and Read gives the two logged records the
// families they were called with.
func TestArgTracer(t *testing.T) {
	testenv.RequireBPF(t)
	p := socketProfile(t)
	filter, err := enforce.Compile(p, enforce.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tracer, err := violations.OpenArgTracer(slog.New(slog.DiscardHandler), violations.ArgOptions{Watch: []string{"socket"}})
	if err != nil {
		t.Fatalf("OpenArgTracer: %v", err)
	}
	defer tracer.Close()
	how, fn := tracer.Attached()
	t.Logf("attached by %s to %s", how, fn)

	logged := func(r violations.Record, args [6]uint64) bool {
		d, err := p.Evaluate(profiles.Query{Arch: r.Arch, Name: r.Syscall, Args: args})
		return err == nil && d.Action != profiles.ActAllow
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	records := make(chan violations.Record, 64)
	readErr := make(chan error, 1)
	go func() {
		_, err := violations.Read(ctx, violations.Options{Source: violations.Audit, Follow: true, Args: tracer, ArgsLogged: logged}, func(r violations.Record) error {
			select {
			case records <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		readErr <- err
	}()
	testenv.WaitFor(t, 30*time.Second, func() error { return testenv.AuditJoined(os.Getpid()) })

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), socketsChild+"=1")
	if err := enforce.Start(cmd, filter); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child: %v (exit 3: a socket call failed)", err)
	}
	pid := cmd.Process.Pid

	var got []uint64
	for len(got) < 2 {
		select {
		case r := <-records:
			if r.PID != pid {
				continue
			}
			if r.Syscall != "socket" || r.Action != string(profiles.ActLog) {
				t.Fatalf("got a record of %s (%s), want only socket logged", r.Syscall, r.Action)
			}
			if r.Args == nil {
				t.Fatalf("the record of socket carries no arguments: %+v", r)
			}
			got = append(got, r.Args[0])
		case err := <-readErr:
			t.Fatalf("Read ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("got the families %v of pid %d's logged socket calls by the deadline, want 2", got, pid)
		}
	}
	if want := []uint64{unix.AF_NETLINK, unix.AF_UNIX}; !slices.Equal(got, want) {
		t.Errorf("got families %v, want %v in order", got, want)
	}
	cancel()
	if err := <-readErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Read: got %v, want context.Canceled", err)
	}
	if n := tracer.Dropped(); n != 0 {
		t.Errorf("the kernel dropped %d events", n)
	}
}
