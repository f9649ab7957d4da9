// Package explain answers "why is this syscall in this profile?": who
// made it first and when, its group, whether completion added it and
// why, in how many of the merged recordings it appeared, the rules that
// decide it, and what lint says of it. It reads the profile and its
// provenance: a sidecar file beside it (provenance.Path), or the index of
// the container tree it is in (package tree).
package explain

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/sysrec/sysrec/internal/spelling"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/syscalls"
)

// group names the functional group of a syscall ("file I/O", "network",
// ...), the one its rule of a grouped profile says.
func group(name string) string { return syscalls.GroupOf(name).Label() }

// Source is the provenance of a profile, and where it was found.
type Source struct {
	// File is the provenance; nil when none was found.
	File *provenance.File
	// Path is the sidecar file or the index it came from, "" for none.
	Path string
	// Warning says what is missing or doubtful, "" when nothing is.
	Warning string
	// IndexErr is why an index.json found above the profile could not
	// be read (then File is nil, and Warning says so): a tree's index
	// that is broken, or a file of that name that is no tree's.
	IndexErr error
}

// Find finds the provenance of the profile at path: its sidecar file,
// else its entry in the index of the nearest directory above it that has
// one. A profile without provenance gets a Source without a File, whose
// Warning says what is missing. A sidecar that cannot be read is an
// error; an index, which may be another program's file of that name,
// only a warning.
func Find(path string) (*Source, error) {
	side := provenance.Path(path)
	f, err := provenance.Read(side)
	switch {
	case err == nil:
		src := &Source{File: f, Path: side}
		if data, err := os.ReadFile(path); err == nil && !f.Describes(data) {
			src.Warning = fmt.Sprintf("%s was written for other content of %s (edited, or written again without it, since): what it says may not hold", side, path)
		}
		return src, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	index, e, err := tree.FindEntry(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Source{Warning: fmt.Sprintf("no provenance for %s: there is no %s beside it, and no %s in a directory above it (sysrec record -o FILE and sysrec merge -o FILE write one; so does record --containers, in the index)", path, side, tree.IndexFile)}, nil
	case err != nil:
		return &Source{Path: index, IndexErr: err, Warning: fmt.Sprintf("no provenance for %s: there is no %s beside it, and %v", path, side, err)}, nil
	case e == nil:
		return &Source{Path: index, Warning: fmt.Sprintf("no provenance for %s: there is no %s beside it, and %s does not list it", path, side, index)}, nil
	}
	src := &Source{File: e.ProvenanceFile(), Path: index}
	if src.File == nil {
		src.Warning = fmt.Sprintf("no provenance for %s: its entry in %s has none (written by an older sysrec; record into the tree again to add it)", path, index)
	}
	return src, nil
}

// Report is what Explain says about one syscall of a profile.
type Report struct {
	Profile string `json:"profile"`
	Syscall string `json:"syscall"`
	// Group is its functional group, "unknown" when Group says none.
	Group string `json:"group"`
	// Allowed: the profile lets it run (for some arguments) on one of
	// its architectures at least, for a container with the default
	// capabilities.
	Allowed bool `json:"allowed"`
	// Completion is why completion added it, "" when it did not, or
	// when there is no provenance to say.
	Completion string `json:"completion,omitempty"`
	// Provenance is the sidecar file or the index that the provenance
	// came from, "" when there is none; Inputs is the number of
	// recordings merged into the profile, 0 when unknown.
	Provenance string `json:"provenance,omitempty"`
	Inputs     int    `json:"inputs,omitempty"`
	// Arches says, per architecture of the profile, what the profile
	// does with it and what was recorded of it.
	Arches []Arch `json:"arches"`
	// Lint holds the findings of profiles.Lint that concern it.
	Lint []profiles.Finding `json:"lint"`
	// Warnings say what is missing or doubtful.
	Warnings []string `json:"warnings,omitempty"`
}

// Arch is a Report's view of one architecture.
type Arch struct {
	Arch syscalls.Arch `json:"arch"`
	// Number is its number there, -1 when it is no syscall there.
	Number int `json:"number"`
	// Decisions are what the profile can do with it (Outcomes), over
	// every argument value, for a container with the default
	// capabilities.
	Decisions []Decision `json:"decisions"`
	// Listed: the provenance has it on this architecture. Origin is its
	// first call, Completion why completion added it, and Seen in how
	// many of the Report's Inputs it was recorded. Rare marks one that
	// most recordings did without (provenance.Rare).
	Listed     bool               `json:"listed"`
	Origin     *provenance.Origin `json:"origin,omitempty"`
	Completion string             `json:"completion,omitempty"`
	Seen       int                `json:"seen"`
	Rare       bool               `json:"rare,omitempty"`
}

// Decision is one thing a profile does with a syscall, and the rule that
// does it.
type Decision struct {
	profiles.RuleDecision
	// Allows: the syscall runs.
	Allows bool `json:"allows"`
	// Call is the rule's conditions, as profiles.DescribeCall spells
	// them; "" for the defaultAction and the other decisions no rule
	// makes.
	Call string `json:"call,omitempty"`
}

// UnknownError is a name that is no syscall on any architecture sysrec
// knows.
type UnknownError struct {
	Name string
	// Suggestions are known names close to it, closest first.
	Suggestions []string
}

func (e *UnknownError) Error() string {
	msg := fmt.Sprintf("unknown syscall %q", e.Name)
	if len(e.Suggestions) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(e.Suggestions, ", "))
	}
	return msg
}

