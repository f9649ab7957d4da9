package profiles

// The strict parser. encoding/json would accept a misspelt field, a
// duplicate key or an action nobody knows and leave the runtime to fail
// (or, worse, to ignore it) when a container starts. Parse reads the JSON
// into a tree that remembers where every value is, then checks it against
// what runc, crun and libseccomp accept, and reports every problem with
// file:line:col and a JSON path, so a user can fix them all in one go.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sysrec/sysrec/internal/spelling"
	"github.com/sysrec/sysrec/syscalls"
)

// ParseError is one problem in a profile, at its place.
type ParseError struct {
	File      string
	Line, Col int    // 1-based; Col counts characters; 0 when unknown
	Path      string // JSON path like syscalls[3].args[0].op
	Msg       string
}

// Error formats e as "file:line:col: path: msg".
func (e *ParseError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Col)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ParseErrors is every problem found; Parse returns it (as error) when
// there is at least one.
type ParseErrors []*ParseError

// Error joins the errors, one a line.
func (es ParseErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// ParseFile reads and parses the profile at path.
func ParseFile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile: %w", err)
	}
	return Parse(data, path)
}

// Parse reads a seccomp profile in the moby / containers-common JSON
// format, or the OCI runtime-spec LinuxSeccomp form (a subset of it),
// strictly. It returns ParseErrors listing every problem it finds; the
// profile is returned only when there is none.
//
// Beyond JSON syntax and types it rejects: unknown or duplicate fields,
// unknown actions, operators, architectures and flags, an argument index
// above 5, errnoRet on an action that returns no errno, empty rules, a
// SCMP_CMP_MASKED_EQ that can never match, "architectures" together with
// "archMap", both "name" and "names" in one rule, and syscall names that
// neither libseccomp nor sysrec's tables know (with a suggestion).
func Parse(data []byte, file string) (*Profile, error) {
	ps := &parser{file: file, data: data}
	root, err := ps.parseDocument()
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, ParseErrors{pe}
		}
		return nil, ParseErrors{{File: file, Msg: err.Error()}}
	}
	p := ps.profile(root)
	if len(ps.errs) > 0 {
		sort.SliceStable(ps.errs, func(i, j int) bool {
			a, b := ps.errs[i], ps.errs[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, ps.errs
	}
	return p, nil
}

// kind is the JSON type of a node.
type kind int

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// node is a JSON value and where it starts.
type node struct {
	kind  kind
	off   int    // byte offset of the value
	str   string // string value, or the number's literal
	bool  bool
	elems []*node
	keys  []member // object members in order
}

// member is an object member; off is where its key starts.
type member struct {
	key string
	off int
	val *node
}

type parser struct {
	file string
	data []byte
	pos  int
	errs ParseErrors
}

// where converts a byte offset to a 1-based line and column (in runes).
func (ps *parser) where(off int) (line, col int) {
	if off > len(ps.data) {
		off = len(ps.data)
	}
	line, start := 1, 0
	for i := 0; i < off; i++ {
		if ps.data[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCount(ps.data[start:off]) + 1
}

func (ps *parser) errAt(off int, path, format string, args ...any) *ParseError {
	line, col := ps.where(off)
	return &ParseError{File: ps.file, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func (ps *parser) add(off int, path, format string, args ...any) {
	ps.errs = append(ps.errs, ps.errAt(off, path, format, args...))
}

// ---- JSON syntax: a small recursive-descent parser that keeps offsets.

const maxDepth = 64

func (ps *parser) parseDocument() (*node, error) {
	ps.skipSpace()
	if ps.pos == len(ps.data) {
		return nil, ps.errAt(ps.pos, "", "empty profile: want a JSON object with at least \"defaultAction\"")
	}
	n, err := ps.value(0)
	if err != nil {
		return nil, err
	}
	ps.skipSpace()
	if ps.pos != len(ps.data) {
		return nil, ps.errAt(ps.pos, "", "unexpected data after the profile's closing brace")
	}
	return n, nil
}

func (ps *parser) skipSpace() {
	for ps.pos < len(ps.data) {
		switch ps.data[ps.pos] {
		case ' ', '\t', '\n', '\r':
			ps.pos++
		default:
			return
		}
	}
}

func (ps *parser) syntax(format string, args ...any) error {
	return ps.errAt(ps.pos, "", "invalid JSON: "+format, args...)
}

func (ps *parser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, ps.syntax("nested more than %d levels deep", maxDepth)
	}
	ps.skipSpace()
	if ps.pos >= len(ps.data) {
		return nil, ps.syntax("unexpected end of input")
	}
	start := ps.pos
	switch c := ps.data[ps.pos]; {
	case c == '{':
		return ps.object(depth)
	case c == '[':
		return ps.array(depth)
	case c == '"':
		s, err := ps.string()
		if err != nil {
			return nil, err
		}
		return &node{kind: kString, off: start, str: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		lit, err := ps.number()
		if err != nil {
			return nil, err
		}
		return &node{kind: kNumber, off: start, str: lit}, nil
	default:
		for _, w := range []struct {
			lit string
			n   node
		}{{"true", node{kind: kBool, bool: true}}, {"false", node{kind: kBool}}, {"null", node{kind: kNull}}} {
			if strings.HasPrefix(string(ps.data[ps.pos:min(len(ps.data), ps.pos+len(w.lit))]), w.lit) {
				ps.pos += len(w.lit)
				n := w.n
				n.off = start
				return &n, nil
			}
		}
		r, _ := utf8.DecodeRune(ps.data[ps.pos:])
		return nil, ps.syntax("unexpected character %q", r)
	}
}

func (ps *parser) object(depth int) (*node, error) {
	n := &node{kind: kObject, off: ps.pos}
	ps.pos++ // {
	ps.skipSpace()
	if ps.pos < len(ps.data) && ps.data[ps.pos] == '}' {
		ps.pos++
		return n, nil
	}
	for {
		ps.skipSpace()
		if ps.pos >= len(ps.data) || ps.data[ps.pos] != '"' {
			if ps.pos >= len(ps.data) {
				return nil, ps.syntax("unexpected end of input in an object")
			}
			return nil, ps.syntax("want a quoted field name")
		}
		koff := ps.pos
		k, err := ps.string()
		if err != nil {
			return nil, err
		}
		ps.skipSpace()
		if ps.pos >= len(ps.data) || ps.data[ps.pos] != ':' {
			return nil, ps.syntax("want ':' after field name %q", k)
		}
		ps.pos++
		v, err := ps.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, member{key: k, off: koff, val: v})
		ps.skipSpace()
		if ps.pos >= len(ps.data) {
			return nil, ps.syntax("unexpected end of input in an object")
		}
		switch ps.data[ps.pos] {
		case ',':
			ps.pos++
		case '}':
			ps.pos++
			return n, nil
		default:
			return nil, ps.syntax("want ',' or '}' after a field value")
		}
	}
}

func (ps *parser) array(depth int) (*node, error) {
	n := &node{kind: kArray, off: ps.pos}
	ps.pos++ // [
	ps.skipSpace()
	if ps.pos < len(ps.data) && ps.data[ps.pos] == ']' {
		ps.pos++
		return n, nil
	}
	for {
		v, err := ps.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, v)
		ps.skipSpace()
		if ps.pos >= len(ps.data) {
			return nil, ps.syntax("unexpected end of input in an array")
		}
		switch ps.data[ps.pos] {
		case ',':
			ps.pos++
		case ']':
			ps.pos++
			return n, nil
		default:
			return nil, ps.syntax("want ',' or ']' after an array element")
		}
	}
}

// string reads a string token; encoding/json decodes it, escapes and all.
func (ps *parser) string() (string, error) {
	start := ps.pos
	ps.pos++ // opening quote
	for ps.pos < len(ps.data) {
		switch ps.data[ps.pos] {
		case '"':
			ps.pos++
			var v string
			if err := json.Unmarshal(ps.data[start:ps.pos], &v); err != nil {
				ps.pos = start
				return "", ps.syntax("bad string: %v", err)
			}
			return v, nil
		case '\\':
			ps.pos += 2
		default:
			ps.pos++
		}
	}
	return "", ps.syntax("unterminated string")
}

func (ps *parser) number() (string, error) {
	start := ps.pos
	digits := func() int {
		s := ps.pos
		for ps.pos < len(ps.data) && ps.data[ps.pos] >= '0' && ps.data[ps.pos] <= '9' {
			ps.pos++
		}
		return ps.pos - s
	}
	if ps.data[ps.pos] == '-' {
		ps.pos++
	}
	if ps.pos < len(ps.data) && ps.data[ps.pos] == '0' {
		ps.pos++
	} else if digits() == 0 {
		return "", ps.syntax("bad number")
	}
	if ps.pos < len(ps.data) && ps.data[ps.pos] == '.' {
		ps.pos++
		if digits() == 0 {
			return "", ps.syntax("bad number")
		}
	}
	if ps.pos < len(ps.data) && (ps.data[ps.pos] == 'e' || ps.data[ps.pos] == 'E') {
		ps.pos++
		if ps.pos < len(ps.data) && (ps.data[ps.pos] == '+' || ps.data[ps.pos] == '-') {
			ps.pos++
		}
		if digits() == 0 {
			return "", ps.syntax("bad number")
		}
	}
	return string(ps.data[start:ps.pos]), nil
}

// ---- Schema: from the tree to a Profile, collecting every problem.

// fields checks an object's keys against the known ones, reporting
// unknown (with a suggestion) and duplicate keys, and returns the known
// members by name. It returns nil when n is not an object.
func (ps *parser) fields(n *node, path, what string, known []string) map[string]*node {
	if n.kind != kObject {
		ps.add(n.off, path, "want %s (an object), got %s", what, n.kind)
		return nil
	}
	out := map[string]*node{}
	for _, m := range n.keys {
		p := joinPath(path, m.key)
		if !contains(known, m.key) {
			msg := fmt.Sprintf("unknown field %q in %s", m.key, what)
			if s := suggest(m.key, known, true); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			ps.add(m.off, p, "%s", msg)
			continue
		}
		if _, dup := out[m.key]; dup {
			ps.add(m.off, p, "duplicate field %q: JSON decoders keep only the last one", m.key)
			continue
		}
		out[m.key] = m.val
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// str reads a string; null reads as "".
func (ps *parser) str(n *node, path string) (string, bool) {
	switch n.kind {
	case kString:
		return n.str, true
	case kNull:
		return "", true
	}
	ps.add(n.off, path, "want a string, got %s", n.kind)
	return "", false
}

// uint64 reads a non-negative integer.
func (ps *parser) uint64(n *node, path string) (uint64, bool) {
	if n.kind != kNumber {
		ps.add(n.off, path, "want an unsigned integer, got %s", n.kind)
		return 0, false
	}
	v, err := strconv.ParseUint(n.str, 10, 64)
	if err != nil {
		switch {
		case strings.HasPrefix(n.str, "-"):
			ps.add(n.off, path, "want an unsigned integer, got the negative number %s", n.str)
		case strings.ContainsAny(n.str, ".eE"):
			ps.add(n.off, path, "want an unsigned integer, got %s: write it without a fraction or exponent", n.str)
		default:
			ps.add(n.off, path, "number %s does not fit in 64 bits", n.str)
		}
		return 0, false
	}
	return v, true
}

// uintPtr reads an optional unsigned integer; null reads as nil.
func (ps *parser) uintPtr(n *node, path string, max uint64) (*uint, bool) {
	if n == nil || n.kind == kNull {
		return nil, true
	}
	v, ok := ps.uint64(n, path)
	if !ok {
		return nil, false
	}
	if v > max {
		ps.add(n.off, path, "%d is too large: at most %d", v, max)
		return nil, false
	}
	u := uint(v)
	return &u, true
}

// list reads an array (null reads as empty) calling each for every element.
func (ps *parser) list(n *node, path string, each func(*node, string)) {
	switch n.kind {
	case kNull:
		return
	case kArray:
		for i, e := range n.elems {
			each(e, index(path, i))
		}
		return
	}
	ps.add(n.off, path, "want an array, got %s", n.kind)
}

var (
	profileFields = []string{"defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap",
		"flags", "listenerPath", "listenerMetadata", "syscalls"}
	syscallFields = []string{"names", "name", "action", "errnoRet", "errno", "args", "comment", "includes", "excludes"}
	argFields     = []string{"index", "value", "valueTwo", "op"}
	filterFields  = []string{"caps", "arches", "minKernel"}
	archMapFields = []string{"architecture", "subArchitectures"}
)

// libseccompArches are the architectures libseccomp knows.
var libseccompArches = []syscalls.Arch{
	"SCMP_ARCH_NATIVE", syscalls.X86, syscalls.X86_64, syscalls.X32, syscalls.ARM, syscalls.AArch64,
	"SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
	"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
	"SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
	"SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
}

// goArches are the GOARCH-style names that includes/excludes "arches"
// compare with (moby and containers-common match them against
// runtime.GOARCH / libseccomp's native arch name).
var goArches = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mips64n32",
	"mips64p32", "mips64p32le", "mipsle", "mipsel", "mipsel64", "mipsel64n32", "ppc", "ppc64", "ppc64le", "riscv64",
	"s390", "s390x", "x86", "x86_64", "x32", "aarch64", "loongarch64"}

func (ps *parser) arch(n *node, path string) (syscalls.Arch, bool) {
	s, ok := ps.str(n, path)
	if !ok {
		return "", false
	}
	if contains(libseccompArches, syscalls.Arch(s)) {
		return syscalls.Arch(s), true
	}
	names := make([]string, len(libseccompArches))
	for i, a := range libseccompArches {
		names[i] = string(a)
	}
	msg := fmt.Sprintf("unknown architecture %q", s)
	if sg := suggest(s, names, true); sg != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sg)
	}
	ps.add(n.off, path, "%s", msg)
	return "", false
}

func (ps *parser) action(n *node, path string) (Action, bool) {
	s, ok := ps.str(n, path)
	if !ok {
		return "", false
	}
	if n.kind == kNull || s == "" {
		ps.add(n.off, path, "empty action: want one of %s", actionList())
		return "", false
	}
	if contains(actions, Action(s)) {
		return Action(s), true
	}
	msg := fmt.Sprintf("unknown action %q", s)
	if a, err := ParseAction(s); err == nil {
		msg += fmt.Sprintf(" (write %q: runtimes accept only the full name)", a)
	} else if sg := suggest(s, actionStrings(), true); sg != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sg)
	} else {
		msg += ": want one of " + actionList()
	}
	ps.add(n.off, path, "%s", msg)
	return "", false
}

func actionStrings() []string {
	s := make([]string, len(actions))
	for i, a := range actions {
		s[i] = string(a)
	}
	return s
}

func actionList() string { return strings.Join(actionStrings(), ", ") }

// errnoName resolves an errno name (EPERM) or number, as containers-common's
// "errno" and "defaultErrno" fields allow.
func errnoName(s string) (uint, bool) {
	if v, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint(v), true
	}
	v, ok := errnoNames[s]
	return uint(v), ok
}

