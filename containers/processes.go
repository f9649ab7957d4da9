package containers

import (
	"context"
	"time"

	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/internal/proc"
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
	st, err := proc.ReadStat(p.procRoot, pid)
	if err != nil {
		return nil // gone: nothing to name it by
	}
	key := process{pid, st.Start}
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
	if again, err := proc.ReadStat(p.procRoot, pid); err == nil && again.Start == st.Start && ctx.Err() == nil {
		p.cache.put(key, info)
	}
	return info
}
