package profiles

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sysrec/sysrec/syscalls"
)

// Argument rules. sysrec records the values of a few scalar arguments of a
// curated set of syscalls (the catalogue below), and a profile then allows
// such a syscall only with the values the workload used: socket only for
// the address families it opened, clone only with the namespace flags it
// asked for. The recorder's kernel side captures them (see the Kind
// codes); this file turns what it captured into rules.

// ArgGroup names a set of captured arguments, as --args lists them.
type ArgGroup string

// The argument groups.
const (
	ArgsSocket      ArgGroup = "socket"      // socket (family and type), socketpair (family)
	ArgsNamespaces  ArgGroup = "namespaces"  // the namespace flags of clone, clone3, unshare, setns
	ArgsPersonality ArgGroup = "personality" // personality's persona
	ArgsPrctl       ArgGroup = "prctl"       // prctl's option
	ArgsIoctl       ArgGroup = "ioctl"       // ioctl's request
	ArgsMmap        ArgGroup = "mmap"        // whether mmap and mprotect asked for PROT_EXEC, and with PROT_WRITE
)

// ArgGroups lists every group, in the order help text names them.
var ArgGroups = []ArgGroup{ArgsSocket, ArgsNamespaces, ArgsPersonality, ArgsPrctl, ArgsIoctl, ArgsMmap}

// DefaultArgGroups are the groups that record captures unless told
// otherwise.
var DefaultArgGroups = []ArgGroup{ArgsSocket, ArgsNamespaces}

// ParseArgGroups parses a list of groups: names separated by commas,
// "all", or "none" (which gives an empty, non-nil list). The result is
// in ArgGroups' order, without duplicates.
func ParseArgGroups(s string) ([]ArgGroup, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "all":
		return slices.Clone(ArgGroups), nil
	case "none", "":
		return []ArgGroup{}, nil
	}
	want := map[ArgGroup]bool{}
	for _, f := range strings.Split(s, ",") {
		g := ArgGroup(strings.TrimSpace(f))
		if !slices.Contains(ArgGroups, g) {
			names := make([]string, len(ArgGroups))
			for i, g := range ArgGroups {
				names[i] = string(g)
			}
			return nil, fmt.Errorf("unknown argument group %q: want all, none or a comma-separated list of %s", f, strings.Join(names, ", "))
		}
		want[g] = true
	}
	out := []ArgGroup{}
	for _, g := range ArgGroups {
		if want[g] {
			out = append(out, g)
		}
	}
	return out, nil
}

// ArgKind says how the recorder's kernel side captures one syscall's
// argument. The values are the codes of the kernel's per-syscall table
// (arg_kind in bpf/sysrec.bpf.c), so they must not change.
type ArgKind uint8

// The kinds, and what ArgValues.Values holds for each.
const (
	KindNone        ArgKind = iota
	KindSocket              // arg0 domain, arg1 type&0xf: domain<<8 | type
	KindSocketpair          // arg0 domain: the domain
	KindClone               // arg0 & CloneNamespaces: the combination of flags
	KindClone3              // the flags of *arg0 (struct clone_args): into clone's values; clone3's own values stay empty
	KindUnshare             // arg0 & UnshareNamespaces: the combination of flags
	KindSetns               // arg1 nstype: the value
	KindPersonality         // arg0 persona, low 32 bits: the value
	KindPrctl               // arg0 option: the value
	KindIoctl               // arg1 request, low 32 bits: the value
	KindMmap                // arg2 prot & (PROT_WRITE|PROT_EXEC): the combination
	KindMprotect            // arg2 prot & (PROT_WRITE|PROT_EXEC): the combination
)

// Namespace flags (include/uapi/linux/sched.h).
const (
	CloneNewTime   = 0x00000080
	CloneNewNS     = 0x00020000
	CloneNewCgroup = 0x02000000
	CloneNewUTS    = 0x04000000
	CloneNewIPC    = 0x08000000
	CloneNewUser   = 0x10000000
	CloneNewPID    = 0x20000000
	CloneNewNet    = 0x40000000
	// CloneNamespaces are the namespace flags that clone takes: clone's
	// low byte is the exit signal, so CLONE_NEWTIME only reaches the
	// kernel through clone3 and unshare. It is Docker's mask (2114060288).
	CloneNamespaces = CloneNewNS | CloneNewCgroup | CloneNewUTS | CloneNewIPC | CloneNewUser | CloneNewPID | CloneNewNet
	// UnshareNamespaces are the namespace flags that unshare takes.
	UnshareNamespaces = CloneNamespaces | CloneNewTime
)

