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
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	// ProfileSHA256 is the SHA-256 of the profile's bytes when the file
	// was written (Digest), so that a reader can tell a sidecar that no
	// longer describes its profile (edited, or written again without
	// it); "" when unknown.
	ProfileSHA256 string `json:"profileSHA256,omitempty"`
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
	data, err := Encode(f)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// Encode is the content of f's sidecar file.
func Encode(f *File) ([]byte, error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding provenance: %w", err)
	}
	return append(Inline(data, "syscalls"), '\n'), nil
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

// Recorded is the provenance of a profile made from one recording: Inputs
// 1, and every name of names Seen once, with its first call where origins
// has one. completion (name → reason) holds the names that completion
// added to the profile and why: those that were not recorded are added,
// Seen 0, on each architecture of names that has the syscall.
func Recorded(profile string, names map[syscalls.Arch][]string, origins map[syscalls.Arch]map[string]Origin, completion map[string]string) *File {
	f := &File{Profile: profile, Inputs: 1, Syscalls: map[syscalls.Arch]map[string]Syscall{}}
	for arch, list := range names {
		m := make(map[string]Syscall, len(list)+len(completion))
		for _, n := range list {
			s := Syscall{Seen: 1}
			if o, ok := origins[arch][n]; ok {
				s.Origin = &o
			}
			m[n] = s
		}
		for n, why := range completion {
			if _, recorded := m[n]; recorded {
				continue
			}
			if _, ok := syscalls.Number(arch, n); ok || !syscalls.Known(arch) {
				m[n] = Syscall{Completion: why}
			}
		}
		f.Syscalls[arch] = m
	}
	return f
}

// Digest is the value of File.ProfileSHA256 for a profile's bytes.
func Digest(profile []byte) string {
	sum := sha256.Sum256(profile)
	return hex.EncodeToString(sum[:])
}

// Describes reports whether f was written for a profile with these bytes;
// true when f does not say (ProfileSHA256 "").
func (f *File) Describes(profile []byte) bool {
	return f.ProfileSHA256 == "" || f.ProfileSHA256 == Digest(profile)
}

// Lookup returns what f knows about syscall name on arch.
func (f *File) Lookup(arch syscalls.Arch, name string) (Syscall, bool) {
	s, ok := f.Syscalls[arch][name]
	return s, ok
}

// Rare reports whether a syscall seen in seen of inputs recordings is one
// that most recordings did without: fewer than half of at least three.
// Such a name comes from a path the workload takes only sometimes, so
// that a profile recorded from fewer runs may lack it.
func Rare(seen, inputs int) bool {
	return inputs >= 3 && seen*2 < inputs
}

// Inline puts each syscall of the per-architecture maps under key on one
// line of data, JSON that json.MarshalIndent indented by two spaces, so
// that a profile's hundred syscalls take a hundred lines rather than
// several hundred:
//
//	"getdents64": { "origin": { "exe": "/usr/bin/ls", ... }, "seen": 1 },
//
// A sidecar file keeps its map under "syscalls", the index of a tree
// each entry's under "provenance". Every line break of MarshalIndent's
// output is between tokens (strings escape theirs), so joining lines
// keeps the JSON it was.
func Inline(data []byte, key string) []byte {
	lines := bytes.Split(data, []byte("\n"))
	out := make([]byte, 0, len(data))
	open := []byte(strconv.Quote(key) + ": {")
	region := -1 // the indentation of key, while in its value
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := bytes.TrimLeft(line, " ")
		ind := len(line) - len(trimmed)
		switch {
		case region < 0 && bytes.Equal(trimmed, open):
			region = ind
		case region >= 0 && ind <= region:
			region = -1
		case region >= 0 && ind == region+4 && bytes.HasSuffix(trimmed, []byte("{")):
			// A syscall's object: join it up to its closing brace, at
			// the same indentation.
			joined := append([]byte(nil), line...)
			for i+1 < len(lines) {
				i++
				next := bytes.TrimLeft(lines[i], " ")
				if len(lines[i])-len(next) == ind {
					joined = append(joined, ' ')
					joined = append(joined, next...)
					break
				}
				joined = append(joined, ' ')
				joined = append(joined, next...)
			}
			line = joined
		}
		if len(out) > 0 {
			out = append(out, '\n')
		}
		out = append(out, line...)
	}
	return out
}

// Describe encodes f as the sidecar of the profile whose file is named
// name ("" for one on stdout) and whose bytes are data.
func Describe(f *File, name string, data []byte) ([]byte, error) {
	f.Profile = name
	f.ProfileSHA256 = Digest(data)
	return Encode(f)
}
