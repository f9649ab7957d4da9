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
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Exec replaces the calling process with the program at path, run with
// argv and env under filter f: the process keeps its pid, so the
// command's exit status is the caller's. It returns only on error.
func Exec(path string, argv, env []string, f *Filter) error {
	if len(f.Program) == 0 {
		return fmt.Errorf("running %s: the compiled filter is empty", path)
	}
	// struct sysrec_blob of trampoline.h: five uint32s.
	var blob bytes.Buffer
	hdr := [5]uint32{C.SYSREC_BLOB_MAGIC, f.Flags, uint32(btoi(f.NoNewPrivs)), uint32(len(f.Program)), uint32(len(path))}
	binary.Write(&blob, binary.NativeEndian, hdr)
	blob.WriteString(path)
	binary.Write(&blob, binary.NativeEndian, f.Program)

	// Not close-on-exec: the re-executed sysrec reads it.
	fd, err := unix.MemfdCreate("sysrec-filter", 0)
	if err != nil {
		return fmt.Errorf("passing the filter to %s: %w", path, err)
	}
	file := os.NewFile(uintptr(fd), "sysrec-filter")
	defer file.Close()
	if _, err := file.Write(blob.Bytes()); err != nil {
		return fmt.Errorf("passing the filter to %s: %w", path, err)
	}
	if _, err := file.Seek(0, 0); err != nil {
		return fmt.Errorf("passing the filter to %s: %w", path, err)
	}
	key := C.SYSREC_ENFORCE_FD
	env = append(withoutVar(env, key), key+"="+strconv.Itoa(fd))
	// The constructor in trampoline.c takes over before Go starts.
	err = unix.Exec("/proc/self/exe", argv, env)
	return fmt.Errorf("re-executing sysrec to load the filter: %w", err)
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
