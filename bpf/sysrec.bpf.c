//go:build ignore

// sysrec's kernel side. It attributes tasks to targets and keeps one
// syscall bitmap per target, so nothing is sent to user space per syscall
// and nothing can be lost between the kernel and the profile.
//
// A task belongs to a target when it carries task-local storage in
// `task_states` with a non-zero tag. The storage is created in
// sched_process_fork only:
//   - for a child whose parent is traced (threads and processes alike), so
//     a whole process tree is followed;
//   - for the first child of a registered launcher thread (see
//     `launchers`), which starts out pending.
// A pending task becomes active at its execve (sched_process_exec), so the
// launcher's fork-to-exec code is not recorded but the execve itself is.
// In container mode, a task that execs inside a cgroup below one of the
// `container_roots` is given a target of its own cgroup (one per
// container), so a container is recorded from its entrypoint's execve on,
// and not the runtime's setup before it. sched_process_exit deletes the
// storage.
//
// A container target lives as long as its cgroup and its tasks: the
// cgroup_rmdir hook marks the target `removed` once the cgroup is gone, and
// user space, when it also sees no live task, deletes the cgroup's
// `cgroup_tags` entry, waits until the programs running then have
// returned, and, if live is still zero, takes the recording out, zeroes the
// slot and pushes its id onto `free_cgroup_targets`, where cgroup_tag()
// takes ids from first. No task can still carry the tag then: live counts
// every task that does, a removed cgroup takes no new task, and a task
// that looked the tag up before it was deleted has joined by then.
//
// Provenance: the task that sets a syscall's bit in a target's bitmap
// first (the atomic or that sets it returns the old word) sends an
// origin_event through the `events` ring buffer, and a traced task's exec
// sends an exec_event naming the file, so user space can say which
// process and executable made each syscall first. A task's own entry
// (below) holds bits of its own: the first time a task sets one there, it
// sets the target's bit too, the same way. Only those first settings pay
// for it; a syscall whose bit is set runs the same instructions as
// without provenance.
//
// sys_enter runs on every syscall of every task on the machine. Its
// untraced path touches nothing beyond the task_struct, which the syscall
// entry has just touched: a task without any local storage has a NULL
// bpf_storage pointer. That matters where every kernel entry flushes the
// TLB (page-table isolation without PCID, common in VMs): there, each
// further page a program touches costs a page walk of about 25 ns.
//
// A traced task also owns, while it runs, one 128-byte entry of
// `task_slots`, chosen by a hash of its task_struct's address (which
// bpf_get_current_task() returns without touching memory): the entry holds
// that address, the tag and the task's own bitmap of native syscalls below
// 512. A task claims its entry at its first syscall. The traced
// path then touches one cache line beyond the task_struct, and needs no
// atomic operation, since only the task itself writes its entry. The
// first time a task sets a bit there, it sets it in the target's bitmap
// too (slot_first, for provenance); at exit, the entry is merged into the
// target's bitmap again, and freed. A task whose entry is taken
// by another thread id, and syscalls that do not fit the entry, take the
// general path: the tag from the task's storage, the bit in the target.
//
// The general path reads the task's storage with plain loads, the way the
// kernel's own lookup does (the map's cache slot in the task's storage),
// because the bpf_task_storage_get() helper measured about 65 ns on such
// a machine. Those loads depend on kernel-internal struct fields, so the
// object also holds sys_enter_portable, which uses the helper; user space
// loads it when the kernel rejects sys_enter.

#include "types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// Syscall numbers per ABI that fit a target's bitmap. x32 numbers (with
// X32_SYSCALL_BIT cleared) stay below 548.
#define SYSCALL_BITS 1024
#define SYSCALL_WORDS (SYSCALL_BITS / 64)

#define X32_SYSCALL_BIT 0x40000000

enum abi {
	ABI_NATIVE = 0, // x86_64 or aarch64
	ABI_COMPAT = 1, // i386 on x86_64, arm on aarch64
	ABI_X32 = 2,    // x32 on x86_64
	ABI_COUNT = 3,
};

// A tag is the target id plus one, with TAG_PENDING set until a
// launcher's child execs. Zero means untraced.
#define TAG_PENDING (1U << 31)
#define TAG_TARGET(tag) (((tag) & ~TAG_PENDING) - 1)

// Argument capture: the values of one scalar argument of a few syscalls
// (profiles.ArgKind names which, and how each is encoded), kept per
// target and ABI. Native and compat tasks keep their own; x32 syscalls are
// not captured. Small domains are bitmaps; open ones are value sets whose
// entries hold 1 << 32 | value, so that 0 is an empty entry and an entry
// is never half written. Threads of a target write the same sets
// concurrently: every write is an atomic operation on a 64-bit word.
#define ARG_ABIS 2
#define ARG_SYSCALLS 512 // syscall numbers that can be captured, per ABI
#define SETNS_VALUES 8
#define PERSONALITY_VALUES 8
#define PRCTL_VALUES 16
#define IOCTL_VALUES 32

// The codes of profiles.ArgKind.
enum arg_kind {
	KIND_NONE = 0,
	KIND_SOCKET = 1,
	KIND_SOCKETPAIR = 2,
	KIND_CLONE = 3,
	KIND_CLONE3 = 4,
	KIND_UNSHARE = 5,
	KIND_SETNS = 6,
	KIND_PERSONALITY = 7,
	KIND_PRCTL = 8,
	KIND_IOCTL = 9,
	KIND_MMAP = 10,
	KIND_MPROTECT = 11,
};

