package bpf

import "github.com/cilium/ebpf"

// Exported names for the types that bpf2go generates from sysrec.bpf.c.
type (
	// Target is one slot of the targets map: a target's syscall bitmaps,
	// one per ABI, and its task counters.
	Target = sysrecTarget
	// TargetArgs are a target's captured argument values for one ABI
	// (Target.Args, indexed by ABINative and ABICompat).
	TargetArgs = sysrecTargetArgs
	// TaskSlot is the entry of task_slots that a traced task owns.
	TaskSlot = sysrecTaskSlot
	// CgroupEvent announces a new container cgroup.
	CgroupEvent = sysrecCgroupEvent
	// OriginEvent is the first call of a syscall in a target.
	OriginEvent = sysrecOriginEvent
	// ExecEvent says which file a traced task has exec'd.
	ExecEvent = sysrecExecEvent
	// ExeID identifies an executable file: its inode number and its file
	// system's device, in the kernel's encoding (major << 20 | minor).
	ExeID = sysrecExeId
	// DropStats counts kernel-side failures that are tied to no target.
	DropStats = sysrecDropStats
	// Maps are the loaded maps.
	Maps = sysrecMaps
)

// EventKind is the first field of every event in the events ring buffer;
// the values are those of enum event_kind in C.
type EventKind uint32

// Kinds of events.
const (
	EventCgroup EventKind = 1 // CgroupEvent
	EventOrigin EventKind = 2 // OriginEvent
	EventExec   EventKind = 3 // ExecEvent
)

// ABI indexes Target.Syscalls; the values are those of enum abi in C.
type ABI int

// ABIs a task can make syscalls in.
const (
	ABINative ABI = 0 // x86_64 or aarch64
	ABICompat ABI = 1 // i386 on x86_64, 32-bit arm on aarch64
	ABIX32    ABI = 2 // x32 on x86_64
)

// SyscallBits is how many syscall numbers each ABI's bitmap holds.
const SyscallBits = len(Target{}.Syscalls[0]) * 64

// ArgSyscalls is how many syscall numbers per ABI can have their
// arguments captured: the bits of arg_syscalls.
const ArgSyscalls = 512

// Spec returns the compiled programs and maps for the running
// architecture, not yet loaded.
func Spec() (*ebpf.CollectionSpec, error) { return loadSysrec() }