// knownArches are the architectures with a syscall table.
var knownArches = []syscalls.Arch{syscalls.AArch64, syscalls.X86, syscalls.X86_64}

// Explain explains syscall name of profile p, read from the file at path,
// with its provenance src (nil for none). The error is an *UnknownError
// for a name that is no syscall anywhere.
func Explain(path string, p *profiles.Profile, name string, src *Source) (*Report, error) {
	known := false
	for _, a := range knownArches {
		if _, ok := syscalls.Number(a, name); ok {
			known = true
		}
	}
	if !known {
		return nil, &UnknownError{Name: name, Suggestions: suggest(name)}
	}
	r := &Report{Profile: path, Syscall: name, Group: group(name), Lint: []profiles.Finding{}}
	var f *provenance.File
	if src != nil {
		f, r.Provenance = src.File, src.Path
		if src.Warning != "" {
			r.Warnings = append(r.Warnings, src.Warning)
		}
	}
	if f != nil {
		r.Inputs = max(f.Inputs, 1)
	}
	used := profiles.Used(p)
	arches := make([]syscalls.Arch, 0, len(used))
	for a := range used {
		arches = append(arches, a)
	}
	slices.Sort(arches)
	var absent []string
	for _, a := range arches {
		ar := Arch{Arch: a, Number: -1, Decisions: []Decision{}}
		nr, ok := syscalls.Number(a, name)
		if !ok {
			absent = append(absent, string(a))
			r.Arches = append(r.Arches, ar)
			continue
		}
		ar.Number = nr
		ds, err := p.Outcomes(a, name, profiles.DefaultCaps)
		if err != nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %v", a, err))
		}
		for _, d := range ds {
			dec := Decision{RuleDecision: profiles.RuleDecision{Action: d.Action, ErrnoRet: d.ErrnoRet, Rule: d.Rule}, Allows: d.Action == profiles.ActAllow || d.Action == profiles.ActLog}
			if d.Rule >= 0 && d.Rule < len(p.Syscalls) {
				dec.Comment = p.Syscalls[d.Rule].Comment
				dec.Call = profiles.DescribeCall(name, p.Syscalls[d.Rule].Args)
			}
			r.Allowed = r.Allowed || dec.Allows
			ar.Decisions = append(ar.Decisions, dec)
		}
		if f != nil {
			if s, ok := f.Lookup(a, name); ok {
				ar.Listed, ar.Origin, ar.Completion, ar.Seen = true, s.Origin, s.Completion, s.Seen
				ar.Rare = ar.Seen > 0 && provenance.Rare(ar.Seen, r.Inputs)
				if r.Completion == "" {
					r.Completion = s.Completion
				}
			}
		}
		r.Arches = append(r.Arches, ar)
	}
	if r.Completion == "" {
		if why, ok := profiles.Completed(p)[name]; ok {
			r.Completion = why
		}
	}
	if len(absent) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s is no syscall on %s: the profile cannot name it there", name, strings.Join(absent, ", ")))
	}
	r.Lint = concerning(p, name, profiles.Lint(p))
	return r, nil
}

