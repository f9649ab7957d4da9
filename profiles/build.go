package profiles

import (
	"slices"
	"strings"

	"github.com/sysrec/sysrec/syscalls"
)

// BuildOptions says how Build makes a profile from a recording.
type BuildOptions struct {
	// DefaultAction is the profile's defaultAction (not SCMP_ACT_ALLOW).
	DefaultAction Action
	// Exact turns rare-path completion (Complete) off: the profile
	// allows what was recorded and nothing else.
	Exact bool
	// Groups splits the names allowed without conditions into one rule
	// per syscall group (syscalls.Group), each with the comment
	// "group: LABEL", in the groups' order.
	Groups bool
}

// GroupPrefix starts the comment of a rule that holds one group's
// names; the group's label follows.
const GroupPrefix = "group: "

// Build makes the profile that sysrec writes for a recording: GenerateArgs'
// profile, plus, unless opts.Exact, one allow rule per completion reason
// (comment "completion: REASON") for the names that Complete adds and that
// no rule names yet, split into groups if opts.Groups. It returns the
// names that completion added, each with its reason.
//
// Groups and completion rules change how the profile reads, not what it
// allows: names are allowed on every listed architecture whichever rule
// holds them. Build's result is Merge's canonical form, so that merging
// it alone gives it back, and it is the same for the same input.
func Build(recorded map[syscalls.Arch][]string, args RecordedArgs, opts BuildOptions) (*Profile, map[string]string, error) {
	p, err := GenerateArgs(recorded, args, opts.DefaultAction)
	if err != nil {
		return nil, nil, err
	}
	reasons := map[string]string{}
	if !opts.Exact {
		named := map[string]bool{}
		for _, r := range p.Syscalls {
			for _, n := range r.AllNames() {
				named[n] = true
			}
		}
		for _, c := range Complete(recorded) {
			var names []string
			for _, n := range c.Names {
				if !named[n] {
					named[n] = true
					names = append(names, n)
					reasons[n] = c.Reason
				}
			}
			if len(names) > 0 {
				p.Syscalls = append(p.Syscalls, Syscall{Names: names, Action: ActAllow, Comment: CompletionPrefix + c.Reason})
			}
		}
	}
	if opts.Groups {
		p.Syscalls = splitGroups(p.Syscalls)
	}
	out, err := Merge([]*Profile{p}, "")
	if err != nil {
		return nil, nil, err
	}
	return out, reasons, nil
}

// Group splits p's allow rules without conditions or comment into one rule
// per syscall group, as Build with Groups does, and returns the result in
// Merge's canonical form. p is not changed.
func Group(p *Profile) (*Profile, error) {
	q := *p
	q.Syscalls = splitGroups(p.Syscalls)
	return Merge([]*Profile{&q}, "")
}

// splitGroups replaces each rule that allows names without conditions or
// comment by one rule per group of its names, in group order.
func splitGroups(rules []Syscall) []Syscall {
	var out []Syscall
	for _, r := range rules {
		if !groupable(&r) {
			out = append(out, r)
			continue
		}
		out = append(out, grouped(r, r.AllNames())...)
	}
	return out
}

// groupable reports whether r is a plain allow-list rule, which Build
// splits into groups: an allow rule with no conditions and no comment.
func groupable(r *Syscall) bool {
	return r.Action == ActAllow && len(r.Args) == 0 && r.Comment == "" && r.Includes == nil && r.Excludes == nil
}

// grouped returns copies of rule r (its conditions) holding names, one per
// group, in group order, each with the group's comment.
func grouped(r Syscall, names []string) []Syscall {
	by := map[syscalls.Group][]string{}
	for _, n := range names {
		g := syscalls.GroupOf(n)
		by[g] = append(by[g], n)
	}
	var out []Syscall
	for _, g := range syscalls.Groups() {
		if len(by[g]) == 0 {
			continue
		}
		c := r
		c.Name = ""
		c.Names = slices.Compact(slices.Sorted(slices.Values(by[g])))
		c.Comment = GroupPrefix + g.Label()
		out = append(out, c)
	}
	return out
}

// ruleGroup returns the group of a rule that Build's grouping made.
func ruleGroup(comment string) (syscalls.Group, bool) {
	label, ok := strings.CutPrefix(comment, GroupPrefix)
	if !ok {
		return 0, false
	}
	return syscalls.GroupByLabel(label)
}

// Completed returns the names that completion rules of p hold, each with
// its reason, as Build returned them: what `sysrec explain` says about a
// profile read back.
func Completed(p *Profile) map[string]string {
	out := map[string]string{}
	for _, r := range p.Syscalls {
		reason, ok := strings.CutPrefix(r.Comment, CompletionPrefix)
		if !ok {
			continue
		}
		for _, n := range r.AllNames() {
			out[n] = reason
		}
	}
	return out
}

// Split says which group each of names is in, for reports: the names of
// each group, sorted, in group order.
func Split(names []string) ([]syscalls.Group, map[syscalls.Group][]string) {
	by := map[syscalls.Group][]string{}
	for _, n := range names {
		g := syscalls.GroupOf(n)
		by[g] = append(by[g], n)
	}
	var order []syscalls.Group
	for _, g := range syscalls.Groups() {
		if len(by[g]) > 0 {
			slices.Sort(by[g])
			by[g] = slices.Compact(by[g])
			order = append(order, g)
		}
	}
	return order, by
}
