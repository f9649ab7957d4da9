// Package profiles models seccomp profiles in the JSON format that the
// kubelet's Localhost profiles, containerd, CRI-O and Docker read, and
// generates them from recordings. It is pure Go and needs no privileges.
package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sysrec/sysrec/syscalls"
)

// Action is what a seccomp rule does, spelled as in the JSON.
type Action string

// The actions that runc, crun and libseccomp know.
const (
	ActKillThread  Action = "SCMP_ACT_KILL_THREAD"
	ActKill        Action = "SCMP_ACT_KILL" // an alias of ActKillThread
	ActKillProcess Action = "SCMP_ACT_KILL_PROCESS"
	ActTrap        Action = "SCMP_ACT_TRAP"
	ActErrno       Action = "SCMP_ACT_ERRNO"
	ActTrace       Action = "SCMP_ACT_TRACE"
	ActLog         Action = "SCMP_ACT_LOG"
	ActAllow       Action = "SCMP_ACT_ALLOW"
	ActNotify      Action = "SCMP_ACT_NOTIFY"
)

var actions = []Action{ActKillThread, ActKill, ActKillProcess, ActTrap, ActErrno, ActTrace, ActLog, ActAllow, ActNotify}

// ParseAction accepts an action as the JSON spells it (SCMP_ACT_ERRNO) or
// in short form (errno, kill-process).
func ParseAction(s string) (Action, error) {
	norm := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	if !strings.HasPrefix(norm, "SCMP_ACT_") {
		norm = "SCMP_ACT_" + norm
	}
	for _, a := range actions {
		if string(a) == norm {
			return a, nil
		}
	}
	short := make([]string, len(actions))
	for i, a := range actions {
		short[i] = strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ACT_")), "_", "-")
	}
	return "", fmt.Errorf("unknown seccomp action %q: want one of %s", s, strings.Join(short, ", "))
}

// Profile is a seccomp profile in the moby / containers-common JSON format,
// which extends the OCI runtime-spec LinuxSeccomp (a subset of it) with
// archMap, the legacy single "name", comments and conditional
// includes/excludes. Fields are omitempty so that profiles written by
// Generate stay minimal.
type Profile struct {
	DefaultAction    Action          `json:"defaultAction"`
	DefaultErrnoRet  *uint           `json:"defaultErrnoRet,omitempty"`
	DefaultErrno     string          `json:"defaultErrno,omitempty"` // containers-common: an errno name, overrides defaultErrnoRet
	Architectures    []syscalls.Arch `json:"architectures,omitempty"`
	ArchMap          []ArchMap       `json:"archMap,omitempty"`
	Flags            []Flag          `json:"flags,omitempty"`
	ListenerPath     string          `json:"listenerPath,omitempty"`
	ListenerMetadata string          `json:"listenerMetadata,omitempty"`
	Syscalls         []Syscall       `json:"syscalls,omitempty"`
}

// ArchMap names a native architecture and the sub-architectures (compat
// ABIs) that runtimes add to the filter with it.
type ArchMap struct {
	Arch      syscalls.Arch   `json:"architecture"`
	SubArches []syscalls.Arch `json:"subArchitectures"`
}

// Flag is a seccomp filter flag, spelled as in the JSON.
type Flag string

// The filter flags that runc and crun know.
const (
	FlagTSYNC            Flag = "SECCOMP_FILTER_FLAG_TSYNC"
	FlagLog              Flag = "SECCOMP_FILTER_FLAG_LOG"
	FlagSpecAllow        Flag = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
	FlagWaitKillableRecv Flag = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
)

// Flags lists every flag that a profile may carry.
var Flags = []Flag{FlagTSYNC, FlagLog, FlagSpecAllow, FlagWaitKillableRecv}

// Syscall is one rule: an action for a set of syscall names, optionally
// only when the arguments match, and only where Includes match and
// Excludes do not.
type Syscall struct {
	Names    []string `json:"names,omitempty"`
	Name     string   `json:"name,omitempty"` // legacy single name (moby); Parse keeps it as written
	Action   Action   `json:"action"`
	ErrnoRet *uint    `json:"errnoRet,omitempty"`
	Errno    string   `json:"errno,omitempty"` // containers-common: an errno name, overrides errnoRet
	Args     []Arg    `json:"args,omitempty"`
	Comment  string   `json:"comment,omitempty"`
	Includes *Filter  `json:"includes,omitempty"`
	Excludes *Filter  `json:"excludes,omitempty"`
}

