package main

import (
	"fmt"
	"slices"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// progIDs lists the BPF programs loaded on the machine.
func progIDs() (map[ebpf.ProgramID]bool, error) {
	ids := map[ebpf.ProgramID]bool{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return ids, nil // ErrNotExist ends the walk
		}
		ids[next] = true
		id = next
	}
}

// mapIDs lists the BPF maps loaded on the machine.
func mapIDs() map[ebpf.MapID]bool {
	ids := map[ebpf.MapID]bool{}
	var id ebpf.MapID
	for {
		next, err := ebpf.MapGetNextID(id)
		if err != nil {
			return ids
		}
		ids[next] = true
		id = next
	}
}

// progRef is a program found by ID, with the name it was loaded with.
type progRef struct {
	prog *ebpf.Program
	name string
}

// newProgs opens the programs loaded since before was taken whose name
// matches one of names (all when names is empty).
func newProgs(before map[ebpf.ProgramID]bool, names ...string) ([]progRef, error) {
	now, err := progIDs()
	if err != nil {
		return nil, err
	}
	var ids []ebpf.ProgramID
	for id := range now {
		if !before[id] {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var out []progRef
	for _, id := range ids {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		info, err := p.Info()
		if err != nil {
			p.Close()
			continue
		}
		if len(names) > 0 && !slices.Contains(names, info.Name) {
			p.Close()
			continue
		}
		out = append(out, progRef{p, info.Name})
	}
	return out, nil
}

// runStats is a program's accumulated run time and run count.
type runStats struct {
	ns   uint64
	runs uint64
}

func statsOf(progs []progRef) (runStats, error) {
	var s runStats
	for _, p := range progs {
		st, err := p.prog.Stats()
		if err != nil {
			return s, fmt.Errorf("reading stats of %s: %w", p.name, err)
		}
		s.ns += uint64(st.Runtime.Nanoseconds())
		s.runs += st.RunCount
	}
	return s, nil
}

// nsPerRun is the average run time between two snapshots.
func nsPerRun(before, after runStats) float64 {
	if after.runs == before.runs {
		return 0
	}
	return float64(after.ns-before.ns) / float64(after.runs-before.runs)
}

func closeAll(progs []progRef) {
	for _, p := range progs {
		p.prog.Close()
	}
}

// floorProgram attaches one of the empty programs of floor.bpf.c.
type floorProgram struct {
	objs floorObjects
	l    link.Link
	prog *ebpf.Program
}

func attachFloor(kind string) (*floorProgram, error) {
	f := &floorProgram{}
	if err := loadFloorObjects(&f.objs, nil); err != nil {
		return nil, fmt.Errorf("loading the floor program: %w", err)
	}
	var err error
	switch kind {
	case "raw_tp":
		f.prog = f.objs.FloorRawTp
		f.l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: f.prog})
	case "tp_btf":
		f.prog = f.objs.FloorTpBtf
		f.l, err = link.AttachTracing(link.TracingOptions{Program: f.prog, AttachType: ebpf.AttachTraceRawTp})
	default:
		err = fmt.Errorf("unknown floor kind %q", kind)
	}
	if err != nil {
		f.objs.Close()
		return nil, fmt.Errorf("attaching the floor program: %w", err)
	}
	return f, nil
}

func (f *floorProgram) stats() (runStats, error) {
	st, err := f.prog.Stats()
	if err != nil {
		return runStats{}, err
	}
	return runStats{uint64(st.Runtime.Nanoseconds()), st.RunCount}, nil
}

func (f *floorProgram) Close() error {
	f.l.Close()
	return f.objs.Close()
}