// takesErrno reports whether an action carries an errno (or, for
// SCMP_ACT_TRACE, a message number) in SECCOMP_RET_DATA; runc passes
// errnoRet to libseccomp only for these two (libcontainer/seccomp
// getAction) and ignores it for the others.
func takesErrno(a Action) bool { return a == ActErrno || a == ActTrace }

// maxErrno is the largest value the kernel treats as an error return
// (MAX_ERRNO in include/linux/err.h).
const maxErrno = 4095

func (ps *parser) profile(root *node) *Profile {
	f := ps.fields(root, "", "a profile", profileFields)
	if f == nil {
		return nil
	}
	p := &Profile{}
	if n, ok := f["defaultAction"]; ok {
		p.DefaultAction, _ = ps.action(n, "defaultAction")
		if p.DefaultAction == ActNotify {
			ps.add(n.off, "defaultAction", "SCMP_ACT_NOTIFY cannot be the default action: runc refuses it, as the notification of the runtime's own write would never arrive")
		}
	} else {
		ps.add(root.off, "", "missing \"defaultAction\": want the action for syscalls that no rule matches, e.g. \"SCMP_ACT_ERRNO\"")
	}
	if n, ok := f["defaultErrnoRet"]; ok {
		p.DefaultErrnoRet, _ = ps.uintPtr(n, "defaultErrnoRet", maxErrno)
	}
	if n, ok := f["defaultErrno"]; ok {
		if s, ok := ps.str(n, "defaultErrno"); ok && s != "" {
			if _, ok := errnoName(s); !ok {
				ps.add(n.off, "defaultErrno", "unknown errno %q: want a name like \"EPERM\" or a number", s)
			}
			p.DefaultErrno = s
		}
	}
	if (p.DefaultErrnoRet != nil || p.DefaultErrno != "") && p.DefaultAction != "" && !takesErrno(p.DefaultAction) {
		off, key := root.off, "defaultErrnoRet"
		if n, ok := f["defaultErrnoRet"]; ok {
			off = n.off
		} else if n, ok := f["defaultErrno"]; ok {
			off, key = n.off, "defaultErrno"
		}
		ps.add(off, key, "%s is set but the default action %s returns no errno: use SCMP_ACT_ERRNO or drop it", key, p.DefaultAction)
	}
	if n, ok := f["architectures"]; ok {
		ps.list(n, "architectures", func(e *node, path string) {
			if a, ok := ps.arch(e, path); ok {
				p.Architectures = append(p.Architectures, a)
			}
		})
	}
	if n, ok := f["archMap"]; ok {
		ps.list(n, "archMap", func(e *node, path string) {
			af := ps.fields(e, path, "an archMap entry", archMapFields)
			if af == nil {
				return
			}
			var m ArchMap
			if an, ok := af["architecture"]; ok {
				m.Arch, _ = ps.arch(an, joinPath(path, "architecture"))
			} else {
				ps.add(e.off, path, "missing \"architecture\" in an archMap entry")
			}
			if sn, ok := af["subArchitectures"]; ok {
				ps.list(sn, joinPath(path, "subArchitectures"), func(se *node, sp string) {
					if a, ok := ps.arch(se, sp); ok {
						m.SubArches = append(m.SubArches, a)
					}
				})
			}
			p.ArchMap = append(p.ArchMap, m)
		})
		if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
			ps.add(n.off, "archMap", "both \"architectures\" and \"archMap\" are set: CRI-O refuses such a profile, use one of them")
		}
	}
	if n, ok := f["flags"]; ok {
		ps.list(n, "flags", func(e *node, path string) {
			s, ok := ps.str(e, path)
			if !ok {
				return
			}
			if !contains(Flags, Flag(s)) {
				names := make([]string, len(Flags))
				for i, fl := range Flags {
					names[i] = string(fl)
				}
				msg := fmt.Sprintf("unknown flag %q", s)
				if sg := suggest(s, names, true); sg != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", sg)
				} else {
					msg += ": want one of " + strings.Join(names, ", ")
				}
				ps.add(e.off, path, "%s", msg)
				return
			}
			p.Flags = append(p.Flags, Flag(s))
		})
	}
	if n, ok := f["listenerPath"]; ok {
		p.ListenerPath, _ = ps.str(n, "listenerPath")
	}
	if n, ok := f["listenerMetadata"]; ok {
		p.ListenerMetadata, _ = ps.str(n, "listenerMetadata")
	}
	if n, ok := f["syscalls"]; ok {
		ps.list(n, "syscalls", func(e *node, path string) {
			if s, ok := ps.syscall(e, path, p); ok {
				p.Syscalls = append(p.Syscalls, s)
			}
		})
	}
	return p
}