// OCI reports whether p uses only what the OCI runtime-spec LinuxSeccomp
// has (no archMap, legacy name, errno names, comments or filters), so that
// it can go into a runtime spec's linux.seccomp as is.
func (p *Profile) OCI() bool {
	if len(p.ArchMap) > 0 || p.DefaultErrno != "" {
		return false
	}
	for _, s := range p.Syscalls {
		if s.Name != "" || s.Errno != "" || s.Comment != "" || s.Includes != nil || s.Excludes != nil {
			return false
		}
	}
	return true
}

// AllNames returns the rule's names, the legacy Name included.
func (s *Syscall) AllNames() []string {
	if s.Name == "" {
		return s.Names
	}
	return append([]string{s.Name}, s.Names...)
}

// Filter selects where a rule applies: in Includes every non-empty field
// must match, in Excludes any matching field drops the rule (as moby and
// containers-common apply them).
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"` // "4.8": kernel and major revision
}

// Operator compares a syscall argument.
type Operator string

// The comparison operators of libseccomp.
const (
	OpNotEqual     Operator = "SCMP_CMP_NE"
	OpLessThan     Operator = "SCMP_CMP_LT"
	OpLessEqual    Operator = "SCMP_CMP_LE"
	OpEqualTo      Operator = "SCMP_CMP_EQ"
	OpGreaterEqual Operator = "SCMP_CMP_GE"
	OpGreaterThan  Operator = "SCMP_CMP_GT"
	OpMaskedEqual  Operator = "SCMP_CMP_MASKED_EQ"
)

// Operators lists every operator.
var Operators = []Operator{OpNotEqual, OpLessThan, OpLessEqual, OpEqualTo, OpGreaterEqual, OpGreaterThan, OpMaskedEqual}

// Arg is a condition on one syscall argument. For SCMP_CMP_MASKED_EQ,
// Value is the mask and ValueTwo the datum: (arg & Value) == ValueTwo.
type Arg struct {
	Index    uint     `json:"index"`
	Value    uint64   `json:"value"`
	ValueTwo uint64   `json:"valueTwo,omitempty"`
	Op       Operator `json:"op"`
}

// Generate builds the minimal allow-list profile for the syscalls that
// were recorded per architecture: every other syscall gets defaultAction.
// The result depends only on the set of names, so recording the same
// workload twice gives the same profile.
func Generate(recorded map[syscalls.Arch][]string, defaultAction Action) (*Profile, error) {
	if defaultAction == ActAllow {
		return nil, fmt.Errorf("default action %s would allow every syscall: choose errno, log, kill-process, trap or kill-thread", ActAllow)
	}
	if _, err := ParseAction(string(defaultAction)); err != nil {
		return nil, err
	}
	p := &Profile{DefaultAction: defaultAction}
	seen := map[string]bool{}
	var names []string
	for arch, list := range recorded {
		if len(list) == 0 {
			continue
		}
		p.Architectures = append(p.Architectures, arch)
		for _, n := range list {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Slice(p.Architectures, func(i, j int) bool { return p.Architectures[i] < p.Architectures[j] })
	sort.Strings(names)
	if len(names) > 0 {
		p.Syscalls = []Syscall{{Names: names, Action: ActAllow}}
	}
	return p, nil
}

// AllowedNames returns the distinct names that p's unconditional allow
// rules hold, sorted.
func (p *Profile) AllowedNames() []string {
	var names []string
	for _, s := range p.Syscalls {
		if s.Action == ActAllow && len(s.Args) == 0 {
			names = append(names, s.Names...)
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// Marshal encodes p as indented JSON with a trailing newline. Equal
// profiles give equal bytes.
func Marshal(p *Profile) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encoding profile: %w", err)
	}
	return b.Bytes(), nil
}