struct target_args {
	// socket: a bit per domain < 64 and type & 0xf, bit
	// (domain & 3) * 16 + type of word domain >> 2.
	__u64 socket_types[16];
	__u64 socketpair_domains; // a bit per domain < 64
	// A bit per combination of namespace flags (see ns_combination):
	// clone's and clone3's, and unshare's.
	__u64 clone_ns[4];
	__u64 unshare_ns[4];
	// Value sets.
	__u64 setns[SETNS_VALUES]; // nstype
	__u64 personality[PERSONALITY_VALUES]; // persona
	__u64 prctl[PRCTL_VALUES]; // option
	__u64 ioctl[IOCTL_VALUES]; // request
	// A bit per (prot & (PROT_WRITE|PROT_EXEC)) >> 1.
	__u32 mmap_prot;
	__u32 mprotect_prot;
	// A bit per kind (1 << KIND_*) whose value did not fit: a set that was
	// full, or a socket domain past 63.
	__u64 overflow;
};

// Per-target state. One array slot per target, indexed by the target id
// that user space hands out. New per-target data goes at the end of this
// struct: user space reads it through the generated Go type, so adding
// fields needs no other change.
struct target {
	__u64 syscalls[ABI_COUNT][SYSCALL_WORDS];
	__s64 live; // tasks of the target that have not exited
	__u64 tasks; // tasks the target ever had (threads included)
	__u64 processes; // of those, thread-group leaders
	__u64 execs; // successful execve calls
	__u64 out_of_range; // syscalls numbered past SYSCALL_BITS
	__u64 lost_tasks; // tasks whose state could not be created
	// Container mode: tasks that were already running when recording
	// began (adopt_running), so the target's recording is partial.
	__u64 adopted;
	// Tasks seen running under a seccomp filter: the syscalls it denies
	// never reach sys_enter, so they are missing from the recording.
	__u64 filtered_tasks;
	// Container mode: the target's cgroup was removed (rmdir). With no
	// live task left, the target is finished and user space frees it.
	__u64 removed;
	// The captured argument values, per ABI (native, compat).
	struct target_args args[ARG_ABIS];
	// Captures whose value did not fit (see target_args.overflow).
	__u64 args_overflow;
	// Provenance events of the target (origin_event, exec_event) that
	// did not fit in `events`.
	__u64 events_lost;
};

// Per-task state. The tag comes first: sys_enter reads it at offset 0.
struct task_state {
	__u32 tag;
	__u16 last_abi; // pending tasks: the ABI of last_nr
	__u16 filtered; // the task was counted in filtered_tasks
	__s64 last_nr; // pending tasks: the last syscall, to record execve
};

// A task's own entry: its native syscalls below SLOT_BITS.
#define SLOT_BITS 512
struct task_slot {
	__u64 task; // the owner's task_struct address, 0 when free
	__u32 tag; // the owner's tag, 0 when free
	__u32 pad0;
	__u64 syscalls[SLOT_BITS / 64];
	__u64 pad[6]; // 128 bytes: an entry never spans two pages
};

// Counters for the places where the kernel side could drop data and
// that are not tied to one target.
struct drop_stats {
	__u64 target_missing; // a tag pointed at a slot that doesn't exist
	__u64 cgroups_full; // container mode: no target id or cgroup_tags entry left
	__u64 events_lost; // container mode: a cgroup_event did not fit in `events`
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} task_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024); // user space sets the real size at load
	__type(key, __u32);
	__type(value, struct target);
} targets SEC(".maps");

// Hash of a task_struct address → the entry of the task that owns it. The
// size is a power of two that user space sets at load.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct task_slot);
} task_slots SEC(".maps");

// task_slots' size minus one, set by user space at load.
const volatile __u32 slot_mask = 16383;
// The syscalls whose arguments are captured, a bit per number below
// ARG_SYSCALLS, per ABI (native, compat), and the kind of each: user space
// sets both at load (profiles.ArgKinds). Declared next to slot_mask,
// which every traced syscall reads already, so that the one test a
// syscall outside the set pays stays on the cache lines it touches anyway.
const volatile __u64 arg_syscalls[ARG_ABIS][ARG_SYSCALLS / 64] = {};
const volatile __u8 arg_kind[ARG_ABIS][ARG_SYSCALLS] = {};
// A bit per kind (1 << KIND_*) that arg_kind uses, set by user space. The
// verifier knows its value, so it leaves out, and never walks, the
// capture code of the kinds that are not captured, and all of it when
// none is: loading costs what the chosen groups need.
const volatile __u32 arg_kinds = 0;

// Thread id of a user-space launcher → the target its next child starts.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} launchers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drop_stats);
} stats SEC(".maps");

// Container mode: the cgroup v2 directories below which every cgroup is a
// target of its own; user space fills the first container_roots_n.
#define MAX_CONTAINER_ROOTS 8
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, MAX_CONTAINER_ROOTS);
	__type(key, __u32);
	__type(value, __u32);
} container_roots SEC(".maps");
const volatile __u32 container_roots_n = 0;
// The cgroup ids of the same roots, for adopt_running, which cannot use
// the helper that tests the current task.
const volatile __u64 container_root_ids[MAX_CONTAINER_ROOTS] = {};
// The host's mount namespace (init's), set by user space: the OCI
// runtimes exec themselves inside the container's cgroup before they enter
// its mount namespace, and only the entrypoint's execve happens inside it.
const volatile __u32 host_mnt_ns = 0;
// The size of `targets`, set by user space.
const volatile __u32 max_targets = 1024;

