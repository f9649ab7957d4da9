package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/explain"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/profiles/tree"
)

// Workload is one profile of the report, and what is known about it.
type Workload struct {
	// Name labels the workload's row: the profile's path as given, or,
	// for a profile of a container tree, namespace/workload/container as
	// its index says (which may hold anything: the page escapes it).
	Name string
	// Path is the profile's file.
	Path    string
	Profile *profiles.Profile
	// Provenance is the profile's provenance, nil when none was found;
	// ProvenanceFrom is the sidecar file or index it came from.
	Provenance     *provenance.File
	ProvenanceFrom string
	// Facts are what a tree's index says about the workload (kind,
	// images, pods, replicas, ...), in a fixed order.
	Facts []Fact
	// Warnings say what is missing or doubtful.
	Warnings []string
}

// Fact is one labelled value about a workload.
type Fact struct {
	Label, Value string
}

// Load reads the workloads of paths, in their order: a profile file (with
// its provenance, as explain.Find finds it); a directory with a tree's
// index.json, each profile the index lists, in the index's path order;
// or another directory, each profile below it in lexical order, leaving
// out sidecar files (*.provenance.json) and index.json. A profile listed
// twice is reported once.
func Load(paths []string) ([]Workload, error) {
	var out []Workload
	seen := map[string]bool{}
	add := func(w Workload) {
		abs, err := filepath.Abs(w.Path)
		if err != nil {
			abs = w.Path
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, w)
		}
	}
	for _, path := range paths {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			w, err := loadFile(path, path)
			if err != nil {
				return nil, err
			}
			add(w)
			continue
		}
		idx, err := tree.ReadIndex(path)
		switch {
		case err == nil:
			ws, err := loadTree(path, idx)
			if err != nil {
				return nil, err
			}
			for _, w := range ws {
				add(w)
			}
		case errors.Is(err, fs.ErrNotExist):
			ws, err := loadDir(path)
			if err != nil {
				return nil, err
			}
			for _, w := range ws {
				add(w)
			}
		default:
			return nil, err
		}
	}
	return out, nil
}

// loadFile reads one profile file and finds its provenance.
func loadFile(path, name string) (Workload, error) {
	p, err := profiles.ParseFile(path)
	if err != nil {
		return Workload{}, err
	}
	w := Workload{Name: name, Path: path, Profile: p}
	src, err := explain.Find(path)
	if err != nil {
		w.Warnings = append(w.Warnings, err.Error())
		return w, nil
	}
	w.Provenance, w.ProvenanceFrom = src.File, src.Path
	if src.Warning != "" {
		w.Warnings = append(w.Warnings, src.Warning)
	}
	return w, nil
}

// loadDir reads the profiles below a directory without an index.
func loadDir(dir string) ([]Workload, error) {
	var out []Workload
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(name, ".json") || strings.HasSuffix(name, provenance.Suffix) || name == tree.IndexFile || strings.HasPrefix(name, ".") {
			return nil
		}
		w, err := loadFile(path, path)
		if err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no profile (*.json) in the directory", dir)
	}
	return out, nil
}

// loadTree reads the profiles that a tree's index lists.
func loadTree(dir string, idx *tree.Index) ([]Workload, error) {
	entries := slices.Clone(idx.Profiles)
	slices.SortFunc(entries, func(a, b tree.Entry) int { return strings.Compare(a.Profile, b.Profile) })
	index := filepath.Join(dir, tree.IndexFile)
	var out []Workload
	for _, e := range entries {
		path := filepath.Join(dir, filepath.FromSlash(e.Profile))
		p, err := profiles.ParseFile(path)
		if err != nil {
			return nil, err
		}
		w := Workload{
			Name:           e.Namespace + "/" + e.Workload + "/" + e.Container,
			Path:           path,
			Profile:        p,
			Provenance:     e.ProvenanceFile(),
			ProvenanceFrom: index,
			Facts:          entryFacts(&e),
		}
		if w.Provenance == nil {
			w.Warnings = append(w.Warnings, fmt.Sprintf("its entry in %s has no provenance (written by an older sysrec)", index))
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no profile", index)
	}
	return out, nil
}

// entryFacts are what an index entry says about its workload.
func entryFacts(e *tree.Entry) []Fact {
	var out []Fact
	add := func(label, value string) {
		if value != "" {
			out = append(out, Fact{label, value})
		}
	}
	add("kind", e.Kind)
	add("images", strings.Join(slices.Sorted(slices.Values(e.Images)), ", "))
	add("pods", strings.Join(slices.Sorted(slices.Values(e.Pods)), ", "))
	if e.Replicas > 0 {
		add("replicas", strconv.Itoa(e.Replicas))
	}
	add("runtime", e.Runtime)
	if !e.FirstSeen.IsZero() {
		add("recorded", timeString(e.FirstSeen)+" to "+timeString(e.LastSeen))
	}
	var flags []string
	if e.Incomplete {
		flags = append(flags, "incomplete")
	}
	if e.Partial {
		flags = append(flags, "partial: a replica ran before recording began")
	}
	if e.Filtered {
		flags = append(flags, "filtered: a replica ran under a seccomp filter")
	}
	add("caveats", strings.Join(flags, "; "))
	return out
}
