// Package enforce runs a command under a seccomp profile: it compiles the
// profile with libseccomp, the library runc and crun compile profiles with,
// so a command gets the same filter a container with the profile would,
// and loads it in a single-threaded process right before the command's
// execve.
//
// Go cannot load a filter safely in its own process: its runtime threads
// would run under the filter, and between loading it and exec'ing the
// command the runtime makes syscalls a recorded profile does not allow.
// So Exec re-executes sysrec itself with the compiled program in a memfd,
// and a C constructor (trampoline.c), which runs before the Go runtime
// starts, loads it and calls execve. The only syscall made under the
// filter before the command is that execve, which every recording holds.
package enforce
