// Package report renders seccomp profiles as one self-contained HTML page
// that people read: a matrix of workloads by syscall group, with the
// dangerous syscalls highlighted and, on each cell, the syscalls it holds
// and their provenance (who made each first, in how many recordings it
// was seen, whether completion added it); for each workload, what it
// takes away against runtime/default, and its argument rules.
//
// The page needs no network and no JavaScript: its CSS is inline, and
// what a cell holds is in the DOM (a details element and title
// attributes). The same inputs give the same bytes. It is pure Go and
// needs no privileges.
package report

import (
	"cmp"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/profiles/runtimes"
	"github.com/sysrec/sysrec/syscalls"
)

// Options say how Build compares and what it looks at.
type Options struct {
	// Arch is the architecture whose syscalls the matrix counts; ""
	// means the host's native one.
	Arch syscalls.Arch
	// Runtime names the runtime whose default profile is runtime/default
	// (see runtimes.Default); "" means containerd.
	Runtime string
	// Title is the page's title; "" gives a default.
	Title string
}

// Page is what the HTML page shows.
type Page struct {
	Title string
	// Arch is the architecture the matrix is for, short ("x86_64").
	Arch string
	// Reference is runtime/default's row; Rows are the workloads'.
	Reference Reference
	Groups    []Group
	Rows      []Row
	// Dangerous lists the syscalls that lint calls dangerous, with why.
	Dangerous []Finding
}

// Reference is the profile that workloads are compared with.
type Reference struct {
	// Runtime is the runtime whose default profile it is; Source says
	// where that profile comes from.
	Runtime, Source string
	Row             Row
}

// Group is a column of the matrix.
type Group struct {
	Key, Label string
	// Size is how many syscalls of the group Arch has.
	Size int
}

// Row is one workload.
type Row struct {
	// ID is the row's anchor: "w1", "w2", ... ("ref" for the reference).
	ID, Name, Path string
	// Reference: the row is runtime/default's.
	Reference     bool
	Facts         []Fact
	DefaultAction string
	// Arches are the profile's architectures, short.
	Arches []string
	Cells  []Cell
	// Allowed counts the syscalls of Arch that the profile lets run (for
	// some arguments at least), for a container with the default
	// capabilities; Total is how many Arch has.
	Allowed, Total int
	// Against runtime/default: Removed are the syscalls the default
	// allows and the workload never lets run, out of RefAllowed; Narrowed
	// those the default allows whatever the arguments and the workload
	// only for some; Added those the workload allows and the default
	// does not.
	Removed    []Names
	NumRemoved int
	RefAllowed int
	Narrowed   []string
	Added      []string
	// Rules are the profile's argument rules and its rules that do not
	// allow, spelled for a person.
	Rules []Rule
	// Dangerous are lint's findings about dangerous syscalls.
	Dangerous []string
	// Provenance is where the provenance came from, "" when none was
	// found; Inputs is the number of recordings merged into the profile.
	Provenance string
	Inputs     int
	Warnings   []string
}

// Names are syscall names of one group.
type Names struct {
	Group string
	Names []string
}

// Cell is what one workload allows of one group.
type Cell struct {
	Group Group
	// Syscalls are those of the group that the workload lets run,
	// sorted by name.
	Syscalls []Syscall
	// Level grades the share of the group allowed, 0 (none) to 4.
	Level int
	// Dangerous: a dangerous syscall is among them.
	Dangerous bool
}

// Count is how many syscalls the cell holds.
func (c Cell) Count() int { return len(c.Syscalls) }

// Title is the cell's tooltip: the group and its syscalls.
func (c Cell) Title() string {
	if len(c.Syscalls) == 0 {
		return fmt.Sprintf("%s: none of %d allowed", c.Group.Label, c.Group.Size)
	}
	names := make([]string, len(c.Syscalls))
	for i, s := range c.Syscalls {
		names[i] = s.Name
		if s.Dangerous {
			names[i] += " (dangerous)"
		}
	}
	return fmt.Sprintf("%s: %d of %d allowed: %s", c.Group.Label, len(c.Syscalls), c.Group.Size, strings.Join(names, ", "))
}

