// Package tree is the directory of profiles that sysrec writes when it
// records containers: DIR/<namespace>/<workload>/<container>.json, one
// profile per container of a workload, and DIR/index.json, the index that
// lists them with what was recorded about each.
//
// A tree may come from another machine, so ReadIndex trusts nothing in
// it: every profile path it returns is checked to stay below DIR.
package tree

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/syscalls"
)

// IndexFile is the name of the index in a tree's directory.
const IndexFile = "index.json"

// Index is the content of index.json.
type Index struct {
	Profiles []Entry `json:"profiles"`
	Drops    Drops   `json:"drops"`
	// FilterCapture is how syscalls denied by a filter that a container
	// already ran under were recorded: seccomp-entry, sys-exit or none.
	FilterCapture string   `json:"filterCapture"`
	Warnings      []string `json:"warnings,omitempty"`
	// Sessions counts the recording sessions whose profiles the tree
	// holds: a session started on a tree that has an index continues it,
	// merging what it records into the profiles there.
	Sessions int `json:"sessions,omitempty"`
}

// Entry is one profile in the index.
type Entry struct {
	// Profile is the profile's path below the tree, slash-separated:
	// <namespace>/<workload>/<container>.json (see CheckPath).
	Profile    string    `json:"profile"`
	Namespace  string    `json:"namespace"`
	Workload   string    `json:"workload"`
	Kind       string    `json:"workloadKind"`
	Container  string    `json:"container"`
	Images     []string  `json:"images"`
	Pods       []string  `json:"pods"`
	Replicas   int       `json:"replicas"`
	Runtime    string    `json:"runtime"`
	FirstSeen  time.Time `json:"firstSeen"`
	LastSeen   time.Time `json:"lastSeen"`
	Syscalls   int       `json:"syscalls"`
	Incomplete bool      `json:"incomplete,omitempty"`
	// Partial: a replica already ran when recording began, so what it did
	// before is missing.
	Partial bool `json:"partial,omitempty"`
	// Filtered: a replica ran under a seccomp filter, whose denied
	// syscalls never reach the recorder.
	Filtered bool `json:"filtered,omitempty"`
	// Inputs counts the recordings merged into the profile: one per
	// container cgroup (each replica, each restart), over every session
	// of the tree; 0 in an index written before sysrec counted them.
	Inputs int `json:"inputs,omitempty"`
	// Provenance holds, per architecture and syscall name of the
	// profile, its first call (which executable and process made it,
	// and when), why completion added it if it did, and in how many of
	// the Inputs it was recorded (Seen). One entry per name and
	// architecture, whatever the number of replicas.
	Provenance map[syscalls.Arch]map[string]provenance.Syscall `json:"provenance,omitempty"`
}

// ProvenanceFile is the entry's provenance as a sidecar file holds it;
// nil when the index has none for it.
func (e *Entry) ProvenanceFile() *provenance.File {
	if e.Inputs == 0 && e.Provenance == nil {
		return nil
	}
	return &provenance.File{Profile: e.Profile, Inputs: e.Inputs, Syscalls: e.Provenance}
}

// Drops counts every place where the kernel side could lose data; all
// zero means nothing was lost.
type Drops struct {
	// Tasks whose tracking state could not be created (out of memory).
	LostTasks uint64 `json:"lostTasks"`
	// Syscalls numbered past the recorder's bitmaps.
	OutOfRange uint64 `json:"outOfRange"`
	// Tasks whose tag pointed at no target slot.
	TargetMissing uint64 `json:"targetMissing"`
	// Container cgroups that got no target: the target map was full.
	CgroupsFull uint64 `json:"cgroupsFull"`
	// Container cgroup announcements lost because the ring buffer was full.
	EventsLost uint64 `json:"eventsLost"`
}

// Any reports whether anything was lost.
func (d Drops) Any() bool { return d != Drops{} }

// WriteIndex writes idx to dir/index.json, atomically.
func WriteIndex(dir string, idx *Index) error {
	data, err := encode(idx)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, IndexFile), data, 0o644); err != nil {
		return fmt.Errorf("writing the profile index: %w", err)
	}
	return nil
}