func (ps *parser) syscall(n *node, path string, p *Profile) (Syscall, bool) {
	f := ps.fields(n, path, "a syscall rule", syscallFields)
	if f == nil {
		return Syscall{}, false
	}
	var s Syscall
	if an, ok := f["action"]; ok {
		s.Action, _ = ps.action(an, joinPath(path, "action"))
	} else {
		ps.add(n.off, path, "missing \"action\" in a syscall rule")
	}
	if nn, ok := f["name"]; ok {
		s.Name, _ = ps.str(nn, joinPath(path, "name"))
		if s.Name != "" {
			ps.checkName(nn, joinPath(path, "name"), s.Name, p)
		}
	}
	if nn, ok := f["names"]; ok {
		ps.list(nn, joinPath(path, "names"), func(e *node, ep string) {
			name, ok := ps.str(e, ep)
			if !ok {
				return
			}
			if name == "" {
				ps.add(e.off, ep, "empty syscall name")
				return
			}
			ps.checkName(e, ep, name, p)
			s.Names = append(s.Names, name)
		})
		if s.Name != "" && len(s.Names) > 0 {
			ps.add(nn.off, joinPath(path, "names"), "both \"name\" and \"names\" are set: CRI-O refuses such a rule, move the name into \"names\"")
		}
	}
	if s.Name == "" && len(s.Names) == 0 {
		off := n.off
		if nn, ok := f["names"]; ok {
			off = nn.off
		}
		ps.add(off, joinPath(path, "names"), "the rule names no syscall: runc refuses it (\"syscall names cannot be empty\")")
	}
	if en, ok := f["errnoRet"]; ok {
		s.ErrnoRet, _ = ps.uintPtr(en, joinPath(path, "errnoRet"), maxErrno)
	}
	if en, ok := f["errno"]; ok {
		if v, ok := ps.str(en, joinPath(path, "errno")); ok && v != "" {
			if _, ok := errnoName(v); !ok {
				ps.add(en.off, joinPath(path, "errno"), "unknown errno %q: want a name like \"EPERM\" or a number", v)
			}
			s.Errno = v
		}
	}
	if s.Action == ActNotify && contains(s.AllNames(), "write") {
		ps.add(f["action"].off, joinPath(path, "action"), "SCMP_ACT_NOTIFY cannot be used for write: runc refuses it, as it needs write to hand the notification fd over")
	}
	if (s.ErrnoRet != nil || s.Errno != "") && s.Action != "" && !takesErrno(s.Action) {
		key := "errnoRet"
		en := f["errnoRet"]
		if en == nil {
			key, en = "errno", f["errno"]
		}
		ps.add(en.off, joinPath(path, key), "%s is set but the action %s returns no errno: runc ignores it; use SCMP_ACT_ERRNO or drop it", key, s.Action)
	}
	if an, ok := f["args"]; ok {
		ps.list(an, joinPath(path, "args"), func(e *node, ep string) {
			if a, ok := ps.arg(e, ep); ok {
				s.Args = append(s.Args, a)
			}
		})
	}
	if cn, ok := f["comment"]; ok {
		s.Comment, _ = ps.str(cn, joinPath(path, "comment"))
	}
	for _, k := range []string{"includes", "excludes"} {
		fn, ok := f[k]
		if !ok || fn.kind == kNull {
			continue
		}
		flt := ps.filter(fn, joinPath(path, k))
		if flt == nil {
			continue
		}
		if k == "includes" {
			s.Includes = flt
		} else {
			s.Excludes = flt
		}
	}
	return s, true
}