// Syscall is one allowed syscall of a cell.
type Syscall struct {
	Name string
	// Conditional: allowed only for some argument values.
	Conditional bool
	Dangerous   bool
	// Completion is why completion added it, "" when it did not (or
	// nothing says).
	Completion string
	// Origin says who made it first and when, Comm only the command
	// and process; "" when unknown.
	Origin, Comm string
	// Seen is in how many of Inputs recordings it appeared; Inputs is 0
	// when there is no provenance. Rare marks one that most recordings
	// did without.
	Seen, Inputs int
	Rare         bool
}

// Provenance is the syscall's provenance in a line.
func (s Syscall) Provenance() string {
	var parts []string
	if s.Origin != "" {
		parts = append(parts, "made first by "+s.Origin)
	}
	if s.Completion != "" {
		parts = append(parts, "added by completion: "+s.Completion)
	}
	switch {
	case s.Inputs == 0:
		if s.Completion == "" {
			parts = append(parts, "no provenance")
		}
	case s.Seen > 0 || s.Completion == "":
		seen := fmt.Sprintf("seen in %d of %d recordings", s.Seen, s.Inputs)
		if s.Rare {
			seen += " (rare)"
		}
		parts = append(parts, seen)
	}
	return strings.Join(parts, "; ")
}

// Short is the provenance that the cell shows, Provenance being its
// tooltip: who made it first, without when, and how often it was seen.
func (s Syscall) Short() string {
	var parts []string
	if s.Comm != "" {
		parts = append(parts, s.Comm)
	}
	switch {
	case s.Inputs == 0 && s.Completion == "":
		parts = append(parts, "no provenance")
	case s.Inputs == 0:
	case s.Seen == 0 && s.Completion != "":
		parts = append(parts, "not recorded")
	default:
		parts = append(parts, fmt.Sprintf("seen %d of %d", s.Seen, s.Inputs))
	}
	return strings.Join(parts, " · ")
}

// Rule is one rule of a profile, for a person.
type Rule struct {
	// Call spells the syscall with the rule's conditions (DescribeCall).
	Call, Action, Comment string
}

// Finding is a dangerous syscall and why.
type Finding struct {
	Name, Why string
}

// Build computes the page for workloads.
func Build(ws []Workload, opts Options) (*Page, error) {
	arch := opts.Arch
	if arch == "" {
		native, _, err := syscalls.Host()
		if err != nil {
			return nil, err
		}
		arch = native
	}
	if !syscalls.Known(arch) {
		return nil, fmt.Errorf("no syscall table for architecture %s", arch)
	}
	rt := opts.Runtime
	if rt == "" {
		rt = "containerd"
	}
	ref, err := runtimes.Default(rt)
	if err != nil {
		return nil, err
	}
	title := opts.Title
	if title == "" {
		title = "sysrec report: seccomp profiles by syscall group"
	}
	page := &Page{Title: title, Arch: short(arch)}

	names := syscalls.Names(arch)
	slices.Sort(names)
	names = slices.Compact(names)
	size := map[syscalls.Group]int{}
	for _, n := range names {
		size[syscalls.GroupOf(n)]++
	}
	for _, g := range syscalls.Groups() {
		page.Groups = append(page.Groups, Group{Key: g.Key(), Label: g.Label(), Size: size[g]})
	}

	refEval, err := evaluate(ref, arch, names)
	if err != nil {
		return nil, fmt.Errorf("evaluating the %s default profile: %w", rt, err)
	}
	page.Reference = Reference{Runtime: rt, Source: referenceSource(rt, arch)}
	page.Reference.Row = row(page, "ref", Workload{Name: "runtime/default (" + rt + ")", Profile: ref}, refEval, nil)
	page.Reference.Row.Reference = true

	for i, w := range ws {
		ev, err := evaluate(w.Profile, arch, names)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.Path, err)
		}
		page.Rows = append(page.Rows, row(page, fmt.Sprintf("w%d", i+1), w, ev, refEval))
	}
	for _, n := range sortedKeys(profiles.Dangerous) {
		page.Dangerous = append(page.Dangerous, Finding{Name: n, Why: profiles.Dangerous[n]})
	}
	return page, nil
}

