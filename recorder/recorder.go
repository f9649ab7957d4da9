// Package recorder loads sysrec's eBPF programs, decides which tasks are
// traced, and reads back the syscalls each target made.
//
// Syscalls are aggregated in the kernel: each target owns a slot of a BPF
// array with one bitmap per ABI, and a task belongs to a target through
// task-local storage that the fork hook copies from parent to child. A
// running task keeps its native syscalls in an entry of its own, merged
// into the target when it exits (and by Recording while it runs). User
// space only reads bitmaps, so no event can be lost on the way, however
// fast the workload makes syscalls. Why the kernel side is shaped like this
// is measured in docs/performance.md.
//
// The values of a few scalar syscall arguments (Options.ArgGroups) are
// kept in the target's slot too, per ABI: bitmaps for small domains such
// as socket families, bounded value sets with an overflow flag for open
// ones such as ioctl requests. A syscall outside the captured set pays one
// bit test in the kernel. Recording.Args decodes them.
//
// Provenance (Recording.Origins) is the exception to user space only
// reading: the task that sets a syscall's bit in its target's bitmap first
// sends an event naming itself, and a traced task's exec sends one naming
// the file, through a ring buffer. That happens once per syscall and
// target, never per syscall, so a syscall whose bit is set costs what it
// did before; an event that does not fit is counted
// (Recording.EventsLost), and only costs the origin, never the syscall.
//
// A command is recorded from its own execve on: StartCommand registers the
// calling OS thread as a launcher, so the kernel marks only the child that
// this thread forks, and activates it when that child execs.
//
// In container mode (Options.ContainerRoots) the kernel side gives each
// container cgroup a target when a task first execs in it. A recorder can
// run for as long as the node does: once a container's cgroup is removed
// and its last task has exited, the container is finished, and
// PopFinished returns its recording once and frees its target slot, its
// cgroup_tags entry and its name, which the next new container reuses.
// What the recorder holds is bounded by the containers that run, or have
// finished and are not yet popped, never by how many came and went.
package recorder

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// DefaultKernelBTF is where the running kernel exposes its BTF.
const DefaultKernelBTF = "/sys/kernel/btf/vmlinux"

// DefaultMaxTargets is how many targets can be recorded at once.
const DefaultMaxTargets = 4096

// DefaultTaskSlots is how many per-task entries the kernel side keeps.
const DefaultTaskSlots = 16384

// Options configure a Recorder.
type Options struct {
	// Logger receives debug and warning messages. Nil discards them.
	Logger *slog.Logger
	// KernelBTF is the kernel's BTF file, DefaultKernelBTF if empty. Set it
	// when the host's /sys is mounted elsewhere, as in a privileged pod.
	KernelBTF string
	// MaxTargets bounds the number of concurrent targets;
	// DefaultMaxTargets if zero. In container mode, half of them are for
	// container cgroups: a finished container's is reused once
	// PopFinished has returned it.
	MaxTargets uint32
	// TaskSlots is the number of per-task entries, a power of two;
	// DefaultTaskSlots if zero. A traced task whose entry another task holds
	// is still recorded, through a slower path.
	TaskSlots uint32
	// Capabilities reports the effective capabilities of this process;
	// tests replace it. Nil reads them from the kernel.
	Capabilities func() (Caps, error)

	// ContainerRoots turns on container mode: a task that execs in a
	// cgroup below one of these cgroup v2 directories (as
	// /sys/fs/cgroup/kubepods) is recorded in a target of its own cgroup,
	// from that execve on. Tasks that already run in such a cgroup when New
	// returns are recorded from then on, and their target's recording
	// counts them in Adopted. Cgroups returns those targets. At most 8.
	ContainerRoots []string

	// FilterCapture says how the syscalls that a seccomp filter denies are
	// recorded (see Recorder.FilterCapture); CaptureAuto if zero. Tasks
	// under a filter are counted in Recording.Filtered whatever it says.
	FilterCapture FilterCapture

	// ArgGroups are the syscall arguments whose values are captured
	// (profiles.ArgGroups); none if empty. Recording.Args holds them.
	ArgGroups []profiles.ArgGroup

	// portable loads sys_enter_portable even where sys_enter loads, so
	// tests cover the fallback.
	portable bool
	// editSpec, when set, changes the prepared objects before they load,
	// so tests cover what a kernel's verifier may reject.
	editSpec func(*ebpf.CollectionSpec)
}