// cgroup id → the tag of its target. User space sizes it as `targets`.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} cgroup_tags SEC(".maps");

// Container mode: target ids that user space has freed, with their slots
// zeroed, for cgroup_tag() to reuse. User space sizes it as `targets`, so
// a push never finds it full.
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__type(value, __u32);
} free_cgroup_targets SEC(".maps");

// Events to user space, all in one ring buffer, so that user space reads
// them in the order they were made. Each starts with its kind and the tag
// of its target (without TAG_PENDING). None is sent per syscall:
//   - cgroup_event: a new container cgroup, once, when its target is
//     created: the name lets user space attribute a container whose cgroup
//     is gone by the time it looks.
//   - origin_event: the first call of a syscall in a target, sent by the
//     task that set the syscall's bit in the target's bitmap (first_call).
//   - exec_event: a traced task exec'd a file, sent before the task's first
//     syscall in it: user space names the executable of origins with it.
enum event_kind {
	EVENT_CGROUP = 1,
	EVENT_ORIGIN = 2,
	EVENT_EXEC = 3,
};

struct cgroup_event {
	__u32 kind;
	__u32 tag;
	__u64 cgroup;
	char name[128]; // the cgroup directory's name
};

// An executable: its inode number and its file system's device (the
// kernel's dev_t encoding, major << 20 | minor), 0 and 0 when unknown.
struct exe_id {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

struct origin_event {
	__u32 kind;
	__u32 tag;
	__u64 time; // bpf_ktime_get_boot_ns
	struct exe_id exe; // the executable the task ran
	__u32 tgid;
	__u32 tid;
	__u16 nr; // with X32_SYSCALL_BIT cleared
	__u8 abi;
	__u8 pad[5];
	char comm[16];
};

#define EXEC_PATH_LEN 256
struct exec_event {
	__u32 kind;
	__u32 tag;
	struct exe_id exe;
	__u32 tgid;
	__u32 pad;
	char path[EXEC_PATH_LEN]; // bprm->interp, truncated
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 512 * 1024);
} events SEC(".maps");

// Put the event structs into BTF, for bpf2go's Go types.
const struct cgroup_event *unused_cgroup_event __attribute__((unused));
const struct origin_event *unused_origin_event __attribute__((unused));
const struct exec_event *unused_exec_event __attribute__((unused));

// The next never-used target id for a cgroup: user space sets it to the
// first id it leaves to the kernel side, and never hands out ids from there
// on. cgroup_tag() takes freed ids first.
__u32 next_cgroup_target = 0;

static __always_inline struct target *get_target(__u32 tag)
{
	__u32 id = TAG_TARGET(tag);
	struct target *t = bpf_map_lookup_elem(&targets, &id);
	if (!t) {
		__u32 zero = 0;
		struct drop_stats *s = bpf_map_lookup_elem(&stats, &zero);
		if (s)
			__sync_fetch_and_add(&s->target_missing, 1);
	}
	return t;
}

static __always_inline struct task_state *state_of(struct task_struct *task)
{
	return bpf_task_storage_get(&task_states, task, 0, 0);
}

// The ABI of the syscall the current task is making.
static __always_inline enum abi current_abi(struct task_struct *task, long nr)
{
#if defined(__TARGET_ARCH_x86)
	if (task->thread_info.status & TS_COMPAT)
		return ABI_COMPAT;
	if (nr & X32_SYSCALL_BIT)
		return ABI_X32;
#elif defined(__TARGET_ARCH_arm64)
	if (task->thread_info.flags & (1UL << TIF_32BIT))
		return ABI_COMPAT;
#endif
	return ABI_NATIVE;
}

// Provenance. A syscall's origin is captured where its bit in a
// target's bitmap goes from 0 to 1: the atomic or that sets it returns the
// old word, so exactly one task, the first, sends an origin_event. This
// happens once per syscall and target, and only on the paths that already
// write the bit; a syscall whose bit is set costs what it did before.

// exe_of reads the identity of the file that f refers to.
static __always_inline void exe_of(struct exe_id *id, struct file *f)
{
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	id->ino = BPF_CORE_READ(ino, i_ino);
	id->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	id->pad = 0;
}

// first_call sends the origin of syscall nr of abi in target tag, which
// the current task has just set in the target's bitmap. A function of its
// own, so that the paths that call it carry only the call.
static __noinline int first_call(__u32 tag, __u32 abi, __u32 nr)
{
	struct origin_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		struct target *t = get_target(tag);
		if (t)
			__sync_fetch_and_add(&t->events_lost, 1);
		return 0;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->kind = EVENT_ORIGIN;
	e->tag = tag & ~TAG_PENDING;
	e->time = bpf_ktime_get_boot_ns();
	exe_of(&e->exe, BPF_CORE_READ(task, mm, exe_file));
	e->tgid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->nr = nr & ~X32_SYSCALL_BIT;
	e->abi = abi;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// exec_event tells user space which file task p, of target tag, has just
// exec'd.
static __always_inline void exec_event(__u32 tag, struct task_struct *p, struct linux_binprm *bprm)
{
	struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		struct target *t = get_target(tag);
		if (t)
			__sync_fetch_and_add(&t->events_lost, 1);
		return;
	}
	e->kind = EVENT_EXEC;
	e->tag = tag & ~TAG_PENDING;
	exe_of(&e->exe, BPF_CORE_READ(bprm, file));
	e->tgid = p->tgid;
	e->pad = 0;
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(bprm, interp)) < 0)
		e->path[0] = 0;
	bpf_ringbuf_submit(e, 0);
}