var rulePath = regexp.MustCompile(`^syscalls\[(\d+)\](.*)$`)

// concerning picks the findings about syscall name: those on a rule that
// names it (but not those on another of its names), and those on the
// defaultAction that name it.
func concerning(p *profiles.Profile, name string, fs []profiles.Finding) []profiles.Finding {
	out := []profiles.Finding{}
	word := regexp.MustCompile(`(^|[^a-z0-9_])` + regexp.QuoteMeta(name) + `($|[^a-z0-9_])`)
	for _, f := range fs {
		m := rulePath.FindStringSubmatch(f.Path)
		if m == nil {
			if f.Path == "defaultAction" && word.MatchString(f.Msg) {
				out = append(out, f)
			}
			continue
		}
		i, err := strconv.Atoi(m[1])
		if err != nil || i >= len(p.Syscalls) {
			continue
		}
		s := &p.Syscalls[i]
		if !slices.Contains(s.AllNames(), name) {
			continue
		}
		if n, ok := namedBy(s, m[2]); ok && n != name {
			continue // about another name of the rule
		}
		out = append(out, f)
	}
	return out
}

// namedBy is the name that the JSON path rest (".name", ".names[2]")
// points at in rule s.
func namedBy(s *profiles.Syscall, rest string) (string, bool) {
	if rest == ".name" {
		return s.Name, true
	}
	var j int
	if _, err := fmt.Sscanf(rest, ".names[%d]", &j); err != nil || j < 0 || j >= len(s.Names) {
		return "", false
	}
	return s.Names[j], true
}

// suggest returns up to three known names closest to name, when close
// enough to be a likely typo.
func suggest(name string) []string {
	type cand struct {
		n string
		d int
	}
	seen := map[string]bool{}
	var cs []cand
	limit := min(1+len(name)/4, 3)
	for _, a := range knownArches {
		for _, n := range syscalls.Names(a) {
			if seen[n] {
				continue
			}
			seen[n] = true
			d := spelling.Distance(strings.ToLower(name), n)
			if d <= limit || strings.HasPrefix(n, strings.ToLower(name)) && len(name) >= 3 {
				cs = append(cs, cand{n, d})
			}
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.n, b.n)
	})
	var out []string
	for _, c := range cs[:min(len(cs), 3)] {
		out = append(out, c.n)
	}
	return out
}

