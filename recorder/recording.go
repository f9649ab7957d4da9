package recorder

import (
	"fmt"
	"slices"
	"sort"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/syscalls"
)

// Recording is what a target did.
type Recording struct {
	// Cgroup is, in container mode, the name of the container cgroup's
	// directory, as the kernel side announced it when the container
	// started; empty for a command, or where the announcement was lost
	// (bpf.DropStats.EventsLost).
	Cgroup string `json:"cgroup,omitempty"`
	// Syscalls holds the named syscalls per ABI, sorted.
	Syscalls map[syscalls.Arch][]string `json:"syscalls"`
	// Unnamed holds syscall numbers with no name in sysrec's tables: from a
	// kernel newer than the tables, or from an ABI that has no table (x32,
	// 32-bit arm). They cannot go into a profile, so they are reported.
	Unnamed map[syscalls.Arch][]int `json:"unnamed,omitempty"`
	// Args holds the values of the captured syscall arguments
	// (Options.ArgGroups), per ABI and syscall name.
	Args profiles.RecordedArgs `json:"args,omitempty"`
	// ArgOverflows counts captures that found a syscall's value set full:
	// that syscall's values carry Overflow, and its rule allows it by
	// name.
	ArgOverflows uint64 `json:"argOverflows,omitempty"`
	// Tasks, Processes and Execs count what the target ran.
	Tasks     uint64 `json:"tasks"`
	Processes uint64 `json:"processes"`
	Execs     uint64 `json:"execs"`
	// Live is the number of tasks still running when it was read.
	Live int64 `json:"live"`
	// Adopted counts tasks that already ran when recording began: the
	// syscalls they made before are missing, so the recording is partial.
	Adopted uint64 `json:"adopted,omitempty"`
	// Filtered counts tasks that ran under a seccomp filter: the syscalls
	// it denied never reached the recorder.
	Filtered uint64 `json:"filtered,omitempty"`
	// Lost counts data the kernel side could not record.
	Lost Lost `json:"lost"`
	// Origins holds, per ABI and syscall name, the first call of each
	// recorded syscall: which process and executable made it, and when.
	// A name is missing where the kernel side did not capture it: its
	// event was lost (EventsLost), or, in a recording of running tasks,
	// its task had not sent it yet.
	Origins map[syscalls.Arch]map[string]provenance.Origin `json:"origins,omitempty"`
	// EventsLost counts the target's provenance events that did not fit
	// in the kernel side's ring buffer: origins that are missing, and
	// executables that are unnamed unless their process still ran when
	// its origin was read. The syscalls themselves are all recorded.
	EventsLost uint64 `json:"eventsLost,omitempty"`
}

// Lost counts what the kernel side could not record for a target.
type Lost struct {
	// Tasks whose tracking state could not be created: their syscalls are
	// missing.
	Tasks uint64 `json:"tasks"`
	// Syscalls numbered past the bitmap (bpf.SyscallBits).
	OutOfRange uint64 `json:"outOfRange"`
}

// Any reports whether anything was lost.
func (l Lost) Any() bool { return l.Tasks != 0 || l.OutOfRange != 0 }

// Recording reads what the target has recorded so far.
func (t *Target) Recording() (*Recording, error) {
	s, err := t.state()
	if err != nil {
		return nil, err
	}
	// The target's bitmaps are complete while tasks run: a task sets a
	// syscall in the target too when it first sets it in its own entry
	// (slot_first), so the entries need no reading.
	// The origins of what s holds: each was sent after its bit was set.
	if err := t.r.drain(); err != nil {
		return nil, err
	}
	rec := decode(&s, t.r.host)
	rec.Origins = t.r.origins(t.id)
	return rec, nil
}

// abiArch names the architecture of each bitmap for a host.
func abiArch(abi bpf.ABI, native, compat syscalls.Arch) syscalls.Arch {
	switch abi {
	case bpf.ABINative:
		return native
	case bpf.ABICompat:
		return compat
	case bpf.ABIX32:
		return syscalls.X32
	}
	panic(fmt.Sprintf("unknown ABI %d", abi))
}

// host is what decoding a target slot needs to know of the machine: its
// native and compat ABIs, and the syscalls whose arguments are captured.
type host struct {
	native, compat syscalls.Arch
	// argKinds holds, for the native and the compat ABI, the kind of each
	// syscall number whose argument is captured (profiles.ArgKinds).
	argKinds [2]map[int]profiles.ArgKind
}

func newHost(native, compat syscalls.Arch, groups []profiles.ArgGroup) host {
	h := host{native: native, compat: compat}
	for abi, arch := range []syscalls.Arch{native, compat} {
		h.argKinds[abi] = map[int]profiles.ArgKind{}
		if len(groups) == 0 || arch == "" {
			continue
		}
		for nr, k := range profiles.ArgKinds(arch, groups) {
			if nr >= 0 && nr < bpf.ArgSyscalls {
				h.argKinds[abi][nr] = k
			}
		}
	}
	return h
}

// argTables returns the kernel side's arg_syscalls and arg_kind.
func (h host) argTables() (syscalls [2][bpf.ArgSyscalls / 64]uint64, kinds [2][bpf.ArgSyscalls]uint8) {
	for abi, m := range h.argKinds {
		for nr, k := range m {
			syscalls[abi][nr/64] |= 1 << uint(nr%64)
			kinds[abi][nr] = uint8(k)
		}
	}
	return syscalls, kinds
}