func (ps *parser) arg(n *node, path string) (Arg, bool) {
	f := ps.fields(n, path, "an argument condition", argFields)
	if f == nil {
		return Arg{}, false
	}
	var a Arg
	ok := true
	if in, has := f["index"]; has {
		if v, good := ps.uint64(in, joinPath(path, "index")); good {
			if v > 5 {
				ps.add(in.off, joinPath(path, "index"), "argument index %d is out of range: syscalls have arguments 0 to 5", v)
				ok = false
			}
			a.Index = uint(v)
		} else {
			ok = false
		}
	} else {
		ps.add(n.off, path, "missing \"index\" in an argument condition")
		ok = false
	}
	if vn, has := f["value"]; has {
		a.Value, _ = ps.uint64(vn, joinPath(path, "value"))
	}
	if vn, has := f["valueTwo"]; has {
		a.ValueTwo, _ = ps.uint64(vn, joinPath(path, "valueTwo"))
	}
	if on, has := f["op"]; has {
		if s, good := ps.str(on, joinPath(path, "op")); good {
			if contains(Operators, Operator(s)) {
				a.Op = Operator(s)
			} else {
				names := make([]string, len(Operators))
				for i, o := range Operators {
					names[i] = string(o)
				}
				msg := fmt.Sprintf("unknown operator %q", s)
				if sg := suggest(s, names, true); sg != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", sg)
				} else {
					msg += ": want one of " + strings.Join(names, ", ")
				}
				ps.add(on.off, joinPath(path, "op"), "%s", msg)
				ok = false
			}
		}
	} else {
		ps.add(n.off, path, "missing \"op\" in an argument condition")
		ok = false
	}
	if a.Op == OpMaskedEqual && a.ValueTwo&^a.Value != 0 {
		ps.add(f["valueTwo"].off, joinPath(path, "valueTwo"),
			"SCMP_CMP_MASKED_EQ can never match: valueTwo %#x has bits outside the mask value %#x ((arg & value) == valueTwo)", a.ValueTwo, a.Value)
	}
	if a.Op != "" && a.Op != OpMaskedEqual && a.ValueTwo != 0 {
		ps.add(f["valueTwo"].off, joinPath(path, "valueTwo"), "valueTwo is used only by SCMP_CMP_MASKED_EQ; %s ignores it", a.Op)
	}
	return a, ok
}

