package profiles

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sysrec/sysrec/syscalls"
)

// Severity says whether a finding makes a profile wrong or questionable.
type Severity string

// Severities of findings.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding codes.
const (
	CodeParse       = "parse"             // the parser rejects the profile
	CodeAllowAll    = "default-allows"    // defaultAction lets unlisted syscalls run
	CodeDangerous   = "dangerous-syscall" // a syscall that breaks isolation is allowed
	CodeDuplicate   = "duplicate-name"    // a name that another rule, or the same one, already has
	CodeUnreachable = "unreachable-rule"  // a rule entry that never decides its syscall
	CodeRedundant   = "redundant-rule"    // a rule whose action is the defaultAction: runc skips it
	CodeNoArch      = "never-applies"     // a rule whose includes/excludes drop it on every architecture
	CodeSocketcall  = "socketcall-args"   // socket is restricted by arguments, and i386 socketcall lets it through unchecked
	CodeCannotStart = "cannot-start"      // runc, crun or sysrec run is denied what it calls after loading the filter, execve among it
	CodeNotSyscall  = "not-a-syscall"     // a name that is no syscall on any architecture its rule applies on: libseccomp ignores it
)

// Target is what a profile is meant to start, which decides what it must
// allow after the filter is loaded: see LintFor.
type Target string

// Targets of a profile.
const (
	// TargetAny is a profile that may be for a container or for a command
	// under sysrec run: a denied execve is an error (neither can start),
	// the runtimes' other needs denied are a warning.
	TargetAny Target = ""
	// TargetContainer is a container's profile: whatever runc or crun
	// calls after loading the filter (RuncSyscalls, CrunSyscalls), execve
	// among it, must be allowed.
	TargetContainer Target = "container"
	// TargetCommand is a profile for sysrec run, which loads the filter
	// and then execs the command: only execve must be allowed.
	TargetCommand Target = "command"
)

// Finding is one problem in a profile. Line and Col are known for parse
// errors; other findings have only Path, the JSON path of what they are
// about (syscalls[3].names[2]).
type Finding struct {
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Col      int      `json:"col,omitempty"`
	Path     string   `json:"path,omitempty"`
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Msg      string   `json:"message"`
}

// Dangerous are the syscalls that let a container reach past its
// isolation, or open a large kernel attack surface, with why.
var Dangerous = map[string]string{
	"acct":              "switches process accounting of the host on and off",
	"add_key":           "uses the kernel keyring, which is not namespaced",
	"bpf":               "loads eBPF programs into the kernel: a large attack surface, and tracing of the host",
	"clock_settime":     "sets the host's clock, which is not namespaced",
	"delete_module":     "unloads kernel modules",
	"finit_module":      "loads kernel modules: runs code in the kernel",
	"fsconfig":          "is part of the new mount API, as mount",
	"fsmount":           "is part of the new mount API, as mount",
	"fsopen":            "is part of the new mount API, as mount",
	"init_module":       "loads kernel modules: runs code in the kernel",
	"io_uring_enter":    "io_uring: a large kernel attack surface whose operations seccomp cannot see",
	"io_uring_register": "io_uring: a large kernel attack surface whose operations seccomp cannot see",
	"io_uring_setup":    "io_uring: a large kernel attack surface whose operations seccomp cannot see",
	"ioperm":            "gives direct access to I/O ports",
	"iopl":              "gives direct access to I/O ports",
	"kexec_file_load":   "replaces the running kernel",
	"kexec_load":        "replaces the running kernel",
	"keyctl":            "uses the kernel keyring, which is not namespaced",
	"mount":             "mounts filesystems: with CAP_SYS_ADMIN, a way out of the container",
	"move_mount":        "is part of the new mount API, as mount",
	"open_by_handle_at": "opens files by handle, past the mount namespace (the \"shocker\" escape)",
	"open_tree":         "is part of the new mount API, as mount",
	"perf_event_open":   "observes the kernel and other processes: leaks kernel addresses",
	"pivot_root":        "changes the root filesystem",
	"process_vm_readv":  "reads another process's memory",
	"process_vm_writev": "writes another process's memory",
	"ptrace":            "reads and writes other processes; before Linux 4.8 it bypasses seccomp",
	"reboot":            "reboots the host or loads a new kernel",
	"request_key":       "uses the kernel keyring, which is not namespaced",
	"setns":             "joins other namespaces",
	"settimeofday":      "sets the host's clock, which is not namespaced",
	"stime":             "sets the host's clock, which is not namespaced",
	"swapoff":           "changes the host's swap",
	"swapon":            "changes the host's swap",
	"syslog":            "reads the kernel log: leaks kernel addresses",
	"umount":            "unmounts filesystems, which can uncover what a mount hid",
	"umount2":           "unmounts filesystems, which can uncover what a mount hid",
	"unshare":           "creates namespaces: user namespaces expose root-only kernel code",
	"userfaultfd":       "stalls kernel page faults at will, a building block of kernel exploits",
}