// Recorder holds the loaded programs and their links. It is safe for
// concurrent use.
type Recorder struct {
	log   *slog.Logger
	objs  objects
	links []link.Link
	host  host

	mu    sync.Mutex
	free  []uint32          // target ids not in use
	names map[uint64]string // container mode: cgroup id → cgroup name
	// prov holds each target's provenance (origins.go), by target id.
	prov map[uint32]*targetOrigins
	// commandTargets is the first target id that the kernel side hands to
	// a container cgroup: ids below are StartCommand's.
	commandTargets uint32

	events     *ringbuf.Reader // the kernel side's events: cgroups, origins, execs
	eventsDone chan struct{}
	flushed    chan struct{} // the event reader has read all that a Flush found
	drainMu    sync.Mutex    // one drain at a time, so each Flush gets its signal

	// snapMu keeps PopFinished from freeing a target while Cgroups or
	// CgroupIDs read it, and two PopFinished calls apart.
	snapMu sync.Mutex
	// retired holds, by target id, finished container cgroups whose tag
	// PopFinished deleted but that a task joined meanwhile (see
	// PopFinished); guarded by mu.
	retired map[uint32]uint64
	// grace and graceInner are a map-in-map whose update waits until the
	// BPF programs running then have returned (waitForPrograms).
	grace, graceInner *ebpf.Map
	// cgroupFS is an open container root: PopFinished opens cgroups by id
	// (their file handle) on its file system; -1 outside container mode.
	cgroupFS int
	// tagsDeleted, when set, runs where PopFinished has deleted the tags
	// of finished cgroups: tests make a task join there.
	tagsDeleted func()

	// capture is the program that records the syscalls that seccomp
	// filters deny, and how it attaches; nil and CaptureNone when none.
	capture     *ebpf.Program
	captureMode FilterCapture
}

// FilterCapture is how a recorder records the syscalls that a seccomp
// filter denies, which never reach the sys_enter tracepoint.
type FilterCapture string

const (
	// CaptureAuto uses CaptureEntry where the kernel allows it, else
	// CaptureNone.
	CaptureAuto FilterCapture = ""
	// CaptureEntry sees each syscall of a task under a filter at the
	// kernel's seccomp entry (fentry on __secure_computing), before the
	// filter decides. Tasks without a filter pay nothing.
	CaptureEntry FilterCapture = "seccomp-entry"
	// CaptureExit sees denied syscalls at the sys_exit tracepoint, which
	// works wherever recording does, but runs one more program on every
	// syscall of every task on the machine.
	CaptureExit FilterCapture = "sys-exit"
	// CaptureNone records only what reaches sys_enter.
	CaptureNone FilterCapture = "none"
)

// ParseFilterCapture accepts auto, seccomp-entry, sys-exit or none.
func ParseFilterCapture(s string) (FilterCapture, error) {
	switch m := FilterCapture(s); m {
	case "auto":
		return CaptureAuto, nil
	case CaptureEntry, CaptureExit, CaptureNone:
		return m, nil
	}
	return "", fmt.Errorf("unknown filter capture %q: want auto, seccomp-entry, sys-exit or none", s)
}

