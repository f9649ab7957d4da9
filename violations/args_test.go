package violations

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/syscalls"
)

// logCode is SECCOMP_RET_LOG, as the record's code= shows it.
const logCode = retLog

func newStore() *argStore {
	s := &argStore{}
	s.init()
	return s
}

func ev(pid, tid, nr int, exact bool, arg0 uint64, at time.Time) *event {
	return &event{pid: pid, tid: tid, number: nr, arch: syscalls.X86_64, exact: exact, code: logCode, args: [6]uint64{arg0}, at: at}
}

func rec(pid, nr int) Record {
	return Record{PID: pid, Number: nr, Arch: syscalls.X86_64, Action: "SCMP_ACT_LOG"}
}

// An exact event answers for the record of its syscall and action; the
// same thread's older events are dropped with it (their records were
// rate-limited away), another thread's are kept.
func TestClaimExact(t *testing.T) {
	now := time.Now()
	s := newStore()
	s.add(ev(10, 10, 41, true, 1, now)) // lost record
	s.add(ev(10, 11, 41, true, 2, now)) // another thread
	s.add(ev(10, 10, 63, true, 3, now))
	s.add(ev(10, 10, 41, true, 4, now))

	if e := s.claim(rec(10, 63), nil, now); e == nil || e.args[0] != 3 {
		t.Fatalf("uname: got %+v, want the event with 3", e)
	}
	// The thread's first socket event went with it; the other thread's
	// is next, then the last one.
	if e := s.claim(rec(10, 41), nil, now); e == nil || e.args[0] != 2 {
		t.Fatalf("socket: got %+v, want the other thread's event (2)", e)
	}
	if e := s.claim(rec(10, 41), nil, now); e == nil || e.args[0] != 4 {
		t.Fatalf("socket: got %+v, want 4", e)
	}
	if e := s.claim(rec(10, 41), nil, now); e != nil {
		t.Fatalf("socket again: got %+v, want none left", e)
	}
	if s.live != 0 || len(s.byPID) != 0 {
		t.Errorf("left %d events, %v", s.live, s.byPID)
	}

	// Another action, another ABI, another pid: no match.
	s.add(ev(10, 10, 41, true, 5, now))
	r := rec(10, 41)
	r.Action, r.Errno = "SCMP_ACT_ERRNO", 1
	if e := s.claim(r, nil, now); e != nil {
		t.Errorf("errno record: got %+v, want no match for a logged event", e)
	}
	r = rec(10, 41)
	r.Arch = syscalls.X86
	if e := s.claim(r, nil, now); e != nil {
		t.Errorf("i386 record: got %+v", e)
	}
	if e := s.claim(rec(11, 41), nil, now); e != nil {
		t.Errorf("pid 11: got %+v", e)
	}
}

// A candidate of the fallback answers only where logged says the filter
// logged its arguments; the unlogged calls before it are dropped.
func TestClaimCandidate(t *testing.T) {
	now := time.Now()
	s := newStore()
	s.add(ev(10, 10, 41, false, 2, now))  // allowed: AF_INET
	s.add(ev(10, 10, 41, false, 16, now)) // logged: AF_NETLINK
	s.add(ev(10, 10, 41, false, 2, now))  // allowed
	s.add(ev(10, 10, 41, false, 1, now))  // logged: AF_UNIX
	logged := func(args [6]uint64) bool { return args[0] != 2 }

	if e := s.claim(rec(10, 41), nil, now); e != nil {
		t.Fatalf("without logged: got %+v, want no answer from a candidate", e)
	}
	for _, want := range []uint64{16, 1} {
		if e := s.claim(rec(10, 41), logged, now); e == nil || e.args[0] != want {
			t.Fatalf("got %+v, want %d", e, want)
		}
	}
	if s.live != 0 {
		t.Errorf("left %d events, want the allowed calls dropped", s.live)
	}
}

