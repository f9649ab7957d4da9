package profiles

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sysrec/sysrec/syscalls"
)

// Verdicts of Compare, from worst to best.
const (
	VerdictDenied = "denied" // used, and the deployed profile never lets it run (or none of its recorded argument values): the workload would break
	// VerdictPartlyDenied: used with the argument values that the
	// recorded profile's conditional rules hold, and the deployed profile
	// denies some of them: the workload would break when it passes those.
	VerdictPartlyDenied = "partly-denied"
	VerdictConditional  = "conditional" // used, and allowed only for some argument values
	VerdictAllowed      = "allowed"     // used and allowed (with every recorded argument value)
	VerdictUnused       = "unused"      // allowed but not used: the deployed profile could be tightened
)

// verdicts lists the verdicts from worst to best.
var verdicts = []string{VerdictDenied, VerdictPartlyDenied, VerdictConditional, VerdictAllowed, VerdictUnused}

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
	// rule that makes each; with Values, the decisions on the recorded
	// values only.
	Decisions []RuleDecision `json:"decisions"`
	// Values are set for a syscall that the recorded profile allows
	// only with some argument values (its conditional allow rules, one
	// per value that sysrec recorded): what the deployed profile does
	// with each. Verdict is then denied when it allows none of them,
	// partly-denied when it allows some, allowed when it allows all.
	Values []ValueDecision `json:"values,omitempty"`
	// AllowedBy are, with Values, the deployed profile's rules that
	// allow the syscall, in its order; empty when none does.
	AllowedBy []AllowingRule `json:"allowedBy,omitempty"`
	// Note explains a verdict that is not read from the decisions
	// alone.
	Note string `json:"note,omitempty"`
}

// ValueDecision is what the deployed profile does with one argument
// value that the recorded profile allows.
type ValueDecision struct {
	// Value spells the recorded rule's conditions as a call (see
	// DescribeCall): "socket(AF_NETLINK, SOCK_RAW)".
	Value string `json:"value"`
	// Args are the recorded rule's conditions; RecordedRule its index in
	// the recorded profile's syscalls.
	Args         []Arg `json:"args"`
	RecordedRule int   `json:"recordedRule"`
	// Allowed says whether the deployed profile lets the value run;
	// Decision is what it does, evaluated on arguments that hold the
	// recorded conditions (and are 0 where they say nothing).
	Allowed  bool         `json:"allowed"`
	Decision RuleDecision `json:"decision"`
}

