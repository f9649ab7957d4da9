package containers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sysrec/sysrec/cri"
)

// Lookup returns what the runtime knows about a container, by id:
// cri.Client does.
type Lookup interface {
	Container(ctx context.Context, id string) (*cri.Container, error)
}

// Processes names the containers of processes, through their cgroup in
// procRoot/PID/cgroup, once per process within a ttl. A cached answer is
// keyed by pid and the process's start time, so that a pid reused by
// another process is never served the container of the one before.
type Processes struct {
	lookup   Lookup
	procRoot string
	cache    *cache[process, *cri.Container]
}

// process is a pid and its start time, which tell one process from
// another that reuses its pid.
type process struct {
	pid   int
	start uint64
}

// NewProcesses returns a Processes that reads procRoot ("/proc" in
// production) and asks lookup, which may be nil: then no process is
// named. Answers are kept for ttl; now is the clock, nil for time.Now.
func NewProcesses(lookup Lookup, procRoot string, ttl time.Duration, now func() time.Time) *Processes {
	return &Processes{lookup: lookup, procRoot: procRoot, cache: newCache[process, *cri.Container](ttl, now)}
}

// Container returns the container of process pid, nil when it is in none,
// when the runtime does not know it, or when the process has gone.
func (p *Processes) Container(ctx context.Context, pid int) *cri.Container {
	if p.lookup == nil {
		return nil
	}
	start, err := startTime(p.procRoot, pid)
	if err != nil {
		return nil // gone: nothing to name it by
	}
	key := process{pid, start}
	if c, ok := p.cache.get(key); ok {
		return c
	}
	p.cache.sweep()
	var info *cri.Container
	if id, _, ok, err := cri.ContainerIDOfPID(p.procRoot, pid); err == nil && ok {
		info, _ = p.lookup.Container(ctx, id)
	}
	// The answer holds for the process that was asked about only while
	// its pid was not reused in between.
	if again, err := startTime(p.procRoot, pid); err == nil && again == start && ctx.Err() == nil {
		p.cache.put(key, info)
	}
	return info
}

// startTime reads the start time of process pid, in clock ticks since
// boot: field 22 of procRoot/PID/stat.
func startTime(procRoot string, pid int) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading the start time of pid %d: %w", pid, err)
	}
	// The command name, field 2, is in parentheses and may hold spaces
	// and parentheses: the fields after it follow the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("reading the start time of pid %d: no command name in its stat", pid)
	}
	fields := bytes.Fields(data[i+1:])
	const startField = 22 - 3 // fields[0] is field 3, the state
	if len(fields) <= startField {
		return 0, fmt.Errorf("reading the start time of pid %d: %d fields after the command name, want more than %d", pid, len(fields), startField)
	}
	start, err := strconv.ParseUint(string(fields[startField]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the start time of pid %d: %w", pid, err)
	}
	return start, nil
}