// set_syscall sets syscall id's bit of abi in t, and reports whether the
// current task set it first.
static __always_inline int set_syscall(struct target *t, enum abi abi, long id)
{
	__u64 nr = (__u64)id;

	if (abi == ABI_X32)
		nr &= ~(__u64)X32_SYSCALL_BIT;
	if (nr >= SYSCALL_BITS || abi >= ABI_COUNT) {
		__sync_fetch_and_add(&t->out_of_range, 1);
		return 0;
	}
	__u64 bit = 1ULL << (nr & 63);
	__u64 *word = &t->syscalls[abi][nr >> 6];
	// Read first: once a syscall is known, the common case is a shared
	// cache line read instead of an atomic write that bounces between CPUs.
	return !(*word & bit) && !(__sync_fetch_and_or(word, bit) & bit);
}

// record records syscall id of abi in t, the target of tag.
static __always_inline void record(struct target *t, __u32 tag, enum abi abi, long id)
{
	if (set_syscall(t, abi, id))
		first_call(tag, abi, id);
}

// note_filter counts a task of t that runs under a seccomp filter, once.
static __always_inline void note_filter(struct target *t, struct task_struct *task, struct task_state *ts)
{
	if (ts->filtered || !bpf_core_field_exists(task->seccomp) ||
	    task->seccomp.mode != SECCOMP_MODE_FILTER)
		return;
	ts->filtered = 1;
	__sync_fetch_and_add(&t->filtered_tasks, 1);
}

static __always_inline void count_task(struct target *t, struct task_struct *task, struct task_state *ts)
{
	__sync_fetch_and_add(&t->tasks, 1);
	if (task->pid == task->tgid)
		__sync_fetch_and_add(&t->processes, 1);
	note_filter(t, task, ts);
}

static __always_inline struct task_slot *slot_of(__u64 task)
{
	// task_structs are at least 1 KiB apart; fold in the high bits too.
	__u32 key = ((task >> 10) ^ (task >> 24)) & slot_mask;
	return bpf_map_lookup_elem(&task_slots, &key);
}

// claim_slot gives the current task its entry, unless another task owns it.
static __always_inline void claim_slot(__u64 task, __u32 tag)
{
	struct task_slot *slot = slot_of(task);
	if (!slot || slot->tag)
		return;
	if (__sync_val_compare_and_swap(&slot->tag, 0, tag) != 0)
		return;
	slot->task = task;
}

// release_slot merges the current task's entry into its target and frees
// it.
static __always_inline void release_slot(__u64 task, struct target *t)
{
	struct task_slot *slot = slot_of(task);
	if (!slot || slot->task != task)
		return;
	slot->task = 0;
	for (int i = 0; i < SLOT_BITS / 64; i++) {
		__u64 bits = slot->syscalls[i];
		if (bits && t && (t->syscalls[ABI_NATIVE][i] & bits) != bits)
			__sync_fetch_and_or(&t->syscalls[ABI_NATIVE][i], bits);
		slot->syscalls[i] = 0;
	}
	__sync_lock_test_and_set(&slot->tag, 0);
}

// Argument capture. Every path that records a syscall of an active task
// tests its bit in arg_syscalls, and only a syscall in the set goes on to
// capture_args: a function of its own (a BPF-to-BPF call), so each path
// carries just the test and the call.

_Static_assert(ARG_SYSCALLS == SLOT_BITS, "the slot path tests arg_syscalls with the slot's word and bit");

static __always_inline void set_bit(__u64 *word, __u64 bit)
{
	if (!(*word & bit))
		__sync_fetch_and_or(word, bit);
}

static __always_inline void set_bit32(__u32 *word, __u32 bit)
{
	if (!(*word & bit))
		__sync_fetch_and_or(word, bit);
}

// arg_overflow notes a value of kind that did not fit.
static __always_inline void arg_overflow(struct target *t, struct target_args *a, __u32 kind)
{
	set_bit(&a->overflow, 1ULL << (kind & 63));
	__sync_fetch_and_add(&t->args_overflow, 1);
}

// add_value adds the low 32 bits of value to the value set of kind, of n
// entries. An entry goes from 0 to its value once, by compare-and-swap, so
// a value is never held twice: a thread that loses the race for an entry
// finds the winner's value there, its own or another, and goes on.
static __always_inline void add_value(struct target *t, struct target_args *a, __u64 *set,
				      __u32 n, __u32 kind, __u64 value)
{
	if (a->overflow & (1ULL << kind)) {
		__sync_fetch_and_add(&t->args_overflow, 1);
		return;
	}
	__u64 v = (1ULL << 32) | (value & 0xffffffff);
	// A loop, not n copies of its body: only captured syscalls run it.
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < n; i++) {
		__u64 e = set[i];
		if (e == v)
			return;
		if (!e) {
			e = __sync_val_compare_and_swap(&set[i], 0, v);
			if (!e || e == v)
				return;
		}
	}
	arg_overflow(t, a, kind);
}

// Namespace flags (include/uapi/linux/sched.h).
#define CLONE_NEWTIME 0x80ULL // clone's exit signal, outside clone3 and unshare
#define CLONE_NEWNS 0x20000ULL

