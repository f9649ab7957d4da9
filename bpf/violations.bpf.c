//go:build ignore

// The argument values of seccomp violations. A seccomp audit record
// (type=1326) names the syscall but not its arguments, so a profile whose
// rule allows a syscall only with some argument values cannot be widened
// from the record alone. This object hooks the kernel function that makes
// the record, audit_seccomp (__audit_seccomp in older kernels), and sends,
// for each record, the task, the syscall and its six arguments, read from the
// task's saved user registers, through a ring buffer; user space
// (violations.ArgTracer) joins them with the records it reads.
//
// The fentry program is preferred; where the kernel refuses fentry (a BPF
// LSM policy, lockdown, no trampolines), the kprobe program does the
// same. Both run only when the kernel logs a seccomp action, never per
// syscall, and their events are exact: one per record.
//
// Where the kernel allows neither (no CONFIG_KPROBES, and fentry refused),
// sys_enter_watched is the fallback: on the raw sys_enter tracepoint,
// which the kernel passes after seccomp let a syscall through (allowed or
// logged), it sends the arguments of the syscalls that user space watches
// (the violation_watched bitmaps), for tasks under a seccomp filter only. Its
// events are candidates: user space tells a logged call from an allowed
// one by the profile's rules. A syscall that the filter refuses (errno,
// kill, trap) never reaches the tracepoint, so its record gets none.
//
// Every type is declared here, with preserve_access_index, so that this
// object does not depend on sysrec.bpf.c's declarations.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

// From include/uapi/linux/bpf.h.
enum bpf_map_type {
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_RINGBUF = 27,
};

// arch/x86/include/asm/thread_info.h: set while a task runs a 32-bit syscall.
#define TS_COMPAT 0x0002
// arch/arm64/include/asm/thread_info.h: an AArch32 task.
#define TIF_32BIT 22

struct thread_info {
#if defined(__TARGET_ARCH_x86)
	__u32 status;
#else
	unsigned long flags;
#endif
} __attribute__((preserve_access_index));

// include/uapi/linux/seccomp.h.
#define SECCOMP_MODE_FILTER 2

struct seccomp {
	int mode;
} __attribute__((preserve_access_index));

struct task_struct {
	struct thread_info thread_info;
	struct seccomp seccomp;
} __attribute__((preserve_access_index));

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
// The kprobe context (bpf_user_pt_regs_t).
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} __attribute__((preserve_access_index));
// The kernel's pt_regs starts with user_pt_regs' fields, in an anonymous
// union; CO-RE finds them by name.
struct pt_regs {
	__u64 regs[31];
	__u64 orig_x0;
	__s32 syscallno;
} __attribute__((preserve_access_index));
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// One logged seccomp action.
struct violation_event {
	__u64 args[6]; // the syscall's arguments, as the filter saw them
	__s64 nr;      // the syscall number audit_seccomp was given (x32's with its bit)
	__u32 pid;     // the thread group id, as the record's pid= shows it
	__u32 tid;
	__u32 code;   // the filter's return value, as the record's code= shows it; 0 from the fallback
	__u8 compat;  // a 32-bit syscall: i386 on x86_64, arm on aarch64
	__u8 exact;   // 1: sent for a record (audit_seccomp); 0: a candidate (sys_enter_watched)
	__u8 pad[2];
};

// The syscall numbers whose arguments sys_enter_watched sends, one bitmap
// per ABI (native, compat, x32 with its bit cleared).
#define WATCH_BITS 1024
#define WATCH_WORDS (WATCH_BITS / 64)
#define WATCH_ABIS 3
#define X32_SYSCALL_BIT 0x40000000

struct violation_watch {
	__u64 bits[WATCH_ABIS][WATCH_WORDS];
};

// Counts, so that user space can tell when it has read every event sent
// before a record reached it.
struct violation_counts {
	__u64 sent;    // events submitted to the ring
	__u64 dropped; // events the full ring had no room for
};

// Unused; it makes bpf2go emit the types.
const struct violation_event *unused_violation_event __attribute__((unused));
const struct violation_counts *unused_violation_counts __attribute__((unused));
const struct violation_watch *unused_violation_watch __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} violation_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct violation_counts);
} violation_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct violation_watch);
} violation_watched SEC(".maps");