// New checks privileges and kernel support, then loads and attaches the
// programs. Close releases them.
func New(opts Options) (*Recorder, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	native, compat, err := syscalls.Host()
	if err != nil {
		return nil, err
	}
	capsFn := opts.Capabilities
	if capsFn == nil {
		capsFn = CurrentCaps
	}
	if err := checkCaps(capsFn); err != nil {
		return nil, err
	}
	btfPath := opts.KernelBTF
	if btfPath == "" {
		btfPath = DefaultKernelBTF
	}
	kernel, err := loadKernelBTF(btfPath)
	if err != nil {
		return nil, err
	}
	maxTargets := opts.MaxTargets
	if maxTargets == 0 {
		maxTargets = DefaultMaxTargets
	}
	if err := raiseMemlock(); err != nil {
		log.Debug("raising RLIMIT_MEMLOCK failed; continuing", "err", err)
	}

	spec, err := bpf.Spec()
	if err != nil {
		return nil, fmt.Errorf("reading embedded eBPF objects: %w", err)
	}
	spec.Maps["targets"].MaxEntries = maxTargets
	slots := opts.TaskSlots
	if slots == 0 {
		slots = DefaultTaskSlots
	}
	if slots&(slots-1) != 0 {
		return nil, fmt.Errorf("task slots: got %d, want a power of two", slots)
	}
	spec.Maps["task_slots"].MaxEntries = slots
	// Every target could be a container's: neither map can fill up first.
	spec.Maps["cgroup_tags"].MaxEntries = maxTargets
	spec.Maps["free_cgroup_targets"].MaxEntries = maxTargets
	// In container mode the kernel side hands out the upper half of the
	// target ids, one per container cgroup; commands get the lower half.
	commandTargets := maxTargets
	if len(opts.ContainerRoots) > 0 {
		if len(opts.ContainerRoots) > MaxContainerRoots {
			return nil, fmt.Errorf("container roots: got %d, want at most %d", len(opts.ContainerRoots), MaxContainerRoots)
		}
		commandTargets = maxTargets / 2
	}
	// init's mount namespace is the host's; where init cannot be
	// inspected, sysrec's own stands in for it. Only container mode reads
	// it.
	var hostMntNS uint32
	if len(opts.ContainerRoots) > 0 {
		hostMntNS, err = mntNamespace("/proc/1/ns/mnt")
		if err != nil {
			hostMntNS, err = mntNamespace("/proc/self/ns/mnt")
		}
		if err != nil {
			return nil, err
		}
	}
	rootIDs, err := cgroupIDs(opts.ContainerRoots)
	if err != nil {
		return nil, err
	}
	if err := spec.Variables["container_root_ids"].Set(rootIDs); err != nil {
		return nil, fmt.Errorf("configuring eBPF objects: container_root_ids: %w", err)
	}
	h := newHost(native, compat, opts.ArgGroups)
	argSyscalls, argKind := h.argTables()
	if err := spec.Variables["arg_syscalls"].Set(argSyscalls); err != nil {
		return nil, fmt.Errorf("configuring eBPF objects: arg_syscalls: %w", err)
	}
	if err := spec.Variables["arg_kind"].Set(argKind); err != nil {
		return nil, fmt.Errorf("configuring eBPF objects: arg_kind: %w", err)
	}
	var kinds uint32
	for _, m := range h.argKinds {
		for _, k := range m {
			kinds |= 1 << uint(k)
		}
	}
	if err := spec.Variables["arg_kinds"].Set(kinds); err != nil {
		return nil, fmt.Errorf("configuring eBPF objects: arg_kinds: %w", err)
	}
	for name, v := range map[string]uint32{
		"host_mnt_ns":        hostMntNS,
		"slot_mask":          slots - 1,
		"max_targets":        maxTargets,
		"container_roots_n":  uint32(len(opts.ContainerRoots)),
		"next_cgroup_target": commandTargets,
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("configuring eBPF objects: %s: %w", name, err)
		}
	}

	if opts.editSpec != nil {
		opts.editSpec(spec)
	}
	r := &Recorder{log: log, host: h, cgroupFS: -1, commandTargets: commandTargets,
		names: map[uint64]string{}, prov: map[uint32]*targetOrigins{}}
	if err := r.objs.load(spec, kernel, len(opts.ContainerRoots) > 0, opts.portable, log); err != nil {
		return nil, err
	}
	log.Debug("eBPF programs loaded", "took", time.Since(start))
	if err := r.setContainerRoots(opts.ContainerRoots); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.readEvents(); err != nil {
		r.Close()
		return nil, err
	}
	if len(opts.ContainerRoots) > 0 {
		root := opts.ContainerRoots[0]
		r.cgroupFS, err = unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("opening container cgroup root: %w", &os.PathError{Op: "open", Path: root, Err: err})
		}
	}
	progs := []*ebpf.Program{r.objs.Fork, r.objs.Exec, r.objs.Exit, r.objs.SysEnter}
	if r.objs.Rmdir != nil {
		progs = append(progs, r.objs.Rmdir)
	}
	for _, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("attaching eBPF program %s: %w", p, privilegeHint(err))
		}
		r.links = append(r.links, l)
	}
	if err := r.attachCapture(spec, kernel, opts.FilterCapture); err != nil {
		r.Close()
		return nil, err
	}
	for id := int64(commandTargets) - 1; id >= 0; id-- {
		r.free = append(r.free, uint32(id))
	}
	if len(opts.ContainerRoots) > 0 {
		if err := r.adoptRunning(); err != nil {
			r.Close()
			return nil, err
		}
	}
	log.Debug("eBPF programs attached", "max_targets", maxTargets, "took", time.Since(start))
	return r, nil
}

// attachCapture loads and attaches the program that captures what
// seccomp filters deny, as mode asks. In CaptureAuto mode, a kernel that
// refuses fentry (lockdown, a BPF LSM policy, no ftrace) means no capture,
// which is logged, at warning level when the verifier rejected the
// program; in CaptureEntry mode it is an error. The attempt
// reuses the kernel BTF that the other programs were loaded with, so a
// refusal costs well under a millisecond.
func (r *Recorder) attachCapture(spec *ebpf.CollectionSpec, kernel kernelBTF, mode FilterCapture) error {
	r.captureMode = CaptureNone
	switch mode {
	case CaptureNone:
		return nil
	case CaptureExit:
		if err := r.loadCapture(spec, kernel, "sys_exit_filtered", ebpf.AttachTraceRawTp); err != nil {
			return err
		}
		r.captureMode = CaptureExit
		return nil
	}
	start := time.Now()
	err := r.loadCapture(spec, kernel, "secure_computing", ebpf.AttachTraceFEntry)
	r.log.Debug("tried fentry on the kernel's seccomp entry", "ok", err == nil, "took", time.Since(start))
	if err == nil {
		r.captureMode = CaptureEntry
		return nil
	}
	if mode == CaptureEntry {
		return err
	}
	if errors.Is(err, ErrVerifierRejected) {
		// Not the kernel's policy but sysrec's program: say it.
		r.log.Warn("syscalls that a seccomp filter denies will not be recorded: the kernel's verifier rejected the fentry program; the sys-exit capture mode records them on any kernel", "err", err)
		return nil
	}
	// Said only if a task under a filter is recorded (Recording.Filtered).
	r.log.Debug("syscalls that a seccomp filter denies will not be recorded: this kernel refuses fentry", "err", err)
	return nil
}