// ns_combination compresses the namespace flags in flags to 8 bits:
// CLONE_NEWTIME to bit 0, CLONE_NEWNS to bit 1, and CLONE_NEWCGROUP,
// NEWUTS, NEWIPC, NEWUSER, NEWPID and NEWNET (bits 25 to 30) to bits 2 to 7.
static __always_inline __u32 ns_combination(__u64 flags)
{
	return ((flags >> 7) & 1) | ((flags >> 16) & 2) | ((flags >> 23) & 0xfc);
}

static __always_inline void add_ns(__u64 *set, __u64 flags)
{
	__u32 c = ns_combination(flags);
	set_bit(&set[(c >> 6) & 3], 1ULL << (c & 63));
}

// capture_args captures the argument of syscall nr, which the current
// task makes, into target t's values for abi. It takes the registers from
// the task rather than from sys_enter's arguments, so that sys_enter need
// not keep them across its helper calls on every syscall.
static __noinline int capture_args(struct target *t, __u32 abi, __u32 nr, struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	abi &= ARG_ABIS - 1;
	nr &= ARG_SYSCALLS - 1;
	__u8 kind = arg_kind[abi][nr];
	struct target_args *a = &t->args[abi];
	__u64 a0, a1, a2;
#if defined(__TARGET_ARCH_x86)
	if (abi == ABI_NATIVE) {
		a0 = regs->di;
		a1 = regs->si;
	} else {
		a0 = regs->bx;
		a1 = regs->cx;
	}
	a2 = regs->dx;
#else
	a0 = regs->orig_x0;
	a1 = regs->regs[1];
	a2 = regs->regs[2];
#endif
	if (abi != ABI_NATIVE) {
		// A compat syscall takes 32-bit arguments, whatever the upper
		// halves of the registers hold.
		a0 &= 0xffffffff;
		a1 &= 0xffffffff;
		a2 &= 0xffffffff;
	}
	switch (kind) {
	case KIND_SOCKET: {
		if (!(arg_kinds & (1U << KIND_SOCKET)))
			break;
		__u64 domain = a0 & 0xffffffff;
		if (domain >= 64) {
			arg_overflow(t, a, KIND_SOCKET);
			break;
		}
		set_bit(&a->socket_types[(domain >> 2) & 15], 1ULL << ((domain & 3) * 16 + (a1 & 0xf)));
		break;
	}
	case KIND_SOCKETPAIR: {
		if (!(arg_kinds & (1U << KIND_SOCKETPAIR)))
			break;
		__u64 domain = a0 & 0xffffffff;
		if (domain >= 64) {
			arg_overflow(t, a, KIND_SOCKETPAIR);
			break;
		}
		set_bit(&a->socketpair_domains, 1ULL << domain);
		break;
	}
	case KIND_CLONE:
		if (!(arg_kinds & (1U << KIND_CLONE)))
			break;
		add_ns(a->clone_ns, a0 & ~CLONE_NEWTIME);
		break;
	case KIND_CLONE3: {
		if (!(arg_kinds & (1U << KIND_CLONE3)))
			break;
		// The flags are the first field of struct clone_args. When they
		// cannot be read, clone3 is marked, and allowed by name.
		__u64 flags;
		if (bpf_probe_read_user(&flags, sizeof(flags), (void *)a0)) {
			arg_overflow(t, a, KIND_CLONE3);
			break;
		}
		// clone's rule cannot hold CLONE_NEWTIME (its exit signal there).
		add_ns(a->clone_ns, flags & ~CLONE_NEWTIME);
		break;
	}
	case KIND_UNSHARE:
		if (!(arg_kinds & (1U << KIND_UNSHARE)))
			break;
		add_ns(a->unshare_ns, a0);
		break;
	case KIND_SETNS:
		if (!(arg_kinds & (1U << KIND_SETNS)))
			break;
		add_value(t, a, a->setns, SETNS_VALUES, KIND_SETNS, a1);
		break;
	case KIND_PERSONALITY:
		if (!(arg_kinds & (1U << KIND_PERSONALITY)))
			break;
		add_value(t, a, a->personality, PERSONALITY_VALUES, KIND_PERSONALITY, a0);
		break;
	case KIND_PRCTL:
		if (!(arg_kinds & (1U << KIND_PRCTL)))
			break;
		add_value(t, a, a->prctl, PRCTL_VALUES, KIND_PRCTL, a0);
		break;
	case KIND_IOCTL:
		if (!(arg_kinds & (1U << KIND_IOCTL)))
			break;
		add_value(t, a, a->ioctl, IOCTL_VALUES, KIND_IOCTL, a1);
		break;
	case KIND_MMAP:
		if (!(arg_kinds & (1U << KIND_MMAP)))
			break;
		set_bit32(&a->mmap_prot, 1U << ((a2 >> 1) & 3));
		break;
	case KIND_MPROTECT:
		if (!(arg_kinds & (1U << KIND_MPROTECT)))
			break;
		set_bit32(&a->mprotect_prot, 1U << ((a2 >> 1) & 3));
		break;
	}
	return 0;
}

// capture captures the arguments of syscall id of a task of t, if they
// are in the set: a syscall outside it pays one bit test.
static __always_inline void capture(struct target *t, enum abi abi, long id, struct task_struct *task)
{
	if (abi >= ARG_ABIS || (__u64)id >= ARG_SYSCALLS)
		return;
	if (arg_kinds && (arg_syscalls[abi & 1][(id >> 6) & 7] & (1ULL << (id & 63))))
		capture_args(t, abi, id, task);
}

