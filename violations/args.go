package violations

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/syscalls"
)

// A seccomp audit record names a syscall but not its arguments, and a
// profile that allows a syscall only with some argument values (socket for
// some address families) can only be widened with the value the workload
// used. ArgTracer gets it from the kernel: an eBPF program on the function
// that makes the record (audit_seccomp) sends the task, the syscall and
// its arguments for each record, and ArgTracer joins them with the records
// that Read reads. Only live records can be joined: a record read from the
// kernel log's history was made before the program ran.
//
// Where the kernel allows neither fentry nor kprobes on that function, a
// fallback on the sys_enter tracepoint sends the arguments of the watched
// syscalls of every task under a seccomp filter, whenever the filter lets
// one through: an allowed call as well as a logged one. Such a candidate
// answers for a record only if the caller's test says that the filter
// would have logged a call with its arguments (the profile's rules do), and
// a call that the filter refuses (errno, kill) is not seen at all.

// The limits of what an ArgTracer keeps of events that no record has
// claimed yet: the kernel log's rate limit drops records, never events.
const (
	// argsPerPID is how many unclaimed events of one process are kept.
	argsPerPID = 256
	// argsTotal is how many unclaimed events are kept in all.
	argsTotal = 16384
	// argsMaxAge is how long an unclaimed event is kept.
	argsMaxAge = 5 * time.Minute
	// argsSyncTimeout bounds how long a lookup waits for the events that
	// the kernel sent before the record to be read.
	argsSyncTimeout = 2 * time.Second
	// argsClockSlack is how much earlier than the tracer's start a
	// record's time may be and still be joined: audit's clock is coarse.
	argsClockSlack = time.Second
	// argsFallbackWait bounds how long a lookup waits for the fallback's
	// event of a watched syscall: the tracepoint runs after seccomp made
	// the record, so the record can be read first.
	argsFallbackWait = 500 * time.Millisecond
)

// Attach names how an ArgTracer's program is attached.
type Attach string

// The ways of attaching, in the order they are tried.
const (
	AttachFentry     Attach = "fentry"
	AttachKprobe     Attach = "kprobe"
	AttachTracepoint Attach = "tracepoint" // the fallback
)

// ArgOptions say what an ArgTracer reads.
type ArgOptions struct {
	// Watch names the syscalls whose arguments the fallback sends, on every
	// ABI of the host; none means no fallback. Name the fewest that will
	// do: the fallback sends every call of them that a filter lets through.
	Watch []string
}

// actionLog is a record's Action for SECCOMP_RET_LOG.
const actionLog = "SCMP_ACT_LOG"

// auditFuncs are the kernel functions that make a seccomp audit record:
// audit_seccomp, and __audit_seccomp, its name in older kernels.
var auditFuncs = []string{"audit_seccomp", "__audit_seccomp"}

// ArgTracer reads the arguments of the syscalls that seccomp audit
// records name. It is safe for concurrent use.
type ArgTracer struct {
	log    *slog.Logger
	coll   *ebpf.Collection
	lnk    link.Link
	rd     *ringbuf.Reader
	stats  *ebpf.Map
	attach Attach
	fn     string
	start  time.Time
	native syscalls.Arch
	compat syscalls.Arch
	watch  map[syscalls.Arch]map[int]bool
	done   chan struct{} // closed when the reader goroutine ends

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on each event read
	consumed uint64        // events read from the ring
	readErr  error         // why the reader stopped, if it did
	store    argStore
}