// verdict is what a profile does with one syscall over all arguments.
type verdict struct{ some, all bool }

// evaluate decides each of names on arch, for a container with the
// default capabilities.
func evaluate(p *profiles.Profile, arch syscalls.Arch, names []string) (map[string]verdict, error) {
	out := make(map[string]verdict, len(names))
	for _, n := range names {
		ds, err := p.Outcomes(arch, n, profiles.DefaultCaps)
		if err != nil {
			return nil, err
		}
		v := verdict{all: len(ds) > 0}
		for _, d := range ds {
			if d.Action == profiles.ActAllow || d.Action == profiles.ActLog {
				v.some = true
			} else {
				v.all = false
			}
		}
		v.all = v.all && v.some
		out[n] = v
	}
	return out, nil
}

// row builds a workload's row from its verdicts, compared with the
// reference's (nil for the reference itself).
func row(page *Page, id string, w Workload, ev, ref map[string]verdict) Row {
	p := w.Profile
	r := Row{ID: id, Name: w.Name, Path: w.Path, Facts: w.Facts, DefaultAction: string(p.DefaultAction), Provenance: w.ProvenanceFrom, Warnings: w.Warnings}
	for _, a := range profileArches(p) {
		r.Arches = append(r.Arches, short(a))
	}
	arch := syscalls.Arch("SCMP_ARCH_" + strings.ToUpper(page.Arch))
	if !slices.Contains(r.Arches, page.Arch) && len(r.Arches) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the profile is not for %s (its architectures: %s): on %s a process under it is killed at its first syscall", page.Arch, strings.Join(r.Arches, ", "), page.Arch))
	}
	f := w.Provenance
	if f != nil {
		r.Inputs = max(f.Inputs, 1)
	}
	completed := profiles.Completed(p)

	// Lint's judgement of the dangerous syscalls.
	dangerous := map[string]bool{}
	for _, fd := range profiles.Lint(p) {
		if fd.Code != profiles.CodeDangerous {
			continue
		}
		r.Dangerous = append(r.Dangerous, fd.Msg)
		for n := range profiles.Dangerous {
			if strings.HasPrefix(fd.Msg, n+" is ") {
				dangerous[n] = true
			}
		}
	}
	if p.DefaultAction == profiles.ActAllow || p.DefaultAction == profiles.ActLog {
		for n := range profiles.Dangerous {
			dangerous[n] = true // lint says so once, on the defaultAction
		}
	}

	byGroup := map[string][]Syscall{}
	for _, n := range sortedKeys(ev) {
		v := ev[n]
		if !v.some {
			continue
		}
		r.Allowed++
		s := Syscall{Name: n, Conditional: !v.all, Dangerous: dangerous[n], Completion: completed[n], Inputs: r.Inputs}
		if f != nil {
			if ps, ok := f.Lookup(arch, n); ok {
				if ps.Completion != "" {
					s.Completion = ps.Completion
				}
				s.Seen = ps.Seen
				s.Rare = ps.Seen > 0 && provenance.Rare(ps.Seen, r.Inputs)
				if ps.Origin != nil {
					s.Origin, s.Comm = origin(ps.Origin), fmt.Sprintf("%s pid %d", cmp.Or(ps.Origin.Comm, "?"), ps.Origin.PID)
				}
			}
		}
		key := syscalls.GroupOf(n).Key()
		byGroup[key] = append(byGroup[key], s)
	}
	r.Total = len(ev)
	for _, g := range page.Groups {
		c := Cell{Group: g, Syscalls: byGroup[g.Key]}
		for _, s := range c.Syscalls {
			c.Dangerous = c.Dangerous || s.Dangerous
		}
		if len(c.Syscalls) > 0 && g.Size > 0 {
			c.Level = 1 + min(3, 4*len(c.Syscalls)/(g.Size+1))
		}
		r.Cells = append(r.Cells, c)
	}

	if ref != nil {
		removed := map[string][]string{}
		for _, n := range sortedKeys(ref) {
			rv, wv := ref[n], ev[n]
			switch {
			case rv.some:
				r.RefAllowed++
				if !wv.some {
					r.NumRemoved++
					label := syscalls.GroupOf(n).Label()
					removed[label] = append(removed[label], n)
				} else if rv.all && !wv.all {
					r.Narrowed = append(r.Narrowed, n)
				}
			case wv.some:
				r.Added = append(r.Added, n)
			}
		}
		for _, g := range page.Groups {
			if len(removed[g.Label]) > 0 {
				r.Removed = append(r.Removed, Names{Group: g.Label, Names: removed[g.Label]})
			}
		}
	}
	r.Rules = rules(p)
	return r
}