// slot_first finishes sys_enter for native syscall nr below SLOT_BITS
// that the current task, of target tag, has just set in its own entry for
// the first time: if the target lacks it too, the task sets it there, and
// sends its origin if it was first; then it captures the arguments, as the
// fast path does. (Entries are merged into the target when their task
// exits; this merges a syscall the moment a task first makes it.) Nothing
// of sys_enter's is live across the call, so the fast path keeps its
// registers.
static __noinline int slot_first(__u32 tag, __u32 nr)
{
	struct target *t = get_target(tag);
	if (!t)
		return 0;
	nr &= SLOT_BITS - 1;
	__u64 bit = 1ULL << (nr & 63);
	__u32 w = nr >> 6;
	__u64 *word = &t->syscalls[ABI_NATIVE][w];
	if (!(*word & bit) && !(__sync_fetch_and_or(word, bit) & bit))
		first_call(tag, ABI_NATIVE, nr);
	if (arg_kinds && (arg_syscalls[ABI_NATIVE][w] & bit))
		capture_args(t, ABI_NATIVE, nr, bpf_get_current_task_btf());
	return 0;
}

// general_first finishes on_syscall for syscall id of abi that the current
// task, of target tag, has just set first in the target's bitmap: it
// sends the origin, then does what on_syscall does after record(), so that
// nothing of on_syscall's is live across the call.
static __noinline int general_first(__u32 tag, __u32 abi, long id)
{
	first_call(tag, abi, id);
	struct target *t = get_target(tag);
	if (t)
		capture(t, abi, id, bpf_get_current_task_btf());
	claim_slot(bpf_get_current_task(), tag);
	return 0;
}

// on_syscall handles a syscall of a task whose tag is not zero.
static __always_inline int on_syscall(struct task_struct *task, __u32 tag, long id)
{
	enum abi abi = current_abi(task, id);
	if (tag & TAG_PENDING) {
		struct task_state *ts = state_of(task);
		if (ts) {
			ts->last_nr = id;
			ts->last_abi = abi;
		}
		return 0;
	}
	struct target *t = get_target(tag);
	if (t) {
		if (set_syscall(t, abi, id))
			return general_first(tag, abi, id);
		capture(t, abi, id, task);
	}
	claim_slot(bpf_get_current_task(), tag);
	return 0;
}

// tag_of reads a task's tag with plain loads: the storage of task_states
// sits in the slot of the task's storage cache that the map owns, once a
// helper lookup has put it there. It returns 0 when the slot does not
// hold it.
static __always_inline __u32 tag_of(struct bpf_local_storage *ls)
{
	struct bpf_local_storage_data *sd = 0;
	__u16 idx = ((struct bpf_local_storage_map *)&task_states)->cache_idx;
#define SLOT(i)                   \
	case i:                   \
		sd = ls->cache[i]; \
		break;
	switch (idx) {
		SLOT(0) SLOT(1) SLOT(2) SLOT(3) SLOT(4) SLOT(5) SLOT(6) SLOT(7)
		SLOT(8) SLOT(9) SLOT(10) SLOT(11) SLOT(12) SLOT(13) SLOT(14) SLOT(15)
	}
#undef SLOT
	if (!sd || sd->smap != (void *)&task_states)
		return 0;
	return *(__u32 *)sd->data;
}

// slot_capture finishes sys_enter for a captured native syscall nr that
// the current task, of target tag, has made before: the values go straight
// to the target, not the task's entry. Like slot_first, it is a call of
// its own that nothing of sys_enter's is live across, so the fast path
// stays as short for every other syscall.
static __noinline int slot_capture(__u32 tag, __u32 nr)
{
	struct target *t = get_target(tag);
	if (t)
		capture_args(t, ABI_NATIVE, nr, bpf_get_current_task_btf());
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct bpf_local_storage *ls = task->bpf_storage;
	if (!ls)
		return 0;
	__u64 addr = bpf_get_current_task();
	struct task_slot *slot = slot_of(addr);
	if (slot && slot->task == addr && (__u64)id < SLOT_BITS &&
	    current_abi(task, id) == ABI_NATIVE) {
		__u64 bit = 1ULL << (id & 63);
		__u32 w = (id >> 6) & (SLOT_BITS / 64 - 1);
		__u64 *word = &slot->syscalls[w];
		if (!(*word & bit)) {
			*word |= bit;
			return slot_first(slot->tag, id);
		}
		if (arg_kinds && (arg_syscalls[ABI_NATIVE][w] & bit))
			return slot_capture(slot->tag, id);
		return 0;
	}
	__u32 tag = tag_of(ls);
	if (!tag) {
		// The cache slot is empty or holds another map's storage: ask the
		// helper, which searches the task's storages and refills the slot.
		struct task_state *ts = state_of(task);
		if (!ts || !ts->tag)
			return 0;
		tag = ts->tag;
	}
	return on_syscall(task, tag, id);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_portable, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *ts = state_of(task);
	if (!ts || !ts->tag)
		return 0;
	return on_syscall(task, ts->tag, id);
}

