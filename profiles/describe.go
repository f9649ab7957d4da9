package profiles

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sysrec/sysrec/syscalls"
)

// Describing argument conditions the way a person reads them:
// socket(AF_NETLINK, SOCK_RAW), unshare(CLONE_NEWNET), ioctl(0x5401). The
// arguments that sysrec captures (see argCatalogue) are named by their
// values; conditions on any other argument are spelled argN OP VALUE.

// argField is what one argument of a syscall holds, for describing it.
type argField int

const (
	fieldNone argField = iota
	fieldFamily
	fieldSockType
	fieldCloneFlags
	fieldUnshareFlags
	fieldNSType
	fieldPersona
	fieldPrctl
	fieldIoctl
	fieldProt
)

// fieldNames name the fields in conditions that are not plain values
// ("family != AF_VSOCK").
var fieldNames = map[argField]string{
	fieldFamily: "family", fieldSockType: "type", fieldCloneFlags: "flags", fieldUnshareFlags: "flags",
	fieldNSType: "nstype", fieldPersona: "persona", fieldPrctl: "option", fieldIoctl: "request", fieldProt: "prot",
}

func fieldOf(name string, index uint) argField {
	switch {
	case (name == "socket" || name == "socketpair") && index == 0:
		return fieldFamily
	case (name == "socket" || name == "socketpair") && index == 1:
		return fieldSockType
	case name == "clone" && index == 0:
		return fieldCloneFlags
	case name == "unshare" && index == 0:
		return fieldUnshareFlags
	case name == "setns" && index == 1:
		return fieldNSType
	case name == "personality" && index == 0:
		return fieldPersona
	case name == "prctl" && index == 0:
		return fieldPrctl
	case name == "ioctl" && index == 1:
		return fieldIoctl
	case (name == "mmap" || name == "mmap2" || name == "mprotect" || name == "pkey_mprotect") && index == 2:
		return fieldProt
	}
	return fieldNone
}

// Address families (include/linux/socket.h).
var afNames = []string{
	"AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_AX25", "AF_IPX", "AF_APPLETALK", "AF_NETROM", "AF_BRIDGE",
	"AF_ATMPVC", "AF_X25", "AF_INET6", "AF_ROSE", "AF_DECnet", "AF_NETBEUI", "AF_SECURITY", "AF_KEY",
	"AF_NETLINK", "AF_PACKET", "AF_ASH", "AF_ECONET", "AF_ATMSVC", "AF_RDS", "AF_SNA", "AF_IRDA",
	"AF_PPPOX", "AF_WANPIPE", "AF_LLC", "AF_IB", "AF_MPLS", "AF_CAN", "AF_TIPC", "AF_BLUETOOTH",
	"AF_IUCV", "AF_RXRPC", "AF_ISDN", "AF_PHONET", "AF_IEEE802154", "AF_CAIF", "AF_ALG", "AF_NFC",
	"AF_VSOCK", "AF_KCM", "AF_QIPCRTR", "AF_SMC", "AF_XDP", "AF_MCTP",
}

