package profiles

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sysrec/sysrec/syscalls"
)

// ConflictError says that the profiles given to Merge disagree on a
// profile-wide setting that only one value can hold.
type ConflictError struct {
	// Field is the JSON name of the setting: defaultAction,
	// defaultErrnoRet (which stands for defaultErrno too), listenerPath or
	// listenerMetadata.
	Field string
	// Values holds each input's value, in the order of the inputs ("" for
	// an unset defaultErrnoRet).
	Values []string
}

func (e *ConflictError) Error() string {
	var parts []string
	for i, v := range e.Values {
		if v == "" {
			v = "none"
		}
		parts = append(parts, fmt.Sprintf("profile %d has %s", i+1, v))
	}
	hint := "choose a default action to settle it"
	if !strings.HasPrefix(e.Field, "default") {
		hint = "merge only profiles for the same seccomp agent"
	}
	return fmt.Sprintf("merging profiles: %s differs (%s): %s", e.Field, strings.Join(parts, ", "), hint)
}

// Merge returns the union of profiles: a profile that allows what any of
// them allows, for the union of their architectures. It is meant for the
// allow-lists that sysrec records, one per run or per replica, that must
// become one profile for a workload.
//
// Rules that differ only in their names (same action, errnoRet, args and
// any other condition) become one rule with the union of the names and
// their comments joined; other rules stay distinct. The rules that Build
// annotates are the exception: a group's rules ("group: LABEL") and a
// completion's ("completion: REASON") stay apart, one per comment. Where
// an input is grouped, the names of the uncommented rule with the same
// condition join the groups (regroup), and a completion rule loses the
// names that another rule with its condition holds (dedupeCompletions),
// so that a grouped profile stays grouped and a name is in one rule.
// Names are sorted and rules ordered by their condition (group rules in
// group order, completion rules last), so the result does not depend on
// the order of profiles.
//
// Architectures, archMap entries and flags are unioned. The inputs must
// agree on listenerPath and listenerMetadata, and on defaultAction and
// defaultErrnoRet unless defaultAction is given (non-empty): then it wins,
// and defaultErrnoRet is kept only where every input has the same one. A
// disagreement is a *ConflictError.
func Merge(profiles []*Profile, defaultAction Action) (*Profile, error) {
	if len(profiles) == 0 {
		return nil, fmt.Errorf("merging profiles: no profile given")
	}
	out := &Profile{}
	actions := make([]string, len(profiles))
	errnos := make([]string, len(profiles))
	for i, p := range profiles {
		actions[i] = string(p.DefaultAction)
		switch {
		case p.DefaultErrno != "":
			errnos[i] = p.DefaultErrno // overrides defaultErrnoRet
		case p.DefaultErrnoRet != nil:
			errnos[i] = strconv.FormatUint(uint64(*p.DefaultErrnoRet), 10)
		}
	}
	errnoAgrees := allEqual(errnos)
	if defaultAction != "" {
		a, err := ParseAction(string(defaultAction))
		if err != nil {
			return nil, fmt.Errorf("merging profiles: %w", err)
		}
		out.DefaultAction = a
	} else {
		if !allEqual(actions) {
			return nil, &ConflictError{Field: "defaultAction", Values: actions}
		}
		if !errnoAgrees {
			return nil, &ConflictError{Field: "defaultErrnoRet", Values: errnos}
		}
		out.DefaultAction = profiles[0].DefaultAction
	}
	if errnoAgrees {
		out.DefaultErrno = profiles[0].DefaultErrno
		if r := profiles[0].DefaultErrnoRet; r != nil && out.DefaultErrno == "" {
			v := *r
			out.DefaultErrnoRet = &v
		}
	}

	for _, f := range []struct {
		field string
		value func(*Profile) string
		set   func(string)
	}{
		{"listenerPath", func(p *Profile) string { return p.ListenerPath }, func(v string) { out.ListenerPath = v }},
		{"listenerMetadata", func(p *Profile) string { return p.ListenerMetadata }, func(v string) { out.ListenerMetadata = v }},
	} {
		vs := make([]string, len(profiles))
		for i, p := range profiles {
			vs[i] = f.value(p)
		}
		if !allEqual(vs) {
			return nil, &ConflictError{Field: f.field, Values: vs}
		}
		f.set(vs[0])
	}

	arches := map[syscalls.Arch]bool{}
	subArches := map[syscalls.Arch]map[syscalls.Arch]bool{}
	flags := map[Flag]bool{}
	groups := map[string]*mergeGroup{}
	for _, p := range profiles {
		for _, a := range p.Architectures {
			arches[a] = true
		}
		for _, m := range p.ArchMap {
			if subArches[m.Arch] == nil {
				subArches[m.Arch] = map[syscalls.Arch]bool{}
			}
			for _, s := range m.SubArches {
				subArches[m.Arch][s] = true
			}
		}
		for _, f := range p.Flags {
			flags[f] = true
		}
		for _, r := range p.Syscalls {
			base, err := conditionKey(r)
			if err != nil {
				return nil, err
			}
			key := base
			if annotated(r.Comment) {
				key += "\x00" + r.Comment
			}
			g := groups[key]
			if g == nil {
				g = &mergeGroup{key: key, base: base, rule: r, names: map[string]bool{}, comments: map[string]bool{}}
				groups[key] = g
			}
			for _, n := range r.AllNames() {
				g.names[n] = true
			}
			if r.Comment != "" {
				g.comments[r.Comment] = true
			}
		}
	}
	for a := range arches {
		out.Architectures = append(out.Architectures, a)
	}
	slices.Sort(out.Architectures)
	for _, a := range sortedKeys(subArches) {
		out.ArchMap = append(out.ArchMap, ArchMap{Arch: a, SubArches: sortedKeys(subArches[a])})
	}
	out.Flags = sortedKeys(flags)

	regroup(groups)
	dedupeCompletions(groups)

	// A conditional allow rule adds nothing for a name that an
	// unconditional allow rule holds: libseccomp drops it.
	plain := map[string]bool{}
	for _, g := range groups {
		if g.rule.Action == ActAllow && len(g.rule.Args) == 0 {
			for n := range g.names {
				plain[n] = true
			}
		}
	}
	list := make([]*mergeGroup, 0, len(groups))
	for _, g := range groups {
		if g.rule.Action == ActAllow && len(g.rule.Args) > 0 {
			for n := range g.names {
				if plain[n] {
					delete(g.names, n)
				}
			}
			if len(g.names) == 0 {
				continue
			}
		}
		list = append(list, g)
	}
	// Allow rules first, unconditional ones first, as sysrec writes them;
	// then by first name and condition.
	for _, g := range list {
		g.rule.Names, g.rule.Name = sortedKeys(g.names), ""
	}
	sort.Slice(list, func(i, j int) bool { return ruleLess(&list[i].rule, &list[j].rule, list[i].key, list[j].key) })
	for _, g := range list {
		r := g.rule
		r.Comment = strings.Join(sortedKeys(g.comments), "; ")
		out.Syscalls = append(out.Syscalls, r)
	}
	return out, nil
}

