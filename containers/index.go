package containers

import (
	"fmt"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/recorder"
)

// Index is the profile tree's index of the snapshot's workloads, with
// warnings for what their profiles lack.
func (s *Snapshot) Index() *tree.Index {
	idx := &tree.Index{
		Profiles:      []tree.Entry{},
		Drops:         s.Drops,
		FilterCapture: string(s.FilterCapture),
		Warnings:      append([]string(nil), s.Warnings...),
	}
	for _, w := range s.Workloads {
		e := w.Entry
		idx.Profiles = append(idx.Profiles, e)
		if e.Partial {
			idx.Warnings = append(idx.Warnings, fmt.Sprintf("%s: a replica already ran when recording began; the syscalls it made before are missing (restart it while recording for a complete profile)", e.Profile))
		}
		if e.Filtered {
			idx.Warnings = append(idx.Warnings, fmt.Sprintf("%s: a replica %s", e.Profile, filteredWarning(s.FilterCapture)))
		}
	}
	if d := s.Drops; d.Any() {
		idx.Warnings = append(idx.Warnings, fmt.Sprintf("kernel-side drops: %d tasks untracked, %d syscalls out of range, %d tasks without a target slot, %d container cgroups without a target, %d cgroup announcements lost",
			d.LostTasks, d.OutOfRange, d.TargetMissing, d.CgroupsFull, d.EventsLost))
	}
	return idx
}

func filteredWarning(mode recorder.FilterCapture) string {
	if mode == recorder.CaptureNone {
		return "ran under a seccomp filter: the syscalls it denied never reached the recorder and are missing (record it unconfined, or capture denied syscalls at sys-exit)"
	}
	return fmt.Sprintf("ran under a seccomp filter: the syscalls it denied were captured (%s), except one that killed the task", mode)
}

// Write writes the snapshot's profiles below dir, as a profile tree
// (package profiles/tree), and then its index, which it returns.
func (s *Snapshot) Write(dir string) (*tree.Index, error) {
	for _, w := range s.Workloads {
		data, err := profiles.Marshal(w.Profile)
		if err != nil {
			return nil, fmt.Errorf("writing the profile of %s: %w", w.Entry.Profile, err)
		}
		if err := tree.WriteProfile(dir, w.Entry.Profile, data); err != nil {
			return nil, err
		}
	}
	idx := s.Index()
	if err := tree.WriteIndex(dir, idx); err != nil {
		return nil, err
	}
	return idx, nil
}
