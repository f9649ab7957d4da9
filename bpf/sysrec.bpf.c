//go:build ignore

// sysrec's kernel side. It attributes tasks to targets and keeps one
// syscall bitmap per target, so nothing is sent to user space per syscall
// and nothing can be lost between the kernel and the profile.
//
// A task belongs to a target when it carries task-local storage. The
// storage is created in three places only:
//   - sched_process_fork, for a child whose parent carries storage (threads
//     and processes alike), so a whole process tree is followed;
//   - sched_process_fork, for the first child of a registered launcher
//     thread (see `launchers`), which starts out pending;
//   - nowhere else: untraced tasks never get any.
// A pending task becomes active at its execve (sched_process_exec), so the
// launcher's fork-to-exec code is not recorded but the execve itself is.
//
// sys_enter runs on every syscall of every task on the machine, so its
// untraced path is two helper calls: fetch the current task, find no
// storage, return.

#include "types.h"
#include <bpf/bpf_helpers.h>
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

enum task_flags {
	TASK_PENDING = 1 << 0, // forked by a launcher, not yet exec'd
	TASK_LAST_COMPAT = 1 << 1, // the pending task's last syscall was compat
	TASK_LAST_X32 = 1 << 2, // the pending task's last syscall was x32
};

// Per-target state. One array slot per target, indexed by the target id
// that user space hands out. New per-target data (for example the value
// sets of a few scalar syscall arguments, keyed by a small slot table that
// user space fills) goes at the end of this struct: user space reads it
// through the generated Go type, so adding fields needs no other change.
struct target {
	__u64 syscalls[ABI_COUNT][SYSCALL_WORDS];
	__s64 live; // tasks of the target that have not exited
	__u64 tasks; // tasks the target ever had (threads included)
	__u64 processes; // of those, thread-group leaders
	__u64 execs; // successful execve calls
	__u64 out_of_range; // syscalls numbered past SYSCALL_BITS
	__u64 lost_tasks; // tasks whose storage could not be created
};

struct task_state {
	__u32 target;
	__u32 flags;
	__s64 last_nr; // pending tasks: the last syscall, to record execve
};

// Counters for the places where the kernel side could drop data and
// that are not tied to one target.
struct drop_stats {
	__u64 target_missing; // storage pointed at a slot that doesn't exist
	__u64 storage_busy; // storage creation refused (nested BPF or ENOMEM)
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

static __always_inline void count_stat(__u64 *field)
{
	__sync_fetch_and_add(field, 1);
}

static __always_inline struct drop_stats *get_stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline struct target *get_target(__u32 id)
{
	struct target *t = bpf_map_lookup_elem(&targets, &id);
	if (!t) {
		struct drop_stats *s = get_stats();
		if (s)
			count_stat(&s->target_missing);
	}
	return t;
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

static __always_inline void record(struct target *t, enum abi abi, long id)
{
	__u64 nr = (__u64)id;

	if (abi == ABI_X32)
		nr &= ~(__u64)X32_SYSCALL_BIT;
	if (nr >= SYSCALL_BITS || abi >= ABI_COUNT) {
		__sync_fetch_and_add(&t->out_of_range, 1);
		return;
	}
	__u64 bit = 1ULL << (nr & 63);
	__u64 *word = &t->syscalls[abi][nr >> 6];
	// Read first: once a syscall is known, the common case is a shared
	// cache line read instead of an atomic write that bounces between CPUs.
	if (!(*word & bit))
		__sync_fetch_and_or(word, bit);
}

static __always_inline void count_task(struct target *t, struct task_struct *task)
{
	__sync_fetch_and_add(&t->tasks, 1);
	if (task->pid == task->tgid)
		__sync_fetch_and_add(&t->processes, 1);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *ts = bpf_task_storage_get(&task_states, task, 0, 0);
	if (!ts)
		return 0;

	enum abi abi = current_abi(task, id);
	if (ts->flags & TASK_PENDING) {
		ts->last_nr = id;
		ts->flags &= ~(TASK_LAST_COMPAT | TASK_LAST_X32);
		if (abi == ABI_COMPAT)
			ts->flags |= TASK_LAST_COMPAT;
		else if (abi == ABI_X32)
			ts->flags |= TASK_LAST_X32;
		return 0;
	}

	struct target *t = get_target(ts->target);
	if (t)
		record(t, abi, id);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_state *ps = bpf_task_storage_get(&task_states, parent, 0, 0);
	__u32 target, flags;

	if (ps) {
		target = ps->target;
		flags = ps->flags & TASK_PENDING;
	} else {
		__u32 tid = parent->pid;
		__u32 *id = bpf_map_lookup_elem(&launchers, &tid);
		if (!id)
			return 0;
		// A new thread of the launcher's own process is not the command.
		if (child->pid != child->tgid)
			return 0;
		target = *id;
		flags = TASK_PENDING;
	}

	struct target *t = get_target(target);
	if (!t)
		return 0;
	struct task_state *cs = bpf_task_storage_get(&task_states, child, 0,
						     BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cs) {
		__sync_fetch_and_add(&t->lost_tasks, 1);
		struct drop_stats *s = get_stats();
		if (s)
			count_stat(&s->storage_busy);
		return 0;
	}
	cs->target = target;
	cs->flags = flags;
	cs->last_nr = -1;
	__sync_fetch_and_add(&t->live, 1);
	// A pending task is counted when it execs: a launcher may fork
	// children that never do (Go probes pidfd support that way).
	if (!(flags & TASK_PENDING))
		count_task(t, child);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_state *ts = bpf_task_storage_get(&task_states, p, 0, 0);
	if (!ts)
		return 0;
	struct target *t = get_target(ts->target);
	if (!t)
		return 0;
	__sync_fetch_and_add(&t->execs, 1);
	if (!(ts->flags & TASK_PENDING))
		return 0;

	// The command is now running: record from its execve on.
	enum abi abi = ABI_NATIVE;
	if (ts->flags & TASK_LAST_COMPAT)
		abi = ABI_COMPAT;
	else if (ts->flags & TASK_LAST_X32)
		abi = ABI_X32;
	ts->flags = 0;
	count_task(t, p);
	if (ts->last_nr >= 0)
		record(t, abi, ts->last_nr);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	struct task_state *ts = bpf_task_storage_get(&task_states, p, 0, 0);
	if (!ts)
		return 0;
	struct target *t = get_target(ts->target);
	if (t)
		__sync_fetch_and_add(&t->live, -1);
	bpf_task_storage_delete(&task_states, p);
	return 0;
}