// mergeGroup is one rule of Merge's result: the first input rule with its
// key, and the union of the names and comments of the rules with that key.
type mergeGroup struct {
	key      string // base, and the comment of an annotated rule
	base     string // conditionKey
	rule     Syscall
	names    map[string]bool
	comments map[string]bool
}

// annotated reports whether comment is one that sysrec's Build writes: a
// group's ("group: file I/O") or a completion's ("completion: ..."). Merge
// keeps such rules apart, one per comment, where it joins other rules with
// equal conditions and their comments.
func annotated(comment string) bool {
	return strings.HasPrefix(comment, GroupPrefix) || strings.HasPrefix(comment, CompletionPrefix)
}

// regroup keeps a grouped profile grouped: where some rule with a
// condition is a group's, the names of every group rule with that
// condition and of the uncommented rule with it (a flat profile merged
// with a grouped one) are split into groups again with the current table,
// so that each name is in one group rule, that of its group.
func regroup(groups map[string]*mergeGroup) {
	bases := map[string]bool{}
	for _, g := range groups {
		if strings.HasPrefix(g.rule.Comment, GroupPrefix) {
			bases[g.base] = true
		}
	}
	for _, base := range sortedKeys(bases) {
		var names []string
		var tmpl Syscall
		for _, key := range sortedKeys(groups) {
			g := groups[key]
			if g.base != base {
				continue
			}
			isGroup := strings.HasPrefix(g.rule.Comment, GroupPrefix)
			if !isGroup && (g.key != base || len(g.comments) > 0) {
				continue // a completion rule, or a commented one
			}
			if isGroup {
				tmpl = g.rule
			}
			names = append(names, sortedKeys(g.names)...)
			delete(groups, key)
		}
		for _, r := range grouped(tmpl, names) {
			names := map[string]bool{}
			for _, n := range r.Names {
				names[n] = true
			}
			key := base + "\x00" + r.Comment
			groups[key] = &mergeGroup{key: key, base: base, rule: r, names: names, comments: map[string]bool{r.Comment: true}}
		}
	}
}