// loadCapture loads and attaches one capture program, sharing the maps
// already loaded.
func (r *Recorder) loadCapture(spec *ebpf.CollectionSpec, kernel kernelBTF, name string, attach ebpf.AttachType) error {
	prog, ok := spec.Programs[name]
	if !ok {
		return fmt.Errorf("embedded eBPF objects lack program %s", name)
	}
	// The same maps, with the one program under a fixed name.
	one := *spec
	one.Programs = map[string]*ebpf.ProgramSpec{"prog": prog}
	var objs struct {
		Prog *ebpf.Program `ebpf:"prog"`
	}
	opts := kernel.options()
	opts.MapReplacements = map[string]*ebpf.Map{
		"task_states": r.objs.TaskStates,
		"targets":     r.objs.Targets,
		"stats":       r.objs.Stats,
		"events":      r.objs.Events,
	}
	if err := one.LoadAndAssign(&objs, opts); err != nil {
		return loadError(fmt.Sprintf("loading eBPF program %s, which captures what seccomp filters deny", name), err, name)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: objs.Prog, AttachType: attach})
	if err != nil {
		objs.Prog.Close()
		return fmt.Errorf("attaching eBPF program %s, which captures what seccomp filters deny: %w", name, privilegeHint(err))
	}
	r.capture = objs.Prog
	r.links = append(r.links, l)
	return nil
}

// FilterCapture says how this recorder records the syscalls that seccomp
// filters deny: CaptureEntry, CaptureExit or CaptureNone. With
// CaptureNone, a recording whose Filtered count is not zero lacks them.
func (r *Recorder) FilterCapture() FilterCapture { return r.captureMode }

// mntNamespace returns the inode number of a mount namespace link such as
// /proc/1/ns/mnt.
func mntNamespace(link string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Stat(link, &st); err != nil {
		return 0, fmt.Errorf("reading the host's mount namespace: %w", &os.PathError{Op: "stat", Path: link, Err: err})
	}
	return uint32(st.Ino), nil
}

// MaxContainerRoots is how many Options.ContainerRoots a recorder takes.
const MaxContainerRoots = 8

// cgroupIDs returns the ids of cgroup v2 directories: a cgroup's id is its
// directory's inode number.
func cgroupIDs(dirs []string) ([MaxContainerRoots]uint64, error) {
	var ids [MaxContainerRoots]uint64
	for i, dir := range dirs {
		if i >= len(ids) {
			break
		}
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return ids, fmt.Errorf("reading container cgroup root: %w", &os.PathError{Op: "stat", Path: dir, Err: err})
		}
		ids[i] = st.Ino
	}
	return ids, nil
}

// adoptRunning runs the task iterator that gives the tasks already running
// in containers their cgroup's target. The hooks are attached first, so a
// task forked meanwhile inherits its parent's target; a second pass
// catches a child whose parent was adopted after the iterator had passed
// the child's pid.
func (r *Recorder) adoptRunning() error {
	for pass := 0; pass < 2; pass++ {
		it, err := link.AttachIter(link.IterOptions{Program: r.objs.Adopt})
		if err != nil {
			return fmt.Errorf("attaching the task iterator for running containers: %w", privilegeHint(err))
		}
		rd, err := it.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, rd)
			rd.Close()
		}
		it.Close()
		if err != nil {
			return fmt.Errorf("adopting running container tasks: %w", err)
		}
	}
	return nil
}

// setContainerRoots hands the kernel side the cgroups below which it
// records containers.
func (r *Recorder) setContainerRoots(roots []string) error {
	for i, root := range roots {
		fd, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening container cgroup root: %w", &os.PathError{Op: "open", Path: root, Err: err})
		}
		err = r.objs.ContainerRoots.Put(uint32(i), uint32(fd))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("registering container cgroup root %s (is it a cgroup v2 directory?): %w", root, err)
		}
	}
	return nil
}

// readEvents reads the kernel side's events as they come: the names of
// new container cgroups, so a container is named even when its cgroup is
// gone by the time user space looks, and the provenance of each target's
// syscalls (origins.go).
func (r *Recorder) readEvents() error {
	rd, err := ringbuf.NewReader(r.objs.Events)
	if err != nil {
		return fmt.Errorf("reading the kernel side's events: %w", err)
	}
	r.events, r.eventsDone, r.flushed = rd, make(chan struct{}), make(chan struct{}, 1)
	go func() {
		defer close(r.eventsDone)
		for {
			rec, err := rd.Read()
			if errors.Is(err, ringbuf.ErrFlushed) {
				r.flushed <- struct{}{}
				continue
			}
			if err != nil {
				if !errors.Is(err, ringbuf.ErrClosed) {
					r.log.Warn("reading the kernel side's events", "err", err)
				}
				return
			}
			r.handleEvent(rec.RawSample)
		}
	}()
	return nil
}