func (ps *parser) filter(n *node, path string) *Filter {
	f := ps.fields(n, path, "a filter", filterFields)
	if f == nil {
		return nil
	}
	var flt Filter
	if cn, ok := f["caps"]; ok {
		cp := joinPath(path, "caps")
		ps.list(cn, cp, func(e *node, ep string) {
			c, ok := ps.str(e, ep)
			if !ok {
				return
			}
			if !contains(capabilities, c) {
				msg := fmt.Sprintf("unknown capability %q", c)
				if sg := suggest(c, capabilities, true); sg != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", sg)
				}
				ps.add(e.off, ep, "%s", msg)
				return
			}
			flt.Caps = append(flt.Caps, c)
		})
	}
	if an, ok := f["arches"]; ok {
		ps.list(an, joinPath(path, "arches"), func(e *node, ep string) {
			a, ok := ps.str(e, ep)
			if !ok {
				return
			}
			if !contains(goArches, a) {
				msg := fmt.Sprintf("unknown architecture %q in a filter: filters name the host's architecture as Go does (amd64, arm64, s390x, ...)", a)
				if sg := suggest(a, goArches, true); sg != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", sg)
				}
				ps.add(e.off, ep, "%s", msg)
				return
			}
			flt.Arches = append(flt.Arches, a)
		})
	}
	if kn, ok := f["minKernel"]; ok {
		if s, ok := ps.str(kn, joinPath(path, "minKernel")); ok && s != "" {
			if _, _, err := parseKernel(s); err != nil {
				ps.add(kn.off, joinPath(path, "minKernel"), "%v", err)
			} else {
				flt.MinKernel = s
			}
		}
	}
	if len(flt.Caps) == 0 && len(flt.Arches) == 0 && flt.MinKernel == "" {
		return nil
	}
	return &flt
}

