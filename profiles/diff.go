package profiles

import (
	"fmt"
	"slices"

	"github.com/sysrec/sysrec/syscalls"
)

// Verdicts of Compare, from worst to best.
const (
	VerdictDenied      = "denied"      // used, and the deployed profile never lets it run: the workload would break
	VerdictConditional = "conditional" // used, and allowed only for some argument values
	VerdictAllowed     = "allowed"     // used and allowed
	VerdictUnused      = "unused"      // allowed but not used: the deployed profile could be tightened
)

// CompareOptions narrow Compare.
type CompareOptions struct {
	// Arches to compare; empty: every architecture of the recorded
	// profile that has a syscall table.
	Arches []syscalls.Arch
	// Caps are the container's capabilities, which moby-style profiles
	// depend on; nil means DefaultCaps.
	Caps []string
}

// Comparison is how a deployed profile treats what a recording used.
type Comparison struct {
	Caps   []string         `json:"caps"`
	Arches []ArchComparison `json:"arches"`
	Counts map[string]int   `json:"counts"` // per verdict, over all architectures
}

// ArchComparison is one architecture of a Comparison.
type ArchComparison struct {
	Arch syscalls.Arch `json:"arch"`
	// Syscalls are the used syscalls, then the allowed but unused ones,
	// each group sorted by verdict (worst first) and name.
	Syscalls []Verdict `json:"syscalls"`
}

// Verdict is what the deployed profile does with one syscall.
type Verdict struct {
	Name    string `json:"name"`
	Verdict string `json:"verdict"`
	// Decisions are every decision over all argument values, with the
	// rule that makes each.
	Decisions []RuleDecision `json:"decisions"`
}

// RuleDecision is a Decision, with the rule's comment.
type RuleDecision struct {
	Action   Action `json:"action"`
	ErrnoRet uint   `json:"errnoRet,omitempty"`
	// Rule is the index in the deployed profile's syscalls, RuleDefault
	// (-1) for its defaultAction, RuleBadArch (-2) when the architecture
	// is not in its filter, RuleENOSYS (-3) for runc's ENOSYS stub.
	Rule    int    `json:"rule"`
	Comment string `json:"comment,omitempty"`
}

// Used returns the syscalls a recorded profile allows per architecture
// (names of allow rules without argument conditions, that exist on the
// architecture): what sysrec saw the workload use. A profile that names
// no architecture is for the host's.
func Used(recorded *Profile) map[syscalls.Arch][]string {
	out := map[syscalls.Arch][]string{}
	for _, a := range lintArches(recorded) {
		var names []string
		for i := range recorded.Syscalls {
			s := &recorded.Syscalls[i]
			if s.Action != ActAllow || len(s.Args) > 0 || !appliesOn(s, a) {
				continue
			}
			for _, n := range s.AllNames() {
				if _, ok := syscalls.Number(a, n); ok && !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
		slices.Sort(names)
		out[a] = names
	}
	return out
}

// Compare evaluates, with the deployed profile, every syscall that the
// recorded profile used (see Used), and finds those deployed allows that
// were not used.
func Compare(recorded, deployed *Profile, opts CompareOptions) (*Comparison, error) {
	used := Used(recorded)
	arches := opts.Arches
	if len(arches) == 0 {
		for a := range used {
			arches = append(arches, a)
		}
		slices.Sort(arches)
	}
	caps := opts.Caps
	if caps == nil {
		caps = DefaultCaps
	}
	cmp := &Comparison{Caps: caps, Arches: []ArchComparison{}, Counts: map[string]int{}}
	for _, v := range []string{VerdictDenied, VerdictConditional, VerdictAllowed, VerdictUnused} {
		cmp.Counts[v] = 0
	}
	for _, a := range arches {
		names, ok := used[a]
		if !ok {
			return nil, fmt.Errorf("comparing profiles: the recorded profile has no syscalls for %s", a)
		}
		ac := ArchComparison{Arch: a, Syscalls: []Verdict{}}
		for _, n := range names {
			v, err := verdict(deployed, a, n, caps)
			if err != nil {
				return nil, err
			}
			ac.Syscalls = append(ac.Syscalls, v)
		}
		sortVerdicts(ac.Syscalls)
		var unused []Verdict
		for _, n := range syscalls.Names(a) {
			if slices.Contains(names, n) {
				continue
			}
			v, err := verdict(deployed, a, n, caps)
			if err != nil {
				return nil, err
			}
			if v.Verdict != VerdictDenied {
				v.Verdict = VerdictUnused
				unused = append(unused, v)
			}
		}
		ac.Syscalls = append(ac.Syscalls, unused...)
		for _, v := range ac.Syscalls {
			cmp.Counts[v.Verdict]++
		}
		cmp.Arches = append(cmp.Arches, ac)
	}
	return cmp, nil
}

// verdict evaluates one syscall with the deployed profile.
func verdict(p *Profile, a syscalls.Arch, n string, caps []string) (Verdict, error) {
	ds, err := p.Outcomes(a, n, caps)
	if err != nil {
		return Verdict{}, fmt.Errorf("comparing profiles: %w", err)
	}
	v := Verdict{Name: n}
	allowed := 0
	for _, d := range ds {
		if allows(d) {
			allowed++
		}
		rd := RuleDecision{Action: d.Action, ErrnoRet: d.ErrnoRet, Rule: d.Rule}
		if d.Rule >= 0 {
			rd.Comment = p.Syscalls[d.Rule].Comment
		}
		v.Decisions = append(v.Decisions, rd)
	}
	switch {
	case allowed == 0:
		v.Verdict = VerdictDenied
	case allowed < len(ds):
		v.Verdict = VerdictConditional
	default:
		v.Verdict = VerdictAllowed
	}
	return v, nil
}

func sortVerdicts(vs []Verdict) {
	rank := map[string]int{VerdictDenied: 0, VerdictConditional: 1, VerdictAllowed: 2, VerdictUnused: 3}
	slices.SortStableFunc(vs, func(a, b Verdict) int { return rank[a.Verdict] - rank[b.Verdict] })
}