static __always_inline int is_compat(struct task_struct *task)
{
#if defined(__TARGET_ARCH_x86)
	return (task->thread_info.status & TS_COMPAT) != 0;
#elif defined(__TARGET_ARCH_arm64)
	return (task->thread_info.flags & (1UL << TIF_32BIT)) != 0;
#else
	return 0;
#endif
}

static __always_inline int emit(struct task_struct *task, struct pt_regs *regs, long nr, int code, int compat, int exact)
{
	__u32 zero = 0;
	struct violation_counts *c = bpf_map_lookup_elem(&violation_stats, &zero);
	struct violation_event *e = bpf_ringbuf_reserve(&violation_events, sizeof(*e), 0);
	if (!e) {
		if (c)
			__sync_fetch_and_add(&c->dropped, 1);
		return 0;
	}
	__u64 id = bpf_get_current_pid_tgid();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->nr = nr;
	e->code = (__u32)code;
	e->compat = compat;
	e->exact = exact;
	e->pad[0] = e->pad[1] = 0;
#if defined(__TARGET_ARCH_x86)
	if (compat) {
		e->args[0] = regs->bx;
		e->args[1] = regs->cx;
		e->args[2] = regs->dx;
		e->args[3] = regs->si;
		e->args[4] = regs->di;
		e->args[5] = regs->bp;
	} else {
		e->args[0] = regs->di;
		e->args[1] = regs->si;
		e->args[2] = regs->dx;
		e->args[3] = regs->r10;
		e->args[4] = regs->r8;
		e->args[5] = regs->r9;
	}
#elif defined(__TARGET_ARCH_arm64)
	e->args[0] = regs->orig_x0;
	e->args[1] = regs->regs[1];
	e->args[2] = regs->regs[2];
	e->args[3] = regs->regs[3];
	e->args[4] = regs->regs[4];
	e->args[5] = regs->regs[5];
#else
	for (int i = 0; i < 6; i++)
		e->args[i] = 0;
#endif
	// Counted before it is visible: a reader that has read `sent` events
	// has every one sent before it looked.
	if (c)
		__sync_fetch_and_add(&c->sent, 1);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// An event for the record that audit_seccomp is making: the arguments
// are in the registers that the task entered the kernel with.
static __always_inline int emit_record(long nr, int code)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	return emit(task, regs, nr, code, is_compat(task), 1);
}

// void audit_seccomp(unsigned long syscall, long signr, int code)
SEC("fentry/audit_seccomp")
int BPF_PROG(audit_seccomp_fentry, unsigned long syscall, long signr, int code)
{
	return emit_record((long)syscall, code);
}

// The same, where the kernel refuses fentry. The arguments are read from
// the probe's registers directly: bpf_tracing.h's PT_REGS_PARM macros
// want user space's register names without a vmlinux.h.
SEC("kprobe/audit_seccomp")
int audit_seccomp_kprobe(void *ctx)
{
#if defined(__TARGET_ARCH_x86)
	struct pt_regs *r = ctx;
	return emit_record((long)r->di, (int)r->dx);
#elif defined(__TARGET_ARCH_arm64)
	struct user_pt_regs *r = ctx;
	return emit_record((long)r->regs[0], (int)r->regs[2]);
#else
	return 0;
#endif
}

// The fallback. Every syscall on the machine passes here: a task without
// a seccomp filter costs one load.
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_watched, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->seccomp.mode != SECCOMP_MODE_FILTER)
		return 0;
	int compat = is_compat(task);
	int abi = compat ? 1 : 0;
	__u64 nr = (__u64)id;
	if (!compat && (nr & X32_SYSCALL_BIT)) {
		abi = 2;
		nr &= ~(__u64)X32_SYSCALL_BIT;
	}
	if (nr >= WATCH_BITS)
		return 0;
	__u32 zero = 0;
	struct violation_watch *w = bpf_map_lookup_elem(&violation_watched, &zero);
	if (!w || !(w->bits[abi][nr / 64] & (1ULL << (nr % 64))))
		return 0;
	return emit(task, regs, id, 0, compat, 0);
}