// parseKernel reads "<kernel>.<major>" as moby's KernelVersion does: minor
// revisions and suffixes ("5.4.0-rc1") are ignored; a bare "5" is 5.0.
func parseKernel(s string) (kernel, major uint64, err error) {
	v := s
	if i := strings.IndexAny(v, "-+ "); i >= 0 {
		v = v[:i]
	}
	parts := strings.SplitN(v, ".", 3)
	kernel, err = strconv.ParseUint(parts[0], 10, 64)
	if err == nil && len(parts) > 1 {
		major, err = strconv.ParseUint(parts[1], 10, 64)
	}
	if err != nil || kernel == 0 && major == 0 {
		return 0, 0, fmt.Errorf("invalid kernel version %q: want \"<kernel>.<major>\", e.g. \"4.8\"", s)
	}
	return kernel, major, nil
}

// capabilities are the Linux capability names (include/uapi/linux/capability.h).
var capabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// profileArches is every architecture the profile names, archMap
// sub-architectures included.
func profileArches(p *Profile) []syscalls.Arch {
	out := append([]syscalls.Arch(nil), p.Architectures...)
	for _, m := range p.ArchMap {
		out = append(out, m.Arch)
		out = append(out, m.SubArches...)
	}
	return out
}

// tableArches are the architectures with a syscalls table.
var tableArches = []syscalls.Arch{syscalls.X86_64, syscalls.X86, syscalls.AArch64}