// AllowingRule is a deployed rule that allows a syscall.
type AllowingRule struct {
	Rule    int    `json:"rule"` // index in the deployed profile's syscalls
	Call    string `json:"call"` // its conditions, as DescribeCall spells them
	Args    []Arg  `json:"args,omitempty"`
	Comment string `json:"comment,omitempty"`
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

// Outcome spells d's action with its errno: "SCMP_ACT_ERRNO(1)".
func (d RuleDecision) Outcome() string {
	return Decision{Action: d.Action, ErrnoRet: d.ErrnoRet}.Outcome()
}

// Explain spells what decides v, as sysrec diff's table shows it: the
// deciding rules, "syscalls[3] (comment): SCMP_ACT_ALLOW;
// defaultAction: SCMP_ACT_ERRNO(1)"; for a syscall that the recorded
// profile allows only with argument values, each recorded value that the
// deployed profile denies, the rule that denies it, and the deployed
// rules that allow the syscall: "recorded socket(AF_NETLINK, SOCK_RAW)
// -> defaultAction: SCMP_ACT_ERRNO(1); allowed only when:
// socket(AF_INET6, SOCK_STREAM) (syscalls[1])".
func (v Verdict) Explain() string {
	var denied []string
	for _, val := range v.Values {
		if !val.Allowed {
			denied = append(denied, "recorded "+val.Value+" -> "+decidedBy([]RuleDecision{val.Decision}))
		}
	}
	if len(denied) == 0 {
		out := decidedBy(v.Decisions)
		if v.Note != "" {
			out += " (" + v.Note + ")"
		}
		return out
	}
	var when []string
	for _, r := range v.AllowedBy {
		when = append(when, fmt.Sprintf("%s (syscalls[%d])", r.Call, r.Rule))
	}
	allowing := "never allowed"
	if len(when) > 0 {
		allowing = "allowed only when: " + strings.Join(when, ", ")
	}
	return strings.Join(denied, "; ") + "; " + allowing
}

// decidedBy spells decisions: "syscalls[3] (comment): SCMP_ACT_ALLOW;
// defaultAction: SCMP_ACT_ERRNO(1)".
func decidedBy(ds []RuleDecision) string {
	var parts []string
	for _, d := range ds {
		var by string
		switch d.Rule {
		case RuleDefault:
			by = "defaultAction"
		case RuleBadArch:
			by = "architecture not in the filter"
		case RuleENOSYS:
			by = "runc's ENOSYS stub (newer than every syscall the profile names)"
		default:
			by = fmt.Sprintf("syscalls[%d]", d.Rule)
			if d.Comment != "" {
				by += " (" + d.Comment + ")"
			}
		}
		parts = append(parts, by+": "+d.Outcome())
	}
	return strings.Join(parts, "; ")
}

// Used returns the syscalls a recorded profile allows per architecture
// (names of allow rules, with or without argument conditions, that exist
// on the architecture): what sysrec saw the workload use. Names that a
// rule without conditions answers with ENOSYS count too: sysrec writes
// that for clone3, which it saw used but whose flags a filter cannot
// read, so that the C library falls back to clone. A profile that names
// no architecture is for the host's.
func Used(recorded *Profile) map[syscalls.Arch][]string {
	out := map[syscalls.Arch][]string{}
	for _, a := range lintArches(recorded) {
		var names []string
		for i := range recorded.Syscalls {
			s := &recorded.Syscalls[i]
			if s.Action != ActAllow && !answersENOSYS(s) || !appliesOn(s, a) {
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

// answersENOSYS reports whether rule s makes its syscalls fail with
// ENOSYS whatever their arguments.
func answersENOSYS(s *Syscall) bool {
	d := action(s.Action, s.ErrnoRet, s.Errno)
	return len(s.Args) == 0 && d.Action == ActErrno && d.ErrnoRet == enosys
}

// Compare evaluates, with the deployed profile, every syscall that the
// recorded profile used (see Used), and finds those deployed allows that
// were not used. A syscall that the recorded profile allows only with
// some argument values is evaluated on each of them (see Verdict.Values);
// one that it answers with ENOSYS is met by a deployed profile that
// allows it or answers ENOSYS too.
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
	for _, v := range verdicts {
		cmp.Counts[v] = 0
	}
	for _, a := range arches {
		names, ok := used[a]
		if !ok {
			return nil, fmt.Errorf("comparing profiles: the recorded profile has no syscalls for %s", a)
		}
		ac := ArchComparison{Arch: a, Syscalls: []Verdict{}}
		for _, n := range names {
			v, err := usedVerdict(recorded, deployed, a, n, caps)
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
	slices.SortStableFunc(vs, func(a, b Verdict) int {
		return slices.Index(verdicts, a.Verdict) - slices.Index(verdicts, b.Verdict)
	})
}

// usedVerdict evaluates, with the deployed profile, one syscall that the
// recorded profile used, as the recorded profile treats it: by name, per
// recorded argument value, or as a syscall that may fail with ENOSYS.
func usedVerdict(recorded, deployed *Profile, a syscalls.Arch, n string, caps []string) (Verdict, error) {
	rules, def, err := recorded.compile(a, n, caps, "")
	if err != nil {
		return Verdict{}, fmt.Errorf("comparing profiles: the recorded profile: %w", err)
	}
	if def.Rule == RuleBadArch || def.Rule == RuleENOSYS {
		return verdict(deployed, a, n, caps)
	}
	var values []rule
	for _, r := range rules {
		if len(r.args) == 0 {
			// The first rule without conditions decides for every value.
			if r.act.Action == ActErrno && r.act.ErrnoRet == enosys {
				return enosysVerdict(deployed, a, n, caps)
			}
			return verdict(deployed, a, n, caps)
		}
		if r.act.Action == ActAllow {
			values = append(values, r)
		}
	}
	if len(values) == 0 {
		return verdict(deployed, a, n, caps)
	}
	return valuesVerdict(deployed, a, n, caps, values)
}

// ruleDecision names the rule of deployed profile p that made d.
func ruleDecision(p *Profile, d Decision) RuleDecision {
	rd := RuleDecision{Action: d.Action, ErrnoRet: d.ErrnoRet, Rule: d.Rule}
	if d.Rule >= 0 {
		rd.Comment = p.Syscalls[d.Rule].Comment
	}
	return rd
}

// enosysVerdict evaluates a syscall that the recorded profile answers
// with ENOSYS: the workload copes with ENOSYS, so a deployed ENOSYS meets
// it as an allow does.
func enosysVerdict(p *Profile, a syscalls.Arch, n string, caps []string) (Verdict, error) {
	v, err := verdict(p, a, n, caps)
	if err != nil {
		return v, err
	}
	met, enosysMet := 0, false
	for _, d := range v.Decisions {
		switch {
		case allows(Decision{Action: d.Action}):
			met++
		case d.Action == ActErrno && d.ErrnoRet == enosys:
			met++
			enosysMet = true
		}
	}
	switch {
	case met == 0:
		v.Verdict = VerdictDenied
	case met < len(v.Decisions):
		v.Verdict = VerdictConditional
	default:
		v.Verdict = VerdictAllowed
	}
	if enosysMet {
		v.Note = "ENOSYS, as in the recorded profile, lets the C library fall back to an older syscall"
	}
	return v, nil
}

// valuesVerdict evaluates, with the deployed profile p, each value that
// the recorded profile's conditional allow rules (values) allow.
func valuesVerdict(p *Profile, a syscalls.Arch, n string, caps []string, values []rule) (Verdict, error) {
	v := Verdict{Name: n}
	seen := map[RuleDecision]bool{}
	allowed := 0
	for _, r := range values {
		args, ok := representative(r.args, a)
		if !ok {
			continue // conditions that no value holds allow nothing
		}
		d, err := p.Evaluate(Query{Arch: a, Name: n, Args: args, Caps: caps})
		if err != nil {
			return Verdict{}, fmt.Errorf("comparing profiles: %w", err)
		}
		rd := ruleDecision(p, d)
		vd := ValueDecision{Value: DescribeCall(n, r.args), Args: r.args, RecordedRule: r.index, Allowed: allows(d), Decision: rd}
		if vd.Allowed {
			allowed++
		}
		v.Values = append(v.Values, vd)
		if !seen[rd] {
			seen[rd] = true
			v.Decisions = append(v.Decisions, rd)
		}
	}
	if len(v.Values) == 0 {
		return verdict(p, a, n, caps)
	}
	slices.SortFunc(v.Decisions, func(x, y RuleDecision) int {
		switch {
		case x.Action != y.Action:
			return strings.Compare(string(x.Action), string(y.Action))
		case x.ErrnoRet != y.ErrnoRet:
			return int(x.ErrnoRet) - int(y.ErrnoRet)
		}
		return x.Rule - y.Rule
	})
	switch {
	case allowed == 0:
		v.Verdict = VerdictDenied
	case allowed < len(v.Values):
		v.Verdict = VerdictPartlyDenied
	default:
		v.Verdict = VerdictAllowed
	}
	rules, def, err := p.compile(a, n, caps, "")
	if err != nil {
		return Verdict{}, fmt.Errorf("comparing profiles: %w", err)
	}
	if def.Rule == RuleBadArch || def.Rule == RuleENOSYS {
		return v, nil
	}
	// The first rule without conditions replaces every other one.
	for _, r := range rules {
		if len(r.args) == 0 {
			rules = []rule{r}
			break
		}
	}
	for _, r := range rules {
		if allows(r.act) {
			v.AllowedBy = append(v.AllowedBy, AllowingRule{Rule: r.index, Call: DescribeCall(n, r.args), Args: r.args, Comment: p.Syscalls[r.index].Comment})
		}
	}
	return v, nil
}

// representative returns arguments that hold conditions (ANDed): the
// values they compare with, 0 where they say nothing.
func representative(conds []Arg, a syscalls.Arch) ([6]uint64, bool) {
	var x [6]uint64
	for _, c := range conds {
		if c.Index >= 6 {
			return x, false
		}
		v := &x[c.Index]
		switch c.Op {
		case OpEqualTo, OpLessEqual, OpGreaterEqual:
			*v = c.Value
		case OpMaskedEqual:
			*v = *v&^c.Value | c.ValueTwo&c.Value
		case OpNotEqual:
			if *v == c.Value {
				*v++
			}
		case OpLessThan:
			if *v >= c.Value && c.Value > 0 {
				*v = c.Value - 1
			}
		case OpGreaterThan:
			if *v <= c.Value && c.Value < math.MaxUint64 {
				*v = c.Value + 1
			}
		}
	}
	for _, c := range conds {
		if !match(c, a, x) {
			return x, false
		}
	}
	return x, true
}