// Socket types (include/linux/net.h), and the flags that socket takes
// with them (x86 and arm values).
var sockTypes = map[uint64]string{1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"}

type flagName struct {
	bit  uint64
	name string
}

var sockFlags = []flagName{{0x800, "SOCK_NONBLOCK"}, {0x80000, "SOCK_CLOEXEC"}}

// cloneFlags are clone's flags above its low byte, the exit signal.
var cloneFlags = []flagName{
	{0x100, "CLONE_VM"}, {0x200, "CLONE_FS"}, {0x400, "CLONE_FILES"}, {0x800, "CLONE_SIGHAND"},
	{0x1000, "CLONE_PIDFD"}, {0x2000, "CLONE_PTRACE"}, {0x4000, "CLONE_VFORK"}, {0x8000, "CLONE_PARENT"},
	{0x10000, "CLONE_THREAD"}, {CloneNewNS, "CLONE_NEWNS"}, {0x40000, "CLONE_SYSVSEM"}, {0x80000, "CLONE_SETTLS"},
	{0x100000, "CLONE_PARENT_SETTID"}, {0x200000, "CLONE_CHILD_CLEARTID"}, {0x400000, "CLONE_DETACHED"},
	{0x800000, "CLONE_UNTRACED"}, {0x1000000, "CLONE_CHILD_SETTID"}, {CloneNewCgroup, "CLONE_NEWCGROUP"},
	{CloneNewUTS, "CLONE_NEWUTS"}, {CloneNewIPC, "CLONE_NEWIPC"}, {CloneNewUser, "CLONE_NEWUSER"},
	{CloneNewPID, "CLONE_NEWPID"}, {CloneNewNet, "CLONE_NEWNET"}, {0x80000000, "CLONE_IO"},
}

// unshareFlags are the flags unshare and setns name: clone's, with
// CLONE_NEWTIME where clone has its exit signal.
var unshareFlags = append([]flagName{{CloneNewTime, "CLONE_NEWTIME"}}, cloneFlags...)

var protFlags = []flagName{{0x1, "PROT_READ"}, {ProtWrite, "PROT_WRITE"}, {ProtExec, "PROT_EXEC"}}

var personas = map[uint64]string{0: "PER_LINUX", 0x8: "PER_LINUX32", 0x20000: "UNAME26", 0x20008: "PER_LINUX32|UNAME26", 0xffffffff: "0xffffffff (query)"}

// prctl options (include/uapi/linux/prctl.h) that programs commonly use.
var prctlOptions = map[uint64]string{
	1: "PR_SET_PDEATHSIG", 2: "PR_GET_PDEATHSIG", 3: "PR_GET_DUMPABLE", 4: "PR_SET_DUMPABLE",
	7: "PR_GET_KEEPCAPS", 8: "PR_SET_KEEPCAPS", 15: "PR_SET_NAME", 16: "PR_GET_NAME",
	21: "PR_GET_SECCOMP", 22: "PR_SET_SECCOMP", 23: "PR_CAPBSET_READ", 24: "PR_CAPBSET_DROP",
	27: "PR_GET_SECUREBITS", 28: "PR_SET_SECUREBITS", 35: "PR_SET_MM", 36: "PR_SET_CHILD_SUBREAPER",
	37: "PR_GET_CHILD_SUBREAPER", 38: "PR_SET_NO_NEW_PRIVS", 39: "PR_GET_NO_NEW_PRIVS",
	47: "PR_CAP_AMBIENT", 0x53564d41: "PR_SET_VMA",
}

// signals names the exit signals clone is commonly given.
var signals = map[uint64]string{17: "SIGCHLD"}

// flagString spells v as names from table joined with "|", what remains in
// hex; 0 is "0".
func flagString(v uint64, table []flagName) string {
	var parts []string
	for _, f := range table {
		if v&f.bit != 0 {
			parts = append(parts, f.name)
			v &^= f.bit
		}
	}
	if v != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%#x", v))
	}
	return strings.Join(parts, "|")
}

// valueString spells a value of field f.
func valueString(f argField, v uint64) string {
	switch f {
	case fieldFamily:
		if v < uint64(len(afNames)) {
			return afNames[v]
		}
		return fmt.Sprint(v)
	case fieldSockType:
		t, ok := sockTypes[v&sockTypeMask]
		if !ok {
			t = fmt.Sprint(v & sockTypeMask)
		}
		if rest := v &^ sockTypeMask; rest != 0 {
			t += "|" + flagString(rest, sockFlags)
		}
		return t
	case fieldCloneFlags:
		s := ""
		if hi := v &^ 0xff; hi != 0 || v == 0 {
			s = flagString(hi, cloneFlags)
		}
		if sig := v & 0xff; sig != 0 {
			name, ok := signals[sig]
			if !ok {
				name = fmt.Sprintf("%#x", sig)
			}
			if s != "" {
				s += "|"
			}
			s += name
		}
		return s
	case fieldUnshareFlags:
		return flagString(v, unshareFlags)
	case fieldNSType:
		if v == 0 {
			return "0 (any namespace)"
		}
		return flagString(v, unshareFlags)
	case fieldPersona:
		if s, ok := personas[v]; ok {
			return s
		}
		return fmt.Sprintf("%#x", v)
	case fieldPrctl:
		if s, ok := prctlOptions[v]; ok {
			return s
		}
		return fmt.Sprint(v)
	case fieldProt:
		if v == 0 {
			return "PROT_NONE"
		}
		return flagString(v, protFlags)
	}
	return fmt.Sprintf("%#x", v)
}

