package containers

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/provenance"
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
		Sessions:      s.Sessions,
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
	return s.write(dir, nil)
}

// write is Write, skipping each profile for which unchanged says so.
func (s *Snapshot) write(dir string, unchanged func(rel string, data []byte) bool) (*tree.Index, error) {
	for _, w := range s.Workloads {
		data, err := profiles.Marshal(w.Profile)
		if err != nil {
			return nil, fmt.Errorf("writing the profile of %s: %w", w.Entry.Profile, err)
		}
		if unchanged != nil && unchanged(w.Entry.Profile, data) {
			continue
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

// Flusher writes a session's snapshots to one tree again and again, as an
// agent does: a profile is written only when it differs from what the
// Flusher last wrote there, so a flush costs what changed, not what the
// tree holds. It remembers a hash per profile.
type Flusher struct {
	dir     string
	written map[string][sha256.Size]byte
}

// NewFlusher returns a Flusher that writes to dir.
func NewFlusher(dir string) *Flusher {
	return &Flusher{dir: dir, written: map[string][sha256.Size]byte{}}
}

// Write writes the profiles of s that changed since the last Write, and
// the index.
func (f *Flusher) Write(s *Snapshot) (*tree.Index, error) {
	wrote := map[string][sha256.Size]byte{}
	idx, err := s.write(f.dir, func(rel string, data []byte) bool {
		sum := sha256.Sum256(data)
		wrote[rel] = sum
		return f.written[rel] == sum
	})
	if err != nil {
		return nil, err
	}
	// Only the snapshot's profiles are remembered: the map follows the
	// workloads, not every profile ever written.
	f.written = wrote
	return idx, nil
}

// ReadTree reads the profile tree that earlier sessions wrote to dir, for
// Options.Previous: its workloads, with their index entries and profiles,
// and how many sessions wrote them. A dir without an index holds none.
func ReadTree(dir string) ([]Workload, int, error) {
	idx, err := tree.ReadIndex(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("continuing the profiles in %s: %w", dir, err)
	}
	ws := make([]Workload, 0, len(idx.Profiles))
	for _, e := range idx.Profiles {
		p, err := profiles.ParseFile(filepath.Join(dir, e.Profile))
		if err != nil {
			return nil, 0, fmt.Errorf("continuing the profiles in %s: %w", dir, err)
		}
		if e.Inputs == 0 && e.Provenance == nil {
			// An index from before sysrec kept provenance: the profile
			// counts as one recording of each syscall it allows.
			f := provenance.Recorded(e.Profile, profiles.Used(p), nil, nil)
			e.Inputs, e.Provenance = f.Inputs, f.Syscalls
		}
		ws = append(ws, Workload{Entry: e, Profile: p})
	}
	// An index from before sessions were counted was written by one.
	return ws, max(idx.Sessions, 1), nil
}