// The store holds argsPerPID events of a process, argsTotal in all, none
// older than argsMaxAge.
func TestStoreLimits(t *testing.T) {
	now := time.Now()
	s := newStore()
	for i := range argsPerPID + 10 {
		s.add(ev(1, 1, 41, true, uint64(i), now))
	}
	if n := len(s.byPID[1]); n != argsPerPID || s.live != argsPerPID {
		t.Fatalf("one process: kept %d (live %d), want %d", n, s.live, argsPerPID)
	}
	if e := s.claim(rec(1, 41), nil, now); e == nil || e.args[0] != 10 {
		t.Fatalf("got %+v, want the oldest kept (10)", e)
	}

	s = newStore()
	for i := range argsTotal + 5 {
		s.add(ev(i, i, 41, true, uint64(i), now))
	}
	if s.live != argsTotal || len(s.byPID) != argsTotal {
		t.Fatalf("kept %d events of %d processes, want %d", s.live, len(s.byPID), argsTotal)
	}
	if e := s.claim(rec(0, 41), nil, now); e != nil {
		t.Errorf("pid 0: got %+v, want it evicted", e)
	}
	if len(s.all) > 2*s.live+64 {
		t.Errorf("the eviction order holds %d for %d live events", len(s.all), s.live)
	}

	s = newStore()
	s.add(ev(1, 1, 41, true, 1, now.Add(-argsMaxAge-time.Second)))
	s.add(ev(2, 2, 41, true, 2, now))
	if e := s.claim(rec(1, 41), nil, now); e != nil {
		t.Errorf("got %+v, want the old event expired", e)
	}
	if e := s.claim(rec(2, 41), nil, now); e == nil {
		t.Errorf("the recent event was dropped")
	}
}

// Events decode in the layout the kernel writes, and are named as
// records name their syscall.
func TestDecodeEvent(t *testing.T) {
	in := bpf.ViolationEvent{Args: [6]uint64{1, 2, 3, 4, 5, 6}, Nr: 41 | x32SyscallBit, Pid: 7, Tid: 8, Code: logCode, Exact: 1}
	var b bytes.Buffer
	if err := binary.Write(&b, binary.NativeEndian, &in); err != nil {
		t.Fatal(err)
	}
	out, ok := decodeEvent(b.Bytes())
	if !ok || out != in {
		t.Fatalf("got %+v, %v; want %+v", out, ok, in)
	}
	if _, ok := decodeEvent(b.Bytes()[:10]); ok {
		t.Errorf("a short sample decoded")
	}
	tr := &ArgTracer{native: syscalls.X86_64, compat: syscalls.X86}
	if e := tr.event(out, time.Now()); e.arch != syscalls.X32 || e.number != 41 || e.pid != 7 || e.tid != 8 || !e.exact {
		t.Errorf("x32: got %+v", e)
	}
	out.Compat, out.Nr = 1, 359
	if e := tr.event(out, time.Now()); e.arch != syscalls.X86 || e.number != 359 {
		t.Errorf("compat: got %+v", e)
	}
}

// A candidate answers only for a logged record: a call that the filter
// refused never reached the tracepoint.
func TestClaimCandidateOnlyLogged(t *testing.T) {
	now := time.Now()
	s := newStore()
	s.add(ev(10, 10, 41, false, 16, now))
	r := rec(10, 41)
	r.Action, r.Errno = "SCMP_ACT_ERRNO", 1
	all := func([6]uint64) bool { return true }
	if e := s.claim(r, all, now); e != nil {
		t.Fatalf("errno record: got %+v", e)
	}
	if e := s.claim(rec(10, 41), all, now); e == nil || e.args[0] != 16 {
		t.Fatalf("log record: got %+v, want 16", e)
	}
}

// Each program of the object passes the verifier of the running kernel,
// whichever attaches here: the kprobe's loads wherever kprobe programs
// load, even without CONFIG_KPROBES to attach it, and fentry where the
// kernel allows fentry programs at all.
func TestArgProgramsLoad(t *testing.T) {
	testenv.RequireBPF(t)
	spec, err := bpf.ViolationSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bpf.ViolationKprobe, bpf.ViolationFallback, bpf.ViolationFentry} {
		one := spec.Copy()
		one.Programs = map[string]*ebpf.ProgramSpec{name: one.Programs[name]}
		coll, err := ebpf.NewCollection(one)
		if err != nil {
			var ve *ebpf.VerifierError
			if name == bpf.ViolationFentry && !errors.As(err, &ve) {
				t.Logf("%s: not loaded here: %v", name, err)
				continue
			}
			t.Errorf("%s: %v", name, err)
			continue
		}
		coll.Close()
	}
}