// Text writes r for a person.
func Text(w io.Writer, r *Report) error {
	var b strings.Builder
	verdict := "allowed"
	if !r.Allowed {
		verdict = "NOT allowed"
	}
	fmt.Fprintf(&b, "%s in %s: %s\n", r.Syscall, r.Profile, verdict)
	fmt.Fprintf(&b, "  group: %s\n", r.Group)
	switch {
	case r.Completion != "":
		fmt.Fprintf(&b, "  added by completion: %s\n", r.Completion)
	case r.Provenance != "" && r.Inputs > 0:
		fmt.Fprintf(&b, "  added by completion: no\n")
	default:
		fmt.Fprintf(&b, "  added by completion: unknown (no provenance)\n")
	}
	for _, a := range r.Arches {
		if a.Number < 0 {
			fmt.Fprintf(&b, "  %s: no such syscall\n", a.Arch)
			continue
		}
		fmt.Fprintf(&b, "  %s (number %d):\n", a.Arch, a.Number)
		for _, d := range a.Decisions {
			fmt.Fprintf(&b, "    %s\n", describeDecision(d))
		}
		switch {
		case r.Inputs == 0:
		case !a.Listed:
			fmt.Fprintf(&b, "    not in the provenance: not recorded on %s, nor added by completion\n", a.Arch)
		default:
			if o := a.Origin; o != nil {
				fmt.Fprintf(&b, "    made first by %s\n", describeOrigin(o))
			} else if a.Seen > 0 {
				fmt.Fprintf(&b, "    made first by: unknown (the recorder did not capture who)\n")
			}
			fmt.Fprintf(&b, "    seen in %d of %d recordings%s\n", a.Seen, r.Inputs, rareNote(a, r.Inputs))
		}
	}
	if len(r.Lint) == 0 {
		fmt.Fprintf(&b, "  lint: nothing about %s\n", r.Syscall)
	} else {
		fmt.Fprintf(&b, "  lint:\n")
		for _, f := range r.Lint {
			fmt.Fprintf(&b, "    %s: %s: %s [%s]\n", f.Path, f.Severity, f.Msg, f.Code)
		}
	}
	if r.Provenance != "" {
		fmt.Fprintf(&b, "  provenance: %s\n", r.Provenance)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", warn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rareNote makes a syscall that few recordings had stand out.
func rareNote(a Arch, inputs int) string {
	switch {
	case a.Rare:
		return fmt.Sprintf("  <-- RARE: %d of %d recordings did without it: it comes from a path the workload takes only sometimes", inputs-a.Seen, inputs)
	case a.Seen == 0 && a.Completion != "":
		return " (added by completion, not recorded)"
	case a.Seen < inputs:
		return fmt.Sprintf(" (%d did without it)", inputs-a.Seen)
	}
	return ""
}

func describeDecision(d Decision) string {
	act := d.Outcome()
	var by string
	switch d.Rule {
	case profiles.RuleDefault:
		by = "the defaultAction"
	case profiles.RuleBadArch:
		by = "the architecture check (not in the profile's architectures)"
	case profiles.RuleENOSYS:
		by = "runc's ENOSYS stub (newer than every syscall the profile names)"
	default:
		by = fmt.Sprintf("syscalls[%d]", d.Rule)
		if d.Call != "" {
			by += " " + d.Call
		}
		if d.Comment != "" {
			by += fmt.Sprintf(" (%s)", clean(d.Comment))
		}
	}
	verb := "denied"
	if d.Allows {
		verb = "allowed"
	}
	return fmt.Sprintf("%s: %s by %s", verb, act, by)
}

func describeOrigin(o *provenance.Origin) string {
	who := "an unknown command"
	if o.Comm != "" {
		who = clean(o.Comm)
	}
	if o.Exe != "" {
		who += " (" + clean(o.Exe) + ")"
	}
	who += fmt.Sprintf(", pid %d", o.PID)
	if o.TID != 0 && o.TID != o.PID {
		who += fmt.Sprintf(" thread %d", o.TID)
	}
	if !o.Time.IsZero() {
		who += ", at " + o.Time.Format("2006-01-02 15:04:05.000 Z07:00")
	}
	return who
}

// clean quotes a string from a recording or a file that holds what a
// terminal should not be sent.
func clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// Input is the provenance of a profile that is merged with others: its
// own, where it has one, else one recording of each syscall it allows.
func Input(path string, p *profiles.Profile) (*Source, error) {
	src, err := Find(path)
	if err != nil {
		return nil, err
	}
	if src.File == nil {
		src.File = provenance.Recorded(filepath.Base(path), profiles.Used(p), nil, nil)
		src.Warning = ""
		if src.IndexErr != nil {
			src.Warning = fmt.Sprintf("%s counts as one recording: %v", path, src.IndexErr)
		}
	}
	return src, nil
}