// OpenArgTracer loads and attaches the program: fentry where the kernel
// allows it, else a kprobe, else the fallback if opts watch syscalls. It
// needs root (CAP_BPF and CAP_PERFMON), and a kernel with BTF and
// bpf_task_pt_regs (5.15). Events are collected from the moment it
// returns until Close.
func OpenArgTracer(log *slog.Logger, opts ArgOptions) (*ArgTracer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	native, compat, err := syscalls.Host()
	if err != nil {
		return nil, fmt.Errorf("reading syscall arguments: %w", err)
	}
	spec, err := bpf.ViolationSpec()
	if err != nil {
		return nil, fmt.Errorf("reading syscall arguments: %w", err)
	}
	t := &ArgTracer{log: log, native: native, compat: compat, changed: make(chan struct{}), done: make(chan struct{})}
	t.store.init()
	watch, err := t.watched(opts.Watch)
	if err != nil {
		return nil, err
	}
	var errs []error
	// The tries share the kernel's types, the most of a load's cost.
	cache := btf.NewCache()
	try := func(a Attach, fn string) bool {
		coll, lnk, err := attachArgs(spec, a, fn, watch, cache)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", a, fn, err))
			return false
		}
		t.coll, t.lnk, t.attach, t.fn = coll, lnk, a, fn
		return true
	}
	done := false
	for _, a := range []Attach{AttachFentry, AttachKprobe} {
		for _, fn := range auditFuncs {
			if done = try(a, fn); done {
				break
			}
		}
		if done {
			break
		}
	}
	if !done && len(t.watch) > 0 {
		done = try(AttachTracepoint, "sys_enter")
	}
	if !done {
		return nil, fmt.Errorf("reading syscall arguments: the kernel refused every way of hooking its seccomp audit records: %w", errors.Join(errs...))
	}
	log.Debug("reading the arguments of seccomp audit records", "attach", t.attach, "function", t.fn, "refused", errors.Join(errs...))
	t.stats = t.coll.Maps["violation_stats"]
	if t.rd, err = ringbuf.NewReader(t.coll.Maps["violation_events"]); err != nil {
		t.lnk.Close()
		t.coll.Close()
		return nil, fmt.Errorf("reading syscall arguments: %w", err)
	}
	t.start = time.Now()
	go t.read()
	return t, nil
}

// watched sets t.watch to the numbers of names on the host's ABIs, and
// returns them as the fallback's bitmaps.
func (t *ArgTracer) watched(names []string) (*bpf.ViolationWatch, error) {
	var w bpf.ViolationWatch
	t.watch = map[syscalls.Arch]map[int]bool{}
	abis := []syscalls.Arch{t.native, t.compat, ""}
	if t.native == syscalls.X86_64 {
		abis[2] = syscalls.X32
	}
	bits := len(w.Bits[0]) * 64
	for i, arch := range abis {
		if arch == "" {
			continue
		}
		for _, n := range names {
			nr, ok := syscalls.Number(arch, n)
			if !ok {
				continue
			}
			if nr < 0 || nr >= bits {
				return nil, fmt.Errorf("reading syscall arguments: %s is syscall %d on %s, past the %d the fallback watches", n, nr, arch, bits)
			}
			w.Bits[i][nr/64] |= 1 << (nr % 64)
			if t.watch[arch] == nil {
				t.watch[arch] = map[int]bool{}
			}
			t.watch[arch][nr] = true
		}
	}
	return &w, nil
}

// attachArgs loads the maps and one program of spec, and attaches it to
// the kernel function fn (the tracepoint for the fallback).
func attachArgs(spec *ebpf.CollectionSpec, a Attach, fn string, watch *bpf.ViolationWatch, cache *btf.Cache) (*ebpf.Collection, link.Link, error) {
	name := map[Attach]string{AttachFentry: bpf.ViolationFentry, AttachKprobe: bpf.ViolationKprobe, AttachTracepoint: bpf.ViolationFallback}[a]
	one := spec.Copy()
	prog := one.Programs[name]
	if prog == nil {
		return nil, nil, fmt.Errorf("the embedded eBPF object lacks program %s", name)
	}
	one.Programs = map[string]*ebpf.ProgramSpec{name: prog}
	if a == AttachFentry {
		prog.AttachTo = fn
	}
	coll, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{Cache: cache})
	if err != nil {
		return nil, nil, err
	}
	var lnk link.Link
	switch a {
	case AttachFentry:
		lnk, err = link.AttachTracing(link.TracingOptions{Program: coll.Programs[name], AttachType: ebpf.AttachTraceFEntry})
	case AttachKprobe:
		lnk, err = link.Kprobe(fn, coll.Programs[name], nil)
	case AttachTracepoint:
		// Set before the program runs: it sends nothing until then.
		if err = coll.Maps["violation_watched"].Put(uint32(0), watch); err == nil {
			lnk, err = link.AttachTracing(link.TracingOptions{Program: coll.Programs[name]})
		}
	}
	if err != nil {
		coll.Close()
		return nil, nil, err
	}
	return coll, lnk, nil
}