// libseccompOnly are the syscall names that libseccomp knows (on some
// architecture: it resolves every name of its table on every architecture,
// to a negative pseudo number where the architecture lacks the syscall)
// but sysrec's tables, generated from golang.org/x/sys/unix for x86_64,
// i386 and aarch64, do not: architecture-specific calls, the socketcall
// and ipc multiplexed calls, and names newer than libseccomp 2.5.4 that
// the runtimes' default profiles already use (riscv_hwprobe). Generated
// with seccomp_syscall_resolve_num_arch over libseccomp 2.5.4's
// architectures.
var libseccompOnly = strings.Fields(`arm_fadvise64_64 arm_sync_file_range breakpoint cachectl cacheflush
get_tls multiplexer pciconfig_iobase pciconfig_read pciconfig_write recv riscv_flush_icache rtas
s390_guarded_storage s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr s390_sthyi send set_tls
spu_create spu_run subpage_prot swapcontext switch_endian sync_file_range2 sys_debug_setcontext syscall
sysmips timerfd usr26 usr32 riscv_hwprobe`)

// checkName reports a syscall name that no architecture of the profile
// knows. libseccomp (and so runc, which also skips names it cannot
// resolve) accepts any name of its table on any architecture, so a name
// is fine when some architecture of the profile has it in sysrec's tables,
// or libseccomp knows it; a name nobody knows is a typo.
func (ps *parser) checkName(n *node, path, name string, p *Profile) {
	arches := profileArches(p)
	if syscallKnown(name) {
		ps.checkNameOnArches(n, path, name, arches)
		return
	}
	candidates := map[string]bool{}
	tables := 0
	for _, a := range arches {
		if syscalls.Known(a) {
			tables++
			for _, nm := range syscalls.Names(a) {
				candidates[nm] = true
			}
		}
	}
	if tables == 0 {
		for _, a := range tableArches {
			for _, nm := range syscalls.Names(a) {
				candidates[nm] = true
			}
		}
	}
	for _, nm := range libseccompOnly {
		candidates[nm] = true
	}
	list := make([]string, 0, len(candidates))
	for nm := range candidates {
		list = append(list, nm)
	}
	sort.Strings(list)
	msg := fmt.Sprintf("unknown syscall %q for any architecture of the profile", name)
	if sg := suggest(name, list, false); sg != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sg)
	}
	ps.add(n.off, path, "%s", msg)
}

