// Package provenance keeps what sysrec knows about a profile's syscalls
// beyond the JSON that runtimes read: which process and executable made
// each one first, and when; which ones completion added, and why; and in
// how many of the recordings merged into the profile each one appeared.
//
// It lives beside the profile, never in it: a sidecar file next to a
// command's profile (Path), and the index of a container tree. It is pure
// Go and needs no privileges.
package provenance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sysrec/sysrec/internal/atomicfile"
	"github.com/sysrec/sysrec/syscalls"
)

// Origin is the first call of a syscall that a recording saw.
type Origin struct {
	// Exe is the path of the executable the process ran, "" if unknown.
	Exe string `json:"exe,omitempty"`
	// Comm is the thread's command name (at most 15 bytes).
	Comm string `json:"comm,omitempty"`
	// PID is the process (thread group) id, TID the thread's.
	PID int `json:"pid"`
	TID int `json:"tid,omitempty"`
	// Time is when the call was made.
	Time time.Time `json:"time"`
}

// Syscall is what is known about one syscall of a profile.
type Syscall struct {
	// Origin is its first call, nil when no recording said (a name added
	// by completion, by hand, or from a kernel without the capture).
	Origin *Origin `json:"origin,omitempty"`
	// Completion is why completion added it; "" when it was recorded.
	Completion string `json:"completion,omitempty"`
	// Seen is how many of the File's Inputs recorded it.
	Seen int `json:"seen,omitempty"`
}

// File is the provenance of one profile.
type File struct {
	// Profile is the base name of the profile it describes.
	Profile string `json:"profile"`
	// Inputs is the number of recordings merged into the profile: 1 for
	// one recording.
	Inputs int `json:"inputs"`
	// Syscalls holds, per architecture and name, what is known.
	Syscalls map[syscalls.Arch]map[string]Syscall `json:"syscalls"`
}

// Suffix is appended to a profile's name, without its extension, to name
// its sidecar file: app.json's is app.provenance.json.
const Suffix = ".provenance.json"

// Path is the sidecar file of the profile at profile.
func Path(profile string) string {
	return strings.TrimSuffix(profile, filepath.Ext(profile)) + Suffix
}

// Read reads a sidecar file.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading provenance: %w", err)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("reading provenance %s: %w", path, err)
	}
	return &f, nil
}

// Write writes f to path atomically.
func Write(path string, f *File) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding provenance: %w", err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}

// Merge is the provenance of the merge of the profiles that files
// describe: Inputs and Seen add up, and each syscall keeps its earliest
// origin. A name that completion added in one input but that another
// recorded counts as recorded.
func Merge(profile string, files ...*File) *File {
	out := &File{Profile: profile, Syscalls: map[syscalls.Arch]map[string]Syscall{}}
	for _, f := range files {
		if f == nil {
			continue
		}
		inputs := max(f.Inputs, 1)
		out.Inputs += inputs
		for arch, m := range f.Syscalls {
			if out.Syscalls[arch] == nil {
				out.Syscalls[arch] = map[string]Syscall{}
			}
			for name, s := range m {
				cur, had := out.Syscalls[arch][name]
				cur.Seen += s.Seen
				if s.Origin != nil && (cur.Origin == nil || s.Origin.Time.Before(cur.Origin.Time)) {
					o := *s.Origin
					cur.Origin = &o
				}
				switch {
				case !had:
					cur.Completion = s.Completion
				case cur.Completion != "" && s.Completion == "":
					cur.Completion = ""
				}
				out.Syscalls[arch][name] = cur
			}
		}
	}
	return out
}

// Names returns the names of arch that f holds, sorted.
func (f *File) Names(arch syscalls.Arch) []string {
	var out []string
	for n := range f.Syscalls[arch] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