// drain waits until the event reader has read every event that the
// kernel side has made so far. A snapshot of cgroup_tags drains after it
// reads the map: a cgroup's announcement is made before any of its tasks
// can exit, so every cgroup in the snapshot that is finished has its name
// by then, and a live one gets it at the latest in a later snapshot. The
// same holds for origins: a task sends one after it sets the bit, and
// before it can exit.
func (r *Recorder) drain() error {
	if r.events == nil {
		return nil
	}
	r.drainMu.Lock()
	defer r.drainMu.Unlock()
	if err := r.events.Flush(); err != nil {
		return fmt.Errorf("draining the kernel side's events: %w", err)
	}
	select {
	case <-r.flushed:
		return nil
	case <-r.eventsDone:
		return errors.New("draining the kernel side's events: the reader has stopped")
	}
}

// CgroupName returns, in container mode, the directory name of a container
// cgroup that the kernel side has announced and that PopFinished has not
// returned yet.
func (r *Recorder) CgroupName(id uint64) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := r.names[id]
	return name, ok
}

// cgroupTags reads the cgroup_tags map, container cgroup id → target id,
// and adds the retired cgroups.
func (r *Recorder) cgroupTags() (map[uint64]uint32, error) {
	out := map[uint64]uint32{}
	var (
		cg  uint64
		tag uint32
	)
	it := r.objs.CgroupTags.Iterate()
	for it.Next(&cg, &tag) {
		out[cg] = tag - 1
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading container cgroups: %w", err)
	}
	r.mu.Lock()
	for id, cg := range r.retired {
		out[cg] = id
	}
	r.mu.Unlock()
	return out, nil
}

// CgroupIDs returns, in container mode, the ids of the container cgroups
// that have a target (running, or finished and not yet returned by
// PopFinished): cheaper than Cgroups when only they are needed. CgroupName
// knows the name of each whose announcement was not lost.
func (r *Recorder) CgroupIDs() ([]uint64, error) {
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	tags, err := r.cgroupTags()
	if err != nil {
		return nil, err
	}
	if err := r.drain(); err != nil {
		return nil, err
	}
	ids := make([]uint64, 0, len(tags))
	for cg := range tags {
		ids = append(ids, cg)
	}
	return ids, nil
}

// Cgroups returns, in container mode, what each container cgroup's target
// recorded so far, by cgroup id (the cgroup directory's inode number):
// those that run, and those that have finished but that PopFinished has
// not returned yet.
func (r *Recorder) Cgroups() (map[uint64]*Recording, error) {
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	tags, err := r.cgroupTags()
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]*Recording, len(tags))
	for cg, id := range tags {
		t := &Target{r: r, id: id}
		s, err := t.state()
		if err != nil {
			return nil, err
		}
		out[cg] = decode(&s, r.host)
	}
	if err := r.drain(); err != nil {
		return nil, err
	}
	for cg, rec := range out {
		rec.Origins = r.origins(tags[cg])
	}
	r.mu.Lock()
	for cg, rec := range out {
		rec.Cgroup = r.names[cg]
	}
	r.mu.Unlock()
	return out, nil
}

