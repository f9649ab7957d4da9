package profiles

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sysrec/sysrec/syscalls"
)

// Widening a profile with what a filter logged (violations --into). A
// syscall that the profile allows by name, or not at all, is added by
// name. One that it allows only with some argument values (socket for
// some address families) gets one more argument rule, for the value the
// workload used: widening never turns an argument rule into an
// unconditional allow. Where the value is not known (a seccomp audit
// record does not carry arguments), such a syscall is left out, and said
// so.

// Violation is one syscall that a filter logged or refused.
type Violation struct {
	Arch syscalls.Arch
	Name string
	// Args are the call's arguments, where known.
	Args *[6]uint64
}

// SkipReason says why Widen left a syscall out.
type SkipReason string

// The reasons.
const (
	// SkipNoArgs: the profile allows the syscall only with some argument
	// values, and the violation carries no arguments.
	SkipNoArgs SkipReason = "no-args"
	// SkipNoRule: the profile allows the syscall only with some argument
	// values, and sysrec writes no argument rule for it on that ABI, or
	// for that value.
	SkipNoRule SkipReason = "no-rule"
	// SkipClone3: the profile makes clone3 fail (with ENOSYS), so that
	// the C library falls back to clone, whose flags its rules check.
	SkipClone3 SkipReason = "clone3"
)

// Skipped is a syscall that Widen left out, and why.
type Skipped struct {
	Arch   syscalls.Arch
	Name   string
	Reason SkipReason
	// Detail says it in words, for a person.
	Detail string
}

// Widened is what Widen did.
type Widened struct {
	// Profile is the widened profile, in Merge's canonical form.
	Profile *Profile
	// Added counts the names newly allowed by name and the argument
	// rules (values) newly added.
	Added int
	// Rules lists the rules newly added for syscalls that the profile
	// allows only with some argument values (and clone3's ENOSYS rule),
	// one name each, sorted.
	Rules []Syscall
	// Skipped lists what was left out, one entry per architecture, name
	// and reason, sorted.
	Skipped []Skipped
}