// rules lists p's rules that restrict arguments or do not allow, one per
// name, sorted by call.
func rules(p *profiles.Profile) []Rule {
	var out []Rule
	for _, s := range p.Syscalls {
		if len(s.Args) == 0 && s.Action == profiles.ActAllow {
			continue
		}
		act := string(s.Action)
		switch {
		case s.Errno != "":
			act += "(" + s.Errno + ")"
		case s.ErrnoRet != nil:
			act += fmt.Sprintf("(%d)", *s.ErrnoRet)
		}
		if s.Includes != nil || s.Excludes != nil {
			act += " (conditional on includes/excludes)"
		}
		for _, n := range s.AllNames() {
			out = append(out, Rule{Call: profiles.DescribeCall(n, s.Args), Action: act, Comment: s.Comment})
		}
	}
	slices.SortStableFunc(out, func(a, b Rule) int {
		return strings.Compare(a.Call+"\x00"+a.Action, b.Call+"\x00"+b.Action)
	})
	return out
}

// origin says who made a syscall first, and when.
func origin(o *provenance.Origin) string {
	who := who(o)
	if o.TID != 0 && o.TID != o.PID {
		who += fmt.Sprintf(" thread %d", o.TID)
	}
	if !o.Time.IsZero() {
		who += ", at " + timeString(o.Time)
	}
	return who
}

// who says who made a syscall first: command, executable and process.
func who(o *provenance.Origin) string {
	who := o.Comm
	if who == "" {
		who = "an unknown command"
	}
	if o.Exe != "" {
		who += " (" + o.Exe + ")"
	}
	return who + fmt.Sprintf(", pid %d", o.PID)
}

func timeString(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") }

// profileArches are p's architectures, those of its archMap included,
// sorted.
func profileArches(p *profiles.Profile) []syscalls.Arch {
	var out []syscalls.Arch
	add := func(a syscalls.Arch) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range p.Architectures {
		add(a)
	}
	for _, m := range p.ArchMap {
		add(m.Arch)
		for _, s := range m.SubArches {
			add(s)
		}
	}
	slices.Sort(out)
	return out
}

func short(a syscalls.Arch) string {
	return strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
}

// referenceSource says where a runtime's default profile comes from: the
// Go module sysrec takes it from, with its version.
func referenceSource(rt string, arch syscalls.Arch) string {
	mod := map[string]string{
		"containerd": "github.com/containerd/containerd/v2",
		"crio":       "github.com/containers/common",
		"cri-o":      "github.com/containers/common",
		"docker":     "github.com/moby/profiles/seccomp",
		"moby":       "github.com/moby/profiles/seccomp",
	}[strings.ToLower(rt)]
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == mod {
				version = " " + d.Version
			}
		}
	}
	switch strings.ToLower(rt) {
	case "containerd":
		return fmt.Sprintf("containerd's default profile (%s%s, contrib/seccomp), as containerd generates it for a container with the default capabilities on %s", mod, version, short(arch))
	default:
		return fmt.Sprintf("%s's default profile (%s%s), evaluated for a container with the default capabilities on %s", rt, mod, version, short(arch))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