// WriteProfile writes a profile's data to dir/rel, atomically, creating
// the directories below dir; rel must pass CheckPath.
func WriteProfile(dir, rel string, data []byte) error {
	if err := CheckPath(rel); err != nil {
		return fmt.Errorf("writing profile %q: %w", rel, err)
	}
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing profile %s: %w", rel, err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing profile %s: %w", rel, err)
	}
	return nil
}

func encode(idx *Index) ([]byte, error) {
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the profile index: %w", err)
	}
	return append(provenance.Inline(data, "provenance"), '\n'), nil
}

// ReadIndex reads and checks dir/index.json (see ParseIndex). The error
// wraps fs.ErrNotExist when dir has no index.
func ReadIndex(dir string) (*Index, error) {
	name := filepath.Join(dir, IndexFile)
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the profile index: %w", err)
	}
	idx, err := ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return idx, nil
}

// ParseIndex decodes an index and checks that every profile it lists has
// a path that CheckPath accepts, listed once. Fields it does not know are
// ignored, so that an index from a newer sysrec still reads.
func ParseIndex(data []byte) (*Index, error) {
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("decoding the profile index: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	for i, e := range idx.Profiles {
		if err := CheckPath(e.Profile); err != nil {
			errs = append(errs, fmt.Errorf("profiles[%d]: profile %q: %w", i, e.Profile, err))
			continue
		}
		if seen[e.Profile] {
			errs = append(errs, fmt.Errorf("profiles[%d]: profile %q is listed twice", i, e.Profile))
		}
		seen[e.Profile] = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &idx, nil
}

// maxElem is the longest file name that Linux file systems take
// (NAME_MAX).
const maxElem = 255

// CheckPath accepts the path of a profile below a tree as a recording
// writes it: "<namespace>/<workload>/<container>.json",
// slash-separated, each element a plain name of letters, digits, '.', '_'
// and '-' that does not start with '.' (so never "." or ".."). Such a
// path, joined to the tree's directory, names a file below it.
func CheckPath(rel string) error {
	elems := strings.Split(rel, "/")
	if len(elems) != 3 {
		return errors.New("want <namespace>/<workload>/<container>.json")
	}
	for _, e := range elems {
		switch {
		case e == "":
			return errors.New("empty path element")
		case e[0] == '.':
			return fmt.Errorf("element %q: want no \".\", \"..\" or hidden names", e)
		case len(e) > maxElem:
			return fmt.Errorf("element of %d bytes: want at most %d", len(e), maxElem)
		}
		for _, r := range e {
			if !plainRune(r) {
				return fmt.Errorf("element %q: want only letters, digits, '.', '_' and '-'", e)
			}
		}
	}
	if !strings.HasSuffix(rel, ".json") {
		return errors.New("want a name ending in .json")
	}
	return nil
}

// plainRune reports whether r may appear in a path element, as cri's
// SanitizeName keeps it.
func plainRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '.' || r == '_' || r == '-'
}

// FindEntry finds the tree that holds the profile at path: the nearest
// directory above it with an index, and that index's entry for the
// profile. It returns the index's path, and a nil entry when that index
// does not list the profile; the error wraps fs.ErrNotExist when no
// directory above the profile has an index.
func FindEntry(profile string) (index string, e *Entry, err error) {
	abs, err := filepath.Abs(profile)
	if err != nil {
		return "", nil, err
	}
	for dir := filepath.Dir(abs); ; {
		name := filepath.Join(dir, IndexFile)
		if _, err := os.Stat(name); err == nil {
			idx, err := ReadIndex(dir)
			if err != nil {
				return name, nil, err
			}
			rel, err := filepath.Rel(dir, abs)
			if err != nil {
				return name, nil, err
			}
			rel = filepath.ToSlash(rel)
			for i := range idx.Profiles {
				if idx.Profiles[i].Profile == rel {
					return name, &idx.Profiles[i], nil
				}
			}
			return name, nil, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil, fmt.Errorf("no %s in a directory above %s: %w", IndexFile, profile, os.ErrNotExist)
		}
		dir = parent
	}
}