// Widen returns p with the syscalls of vs allowed: by name, or, for a
// syscall that p allows only with some argument values, with one more
// argument rule per value used (the rule GenerateArgs writes for it). A
// violation of such a syscall without arguments, or with a value that
// sysrec has no rule for, is skipped. So is clone3 where p makes it fail;
// where p restricts clone's namespace flags and has no rule for clone3,
// clone3 is made to fail with ENOSYS, as GenerateArgs does, instead of
// being allowed. Violations without a name are ignored. p is not changed.
func Widen(p *Profile, vs []Violation) (*Widened, error) {
	w := &Widened{}
	names := map[syscalls.Arch]map[string]bool{}
	var rules []Syscall
	seen := map[string]bool{}
	skipped := map[Skipped]bool{}
	skip := func(v Violation, r SkipReason, detail string) {
		skipped[Skipped{Arch: v.Arch, Name: v.Name, Reason: r, Detail: detail}] = true
	}
	addRule := func(v Violation, r Syscall) {
		key := ruleKey(r)
		if seen[key] || hasRule(p, r) {
			return
		}
		seen[key] = true
		rules = append(rules, r)
		if names[v.Arch] == nil {
			names[v.Arch] = map[string]bool{}
		}
	}
	for _, v := range vs {
		if v.Name == "" {
			continue
		}
		plain, conditional, refused := allowedHow(p, v.Name)
		switch {
		case plain:
		case v.Name == "clone3" && refused:
			skip(v, SkipClone3, "the profile makes clone3 fail, so that the C library falls back to clone, whose namespace flags its rules check; allowing clone3 would allow every namespace")
			continue
		case v.Name == "clone3" && clonesRestricted(p):
			errno := uint(enosysErrno)
			addRule(v, Syscall{Names: []string{"clone3"}, Action: ActErrno, ErrnoRet: &errno})
			continue
		case conditional:
			if v.Args == nil {
				skip(v, SkipNoArgs, "its rules allow only some argument values, and the record carries none")
				continue
			}
			val, k, ok := ArgValue(v.Arch, v.Name, *v.Args)
			if !ok {
				detail := fmt.Sprintf("its rules allow only some argument values, and sysrec writes no argument rule for it on %s", v.Arch)
				if k != KindNone {
					detail = fmt.Sprintf("its rules allow only some argument values, and sysrec writes no rule for the value it was called with (arguments %#x)", v.Args[:])
				}
				skip(v, SkipNoRule, detail)
				continue
			}
			addRule(v, Syscall{Names: []string{v.Name}, Action: ActAllow, Args: argConditions(k, val)})
			continue
		}
		if names[v.Arch] == nil {
			names[v.Arch] = map[string]bool{}
		}
		names[v.Arch][v.Name] = true
	}

	extra := &Profile{DefaultAction: p.DefaultAction}
	var plainNames []string
	for arch, m := range names {
		extra.Architectures = append(extra.Architectures, arch)
		for n := range m {
			if !slices.Contains(plainNames, n) {
				plainNames = append(plainNames, n)
			}
		}
	}
	slices.Sort(extra.Architectures)
	slices.Sort(plainNames)
	if len(plainNames) > 0 {
		extra.Syscalls = append(extra.Syscalls, Syscall{Names: plainNames, Action: ActAllow})
	}
	extra.Syscalls = append(extra.Syscalls, rules...)
	merged, err := Merge([]*Profile{p, extra}, p.DefaultAction)
	if err != nil {
		return nil, fmt.Errorf("widening the profile: %w", err)
	}
	w.Profile = merged
	w.Added = len(merged.AllowedNames()) - len(p.AllowedNames()) + len(rules)
	w.Rules = rules
	sort.Slice(w.Rules, func(i, j int) bool { return ruleKey(w.Rules[i]) < ruleKey(w.Rules[j]) })
	for s := range skipped {
		w.Skipped = append(w.Skipped, s)
	}
	sort.Slice(w.Skipped, func(i, j int) bool {
		a, b := w.Skipped[i], w.Skipped[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return a.Reason < b.Reason
	})
	return w, nil
}

// allowedHow says whether p allows name unconditionally, only with some
// argument values, and whether a rule of p makes it fail.
func allowedHow(p *Profile, name string) (plain, conditional, refused bool) {
	for i := range p.Syscalls {
		r := &p.Syscalls[i]
		if !slices.Contains(r.AllNames(), name) {
			continue
		}
		switch {
		case r.Action == ActAllow && len(r.Args) == 0:
			plain = true
		case r.Action == ActAllow:
			conditional = true
		case r.Action == ActErrno && len(r.Args) == 0:
			refused = true
		}
	}
	return plain, conditional && !plain, refused && !plain
}

// clonesRestricted reports whether p allows clone only with some flags.
func clonesRestricted(p *Profile) bool {
	_, conditional, _ := allowedHow(p, "clone")
	return conditional
}

// hasRule reports whether p holds a rule that allows what r allows: one
// with r's action, errno and conditions that names r's name.
func hasRule(p *Profile, r Syscall) bool {
	for i := range p.Syscalls {
		s := &p.Syscalls[i]
		if s.Action == r.Action && equalErrno(s.ErrnoRet, r.ErrnoRet) && slices.Equal(s.Args, r.Args) &&
			s.Includes == nil && s.Excludes == nil && slices.Contains(s.AllNames(), r.Names[0]) {
			return true
		}
	}
	return false
}

func equalErrno(a, b *uint) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// ruleKey identifies a one-name rule that Widen adds.
func ruleKey(r Syscall) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|", strings.Join(r.Names, ","), r.Action)
	if r.ErrnoRet != nil {
		fmt.Fprintf(&b, "%d", *r.ErrnoRet)
	}
	for _, a := range r.Args {
		fmt.Fprintf(&b, "|%d:%s:%d:%d", a.Index, a.Op, a.Value, a.ValueTwo)
	}
	return b.String()
}

// ConditionalNames returns the names that p allows only with some
// argument values, and for which sysrec writes argument rules: the
// syscalls whose arguments Widen needs. Sorted.
func (p *Profile) ConditionalNames() []string {
	var out []string
	for _, r := range p.Syscalls {
		for _, n := range r.AllNames() {
			if slices.Contains(out, n) || !slices.ContainsFunc(argCatalogue, func(e argEntry) bool { return e.name == n && e.kind != KindClone3 }) {
				continue
			}
			if _, conditional, _ := allowedHow(p, n); conditional {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}
