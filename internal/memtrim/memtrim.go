// Package memtrim hands back the pages of a long-running process's own
// executable that only its start-up touched.
//
// A Go binary that links client-go, containerd's client and the eBPF
// loader runs the init functions of hundreds of packages and reads their
// type data once at start-up; those pages of the executable then stay
// mapped, and counted in the process's RSS, although nothing uses them
// again. Dropping the mappings of the executable's read-only segments
// (MADV_DONTNEED on a private, read-only file mapping: the page cache
// keeps the data, and a page that is used again faults back in) leaves
// the RSS to follow the working set.
package memtrim

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Executable drops this process's mappings of the read-only segments of
// its executable, and returns how many bytes of address space it
// covered. Writable mappings are left alone: their pages hold data.
func Executable() (int, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("finding the executable: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("reading the mappings: %w", err)
	}
	defer f.Close()
	total := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") || !strings.HasSuffix(fields[1], "p") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED); errno != 0 {
			return total, fmt.Errorf("dropping the mapping %s of %s: %w", fields[0], exe, errno)
		}
		total += int(end - start)
	}
	return total, sc.Err()
}