// PopFinished returns, in container mode, the recording of each container
// cgroup that has finished since the last call, by cgroup id, each once:
// a cgroup is finished when it has been removed (rmdir) and none of its
// tasks runs any more, including tasks that moved to another cgroup.
// Recording.Cgroup holds its name. Everything the recorder kept for it is
// freed, and its target slot goes to a later container; Cgroups, CgroupIDs
// and CgroupName no longer know it. An agent calls it now and then, so
// that slots are there for new containers. A call that finds finished
// cgroups waits for an RCU grace period (a few milliseconds). On error,
// the map holds the cgroups that were freed before it.
func (r *Recorder) PopFinished() (map[uint64]*Recording, error) {
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	tags, err := r.cgroupTags()
	if err != nil {
		return nil, err
	}
	var finished []uint64
	for cg, id := range tags {
		s, err := (&Target{r: r, id: id}).state()
		if err != nil {
			return nil, err
		}
		if s.Live <= 0 && (s.Removed != 0 || r.cgroupGone(cg)) {
			finished = append(finished, cg)
		}
	}
	if len(finished) == 0 {
		return map[uint64]*Recording{}, nil
	}
	if err := r.drain(); err != nil {
		return nil, err
	}
	// A task that execs while it is moved out of its cgroup, which is then
	// removed, can look the tag up before the cgroup goes and join the
	// target after live was read as zero. Once the tag is deleted and the
	// programs that ran meanwhile have returned, no task can join, so
	// live is read again: a target that a task did join stays retired
	// until its tasks have exited. Retired targets are those whose tag is
	// gone, so a call that fails from here on leaves them to the next.
	r.mu.Lock()
	if r.retired == nil {
		r.retired = map[uint32]uint64{}
	}
	for _, cg := range finished {
		r.retired[tags[cg]] = cg
	}
	r.mu.Unlock()
	for _, cg := range finished {
		if err := r.objs.CgroupTags.Delete(cg); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, fmt.Errorf("freeing container cgroup %d: deleting its tag: %w", cg, err)
		}
	}
	if r.tagsDeleted != nil {
		r.tagsDeleted()
	}
	if err := r.waitForPrograms(); err != nil {
		return nil, err
	}
	// The origins that the programs which ran until now sent.
	if err := r.drain(); err != nil {
		return nil, err
	}
	out := make(map[uint64]*Recording, len(finished))
	for _, cg := range finished {
		id := tags[cg]
		s, err := (&Target{r: r, id: id}).state()
		if err != nil {
			return out, err
		}
		if s.Live > 0 {
			continue
		}
		// Live is zero: every task's own entry is merged into s already.
		rec := decode(&s, r.host)
		// Its origins go first: once freed, the id may be a new
		// container's, whose events start a state of their own.
		rec.Origins = r.origins(id)
		r.dropOrigins(id)
		if err := r.freeCgroupTarget(cg, id); err != nil {
			return out, err
		}
		r.mu.Lock()
		rec.Cgroup = r.names[cg]
		delete(r.names, cg)
		delete(r.retired, id)
		r.mu.Unlock()
		out[cg] = rec
	}
	return out, nil
}

// fileIDKernfs is the type of a cgroup v2 file handle, whose bytes are
// the cgroup's id (FILEID_KERNFS in include/linux/exportfs.h).
const fileIDKernfs = 0xfe

// cgroupGone reports whether cgroup id, whose target has no live task but
// which the cgroup_rmdir hook did not mark, no longer exists. The hook
// misses a cgroup removed before its target was created: a task moved out
// of it during the execve that created the target. Opening the cgroup by
// its file handle fails with ESTALE then. It needs CAP_DAC_READ_SEARCH;
// without, it reports false.
func (r *Recorder) cgroupGone(id uint64) bool {
	if r.cgroupFS < 0 {
		return false
	}
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], id)
	fd, err := unix.OpenByHandleAt(r.cgroupFS, unix.NewFileHandle(fileIDKernfs, b[:]), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err == nil {
		unix.Close(fd)
		return false
	}
	if errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT) {
		return true
	}
	r.log.Debug("cannot tell whether a container cgroup is gone", "cgroup", id, "err", err)
	return false
}

// waitForPrograms returns once the BPF programs that were running when it
// was called have returned: the kernel waits for an RCU grace period, under
// which sysrec's programs run, before an update of a map-in-map returns
// (maybe_wait_bpf_programs in kernel/bpf/syscall.c).
func (r *Recorder) waitForPrograms() error {
	if r.grace == nil {
		inner := &ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
		in, err := ebpf.NewMap(inner)
		if err != nil {
			return fmt.Errorf("waiting for running eBPF programs: creating a map: %w", err)
		}
		outer, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMap: inner})
		if err != nil {
			in.Close()
			return fmt.Errorf("waiting for running eBPF programs: creating a map: %w", err)
		}
		r.grace, r.graceInner = outer, in
	}
	if err := r.grace.Put(uint32(0), r.graceInner); err != nil {
		return fmt.Errorf("waiting for running eBPF programs: %w", err)
	}
	return nil
}

// freeCgroupTarget frees the target of finished container cgroup cg, whose
// tag is deleted: its slot is zeroed before its id is queued for reuse, so
// a later container starts empty.
func (r *Recorder) freeCgroupTarget(cg uint64, id uint32) error {
	if err := r.objs.Targets.Put(id, bpf.Target{}); err != nil {
		return fmt.Errorf("freeing container cgroup %d: clearing target slot %d: %w", cg, id, err)
	}
	if err := r.objs.FreeCgroupTargets.Update(nil, id, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("freeing container cgroup %d: queueing target slot %d for reuse: %w", cg, id, err)
	}
	return nil
}

// Close detaches the programs and frees the maps.
func (r *Recorder) Close() error {
	var errs []error
	if r.events != nil {
		errs = append(errs, r.events.Close())
		<-r.eventsDone
		r.events = nil
	}
	for _, l := range r.links {
		errs = append(errs, l.Close())
	}
	r.links = nil
	for _, m := range []*ebpf.Map{r.grace, r.graceInner} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	r.grace, r.graceInner = nil, nil
	if r.cgroupFS >= 0 {
		errs = append(errs, unix.Close(r.cgroupFS))
		r.cgroupFS = -1
	}
	if r.capture != nil {
		errs = append(errs, r.capture.Close())
		r.capture = nil
	}
	errs = append(errs, r.objs.Close())
	return errors.Join(errs...)
}