// allows reports whether a decision lets the syscall run.
func allows(d Decision) bool { return d.Action == ActAllow || d.Action == ActLog }

// Lint is LintFor(p, TargetAny).
func Lint(p *Profile) []Finding { return LintFor(p, TargetAny) }

// LintFor finds what is wrong or questionable in a profile that parses,
// meant to start target: a profile under which nothing can start (an
// error: see startFinding), a default that allows everything, dangerous
// syscalls allowed, names listed twice, names that are no syscall where
// their rule applies, rules that can never decide (with the evaluator's
// semantics), rules that runc drops, and socket argument rules that i386
// socketcall gets around. Findings come in that order: whether anything
// can start first, then the default, then the profile's order, then
// socketcall's, then the dangerous syscalls by name. All but the first
// are warnings.
//
// Capabilities change what moby-style profiles allow: syscalls are judged
// for a container with DefaultCaps, and for one with every capability
// when the default set does not allow them.
func LintFor(p *Profile, target Target) []Finding {
	var out []Finding
	warn := func(path, code, format string, args ...any) {
		out = append(out, Finding{Path: path, Severity: SeverityWarning, Code: code, Msg: fmt.Sprintf(format, args...)})
	}
	arches := lintArches(p)
	if f, ok := startFinding(p, arches, target); ok {
		out = append(out, f)
	}
	var dangerous []Finding
	var byDefault []string
	for _, n := range sortedKeys(Dangerous) {
		f, ok := dangerousFinding(p, n, arches)
		switch {
		case !ok:
		case f.Path == "defaultAction":
			byDefault = append(byDefault, n) // said once, below
		default:
			dangerous = append(dangerous, f)
		}
	}
	among := ""
	if len(byDefault) > 0 {
		among = ", dangerous ones among them: " + strings.Join(byDefault, ", ")
	}
	switch p.DefaultAction {
	case ActAllow:
		warn("defaultAction", CodeAllowAll, "defaultAction %s allows every syscall that no rule names%s: the profile is a deny-list", p.DefaultAction, among)
	case ActLog:
		warn("defaultAction", CodeAllowAll, "defaultAction %s only logs: every syscall that no rule names still runs%s", p.DefaultAction, among)
	}

	def := action(p.DefaultAction, p.DefaultErrnoRet, p.DefaultErrno)

	// What is flagged once is not flagged again as unreachable.
	flagged := map[[2]int]bool{}
	firstKey := map[string]map[string]int{} // name -> condition -> first rule
	for i := range p.Syscalls {
		s := &p.Syscalls[i]
		names := s.AllNames()
		key, _ := conditionKey(*s)
		if a := action(s.Action, s.ErrnoRet, s.Errno); a.Action == def.Action && a.ErrnoRet == def.ErrnoRet {
			warn(rulePath(i), CodeRedundant, "the rule's action %s is the defaultAction: runc skips it", a.Outcome())
			for j := range names {
				flagged[[2]int{i, j}] = true
			}
		}
		if never := neverApplies(s, p); never != "" {
			warn(rulePath(i), CodeNoArch, "the rule never applies: %s", never)
			for j := range names {
				flagged[[2]int{i, j}] = true
			}
		}
		seenHere := map[string]bool{}
		for j, n := range names {
			path := namePath(s, i, j)
			if seenHere[n] {
				warn(path, CodeDuplicate, "%s is listed twice in this rule", n)
				flagged[[2]int{i, j}] = true
				continue
			}
			seenHere[n] = true
			if firstKey[n] == nil {
				firstKey[n] = map[string]int{}
			}
			if k, ok := firstKey[n][key]; ok {
				warn(path, CodeDuplicate, "%s is also in %s, with the same action and conditions", n, rulePath(k))
				flagged[[2]int{i, j}] = true
				continue
			}
			firstKey[n][key] = i
		}
		for j, n := range names {
			if flagged[[2]int{i, j}] {
				continue
			}
			if absent := notSyscallOn(p, s, n); len(absent) > 0 {
				msg := fmt.Sprintf("%s is not a syscall on %s: libseccomp ignores it there", n, orList(absent))
				if real, ok := libcStandIns[n]; ok {
					msg += fmt.Sprintf(" (libc's %s() calls %s)", n, real)
				}
				warn(namePath(s, i, j), CodeNotSyscall, "%s", msg)
			}
		}
	}

	for i := range p.Syscalls {
		s := &p.Syscalls[i]
		for j, n := range s.AllNames() {
			if flagged[[2]int{i, j}] {
				continue
			}
			if by, ok := unreachable(p, i, n, arches); ok {
				warn(namePath(s, i, j), CodeUnreachable, "%s never reaches this rule: %s decides it first", n, by)
			}
		}
	}
	if slices.Contains(arches, syscalls.X86) {
		out = append(out, socketcallFindings(p)...)
	}
	return append(out, dangerous...)
}