// join_target makes task a live task of target t, with tag: it creates
// the task's storage, or counts the task as lost when it cannot (out of
// memory, or another BPF program held the storage lock).
static __always_inline struct task_state *join_target(struct target *t, struct task_struct *task, __u32 tag)
{
	struct task_state *ts = bpf_task_storage_get(&task_states, task, 0,
						     BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		__sync_fetch_and_add(&t->lost_tasks, 1);
		return 0;
	}
	ts->tag = tag;
	ts->last_nr = -1;
	__sync_fetch_and_add(&t->live, 1);
	return ts;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_state *ps = state_of(parent);
	__u32 tag = ps ? ps->tag : 0;

	if (!tag) {
		__u32 tid = parent->pid;
		__u32 *id = bpf_map_lookup_elem(&launchers, &tid);
		if (!id)
			return 0;
		// A new thread of the launcher's own process is not the command.
		if (child->pid != child->tgid)
			return 0;
		tag = (*id + 1) | TAG_PENDING;
	}

	struct target *t = get_target(tag);
	if (!t)
		return 0;
	struct task_state *cs = join_target(t, child, tag);
	if (!cs)
		return 0;
	// A pending task is counted when it execs: a launcher may fork
	// children that never do (Go probes pidfd support that way).
	if (!(tag & TAG_PENDING))
		count_task(t, child, cs);
	return 0;
}

static __always_inline void count_drop(__u64 *field)
{
	__sync_fetch_and_add(field, 1);
}

// new_cgroup_target takes a target id for a new container cgroup: a freed
// one, else a never-used one. It returns max_targets when none is left.
static __always_inline __u32 new_cgroup_target(void)
{
	__u32 id;
	if (bpf_map_pop_elem(&free_cgroup_targets, &id) == 0 && id < max_targets)
		return id;
	// Checked first, so failed attempts cannot wrap the counter around
	// into the ids that user space hands out.
	if (next_cgroup_target >= max_targets)
		return max_targets;
	return __sync_fetch_and_add(&next_cgroup_target, 1);
}

// cgroup_tag returns the tag of container cgroup cg, which task is in,
// creating the cgroup's target on first use.
static __always_inline __u32 cgroup_tag(struct task_struct *task, __u64 cg)
{
	__u32 *tagp = bpf_map_lookup_elem(&cgroup_tags, &cg);
	if (tagp)
		return *tagp;
	__u32 zero = 0;
	struct drop_stats *s = bpf_map_lookup_elem(&stats, &zero);
	__u32 id = new_cgroup_target();
	if (id >= max_targets) {
		if (s)
			count_drop(&s->cgroups_full);
		return 0;
	}
	__u32 tag = id + 1;
	if (bpf_map_update_elem(&cgroup_tags, &cg, &tag, BPF_NOEXIST)) {
		// Another CPU won the race for this cgroup, or the map is full:
		// the id goes back for reuse (its slot is still zero).
		bpf_map_push_elem(&free_cgroup_targets, &id, 0);
		tagp = bpf_map_lookup_elem(&cgroup_tags, &cg);
		if (tagp)
			return *tagp;
		if (s)
			count_drop(&s->cgroups_full);
		return 0;
	}
	struct cgroup_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (s)
			count_drop(&s->events_lost);
		return tag;
	}
	e->kind = EVENT_CGROUP;
	e->tag = tag;
	e->cgroup = cg;
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), task->cgroups->dfl_cgrp->kn->name);
	bpf_ringbuf_submit(e, 0);
	return tag;
}

// syscall_nr is the number of the syscall the task is making: at exec,
// the execve or execveat that made it.
static __always_inline long syscall_nr(struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return -1;
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#else
	// pt_regs.syscallno is an int on arm64. Knowing that its sign
	// extension fits in 32 bits, the compiler would turn the callers'
	// bounds checks into 32-bit compares, which the 6.1 verifier does not
	// carry over to the 64-bit register that then indexes the bitmaps
	// ("R1 unbounded memory access"). Hidden behind the barrier, the
	// value is checked in 64 bits.
	long nr = regs->syscallno;
	asm volatile("" : "+r"(nr));
	return nr;
#endif
}

// start_container starts recording a task that execs in a container: in
// a cgroup below a container root, outside the host's mount namespace.
static __always_inline int start_container(struct task_struct *p, struct linux_binprm *bprm)
{
	if (p->nsproxy->mnt_ns->ns.inum == host_mnt_ns)
		return 0;
	int under = 0;
	for (__u32 i = 0; i < MAX_CONTAINER_ROOTS; i++) {
		if (i >= container_roots_n)
			break;
		if (bpf_current_task_under_cgroup(&container_roots, i) == 1) {
			under = 1;
			break;
		}
	}
	if (!under)
		return 0;
	__u32 tag = cgroup_tag(p, bpf_get_current_cgroup_id());
	if (!tag)
		return 0;
	struct target *t = get_target(tag);
	if (!t)
		return 0;
	struct task_state *ts = join_target(t, p, tag);
	if (!ts)
		return 0;
	__sync_fetch_and_add(&t->execs, 1);
	count_task(t, p, ts);
	exec_event(tag, p, bprm);
	long nr = syscall_nr(p);
	if (nr >= 0)
		record(t, tag, current_abi(p, nr), nr);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_state *ts = state_of(p);
	if (!ts || !ts->tag) {
		if (container_roots_n)
			return start_container(p, bprm);
		return 0;
	}
	struct target *t = get_target(ts->tag);
	if (!t)
		return 0;
	__sync_fetch_and_add(&t->execs, 1);
	exec_event(ts->tag, p, bprm);
	if (!(ts->tag & TAG_PENDING))
		return 0;

	// The command is now running: record from its execve on.
	ts->tag &= ~TAG_PENDING;
	count_task(t, p, ts);
	if (ts->last_nr >= 0)
		record(t, ts->tag, ts->last_abi, ts->last_nr);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	struct task_state *ts = state_of(p);
	if (!ts)
		return 0;
	if (ts->tag) {
		struct target *t = get_target(ts->tag);
		// This runs in the exiting task itself.
		release_slot(bpf_get_current_task(), t);
		if (t) {
			// A filter loaded after the task was counted.
			if (!(ts->tag & TAG_PENDING))
				note_filter(t, p, ts);
			__sync_fetch_and_add(&t->live, -1);
		}
	}
	bpf_task_storage_delete(&task_states, p);
	return 0;
}