// Attached says how the program was attached, and to which function.
func (t *ArgTracer) Attached() (Attach, string) { return t.attach, t.fn }

// Exact reports whether each event answers for one record (fentry or
// kprobe), rather than being a candidate of the fallback.
func (t *ArgTracer) Exact() bool { return t.attach != AttachTracepoint }

// Dropped returns how many events the kernel could not send because the
// ring buffer was full.
func (t *ArgTracer) Dropped() uint64 {
	_, dropped, _ := t.counts()
	return dropped
}

func (t *ArgTracer) counts() (sent, dropped uint64, err error) {
	var c bpf.ViolationCounts
	if err := t.stats.Lookup(uint32(0), &c); err != nil {
		return 0, 0, fmt.Errorf("reading the count of syscall argument events: %w", err)
	}
	return c.Sent, c.Dropped, nil
}

// Close detaches the program and frees what it holds.
func (t *ArgTracer) Close() error {
	err := t.lnk.Close()
	t.rd.Close()
	<-t.done
	t.coll.Close()
	if err != nil {
		return fmt.Errorf("detaching the syscall argument reader: %w", err)
	}
	return nil
}

// read moves events from the ring into the store until the reader is
// closed.
func (t *ArgTracer) read() {
	defer close(t.done)
	var rec ringbuf.Record
	for {
		err := t.rd.ReadInto(&rec)
		if err != nil {
			t.mu.Lock()
			if !errors.Is(err, ringbuf.ErrClosed) {
				t.readErr = err
				t.log.Warn("reading syscall arguments stopped", "err", err)
			} else {
				t.readErr = ringbuf.ErrClosed
			}
			close(t.changed)
			t.mu.Unlock()
			return
		}
		ev, ok := decodeEvent(rec.RawSample)
		t.mu.Lock()
		if ok {
			t.store.add(t.event(ev, time.Now()))
		}
		t.consumed++
		close(t.changed)
		t.changed = make(chan struct{})
		t.mu.Unlock()
	}
}

// event is one event, with its syscall named as a record names it.
type event struct {
	pid    int
	tid    int
	arch   syscalls.Arch
	number int
	code   uint32
	exact  bool
	args   [6]uint64
	at     time.Time
	seq    uint64 // order of arrival
	gone   bool   // claimed or evicted
}

// event turns what the kernel sent into an event, the way Parse names a
// record's syscall.
func (t *ArgTracer) event(ev bpf.ViolationEvent, at time.Time) *event {
	e := &event{pid: int(ev.Pid), tid: int(ev.Tid), code: ev.Code, exact: ev.Exact != 0, args: ev.Args, at: at, arch: t.native, number: int(ev.Nr)}
	switch {
	case ev.Compat != 0 && t.compat != "":
		e.arch = t.compat
	case t.native == syscalls.X86_64 && ev.Nr >= 0 && ev.Nr&x32SyscallBit != 0:
		e.arch, e.number = syscalls.X32, int(ev.Nr&^x32SyscallBit)
	}
	return e
}

// decodeEvent reads an event in the host's byte order.
func decodeEvent(b []byte) (bpf.ViolationEvent, bool) {
	var ev bpf.ViolationEvent
	_, err := binary.Decode(b, binary.NativeEndian, &ev)
	return ev, err == nil
}

// Args returns the arguments of the syscall that r records, if the
// kernel sent them: nil for a record made before the tracer started, or
// whose event was dropped. The event is claimed: it answers for one
// record only. Events of the same thread sent before it are dropped:
// their records never arrived (the kernel log's rate limit), or, from the
// fallback, the filter let them through unlogged.
//
// logged says whether the filter that made r would have logged a call
// with args; only the fallback's candidates need it, and without it they
// answer for no record.
func (t *ArgTracer) Args(r Record, logged func(args [6]uint64) bool) *[6]uint64 {
	if r.Time.Before(t.start.Add(-argsClockSlack)) {
		return nil
	}
	t.sync()
	var deadline <-chan time.Time
	for {
		t.mu.Lock()
		e := t.store.claim(r, logged, time.Now())
		ch, stopped := t.changed, t.readErr != nil
		t.mu.Unlock()
		if e != nil {
			args := e.args
			return &args
		}
		if t.Exact() || logged == nil || stopped || r.Action != actionLog || !t.watch[r.Arch][r.Number] {
			return nil
		}
		// The fallback's event comes after the record is made.
		if deadline == nil {
			timer := time.NewTimer(argsFallbackWait)
			defer timer.Stop()
			deadline = timer.C
		}
		select {
		case <-ch:
		case <-deadline:
			return nil
		}
	}
}