// socketcallFindings reports socket and socketpair restricted by their
// arguments on i386 while socketcall, which passes the same arguments in
// memory where no filter reads them, lets them through: allowed by name,
// by the default, or by the copies of the socket rules that libseccomp
// makes for it (see x86SocketCalls), whose conditions then compare
// socketcall's pointer.
func socketcallFindings(p *Profile) []Finding {
	var out []Finding
	for _, n := range []string{"socket", "socketpair"} {
		ds, err := p.Outcomes(syscalls.X86, n, DefaultCaps)
		if err != nil {
			continue
		}
		allowed := 0
		for _, d := range ds {
			if allows(d) {
				allowed++
			}
		}
		if allowed == 0 || allowed == len(ds) {
			continue // not restricted by its arguments
		}
		call := x86SocketCalls[n]
		rules, def, err := p.compile(syscalls.X86, socketcall, DefaultCaps, "")
		if err != nil || def.Rule == RuleBadArch || def.Rule == RuleENOSYS {
			continue
		}
		// Candidates: the call number alone, and with the conditions of
		// each rule that allows socketcall.
		cands := [][]Arg{nil}
		for _, r := range rules {
			if allows(r.act) {
				cands = append(cands, r.args)
			}
		}
		for _, c := range cands {
			x, ok := representative(append(slices.Clone(c), Arg{Index: 0, Value: call, Op: OpEqualTo}), syscalls.X86)
			if !ok {
				continue
			}
			d := decide(rules, def, syscalls.X86, x)
			if !allows(d) {
				continue
			}
			path := "defaultAction"
			if d.Rule >= 0 {
				s := &p.Syscalls[d.Rule]
				names := s.AllNames()
				j := slices.Index(names, socketcall)
				if j < 0 {
					j = slices.IndexFunc(names, func(m string) bool { c, mux := muxCall(syscalls.X86, m); return mux == socketcall && c == call })
				}
				path = namePath(s, d.Rule, max(j, 0))
			}
			out = append(out, Finding{Path: path, Severity: SeverityWarning, Code: CodeSocketcall, Msg: fmt.Sprintf(
				"%s's argument rules do not bind i386 socketcall, which passes its arguments in memory: socketcall(%d, ...) is allowed (by %s), so a 32-bit process can call %s with any arguments; make socketcall fail on %s (sysrec generate does where it saw no socketcall), or leave %s out of architectures",
				n, call, ruleName(p, d.Rule), n, syscalls.X86, syscalls.X86)})
			break
		}
	}
	return out
}