// dedupeCompletions drops from completion rules the names that another
// rule with the same condition holds: what was recorded in one input
// needs no completion from another. A name in two completion rules stays
// in the one whose reason sorts first.
func dedupeCompletions(groups map[string]*mergeGroup) {
	held := map[string]map[string]bool{} // base -> names
	for _, g := range groups {
		if strings.HasPrefix(g.rule.Comment, CompletionPrefix) {
			continue
		}
		if held[g.base] == nil {
			held[g.base] = map[string]bool{}
		}
		for n := range g.names {
			held[g.base][n] = true
		}
	}
	for _, key := range sortedKeys(groups) {
		g := groups[key]
		if !strings.HasPrefix(g.rule.Comment, CompletionPrefix) {
			continue
		}
		if held[g.base] == nil {
			held[g.base] = map[string]bool{}
		}
		for n := range g.names {
			if held[g.base][n] {
				delete(g.names, n)
			}
		}
		for n := range g.names {
			held[g.base][n] = true
		}
		if len(g.names) == 0 {
			delete(groups, key)
		}
	}
}

// ruleRank places, among rules alike in action and conditions, group
// rules first in group order, then plain ones, then completion rules.
func ruleRank(s *Syscall) int {
	if g, ok := ruleGroup(s.Comment); ok {
		return int(g)
	}
	if strings.HasPrefix(s.Comment, CompletionPrefix) {
		return len(syscalls.Groups()) + 1
	}
	return len(syscalls.Groups())
}

// ruleLess orders rules: allow rules first, unconditional ones first;
// then group rules in group order, other rules, and completion rules;
// then by first name, by conditions (numerically) and by key.
func ruleLess(a, b *Syscall, ka, kb string) bool {
	aa, ab := a.Action == ActAllow, b.Action == ActAllow
	if aa != ab {
		return aa
	}
	ca, cb := len(a.Args) > 0, len(b.Args) > 0
	if ca != cb {
		return cb
	}
	if ra, rb := ruleRank(a), ruleRank(b); ra != rb {
		return ra < rb
	}
	if len(a.Names) > 0 && len(b.Names) > 0 && a.Names[0] != b.Names[0] {
		return a.Names[0] < b.Names[0]
	}
	for i := 0; i < len(a.Args) && i < len(b.Args); i++ {
		x, y := a.Args[i], b.Args[i]
		switch {
		case x.Index != y.Index:
			return x.Index < y.Index
		case x.Op != y.Op:
			return x.Op < y.Op
		case x.Value != y.Value:
			return x.Value < y.Value
		case x.ValueTwo != y.ValueTwo:
			return x.ValueTwo < y.ValueTwo
		}
	}
	if len(a.Args) != len(b.Args) {
		return len(a.Args) < len(b.Args)
	}
	return ka < kb
}

// conditionKey identifies everything about a rule but its names and
// comment: rules with equal keys decide alike and can share one name list.
// It is the rule's JSON, so conditions the model gains later take part
// without change here.
func conditionKey(r Syscall) (string, error) {
	r.Names, r.Name, r.Comment = nil, "", ""
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("merging profiles: encoding a rule for %s: %w", r.Action, err)
	}
	return string(b), nil
}

func allEqual(vs []string) bool {
	for _, v := range vs {
		if v != vs[0] {
			return false
		}
	}
	return true
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	if len(m) == 0 {
		return nil
	}
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