// sync waits until every event the kernel had sent when it was called
// has been read. The kernel sends an event before it makes the record,
// so the event of a record the caller holds is then in the store.
func (t *ArgTracer) sync() {
	sent, _, err := t.counts()
	if err != nil {
		t.log.Debug("not waiting for syscall argument events", "err", err)
		return
	}
	deadline := time.NewTimer(argsSyncTimeout)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		if t.consumed >= sent || t.readErr != nil {
			t.mu.Unlock()
			return
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.log.Debug("timed out waiting for syscall argument events", "sent", sent)
			return
		}
	}
}

// argStore holds events that no record has claimed yet: per process in
// order of arrival, and all of them in order of arrival for eviction.
type argStore struct {
	byPID map[int][]*event
	all   []*event // oldest first; may hold events already gone
	live  int
	seq   uint64
}

func (s *argStore) init() { s.byPID = map[int][]*event{} }

// add stores e, evicting what the limits want out.
func (s *argStore) add(e *event) {
	s.seq++
	e.seq = s.seq
	s.expire(e.at)
	q := append(s.byPID[e.pid], e)
	if len(q) > argsPerPID {
		q[0].gone = true
		q = q[1:]
		s.live--
	}
	s.byPID[e.pid] = q
	s.all = append(s.all, e)
	s.live++
	for s.live > argsTotal {
		s.evictOldest()
	}
	if len(s.all) > 2*s.live+64 {
		s.compact()
	}
}

// expire drops events older than argsMaxAge.
func (s *argStore) expire(now time.Time) {
	for len(s.all) > 0 && (s.all[0].gone || now.Sub(s.all[0].at) > argsMaxAge) {
		if !s.all[0].gone {
			s.evictOldest()
			continue
		}
		s.all[0] = nil
		s.all = s.all[1:]
	}
}

// evictOldest drops the oldest live event.
func (s *argStore) evictOldest() {
	for len(s.all) > 0 {
		e := s.all[0]
		s.all[0] = nil
		s.all = s.all[1:]
		if e.gone {
			continue
		}
		s.remove(e)
		return
	}
}

// remove takes e out of its process's queue.
func (s *argStore) remove(e *event) {
	e.gone = true
	s.live--
	q := s.byPID[e.pid]
	for i, x := range q {
		if x == e {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(s.byPID, e.pid)
	} else {
		s.byPID[e.pid] = q
	}
}

// compact drops gone events from the eviction order.
func (s *argStore) compact() {
	out := make([]*event, 0, s.live)
	for _, e := range s.all {
		if !e.gone {
			out = append(out, e)
		}
	}
	s.all = out
}

// claim finds the oldest event of r's process that answers for r, takes
// it out, and drops the events of the same thread that came before it. An
// exact event answers for the record of its syscall, ABI and action; a
// candidate for a logged (SCMP_ACT_LOG) record of its syscall and ABI
// where logged says the filter logged its arguments. It returns nil if
// none answers.
func (s *argStore) claim(r Record, logged func([6]uint64) bool, now time.Time) *event {
	s.expire(now)
	q := s.byPID[r.PID]
	for i, e := range q {
		if e.number != r.Number || e.arch != r.Arch {
			continue
		}
		if e.exact {
			if a, errno := action(e.code); a != r.Action || errno != r.Errno {
				continue
			}
		} else if r.Action != actionLog || logged == nil || !logged(e.args) {
			// The tracepoint sees only the calls that the filter let through.
			continue
		}
		var stale []*event
		for _, o := range q[:i] {
			if o.tid == e.tid {
				stale = append(stale, o)
			}
		}
		for _, o := range stale {
			s.remove(o)
		}
		s.remove(e)
		return e
	}
	return nil
}