// cgroup_rmdir marks the target of a removed container cgroup. The cgroup
// had no task left (rmdir refuses a populated one), and each task's exit
// hook ran before it left the cgroup; a task that had moved to another
// cgroup still counts in live, so user space frees the target only when
// live is zero too. The hook runs on every rmdir of every hierarchy: on a
// hybrid host, cgroup v1 ids may equal v2 ones, so only the v2
// hierarchy's (id 0) are looked up. A cgroup removed before its target
// existed (its task moved out during the execve that created the target)
// is missed; user space finds it gone by its file handle.
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	if (!container_roots_n || BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	__u64 cg = BPF_CORE_READ(cgrp, kn, id);
	__u32 *tagp = bpf_map_lookup_elem(&cgroup_tags, &cg);
	if (!tagp)
		return 0;
	struct target *t = get_target(*tagp);
	if (t)
		t->removed = 1;
	return 0;
}

// How many cgroup levels below_container_root walks up.
#define MAX_CGROUP_DEPTH 32

// below_container_root reports whether cgroup cg is a container root or
// lies below one, walking up its ancestors.
static __always_inline int below_container_root(struct cgroup *cg)
{
	for (int depth = 0; depth < MAX_CGROUP_DEPTH; depth++) {
		if (!cg)
			return 0;
		__u64 id = BPF_CORE_READ(cg, kn, id);
		for (__u32 i = 0; i < MAX_CONTAINER_ROOTS; i++) {
			if (i >= container_roots_n)
				break;
			if (id == container_root_ids[i])
				return 1;
		}
		// self is the first member of struct cgroup.
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return 0;
}

// adopt_running runs, as a task iterator, when a container recording
// starts: it gives every task that already runs in a container (the same
// test as start_container's) the target of its cgroup and counts it in
// `adopted`, so that its syscalls from now on are recorded and the
// recording is known to be partial. New tasks of an adopted one are
// followed by sched_process_fork. A task adopted in the instant between
// its exit hook and its removal from the task list would keep the target
// live; PF_EXITING, set before that hook, rules out all but that instant.
SEC("iter/task")
int adopt_running(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	if (!task || !container_roots_n)
		return 0;
	if (task->flags & (PF_EXITING | PF_KTHREAD))
		return 0;
	struct nsproxy *ns = task->nsproxy;
	if (!ns || BPF_CORE_READ(ns, mnt_ns, ns.inum) == host_mnt_ns)
		return 0;
	struct cgroup *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	if (!below_container_root(cg))
		return 0;
	struct task_state *ts = bpf_task_storage_get(&task_states, task, 0, 0);
	if (ts && ts->tag)
		return 0;
	__u32 tag = cgroup_tag(task, BPF_CORE_READ(cg, kn, id));
	if (!tag)
		return 0;
	struct target *t = get_target(tag);
	if (!t)
		return 0;
	ts = join_target(t, task, tag);
	if (!ts)
		return 0;
	__sync_fetch_and_add(&t->adopted, 1);
	count_task(t, task, ts);
	return 0;
}

// Capturing what a seccomp filter denies. The kernel runs a task's
// filter before the sys_enter tracepoint, and a syscall the filter denies
// never reaches it. Two programs see such syscalls; user space loads one:
//   - secure_computing, on the kernel's seccomp entry, which the kernel
//     calls only for tasks in seccomp mode, before the filter decides. It
//     costs nothing to other tasks, but needs fentry, which some kernels
//     do not allow.
//   - sys_exit_filtered, on the sys_exit tracepoint, which a denied
//     syscall (errno, trap, or trace without a tracer) still reaches. It
//     works wherever sys_enter does, but runs on every syscall of every
//     task, as sys_enter does. A syscall whose action kills the task is
//     seen by neither; the task dies of it.

// capture_filtered records the current syscall of a traced task that runs
// under a seccomp filter.
static __always_inline int capture_filtered(struct task_struct *task)
{
	struct task_state *ts = state_of(task);
	if (!ts || !ts->tag || (ts->tag & TAG_PENDING))
		return 0;
	long nr = syscall_nr(task);
	if (nr < 0)
		return 0;
	struct target *t = get_target(ts->tag);
	if (!t)
		return 0;
	enum abi abi = current_abi(task, nr);
	record(t, ts->tag, abi, nr);
	// Denied syscalls' values too: a recording under a filter has them.
	capture(t, abi, nr, task);
	note_filter(t, task, ts);
	return 0;
}

// Its signature differs across kernels (it lost its argument in 6.15);
// the syscall is read from the task's registers either way.
SEC("fentry/__secure_computing")
int BPF_PROG(secure_computing)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!task->bpf_storage)
		return 0;
	return capture_filtered(task);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_filtered, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!task->bpf_storage || !bpf_core_field_exists(task->seccomp) ||
	    task->seccomp.mode != SECCOMP_MODE_FILTER)
		return 0;
	return capture_filtered(task);
}
