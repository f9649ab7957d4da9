// Package proc reads what sysrec needs of /proc/PID/stat.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Stat is what sysrec reads of a process's stat file.
type Stat struct {
	// PPID is its parent's pid (field 4).
	PPID int
	// Start is its start time, in clock ticks since boot (field 22): a
	// pid that is reused comes with another.
	Start uint64
}

// ReadStat reads procRoot/PID/stat ("/proc" in production).
func ReadStat(procRoot string, pid int) (Stat, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, fmt.Errorf("reading the stat of pid %d: %w", pid, err)
	}
	return parseStat(pid, data)
}

func parseStat(pid int, data []byte) (Stat, error) {
	// The command name, field 2, is in parentheses and may hold spaces
	// and parentheses: the fields after it follow the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("reading the stat of pid %d: no command name in it", pid)
	}
	fields := bytes.Fields(data[i+1:])
	const ppidField, startField = 4 - 3, 22 - 3 // fields[0] is field 3, the state
	if len(fields) <= startField {
		return Stat{}, fmt.Errorf("reading the stat of pid %d: %d fields after the command name, want more than %d", pid, len(fields), startField)
	}
	ppid, err := strconv.Atoi(string(fields[ppidField]))
	if err != nil {
		return Stat{}, fmt.Errorf("reading the parent of pid %d: %w", pid, err)
	}
	start, err := strconv.ParseUint(string(fields[startField]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("reading the start time of pid %d: %w", pid, err)
	}
	return Stat{PPID: ppid, Start: start}, nil
}