// decode turns a target slot into names and argument values.
func decode(s *bpf.Target, h host) *Recording {
	native, compat := h.native, h.compat
	rec := &Recording{
		Syscalls:  map[syscalls.Arch][]string{},
		Unnamed:   map[syscalls.Arch][]int{},
		Tasks:     s.Tasks,
		Processes: s.Processes,
		Execs:     s.Execs,
		Live:      s.Live,
		Adopted:   s.Adopted,
		Filtered:  s.FilteredTasks,
		Lost:      Lost{Tasks: s.LostTasks, OutOfRange: s.OutOfRange},

		EventsLost: s.EventsLost,

		ArgOverflows: s.ArgsOverflow,
	}
	for abi := range s.Syscalls {
		arch := abiArch(bpf.ABI(abi), native, compat)
		for w, word := range s.Syscalls[abi] {
			for b := 0; b < 64; b++ {
				if word&(1<<uint(b)) == 0 {
					continue
				}
				nr := w*64 + b
				if name, ok := syscalls.Name(arch, nr); ok {
					rec.Syscalls[arch] = append(rec.Syscalls[arch], name)
				} else {
					rec.Unnamed[arch] = append(rec.Unnamed[arch], nr)
				}
			}
		}
	}
	for _, names := range rec.Syscalls {
		sort.Strings(names)
	}
	if len(rec.Unnamed) == 0 {
		rec.Unnamed = nil
	}
	for abi, kinds := range h.argKinds {
		arch := abiArch(bpf.ABI(abi), native, compat)
		if len(kinds) == 0 || (len(rec.Syscalls[arch]) == 0 && len(rec.Unnamed[arch]) == 0) {
			continue
		}
		if m := decodeArgs(&s.Args[abi], arch, kinds); len(m) > 0 {
			if rec.Args == nil {
				rec.Args = profiles.RecordedArgs{}
			}
			rec.Args[arch] = m
		}
	}
	return rec
}

// decodeArgs turns one ABI's captured values into an entry per syscall
// that has values, or whose values overflowed. clone3 has an empty entry
// whenever it is captured: its flags are clone's values, and the entry
// says they were captured.
func decodeArgs(a *bpf.TargetArgs, arch syscalls.Arch, kinds map[int]profiles.ArgKind) map[string]profiles.ArgValues {
	out := map[string]profiles.ArgValues{}
	for nr, k := range kinds {
		name, ok := syscalls.Name(arch, nr)
		if !ok {
			continue
		}
		v := profiles.ArgValues{Values: kindValues(a, k), Overflow: a.Overflow&(1<<uint(k)) != 0}
		if len(v.Values) == 0 && !v.Overflow && k != profiles.KindClone3 {
			continue
		}
		slices.Sort(v.Values)
		v.Values = slices.Compact(v.Values)
		out[name] = v
	}
	return out
}

// kindValues decodes the values of kind k, encoded as profiles.ArgKind
// says.
func kindValues(a *bpf.TargetArgs, k profiles.ArgKind) []uint64 {
	var out []uint64
	switch k {
	case profiles.KindSocket:
		// Bit (domain & 3) * 16 + type of word domain >> 2.
		for w, word := range a.SocketTypes {
			for b := range 64 {
				if word&(1<<uint(b)) != 0 {
					domain := uint64(w*4 + b/16)
					out = append(out, domain<<8|uint64(b%16))
				}
			}
		}
	case profiles.KindSocketpair:
		out = bits(a.SocketpairDomains, 0)
	case profiles.KindClone:
		out = nsValues(a.CloneNs)
	case profiles.KindUnshare:
		out = nsValues(a.UnshareNs)
	case profiles.KindSetns:
		out = setValues(a.Setns[:])
	case profiles.KindPersonality:
		out = setValues(a.Personality[:])
	case profiles.KindPrctl:
		out = setValues(a.Prctl[:])
	case profiles.KindIoctl:
		out = setValues(a.Ioctl[:])
	case profiles.KindMmap:
		out = protValues(a.MmapProt)
	case profiles.KindMprotect:
		out = protValues(a.MprotectProt)
	}
	return out
}

// bits returns base plus the index of each bit set in word.
func bits(word uint64, base int) []uint64 {
	var out []uint64
	for b := range 64 {
		if word&(1<<uint(b)) != 0 {
			out = append(out, uint64(base+b))
		}
	}
	return out
}

// nsValues decodes a set of combinations of namespace flags, each
// compressed to 8 bits as the kernel side's ns_combination does.
func nsValues(set [4]uint64) []uint64 {
	var out []uint64
	for w, word := range set {
		for _, c := range bits(word, w*64) {
			out = append(out, (c&1)<<7|(c>>1&1)<<17|(c>>2&0x3f)<<25)
		}
	}
	return out
}

// setValues decodes a value set: an entry holds 1 << 32 | value, and 0
// when empty.
func setValues(set []uint64) []uint64 {
	var out []uint64
	for _, e := range set {
		if e>>32 == 1 {
			out = append(out, e&0xffffffff)
		}
	}
	return out
}

// protValues decodes a bit per (prot & (PROT_WRITE|PROT_EXEC)) >> 1.
func protValues(set uint32) []uint64 {
	var out []uint64
	for _, b := range bits(uint64(set), 0) {
		if b < 4 {
			out = append(out, b<<1)
		}
	}
	return out
}
