//go:build cgo

package enforce

/*
#include "trampoline.h"
*/
import "C"

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/violations"
)

// Exec replaces the calling process with the program at path, run with
// argv and env under filter f: the process keeps its pid, so the
// command's exit status is the caller's. It returns only on error.
func Exec(path string, argv, env []string, f *Filter) error {
	file, err := filterFile(path, f)
	if err != nil {
		return err
	}
	defer file.Close()
	key := C.SYSREC_ENFORCE_FD
	env = append(withoutVar(env, key), key+"="+strconv.Itoa(int(file.Fd())))
	// The constructor in trampoline.c takes over before Go starts.
	err = unix.Exec("/proc/self/exe", argv, env)
	return fmt.Errorf("re-executing sysrec to load the filter: %w", err)
}

// Start starts cmd as a child process under filter f: cmd.Path runs with
// cmd.Args, its environment and its stdio, and the filter is loaded right
// before its execve, as Exec does. The caller waits for cmd as usual.
func Start(cmd *exec.Cmd, f *Filter) error {
	file, err := filterFile(cmd.Path, f)
	if err != nil {
		return err
	}
	defer file.Close()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding sysrec's own binary to load the filter: %w", err)
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	key := C.SYSREC_ENFORCE_FD
	// ExtraFiles[i] is the child's descriptor 3+i.
	cmd.Env = append(withoutVar(env, key), key+"="+strconv.Itoa(3+len(cmd.ExtraFiles)))
	cmd.ExtraFiles = append(cmd.ExtraFiles, file)
	cmd.Path = self
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", cmd.Args[0], err)
	}
	return nil
}

// filterFile passes a compiled filter and the path of the program to run
// under it to trampoline.c: a memfd holding struct sysrec_blob, the path
// and the instructions. It is not close-on-exec: the re-executed sysrec
// reads it.
func filterFile(path string, f *Filter) (*os.File, error) {
	if len(f.Program) == 0 {
		return nil, fmt.Errorf("running %s: the compiled filter is empty", path)
	}
	// struct sysrec_blob of trampoline.h: five uint32s.
	var blob bytes.Buffer
	hdr := [5]uint32{C.SYSREC_BLOB_MAGIC, f.Flags, uint32(btoi(f.NoNewPrivs)), uint32(len(f.Program)), uint32(len(path))}
	binary.Write(&blob, binary.NativeEndian, hdr)
	blob.WriteString(path)
	binary.Write(&blob, binary.NativeEndian, f.Program)

	fd, err := unix.MemfdCreate("sysrec-filter", 0)
	if err != nil {
		return nil, fmt.Errorf("passing the filter to %s: %w", path, err)
	}
	file := os.NewFile(uintptr(fd), "sysrec-filter")
	if _, err := file.Write(blob.Bytes()); err != nil {
		file.Close()
		return nil, fmt.Errorf("passing the filter to %s: %w", path, err)
	}
	if _, err := file.Seek(0, 0); err != nil {
		file.Close()
		return nil, fmt.Errorf("passing the filter to %s: %w", path, err)
	}
	return file, nil
}

// LogMarker makes the kernel log one seccomp record, of a short-lived
// process whose comm is violations.MarkerComm and whose pid it returns,
// and returns once that process has exited.
// The audit subsystem delivers records in the order they were made, so a
// reader that sees the marker has seen every record made before LogMarker
// was called.
func LogMarker() (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("finding sysrec's own binary to log a marker: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{C.SYSREC_LOG_MARKER + "=" + violations.MarkerComm}
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("logging a marker record: %w", err)
	}
	return cmd.Process.Pid, nil
}

// The Go header and the C one must agree in size.
var _ [unsafe.Sizeof([5]uint32{}) - C.sizeof_struct_sysrec_blob]struct{}
var _ [C.sizeof_struct_sysrec_blob - unsafe.Sizeof([5]uint32{})]struct{}

func withoutVar(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