// objects are the loaded maps and programs.
type objects struct {
	hooks
	SysEnter *ebpf.Program // sys_enter, or sys_enter_portable
	// Adopt is a task iterator that adopts running container tasks, and
	// Rmdir marks the targets of removed container cgroups; both are
	// loaded in container mode only.
	Adopt *ebpf.Program
	Rmdir *ebpf.Program
}

// hooks are the maps and the lifecycle programs, loaded together with one
// of the two sys_enter programs.
type hooks struct {
	bpf.Maps
	Fork *ebpf.Program `ebpf:"sched_process_fork"`
	Exec *ebpf.Program `ebpf:"sched_process_exec"`
	Exit *ebpf.Program `ebpf:"sched_process_exit"`
	// NextCgroupTarget is the next container target id never used yet.
	NextCgroupTarget *ebpf.Variable `ebpf:"next_cgroup_target"`
}

// load loads the maps and the programs that the mode needs: the capture
// programs are loaded later, if asked for, and the task iterator only in
// container mode. sys_enter reads kernel-internal fields of task-local
// storage to stay cheap; a kernel whose layout it cannot relocate against
// gets sys_enter_portable, which uses the helper. The kernel's BTF is
// decoded once for every load (see kernelBTF).
func (o *objects) load(spec *ebpf.CollectionSpec, kernel kernelBTF, containers, portableOnly bool, log *slog.Logger) error {
	opts := kernel.options()
	names := []string{"sched_process_fork", "sched_process_exec", "sched_process_exit"}
	if containers {
		names = append(names, "adopt_running", "cgroup_rmdir")
	}
	if !portableOnly {
		err := o.loadWith(spec, append(names, "sys_enter"), opts)
		if err == nil {
			return nil
		}
		log.Debug("the fast sys_enter program was rejected; using the portable one",
			"err", fmt.Sprintf("%+v", loadError("loading eBPF objects", err, append(names, "sys_enter")...)))
	}
	names = append(names, "sys_enter_portable")
	if err := o.loadWith(spec, names, opts); err != nil {
		return loadError("loading eBPF objects", err, names...)
	}
	return nil
}

// loadWith loads the maps and the named programs, the last of which is a
// sys_enter program.
func (o *objects) loadWith(spec *ebpf.CollectionSpec, names []string, opts *ebpf.CollectionOptions) error {
	// Only the programs named are relocated and verified; every map is
	// created, since sched_process_exec refers to the container ones.
	cs := *spec
	cs.Programs = make(map[string]*ebpf.ProgramSpec, len(names))
	for _, name := range names {
		p, ok := spec.Programs[name]
		if !ok {
			return fmt.Errorf("embedded eBPF objects lack program %s", name)
		}
		cs.Programs[name] = p
	}
	coll, err := ebpf.NewCollectionWithOptions(&cs, *opts)
	if err != nil {
		return err
	}
	// What Assign does not take (the data sections, which the programs
	// hold on to) is closed with the collection.
	defer coll.Close()
	var h hooks
	if err := coll.Assign(&h); err != nil {
		return err
	}
	o.hooks = h
	o.SysEnter = coll.DetachProgram(names[len(names)-1])
	o.Adopt = coll.DetachProgram("adopt_running")
	o.Rmdir = coll.DetachProgram("cgroup_rmdir")
	return nil
}

func (o *objects) Close() error {
	var errs []error
	for _, p := range []*ebpf.Program{o.Fork, o.Exec, o.Exit, o.Adopt, o.Rmdir, o.SysEnter} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	errs = append(errs, o.Maps.Close())
	return errors.Join(errs...)
}

// kernelBTF is the kernel's BTF, which CO-RE relocation and the tp_btf,
// fentry and iterator attach points all need. Decoding it, and then the
// types that the programs use (task_struct and all it points to), is most
// of the cost of loading (about 10 and 8 ms on the development VM), so
// every load of a recorder shares one cache of it.
type kernelBTF struct {
	cache *btf.Cache
	// types replaces the running kernel's types for CO-RE relocation when
	// they are read from another file; nil for the default.
	types *btf.Spec
}

func (k kernelBTF) options() *ebpf.CollectionOptions {
	return &ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{KernelTypes: k.types},
		Cache:    k.cache,
	}
}

// loadKernelBTF checks that kernel BTF exists, which CO-RE relocation and
// tp_btf programs both need, and starts decoding the running kernel's into
// the cache, on another core, while the caller reads the eBPF objects and
// creates the maps; the first program load waits for it. Types are read
// from path too where it is not the default path.
func loadKernelBTF(path string) (kernelBTF, error) {
	k := kernelBTF{cache: btf.NewCache()}
	if _, err := os.Stat(path); err != nil {
		return k, fmt.Errorf("reading kernel BTF: %w: sysrec needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 5.4 are)", err)
	}
	// An error is kept for the load that needs the types to report.
	go k.cache.Kernel()
	if path == DefaultKernelBTF {
		return k, nil
	}
	spec, err := btf.LoadSpec(path)
	if err != nil {
		return k, fmt.Errorf("reading kernel BTF from %s: %w", path, err)
	}
	k.types = spec
	return k, nil
}