// checkNameOnArches reports a known name that none of the profile's
// architectures has, when sysrec has a table for every one of them: runc
// adds no rule for it, so the rule is dead. With an architecture sysrec
// has no table for (x32, arm, s390x, ...), or none listed, Parse cannot
// tell and accepts the name.
func (ps *parser) checkNameOnArches(n *node, path, name string, arches []syscalls.Arch) {
	if len(arches) == 0 || contains(libseccompOnly, name) {
		return
	}
	var on []string
	for _, a := range arches {
		if !syscalls.Known(a) {
			return
		}
		if _, ok := syscalls.Number(a, name); ok {
			return
		}
	}
	for _, a := range tableArches {
		if _, ok := syscalls.Number(a, name); ok {
			on = append(on, string(a))
		}
	}
	ps.add(n.off, path, "syscall %q does not exist on the profile's architectures, only on %s: runtimes skip the rule for it",
		name, strings.Join(on, ", "))
}

// syscallKnown reports whether libseccomp or sysrec's tables know name.
func syscallKnown(name string) bool {
	for _, a := range tableArches {
		if _, ok := syscalls.Number(a, name); ok {
			return true
		}
	}
	return contains(libseccompOnly, name)
}

// suggest returns the candidate closest to s by edit distance when it is
// close enough to be a likely typo, else "".
func suggest(s string, candidates []string, fold bool) string {
	best, bestD := "", -1
	for _, c := range candidates {
		a, b := s, c
		if fold {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		d := spelling.Distance(a, b)
		if bestD < 0 || d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	limit := 1 + utf8.RuneCountInString(s)/4
	if limit > 3 {
		limit = 3
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}