// startFinding reports a profile under which target cannot start: the
// syscalls that runc and crun make after they have loaded the filter, up
// to and including the entrypoint's execve (RuncSyscalls, CrunSyscalls),
// or, for a command under sysrec run, which loads the filter and then
// execs it, execve. A syscall counts as denied when, on a native
// architecture of the profile (the one a runtime runs on: x86_64 for
// SCMP_ARCH_X86 too), no argument values let it run for a container
// with DefaultCaps: it fails, kills or traps. runc's ENOSYS stub for
// syscalls newer than the profile counts (execve fails with ENOSYS as
// with EPERM); SCMP_ACT_NOTIFY does not (an agent decides).
//
// Severity: a denied execve is an error whatever the target, since
// neither a container nor a command starts. The runtimes' other needs,
// execve allowed, are an error for TargetContainer and a warning for
// TargetAny: sysrec record's profiles of a command do not have them, and
// are fine for sysrec run.
func startFinding(p *Profile, arches []syscalls.Arch, target Target) (Finding, bool) {
	var natives []syscalls.Arch
	for _, a := range arches {
		if n := nativeArch(a); syscalls.Known(n) && !slices.Contains(natives, n) {
			natives = append(natives, n)
		}
	}
	slices.Sort(natives)
	type need struct {
		who   string
		names []string
	}
	needs := []need{{"runc", RuncSyscalls}, {"crun", CrunSyscalls}}
	if target == TargetCommand {
		needs = []need{{"sysrec run", []string{execve}}}
	}
	var all []string
	for _, nd := range needs {
		all = union(all, nd.names)
	}
	deniedOn := map[string][]syscalls.Arch{} // the native architectures where n is denied
	existsOn := map[string]int{}             // on how many of them n is a syscall
	var by []string                          // what denies them, in order
	path, pathOf := "", ""
	for _, a := range natives {
		for _, n := range all {
			if _, ok := syscalls.Number(a, n); !ok {
				continue
			}
			existsOn[n]++
			ds, err := p.Outcomes(a, n, DefaultCaps)
			if err != nil || len(ds) == 0 || slices.ContainsFunc(ds, func(d Decision) bool { return !denies(d) }) {
				continue
			}
			deniedOn[n] = append(deniedOn[n], a)
			for _, d := range ds {
				w := ruleName(p, d.Rule) + " " + d.Outcome()
				if d.Rule == RuleENOSYS {
					w = "runc's ENOSYS stub for syscalls newer than any the profile names"
				}
				if !slices.Contains(by, w) {
					by = append(by, w)
				}
			}
			// The path: the rule that denies execve if it is denied,
			// else the first denial's.
			if path == "" || n == execve && pathOf != execve {
				path, pathOf = "defaultAction", n
				if r := ds[0].Rule; r >= 0 {
					path = rulePath(r)
					if j := slices.Index(p.Syscalls[r].AllNames(), n); j >= 0 {
						path = namePath(&p.Syscalls[r], r, j)
					}
				}
			}
		}
	}
	if len(deniedOn) == 0 {
		return Finding{}, false
	}
	spell := func(n string) string {
		if len(deniedOn[n]) < existsOn[n] {
			return fmt.Sprintf("%s (on %s)", n, strings.Join(archStrings(deniedOn[n]), ", "))
		}
		return n
	}
	var parts, who []string
	var lists [][]string
	for _, nd := range needs {
		var l []string
		for _, n := range nd.names {
			if deniedOn[n] != nil && !slices.Contains(l, spell(n)) {
				l = append(l, spell(n))
			}
		}
		if len(l) == 0 {
			continue
		}
		slices.Sort(l)
		if k := slices.IndexFunc(lists, func(m []string) bool { return slices.Equal(m, l) }); k >= 0 {
			who[k] += " and " + nd.who
			continue
		}
		who, lists = append(who, nd.who), append(lists, l)
	}
	for k := range who {
		verb := "needs"
		if strings.Contains(who[k], " and ") {
			verb = "need"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", who[k], verb, strings.Join(lists[k], ", ")))
	}
	denied := fmt.Sprintf("after loading the filter; they are denied (by %s)", strings.Join(by, " and by "))
	execveDenied := deniedOn[execve] != nil
	f := Finding{Path: path, Severity: SeverityError, Code: CodeCannotStart}
	switch {
	case target == TargetCommand:
		f.Msg = fmt.Sprintf("no command can start under this profile with sysrec run, which loads the filter and then execs the command: execve is denied (by %s)", strings.Join(by, " and by "))
	case len(who) == 1 && who[0] != "runc and crun":
		f.Msg = fmt.Sprintf("no container can start under this profile with %s: %s %s", who[0], parts[0], denied)
	default:
		f.Msg = fmt.Sprintf("no container can start under this profile: %s %s", strings.Join(parts, " and "), denied)
	}
	switch {
	case target == TargetCommand:
	case execveDenied:
		f.Msg += "; nor can a command under sysrec run, which execs it after loading the filter"
	case target == TargetAny:
		// A command's profile, as sysrec record writes it, need not
		// have the runtimes' syscalls.
		f.Severity = SeverityWarning
		f.Msg += "; fine for a command under sysrec run, which needs only execve (sysrec lint --for container makes this an error)"
	}
	return f, true
}

// execve is what starts the entrypoint, or sysrec run's command, once the
// filter is loaded.
const execve = "execve"

// denies reports whether a decision stops the syscall: it fails (runc's
// ENOSYS stub too), kills or traps. SCMP_ACT_NOTIFY, where an agent
// decides, does not count.
func denies(d Decision) bool { return !allows(d) && d.Action != ActNotify }

func archStrings(as []syscalls.Arch) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

// orList spells architectures as "A, B or C".
func orList(as []syscalls.Arch) string {
	s := archStrings(as)
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// libcStandIns are names that are a libc function, and a syscall only on
// some architectures, with the syscall that libc calls where they are not.
var libcStandIns = map[string]string{"recv": "recvfrom", "send": "sendto"}

// notSyscallOn returns the architectures of the profile that rule s
// applies on, when name n is a syscall on none of them (directly or, on
// i386, through socketcall or ipc): libseccomp, and so runc, ignore the
// name there, and it allows nothing. It returns nil when n is a syscall on
// one of them, which is how profiles for several architectures are
// written, or when one of them has no syscall table (x32 is taken to have
// x86_64's), since the name may be for it. The parser has already
// rejected names that no architecture has (see checkName), except those
// that libseccomp knows on some other architecture (recv, send, ...).
func notSyscallOn(p *Profile, s *Syscall, n string) []syscalls.Arch {
	var arches []syscalls.Arch
	for _, a := range profileArches(p) {
		if !slices.Contains(arches, a) {
			arches = append(arches, a)
		}
	}
	if len(arches) == 0 {
		native, _, err := syscalls.Host()
		if err != nil {
			return nil
		}
		arches = []syscalls.Arch{native}
	}
	var absent []syscalls.Arch
	for _, a := range arches {
		if !appliesOn(s, a) {
			continue
		}
		t := a
		if a == syscalls.X32 {
			t = syscalls.X86_64
		}
		if !syscalls.Known(t) {
			return nil
		}
		if _, ok := syscalls.Number(t, n); ok {
			return nil
		}
		if _, mux := muxCall(a, n); mux != "" {
			return nil
		}
		absent = append(absent, a)
	}
	return absent
}

// lintArches are the architectures with a syscall table that the profile
// is for; a profile that names none is for the host's.
func lintArches(p *Profile) []syscalls.Arch {
	var out []syscalls.Arch
	for _, a := range profileArches(p) {
		if syscalls.Known(a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 && len(profileArches(p)) == 0 {
		if native, _, err := syscalls.Host(); err == nil {
			out = append(out, native)
		}
	}
	slices.Sort(out)
	return out
}

// neverApplies says why a rule's includes/excludes on architectures drop
// it on every architecture the profile lists, or "".
func neverApplies(s *Syscall, p *Profile) string {
	arches := profileArches(p)
	// A profile with an archMap is meant for every host: the runtime
	// picks the entry of the host's architecture, and the native one is
	// always in the filter.
	if len(arches) == 0 || len(p.ArchMap) > 0 || (s.Includes == nil || len(s.Includes.Arches) == 0) && (s.Excludes == nil || len(s.Excludes.Arches) == 0) {
		return ""
	}
	for _, a := range arches {
		if appliesOn(s, a) {
			return ""
		}
	}
	var hosts []string
	for _, a := range arches {
		if h := goArch(a); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return fmt.Sprintf("its includes/excludes arches leave out every architecture of the profile (%s)", strings.Join(hosts, ", "))
}

// appliesOn reports whether rule s's includes/excludes arches keep it on
// architecture a.
func appliesOn(s *Syscall, a syscalls.Arch) bool {
	host := goArch(a)
	if s.Includes != nil && len(s.Includes.Arches) > 0 && !slices.Contains(s.Includes.Arches, host) {
		return false
	}
	return s.Excludes == nil || !slices.Contains(s.Excludes.Arches, host)
}

// ruleCaps is a capability set under which rule s can apply: base, with
// what s includes and without what it excludes.
func ruleCaps(s *Syscall, base []string) []string {
	caps := slices.Clone(base)
	if s.Includes != nil {
		for _, c := range s.Includes.Caps {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	if s.Excludes != nil {
		caps = slices.DeleteFunc(caps, func(c string) bool { return slices.Contains(s.Excludes.Caps, c) })
	}
	return caps
}

// unreachable reports whether rule i never decides syscall n, on any
// architecture where the rule applies and n exists, for a container with
// the default capabilities or with all of them (adjusted to the rule's
// includes and excludes), and which rules decide instead. Whether a rule
// is reachable under some other capability set is not searched.
func unreachable(p *Profile, i int, n string, arches []syscalls.Arch) (string, bool) {
	s := &p.Syscalls[i]
	var by []int
	checked := false
	for _, a := range arches {
		if _, ok := syscalls.Number(a, n); !ok || !appliesOn(s, a) {
			continue
		}
		for _, base := range [][]string{DefaultCaps, capabilities} {
			ds, err := p.Outcomes(a, n, ruleCaps(s, base))
			if err != nil || len(ds) == 1 && ds[0].Rule == RuleBadArch {
				continue
			}
			checked = true
			for _, d := range ds {
				if d.Rule == i {
					return "", false
				}
				if !slices.Contains(by, d.Rule) {
					by = append(by, d.Rule)
				}
			}
		}
	}
	if !checked {
		return "", false
	}
	slices.Sort(by)
	var names []string
	for _, r := range by {
		name := ruleName(p, r)
		if r >= 0 && p.Syscalls[r].Includes != nil && p.Syscalls[r].Includes.MinKernel != "" {
			name += " on kernels from " + p.Syscalls[r].Includes.MinKernel
		}
		names = append(names, name)
	}
	return strings.Join(names, " or "), true
}

// dangerousFinding reports whether p allows the dangerous syscall n, and
// how: always, for some arguments, or only with more capabilities.
func dangerousFinding(p *Profile, n string, arches []syscalls.Arch) (Finding, bool) {
	type verdict struct {
		some, all bool
		rule      int
		arches    []string
	}
	judge := func(caps []string) verdict {
		v := verdict{all: true, rule: RuleDefault}
		for _, a := range arches {
			if _, ok := syscalls.Number(a, n); !ok {
				continue
			}
			ds, err := p.Outcomes(a, n, caps)
			if err != nil || len(ds) == 0 {
				continue
			}
			allowed := 0
			for _, d := range ds {
				if allows(d) {
					allowed++
					if !v.some {
						v.rule = d.Rule
					}
				}
			}
			if allowed > 0 {
				v.some = true
				v.arches = append(v.arches, string(a))
			}
			if allowed < len(ds) {
				v.all = false
			}
		}
		v.all = v.all && v.some
		return v
	}
	v := judge(DefaultCaps)
	how := ""
	switch {
	case v.all:
		how = "allowed"
	case v.some:
		how = "allowed for some argument values"
	default:
		v = judge(capabilities)
		if !v.some {
			return Finding{}, false
		}
		how = "allowed when the container has more than the default capabilities"
		if v.rule >= 0 && p.Syscalls[v.rule].Includes != nil && len(p.Syscalls[v.rule].Includes.Caps) > 0 {
			how = "allowed when the container has " + strings.Join(p.Syscalls[v.rule].Includes.Caps, " and ")
		}
	}
	path := "defaultAction"
	if v.rule >= 0 {
		s := &p.Syscalls[v.rule]
		path = namePath(s, v.rule, slices.Index(s.AllNames(), n))
	}
	msg := fmt.Sprintf("%s is %s (by %s): it %s", n, how, ruleName(p, v.rule), Dangerous[n])
	if len(v.arches) < len(arches) && len(v.arches) > 0 {
		msg += fmt.Sprintf(" [on %s]", strings.Join(v.arches, ", "))
	}
	return Finding{Path: path, Severity: SeverityWarning, Code: CodeDangerous, Msg: msg}, true
}

// ruleName names a rule for a message: syscalls[3] (its comment), or the
// defaultAction.
func ruleName(p *Profile, i int) string {
	switch {
	case i == RuleDefault:
		return "defaultAction"
	case i == RuleBadArch:
		return "the architecture check"
	case i >= 0 && i < len(p.Syscalls) && p.Syscalls[i].Comment != "":
		return fmt.Sprintf("%s (%s)", rulePath(i), p.Syscalls[i].Comment)
	}
	return rulePath(i)
}

func rulePath(i int) string { return fmt.Sprintf("syscalls[%d]", i) }

// namePath is the JSON path of the j-th of AllNames of rule i.
func namePath(s *Syscall, i, j int) string {
	if s.Name != "" {
		if j == 0 {
			return rulePath(i) + ".name"
		}
		j--
	}
	return fmt.Sprintf("%s.names[%d]", rulePath(i), j)
}

// Locate returns the line and column (1-based) where the value at a
// finding's JSON path (syscalls[3].names[2]) starts in a profile's JSON,
// and false when data does not parse or has no such path.
func Locate(data []byte, path string) (line, col int, ok bool) {
	ps := &parser{data: data}
	n, err := ps.parseDocument()
	if err != nil {
		return 0, 0, false
	}
	for path != "" {
		if rest, found := strings.CutPrefix(path, "["); found {
			end := strings.IndexByte(rest, ']')
			i, err := strconv.Atoi(rest[:max(end, 0)])
			if end < 0 || err != nil || n.kind != kArray || i < 0 || i >= len(n.elems) {
				return 0, 0, false
			}
			n, path = n.elems[i], rest[end+1:]
			continue
		}
		path = strings.TrimPrefix(path, ".")
		end := strings.IndexAny(path, ".[")
		if end < 0 {
			end = len(path)
		}
		key := path[:end]
		if n.kind != kObject {
			return 0, 0, false
		}
		i := slices.IndexFunc(n.keys, func(m member) bool { return m.key == key })
		if i < 0 {
			return 0, 0, false
		}
		n, path = n.keys[i].val, path[end:]
	}
	line, col = ps.where(n.off)
	return line, col, true
}