// raiseMemlock lifts RLIMIT_MEMLOCK on kernels before 5.11, which charge
// BPF memory to it; later ones charge the memory cgroup, and the limit,
// which the recorded command inherits, is left alone there. (cilium/ebpf's
// rlimit package probes for this by creating a BPF map at package init,
// in every sysrec command: about 0.2 ms, but 5 ms in one measurement.)
func raiseMemlock() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("reading the kernel version: %w", err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	if !kernelBefore(release, 5, 11) {
		return nil
	}
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf); err != nil {
		return fmt.Errorf("raising RLIMIT_MEMLOCK on kernel %s: %w", release, err)
	}
	return nil
}

// kernelBefore reports whether a kernel release such as
// "5.10.0-28-amd64" is older than major.minor. A release it cannot read
// counts as older, so that the caller errs towards raising the limit.
func kernelBefore(release string, major, minor int) bool {
	var ma, mi int
	if n, _ := fmt.Sscanf(release, "%d.%d", &ma, &mi); n != 2 {
		return true
	}
	return ma < major || (ma == major && mi < minor)
}

// Target is one recorded process tree.
type Target struct {
	r        *Recorder
	id       uint32
	released bool
}

// StartCommand starts cmd, which must not have been started, and records
// it and all its descendants from its execve on. The caller still waits
// for cmd; Target.Wait waits for its descendants too.
func (r *Recorder) StartCommand(cmd *exec.Cmd) (*Target, error) {
	t, err := r.newTarget()
	if err != nil {
		return nil, err
	}
	// The kernel marks the first process that this OS thread forks, so the
	// goroutine must stay on it until cmd has been forked.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := uint32(unix.Gettid())
	if err := r.objs.Launchers.Put(tid, t.id); err != nil {
		t.Close()
		return nil, fmt.Errorf("registering launcher thread: %w", err)
	}
	startErr := cmd.Start()
	if err := r.objs.Launchers.Delete(tid); err != nil {
		r.log.Warn("unregistering launcher thread", "tid", tid, "err", err)
	}
	if startErr != nil {
		t.Close()
		return nil, startErr
	}
	return t, nil
}

func (r *Recorder) newTarget() (*Target, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.free) == 0 {
		return nil, fmt.Errorf("all %d target slots are in use: finish a recording first", r.objs.Targets.MaxEntries())
	}
	id := r.free[len(r.free)-1]
	// A slot is zeroed before use, so a reused one starts empty.
	if err := r.objs.Targets.Put(id, bpf.Target{}); err != nil {
		return nil, fmt.Errorf("clearing target slot %d: %w", id, err)
	}
	r.free = r.free[:len(r.free)-1]
	r.openOrigins(id)
	return &Target{r: r, id: id}, nil
}

func (t *Target) state() (bpf.Target, error) {
	var s bpf.Target
	if err := t.r.objs.Targets.Lookup(t.id, &s); err != nil {
		return s, fmt.Errorf("reading target slot %d: %w", t.id, err)
	}
	return s, nil
}

// Live returns how many tasks of the target are still running.
func (t *Target) Live() (int64, error) {
	s, err := t.state()
	return s.Live, err
}

// Wait returns when no task of the target is left, or when ctx is done.
func (t *Target) Wait(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		live, err := t.Live()
		if err != nil {
			return err
		}
		if live <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close releases the target's slot. A slot whose tasks still run is never
// reused, so they cannot leak syscalls into a later target.
func (t *Target) Close() error {
	if t.released {
		return nil
	}
	t.released = true
	live, err := t.Live()
	if err != nil {
		t.r.dropOrigins(t.id)
		return err
	}
	if live > 0 {
		// Its tasks' events are dropped from now on.
		t.r.dropOrigins(t.id)
		t.r.log.Warn("target released with tasks still running; its slot is retired", "target", t.id, "live", live)
		return nil
	}
	// No task can send an event for it any more: once the reader has read
	// those sent, the slot is free for a new target.
	err = t.r.drain()
	t.r.dropOrigins(t.id)
	if err != nil {
		return err
	}
	t.r.mu.Lock()
	t.r.free = append(t.r.free, t.id)
	t.r.mu.Unlock()
	return nil
}

// DropStats returns the kernel-side counters that belong to no target.
func (r *Recorder) DropStats() (bpf.DropStats, error) {
	var s bpf.DropStats
	if err := r.objs.Stats.Lookup(uint32(0), &s); err != nil {
		return s, fmt.Errorf("reading drop counters: %w", err)
	}
	return s, nil
}
