// Package profiles models seccomp profiles in the JSON format that the
// kubelet's Localhost profiles, containerd, CRI-O and Docker read, and
// generates them from recordings. It is pure Go and needs no privileges.
package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// Profile is a seccomp profile.
type Profile struct {
	DefaultAction   Action          `json:"defaultAction"`
	DefaultErrnoRet *uint           `json:"defaultErrnoRet,omitempty"`
	Architectures   []syscalls.Arch `json:"architectures,omitempty"`
	Syscalls        []Syscall       `json:"syscalls,omitempty"`
}

// Syscall is one rule: an action for a set of syscall names, optionally
// only when the arguments match.
type Syscall struct {
	Names    []string `json:"names"`
	Action   Action   `json:"action"`
	ErrnoRet *uint    `json:"errnoRet,omitempty"`
	Args     []Arg    `json:"args,omitempty"`
	Comment  string   `json:"comment,omitempty"`
}

// Operator compares a syscall argument.
type Operator string

// Arg is a condition on one syscall argument.
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