// Memory protection bits that mmap's and mprotect's rules look at.
const (
	ProtWrite = 0x2
	ProtExec  = 0x4
	protWX    = ProtWrite | ProtExec
)

// sockTypeMask keeps a socket type without SOCK_NONBLOCK and SOCK_CLOEXEC.
const sockTypeMask = 0xf

// lowWord compares the low 32 bits of an argument that the kernel takes
// as an int, whatever the caller left in the upper half of the register.
const lowWord = 0xffffffff

// enosys is returned for clone3 when namespace flags are restricted.
const enosysErrno = 38

type argEntry struct {
	name  string
	kind  ArgKind
	group ArgGroup
	// only32 and only64 limit the entry to 32-bit (compat) or 64-bit
	// ABIs: on i386 and arm, "mmap" is old_mmap, whose arguments are in
	// memory.
	only32, only64 bool
}

var argCatalogue = []argEntry{
	{name: "socket", kind: KindSocket, group: ArgsSocket},
	{name: "socketpair", kind: KindSocketpair, group: ArgsSocket},
	{name: "clone", kind: KindClone, group: ArgsNamespaces},
	{name: "clone3", kind: KindClone3, group: ArgsNamespaces},
	{name: "unshare", kind: KindUnshare, group: ArgsNamespaces},
	{name: "setns", kind: KindSetns, group: ArgsNamespaces},
	{name: "personality", kind: KindPersonality, group: ArgsPersonality},
	{name: "prctl", kind: KindPrctl, group: ArgsPrctl},
	{name: "ioctl", kind: KindIoctl, group: ArgsIoctl},
	{name: "mmap", kind: KindMmap, group: ArgsMmap, only64: true},
	{name: "mmap2", kind: KindMmap, group: ArgsMmap, only32: true},
	{name: "mprotect", kind: KindMprotect, group: ArgsMmap},
}

// ArgKinds returns, for the syscalls of arch whose arguments groups
// capture, each one's number and kind.
func ArgKinds(arch syscalls.Arch, groups []ArgGroup) map[int]ArgKind {
	out := map[int]ArgKind{}
	for _, e := range argCatalogue {
		if !slices.Contains(groups, e.group) || (e.only32 && !is32(arch)) || (e.only64 && is32(arch)) {
			continue
		}
		if nr, ok := syscalls.Number(arch, e.name); ok {
			out[nr] = e.kind
		}
	}
	return out
}

// argKind returns the kind of syscall name, KindNone if sysrec does not
// capture its arguments on arch.
func argKind(arch syscalls.Arch, name string) ArgKind {
	for _, e := range argCatalogue {
		if e.name == name && !(e.only32 && !is32(arch)) && !(e.only64 && is32(arch)) {
			return e.kind
		}
	}
	return KindNone
}

// ArgValues is what a workload passed to one syscall's captured
// argument: the distinct values, encoded as its ArgKind says, sorted.
// Overflow means the workload used more distinct values than the kernel
// side keeps: the syscall is then allowed by name only.
type ArgValues struct {
	Values   []uint64 `json:"values,omitempty"`
	Overflow bool     `json:"overflow,omitempty"`
}

// RecordedArgs holds, per architecture and syscall name, the argument
// values captured. A syscall without an entry was not captured: its rule
// has no conditions.
type RecordedArgs map[syscalls.Arch]map[string]ArgValues

// Add unions o into r.
func (r RecordedArgs) Add(o RecordedArgs) {
	for arch, m := range o {
		if r[arch] == nil {
			r[arch] = map[string]ArgValues{}
		}
		for name, v := range m {
			cur := r[arch][name]
			cur.Overflow = cur.Overflow || v.Overflow
			cur.Values = append(cur.Values, v.Values...)
			slices.Sort(cur.Values)
			cur.Values = slices.Compact(cur.Values)
			r[arch][name] = cur
		}
	}
}

