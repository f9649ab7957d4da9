//go:build ignore

// The floor of any sys_enter tracer: programs that do nothing, on the
// same tracepoint that sysrec uses. Their cost is what the kernel charges
// for running any BPF program on every syscall.
#include "../bpf/types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("raw_tp/sys_enter")
int floor_raw_tp(void *ctx)
{
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_tp_btf, struct pt_regs *regs, long id)
{
	return 0;
}
