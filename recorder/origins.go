package recorder

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/syscalls"
)

// Provenance: the kernel side sends an origin event when a task sets a
// syscall's bit in its target's bitmap first (once per syscall and
// target), and an exec event when a traced task execs, naming the file.
// Both come through the events ring buffer, in the order they were made,
// so a task's exec event comes before the origins of what it runs. The
// recorder keeps, per target, the first origin of each syscall and the
// paths of the executables its tasks exec'd, by the executable's inode: a
// forked child runs its parent's, which no event announces. All of it is
// freed with the target (Target.Close, PopFinished).

// maxExes bounds the executables remembered per target. An origin whose
// executable is not remembered takes its path from /proc while its process
// runs.
const maxExes = 1024

type originKey struct {
	abi bpf.ABI
	nr  uint16
}

type exeKey struct {
	ino uint64
	dev uint32
}

// targetOrigins is what the recorder keeps of one target's provenance.
type targetOrigins struct {
	origins map[originKey]provenance.Origin
	exes    map[exeKey]string
}

func newTargetOrigins() *targetOrigins {
	return &targetOrigins{origins: map[originKey]provenance.Origin{}, exes: map[exeKey]string{}}
}

// originsFor returns target id's provenance state, creating it for a
// container target. Command targets have theirs from newTarget until
// Close, and events for one that is not open are dropped: they belong to
// a target whose tasks outlived Close. r.mu must be held.
func (r *Recorder) originsFor(id uint32) *targetOrigins {
	st := r.prov[id]
	if st == nil && id >= r.commandTargets {
		st = newTargetOrigins()
		r.prov[id] = st
	}
	return st
}

// handleEvent handles one record of the events ring buffer.
func (r *Recorder) handleEvent(raw []byte) {
	if len(raw) < 8 {
		r.log.Warn("a short event", "bytes", len(raw))
		return
	}
	switch bpf.EventKind(binary.NativeEndian.Uint32(raw)) {
	case bpf.EventCgroup:
		var e bpf.CgroupEvent
		if !decodeEvent(r, raw, &e) {
			return
		}
		name := cString(e.Name[:])
		r.mu.Lock()
		r.names[e.Cgroup] = name
		r.mu.Unlock()
	case bpf.EventOrigin:
		var e bpf.OriginEvent
		if !decodeEvent(r, raw, &e) {
			return
		}
		r.addOrigin(&e)
	case bpf.EventExec:
		var e bpf.ExecEvent
		if !decodeEvent(r, raw, &e) {
			return
		}
		r.addExec(&e)
	default:
		r.log.Warn("an event of unknown kind", "kind", binary.NativeEndian.Uint32(raw))
	}
}

func decodeEvent[T any](r *Recorder, raw []byte, e *T) bool {
	if len(raw) < int(unsafe.Sizeof(*e)) {
		r.log.Warn("a short event", "bytes", len(raw))
		return false
	}
	if err := binary.Read(bytes.NewReader(raw), binary.NativeEndian, e); err != nil {
		r.log.Warn("decoding an event", "err", err)
		return false
	}
	return true
}

// cString returns the NUL-terminated string at the start of b.
func cString[T int8 | uint8](b []T) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func keyOf(id bpf.ExeID) exeKey { return exeKey{ino: id.Ino, dev: id.Dev} }

