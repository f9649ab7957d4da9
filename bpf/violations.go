package bpf

import "github.com/cilium/ebpf"

//go:generate go tool bpf2go -target amd64,arm64 -cc clang-14 -strip llvm-strip-14 -cflags "-mcpu=v3 -Wall -Werror" -type violation_event -type violation_counts -type violation_watch violations violations.bpf.c

// Exported names for the types that bpf2go generates from
// violations.bpf.c, the object that reads the arguments of the syscalls
// that seccomp audit records name.
type (
	// ViolationEvent is what the kernel sends for each seccomp audit
	// record: the task, the syscall and its arguments.
	ViolationEvent = violationsViolationEvent
	// ViolationCounts counts the events sent and dropped.
	ViolationCounts = violationsViolationCounts
	// ViolationWatch holds the syscalls whose arguments the fallback
	// program sends, one bitmap per ABI (native, compat, x32).
	ViolationWatch = violationsViolationWatch
	// ViolationObjects are the loaded programs and maps.
	ViolationObjects = violationsObjects
)

// Names of the programs in ViolationSpec, one per way of attaching.
const (
	ViolationFentry   = "audit_seccomp_fentry"
	ViolationKprobe   = "audit_seccomp_kprobe"
	ViolationFallback = "sys_enter_watched"
)

// ViolationSpec returns the compiled violation programs and maps for the
// running architecture, not yet loaded.
func ViolationSpec() (*ebpf.CollectionSpec, error) { return loadViolations() }
