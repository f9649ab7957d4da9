// Package bpf holds sysrec's eBPF programs and the objects that bpf2go
// compiles from them for each architecture. The C sources are
// sysrec.bpf.c (the recorder) and violations.bpf.c (the arguments of
// seccomp violations, see violations.go); the generated *_bpfel.go and *_bpfel.o files are committed so that
// building sysrec needs no clang. `make generate` rebuilds them.
package bpf

//go:generate go tool bpf2go -target amd64,arm64 -cc clang-14 -strip llvm-strip-14 -cflags "-mcpu=v3 -Wall -Werror" -type target -type target_args -type task_state -type task_slot -type cgroup_event -type origin_event -type exec_event -type exe_id -type drop_stats sysrec sysrec.bpf.c