var opSymbols = map[Operator]string{
	OpNotEqual: "!=", OpLessThan: "<", OpLessEqual: "<=", OpEqualTo: "==", OpGreaterEqual: ">=", OpGreaterThan: ">",
}

// conditionString spells one condition on an argument of syscall name.
func conditionString(name string, a Arg) string {
	f := fieldOf(name, a.Index)
	subject := fmt.Sprintf("arg%d", a.Index)
	if f != fieldNone {
		subject = fieldNames[f]
	}
	if a.Op != OpMaskedEqual {
		sym, ok := opSymbols[a.Op]
		if !ok {
			sym = string(a.Op)
		}
		if f == fieldNone {
			return fmt.Sprintf("%s %s %#x", subject, sym, a.Value)
		}
		if a.Op == OpEqualTo {
			return valueString(f, a.Value)
		}
		return fmt.Sprintf("%s %s %s", subject, sym, valueString(f, a.Value))
	}
	mask, datum := a.Value, a.ValueTwo
	// The shapes that sysrec writes, and Docker's.
	switch {
	case f == fieldSockType && mask == sockTypeMask:
		return valueString(f, datum&mask)
	case (f == fieldPersona || f == fieldIoctl) && mask == lowWord:
		return valueString(f, datum&mask)
	case (f == fieldCloneFlags || f == fieldUnshareFlags) && mask&^UnshareNamespaces == 0 && mask != 0:
		// Namespace flags: exactly the ones given, of those the mask
		// holds.
		if datum&^mask != 0 {
			break // never holds
		}
		if mask == CloneNamespaces || mask == UnshareNamespaces {
			if datum == 0 {
				return "no namespace flags"
			}
			return flagString(datum, unshareFlags)
		}
		return withWithout(datum, mask, unshareFlags)
	case f == fieldProt && mask&^7 == 0 && mask != 0 && datum&^mask == 0:
		return withWithout(datum, mask, protFlags)
	}
	return fmt.Sprintf("%s & %#x == %#x", subject, mask, datum)
}

// withWithout spells "(v & mask) == datum" for flags: "PROT_EXEC without
// PROT_WRITE", "without CLONE_NEWUSER".
func withWithout(datum, mask uint64, table []flagName) string {
	var parts []string
	if datum != 0 {
		parts = append(parts, flagString(datum, table))
	}
	if rest := mask &^ datum; rest != 0 {
		parts = append(parts, "without "+flagString(rest, table))
	}
	return strings.Join(parts, " ")
}

// DescribeCall spells the conditions of a rule for syscall name (ANDed,
// as libseccomp takes them) as a call: socket(AF_INET6, SOCK_STREAM),
// unshare(CLONE_NEWNET), clone(no namespace flags), ioctl(0x5401),
// socket(family != AF_VSOCK), read(arg0 == 0x3). A rule without
// conditions is name(any arguments).
func DescribeCall(name string, args []Arg) string {
	if len(args) == 0 {
		return name + "(any arguments)"
	}
	sorted := slices.Clone(args)
	slices.SortStableFunc(sorted, func(a, b Arg) int { return int(a.Index) - int(b.Index) })
	parts := make([]string, len(sorted))
	for i, a := range sorted {
		parts[i] = conditionString(name, a)
	}
	return name + "(" + strings.Join(parts, ", ") + ")"
}

// DescribeArgValue spells a value that the recorder captured for syscall
// name on arch (encoded as its ArgKind says) as DescribeCall spells the
// rule that allows it: socket(AF_NETLINK, SOCK_RAW).
func DescribeArgValue(arch syscalls.Arch, name string, v uint64) string {
	conds := argConditions(argKind(arch, name), v)
	if conds == nil {
		return fmt.Sprintf("%s(%#x)", name, v)
	}
	return DescribeCall(name, conds)
}