func (r *Recorder) addExec(e *bpf.ExecEvent) {
	if e.Tag == 0 {
		return
	}
	path := cString(e.Path[:])
	key := keyOf(e.Exe)
	if key == (exeKey{}) || path == "" {
		return
	}
	vague := indirect(path)
	if vague {
		// The name the file was exec'd by says little later: a name the
		// target's tasks exec'd it by before is better, or the process's
		// exe link, while the process runs the file.
		r.mu.Lock()
		st := r.originsFor(e.Tag - 1)
		known := st != nil && st.exes[key] != ""
		r.mu.Unlock()
		if known || st == nil {
			return
		}
		if p, ok := procExe(int(e.Tgid), key); ok {
			path, vague = p, false
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.originsFor(e.Tag - 1)
	if st == nil {
		return
	}
	if old, ok := st.exes[key]; ok && vague && old != "" {
		return
	}
	if _, ok := st.exes[key]; ok || len(st.exes) < maxExes {
		st.exes[key] = path
	}
}

// indirect reports whether an exec'd path names its file only in the
// context of the process that exec'd it: a relative path (./tool), or
// one through /proc or /dev/fd, as programs that exec themselves
// (/proc/self/exe) and fexecve use.
func indirect(path string) bool {
	return !filepath.IsAbs(path) || strings.HasPrefix(path, "/proc/") || strings.HasPrefix(path, "/dev/fd/")
}

func (r *Recorder) addOrigin(e *bpf.OriginEvent) {
	if e.Tag == 0 || bpf.ABI(e.Abi) > bpf.ABIX32 {
		return
	}
	id := e.Tag - 1
	k := originKey{abi: bpf.ABI(e.Abi), nr: e.Nr}
	key := keyOf(e.Exe)
	r.mu.Lock()
	st := r.originsFor(id)
	if st == nil {
		r.mu.Unlock()
		return
	}
	if _, ok := st.origins[k]; ok {
		// Only a target slot reused without a reset could say a syscall
		// is new twice; the first stays.
		r.mu.Unlock()
		return
	}
	exe, known := st.exes[key]
	r.mu.Unlock()
	if !known && key != (exeKey{}) {
		// No exec event named it: a task adopted, or forked, from a
		// process that exec'd before recording began, or an event lost.
		if p, ok := procExe(int(e.Tgid), key); ok {
			exe = p
		}
	}
	o := provenance.Origin{
		Exe:  exe,
		Comm: cString(e.Comm[:]),
		PID:  int(e.Tgid),
		TID:  int(e.Tid),
		Time: bootTime(e.Time),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prov[id] != st {
		return // closed meanwhile
	}
	if _, ok := st.origins[k]; !ok {
		st.origins[k] = o
	}
	if !known && exe != "" && len(st.exes) < maxExes {
		st.exes[key] = exe
	}
}

// procExe returns the path of the executable that process pid runs, if it
// is the file key names.
func procExe(pid int, key exeKey) (string, bool) {
	link := "/proc/" + strconv.Itoa(pid) + "/exe"
	var st unix.Stat_t
	if err := unix.Stat(link, &st); err != nil {
		return "", false
	}
	dev := uint32(unix.Major(st.Dev))<<20 | uint32(unix.Minor(st.Dev))
	if st.Ino != key.ino || dev != key.dev {
		return "", false
	}
	p, err := os.Readlink(link)
	if err != nil {
		return "", false
	}
	return p, true
}

// bootTime converts a CLOCK_BOOTTIME reading (bpf_ktime_get_boot_ns) into
// wall-clock time.
func bootTime(ns uint64) time.Time {
	now := time.Now()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Time{}
	}
	return now.Add(-time.Duration(uint64(ts.Nano()) - ns))
}

// openOrigins gives command target id a fresh provenance state. r.mu must
// be held.
func (r *Recorder) openOrigins(id uint32) { r.prov[id] = newTargetOrigins() }

// dropOrigins frees target id's provenance state.
func (r *Recorder) dropOrigins(id uint32) {
	r.mu.Lock()
	delete(r.prov, id)
	r.mu.Unlock()
}

// origins returns target id's origins by architecture and name. Numbers
// without a name are left out, as Recording.Unnamed lists them.
func (r *Recorder) origins(id uint32) map[syscalls.Arch]map[string]provenance.Origin {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.prov[id]
	if st == nil || len(st.origins) == 0 {
		return nil
	}
	out := map[syscalls.Arch]map[string]provenance.Origin{}
	for k, o := range st.origins {
		arch := abiArch(k.abi, r.host.native, r.host.compat)
		if arch == "" {
			continue
		}
		name, ok := syscalls.Name(arch, int(k.nr))
		if !ok {
			continue
		}
		if out[arch] == nil {
			out[arch] = map[string]provenance.Origin{}
		}
		out[arch][name] = o
	}
	return out
}

// provenanceSize reports what the recorder keeps for provenance: targets
// with state, and the executables and origins they hold.
func (r *Recorder) provenanceSize() (targets, exes, origins int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.prov {
		exes += len(st.exes)
		origins += len(st.origins)
	}
	return len(r.prov), exes, origins
}
