// Minimal kernel types for sysrec's CO-RE programs. Only the fields the
// programs read are declared; preserve_access_index makes libbpf-style
// loaders (cilium/ebpf here) relocate every access against the running
// kernel's BTF, so no vmlinux.h is needed.
#pragma once

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
typedef int pid_t;

// From include/uapi/linux/bpf.h.
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_CGROUP_ARRAY = 8,
	BPF_MAP_TYPE_QUEUE = 22,
	BPF_MAP_TYPE_RINGBUF = 27,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
};
#define BPF_F_NO_PREALLOC (1U << 0)
#define BPF_NOEXIST 1
#define BPF_LOCAL_STORAGE_GET_F_CREATE (1ULL << 0)

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

// Task-local storage internals (include/linux/bpf_local_storage.h), read
// directly so the hot path needs no helper call.
#define BPF_LOCAL_STORAGE_CACHE_SIZE 16

struct bpf_local_storage_map {
	__u16 cache_idx;
} __attribute__((preserve_access_index));

struct bpf_local_storage_data {
	struct bpf_local_storage_map *smap;
	__u8 data[];
} __attribute__((preserve_access_index));

struct bpf_local_storage {
	struct bpf_local_storage_data *cache[BPF_LOCAL_STORAGE_CACHE_SIZE];
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct mnt_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct nsproxy {
	struct mnt_namespace *mnt_ns;
} __attribute__((preserve_access_index));

struct kernfs_node {
	const char *name;
	__u64 id; // the cgroup id, for a cgroup's node
} __attribute__((preserve_access_index));

struct cgroup_subsys_state {
	struct cgroup_subsys_state *parent;
} __attribute__((preserve_access_index));

// A cgroup hierarchy; the cgroup v2 one has hierarchy_id 0.
struct cgroup_root {
	int hierarchy_id;
} __attribute__((preserve_access_index));

struct cgroup {
	struct cgroup_subsys_state self;
	struct kernfs_node *kn;
	struct cgroup_root *root;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));

// include/linux/sched.h and include/uapi/linux/seccomp.h.
#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000
#define SECCOMP_MODE_FILTER 2

struct seccomp {
	int mode;
} __attribute__((preserve_access_index));

// The executable a task runs (mm->exe_file), and the one an execve loads
// (bprm->file): its inode identifies it.
struct super_block {
	__u32 s_dev; // dev_t
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file *exe_file;
} __attribute__((preserve_access_index));

// include/linux/binfmts.h. interp is the path of the file that runs: the
// name execve was given, or a script's interpreter.
struct linux_binprm {
	struct file *file;
	const char *filename;
	const char *interp;
} __attribute__((preserve_access_index));

struct task_struct {
	struct thread_info thread_info;
	unsigned int flags;
	struct seccomp seccomp;
	struct nsproxy *nsproxy;
	struct css_set *cgroups;
	struct bpf_local_storage *bpf_storage;
	pid_t pid;
	pid_t tgid;
	struct mm_struct *mm;
} __attribute__((preserve_access_index));

// The registers a syscall was made with. x86_64 passes the first
// arguments in di, si, dx; i386 in bx, cx, dx. arm64 (both ABIs) passes
// them in regs[0..], which the kernel's pt_regs holds in an anonymous
// union with user_pt_regs: CO-RE finds a field inside an anonymous member
// by its name. regs[0] becomes the return value at the syscall's exit;
// orig_x0 keeps the first argument.
struct pt_regs {
#if defined(__TARGET_ARCH_x86)
	unsigned long bx;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
#else
	__u64 regs[31];
	__u64 orig_x0;
	__s32 syscallno;
#endif
} __attribute__((preserve_access_index));

// The context of a task iterator (kernel/bpf/task_iter.c).
struct bpf_iter_meta {
	void *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));