// Overflowed lists "arch/name" for every syscall whose values
// overflowed, sorted.
func (r RecordedArgs) Overflowed() []string {
	var out []string
	for arch, m := range r {
		for name, v := range m {
			if v.Overflow {
				out = append(out, string(arch)+"/"+name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// argConditions returns, for one captured value of a syscall of kind k,
// the conditions that allow it (ANDed).
func argConditions(k ArgKind, v uint64) []Arg {
	switch k {
	case KindSocket:
		return []Arg{
			{Index: 0, Value: v >> 8, Op: OpEqualTo},
			{Index: 1, Value: sockTypeMask, ValueTwo: v & sockTypeMask, Op: OpMaskedEqual},
		}
	case KindSocketpair:
		return []Arg{{Index: 0, Value: v, Op: OpEqualTo}}
	case KindClone:
		return []Arg{{Index: 0, Value: CloneNamespaces, ValueTwo: v & CloneNamespaces, Op: OpMaskedEqual}}
	case KindUnshare:
		return []Arg{{Index: 0, Value: UnshareNamespaces, ValueTwo: v & UnshareNamespaces, Op: OpMaskedEqual}}
	case KindSetns:
		return []Arg{{Index: 1, Value: v, Op: OpEqualTo}}
	case KindPersonality:
		return []Arg{{Index: 0, Value: lowWord, ValueTwo: v & lowWord, Op: OpMaskedEqual}}
	case KindPrctl:
		return []Arg{{Index: 0, Value: v, Op: OpEqualTo}}
	case KindIoctl:
		return []Arg{{Index: 1, Value: lowWord, ValueTwo: v & lowWord, Op: OpMaskedEqual}}
	case KindMmap, KindMprotect:
		return []Arg{{Index: 2, Value: protWX, ValueTwo: v & protWX, Op: OpMaskedEqual}}
	}
	return nil
}

// argRules returns the rules that allow name on arch with the recorded
// values, or nil when name is allowed by name only: it has no captured
// values, they overflowed, or sysrec has no rule shape for it. clone3
// gets its ENOSYS rule from Generate instead.
func argRules(arch syscalls.Arch, name string, v ArgValues, ok bool) []Syscall {
	k := argKind(arch, name)
	if !ok || v.Overflow || k == KindNone || k == KindClone3 {
		return nil
	}
	var out []Syscall
	for _, val := range v.Values {
		out = append(out, Syscall{Names: []string{name}, Action: ActAllow, Args: argConditions(k, val)})
	}
	if len(out) == 0 {
		// Captured, but never called with a value: cannot happen for a
		// recorded name, but a rule that never matches would deny it.
		return nil
	}
	return out
}

// use is how GenerateArgs allows one recorded name: by name on some
// architecture, or with the union of its values.
type use struct {
	byName bool
	arch   syscalls.Arch
	values ArgValues
}

// GenerateArgs is Generate with argument rules: a recorded syscall that
// args holds values for on every architecture it was recorded on is
// allowed only with those values (one rule per value; libseccomp ORs
// rules); any other is allowed by name. When clone3's namespace flags
// were captured, clone3 fails with ENOSYS, as in Docker's default profile,
// since a filter cannot read its flags from memory: the C library then
// falls back to clone, which is allowed with the flags that clone and
// clone3 were recorded with. On i386, where libseccomp copies socket's
// rules to socketcall, socketcall fails with EACCES unless it was
// recorded (see refuseSocketcall).
func GenerateArgs(recorded map[syscalls.Arch][]string, args RecordedArgs, defaultAction Action) (*Profile, error) {
	p, err := Generate(recorded, defaultAction)
	if err != nil || len(args) == 0 || len(p.Syscalls) == 0 {
		return p, err
	}
	// Per name: whether some architecture allows it by name, and the
	// union of its values elsewhere.
	uses := map[string]*use{}
	for arch, names := range recorded {
		for _, n := range names {
			u := uses[n]
			if u == nil {
				u = &use{arch: arch}
				uses[n] = u
			}
			v, ok := args[arch][n]
			if !ok || v.Overflow || argKind(arch, n) == KindNone {
				u.byName = true
				continue
			}
			u.values.Values = append(u.values.Values, v.Values...)
		}
	}
	if u := uses["clone3"]; u != nil && !u.byName {
		// clone3 is refused; clone carries what clone3 was asked for,
		// also on the architectures where clone itself was not called
		// (where it was, its values are in already).
		c := uses["clone"]
		if c == nil {
			c = &use{arch: u.arch}
			uses["clone"] = c
		}
		for arch, names := range recorded {
			if !slices.Contains(names, "clone3") || slices.Contains(names, "clone") {
				continue
			}
			if v, ok := args[arch]["clone"]; ok && !v.Overflow {
				c.values.Values = append(c.values.Values, v.Values...)
			} else if _, has := syscalls.Number(arch, "clone"); has {
				c.byName = true
			}
		}
	}
	var plain []string
	var rules []Syscall
	for _, n := range sortedKeys(uses) {
		u := uses[n]
		if u.byName {
			plain = append(plain, n)
			continue
		}
		if n == "clone3" {
			errno := uint(enosysErrno)
			rules = append(rules, Syscall{Names: []string{n}, Action: ActErrno, ErrnoRet: &errno})
			continue
		}
		slices.Sort(u.values.Values)
		u.values.Values = slices.Compact(u.values.Values)
		r := argRules(u.arch, n, u.values, true)
		if r == nil {
			plain = append(plain, n)
			continue
		}
		rules = append(rules, r...)
	}
	rules = append(rules, refuseSocketcall(p.Architectures, uses)...)
	p.Syscalls = nil
	if len(plain) > 0 {
		p.Syscalls = append(p.Syscalls, Syscall{Names: plain, Action: ActAllow})
	}
	p.Syscalls = append(p.Syscalls, rules...)
	return Merge([]*Profile{p}, "")
}

// eaccesErrno is the errno of the rule that refuses i386 socketcall.
const eaccesErrno = 13

// socketcallComment is the comment of that rule.
const socketcallComment = "sysrec saw no i386 socketcall: libseccomp would let it through for every socket rule, without the rule's argument checks (socketcall's arguments are in memory)"

// refuseSocketcall returns the rule that closes what libseccomp opens on
// i386: it copies every rule for socket or socketpair to socketcall, with
// argument 0 made the call number and the other conditions kept, where
// they compare socketcall's pointer to the real arguments (see
// x86SocketCalls), so that a family rule lets socketcall create a socket
// of any family. Where the profile is for SCMP_ARCH_X86 and socketcall
// was not recorded, socketcall fails with EACCES: a rule without
// conditions replaces libseccomp's copies whatever its place
// (db_rule_add), and the direct i386 socket syscalls keep their argument
// rules. The rule does not depend on which syscalls got argument rules,
// so that merging generated profiles (Merge) keeps it where a profile of
// the union would have it: one profile may hold the i386 recording and
// another the family rules.
//
// EACCES and not EPERM, because runc skips a rule whose action is the
// default's (SCMP_ACT_ERRNO is EPERM), which would leave the copies in
// place; not ENOSYS, because no C library falls back from socketcall on
// ENOSYS (glibc picks socketcall or the direct syscalls when it is built,
// by __ASSUME_SOCKET_SYSCALL, which i386 has only with --enable-kernel
// 4.3 or later; musl on i386 always uses socketcall), and Compare takes a
// syscall answered with ENOSYS for one the workload used, as clone3.
// EACCES is socket(2)'s "permission to create a socket of the specified
// type and/or protocol is denied".
//
// Where socketcall was recorded, it stays allowed by name and socket's
// argument rules bind only the direct syscalls: i386 socketcall can
// create sockets of any family. Lint reports that (CodeSocketcall).
func refuseSocketcall(arches []syscalls.Arch, uses map[string]*use) []Syscall {
	if !slices.Contains(arches, syscalls.X86) || uses[socketcall] != nil {
		return nil
	}
	errno := uint(eaccesErrno)
	return []Syscall{{Names: []string{socketcall}, Action: ActErrno, ErrnoRet: &errno,
		Comment: socketcallComment}}
}

// ArgValue encodes the raw arguments of one call of name on arch as the
// value the recorder's kernel side captures for it (see ArgKind): ok is
// false when sysrec captures no argument of name. clone3's flags are in
// memory, so it has none either.
func ArgValue(arch syscalls.Arch, name string, args [6]uint64) (v uint64, k ArgKind, ok bool) {
	k = argKind(arch, name)
	switch k {
	case KindSocket:
		return (args[0]&lowWord)<<8 | args[1]&sockTypeMask, k, args[0]&lowWord < 64
	case KindSocketpair:
		return args[0] & lowWord, k, true
	case KindClone:
		return args[0] & CloneNamespaces, k, true
	case KindUnshare:
		return args[0] & UnshareNamespaces, k, true
	case KindSetns:
		return args[1] & lowWord, k, true
	case KindPersonality, KindPrctl:
		return args[0] & lowWord, k, true
	case KindIoctl:
		return args[1] & lowWord, k, true
	case KindMmap, KindMprotect:
		return args[2] & protWX, k, true
	}
	return 0, k, false
}
