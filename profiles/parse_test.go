package profiles

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // every error, in order, as Error() prints it
	}{
		{"typo in a syscall name",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "opne"], "action": "SCMP_ACT_ALLOW"}]}`,
			[]string{`p.json:1:69: syscalls[0].names[1]: unknown syscall "opne" for any architecture of the profile (did you mean "open"?)`}},
		{"unknown field on line 3",
			"{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"architecture\": [\"SCMP_ARCH_X86_64\"]\n}",
			[]string{`p.json:3:3: architecture: unknown field "architecture" in a profile (did you mean "architectures"?)`}},
		{"duplicate key",
			`{"defaultAction": "SCMP_ACT_ERRNO", "defaultAction": "SCMP_ACT_LOG"}`,
			[]string{`p.json:1:37: defaultAction: duplicate field "defaultAction": JSON decoders keep only the last one`}},
		{"trailing data",
			`{"defaultAction": "SCMP_ACT_ERRNO"} {}`,
			[]string{`p.json:1:37: unexpected data after the profile's closing brace`}},
		{"misspelt action",
			`{"defaultAction": "SCMP_ACT_EROR"}`,
			[]string{`p.json:1:19: defaultAction: unknown action "SCMP_ACT_EROR" (did you mean "SCMP_ACT_ERRNO"?)`}},
		{"short action name",
			`{"defaultAction": "errno"}`,
			[]string{`p.json:1:19: defaultAction: unknown action "errno" (write "SCMP_ACT_ERRNO": runtimes accept only the full name)`}},
		{"missing default action",
			`{"syscalls": []}`,
			[]string{`p.json:1:1: missing "defaultAction": want the action for syscalls that no rule matches, e.g. "SCMP_ACT_ERRNO"`}},
		{"every problem of one rule",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 5, "args": [` +
				`{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}, ` +
				`{"index": 1, "value": -1, "op": "SCMP_CMP_EQQ"}]}]}`,
			[]string{
				`p.json:1:110: syscalls[0].errnoRet: errnoRet is set but the action SCMP_ACT_ALLOW returns no errno: runc ignores it; use SCMP_ACT_ERRNO or drop it`,
				`p.json:1:132: syscalls[0].args[0].index: argument index 6 is out of range: syscalls have arguments 0 to 5`,
				`p.json:1:206: syscalls[0].args[1].valueTwo: SCMP_CMP_MASKED_EQ can never match: valueTwo 0x2 has bits outside the mask value 0x1 ((arg & value) == valueTwo)`,
				`p.json:1:260: syscalls[0].args[2].value: want an unsigned integer, got the negative number -1`,
				`p.json:1:270: syscalls[0].args[2].op: unknown operator "SCMP_CMP_EQQ" (did you mean "SCMP_CMP_EQ"?)`,
			}},
		{"arches, flags, filters",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_46"], "flags": ["SECCOMP_FILTER_FLAG_LOGG"], ` +
				`"syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMN"], "arches": ["amd46"], "minKernel": "x"}}]}`,
			[]string{
				`p.json:1:55: architectures[0]: unknown architecture "SCMP_ARCH_X86_46" (did you mean "SCMP_ARCH_X86_64"?)`,
				`p.json:1:86: flags[0]: unknown flag "SECCOMP_FILTER_FLAG_LOGG" (did you mean "SECCOMP_FILTER_FLAG_LOG"?)`,
				`p.json:1:138: syscalls[0].names: the rule names no syscall: runc refuses it ("syscall names cannot be empty")`,
				`p.json:1:192: syscalls[0].includes.caps[0]: unknown capability "CAP_SYS_ADMN" (did you mean "CAP_SYS_ADMIN"?)`,
				`p.json:1:220: syscalls[0].includes.arches[0]: unknown architecture "amd46" in a filter: filters name the host's architecture as Go does (amd64, arm64, s390x, ...) (did you mean "amd64"?)`,
				`p.json:1:243: syscalls[0].includes.minKernel: invalid kernel version "x": want "<kernel>.<major>", e.g. "4.8"`,
			}},
		{"wrong types",
			"{\"defaultAction\": 5,\n \"syscalls\": {}}",
			[]string{
				`p.json:1:19: defaultAction: want a string, got a number`,
				`p.json:2:14: syscalls: want an array, got an object`,
			}},
		{"not an object", `[]`, []string{`p.json:1:1: want a profile (an object), got an array`}},
		{"empty", ``, []string{`p.json:1:1: empty profile: want a JSON object with at least "defaultAction"`}},
		{"trailing comma", `{"defaultAction": "SCMP_ACT_ERRNO",}`, []string{`p.json:1:36: invalid JSON: want a quoted field name`}},
		{"unterminated", "{\"defaultAction\": \"SCMP_ACT_ERRNO\"", []string{`p.json:1:35: invalid JSON: unexpected end of input in an object`}},
		{"errnoRet on the default of another action",
			`{"defaultAction": "SCMP_ACT_KILL_PROCESS", "defaultErrnoRet": 1}`,
			[]string{`p.json:1:63: defaultErrnoRet: defaultErrnoRet is set but the default action SCMP_ACT_KILL_PROCESS returns no errno: use SCMP_ACT_ERRNO or drop it`}},
		{"errno too large",
			`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}`,
			[]string{`p.json:1:56: defaultErrnoRet: 70000 is too large: at most 4095`}},
		{"name and names",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
			[]string{`p.json:1:76: syscalls[0].names: both "name" and "names" are set: CRI-O refuses such a rule, move the name into "names"`}},
		{"architectures and archMap",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}]}`,
			[]string{`p.json:1:87: archMap: both "architectures" and "archMap" are set: CRI-O refuses such a profile, use one of them`}},
		{"valueTwo on EQ",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "valueTwo": 3, "op": "SCMP_CMP_EQ"}]}]}`,
			[]string{`p.json:1:144: syscalls[0].args[0].valueTwo: valueTwo is used only by SCMP_CMP_MASKED_EQ; SCMP_CMP_EQ ignores it`}},
		{"fraction", `{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1.5}`,
			[]string{`p.json:1:56: defaultErrnoRet: want an unsigned integer, got 1.5: write it without a fraction or exponent`}},
		{"unknown errno name",
			`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "EPERMM"}`,
			[]string{`p.json:1:53: defaultErrno: unknown errno "EPERMM": want a name like "EPERM" or a number`}},
		{"column counts characters",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"comment": "é", "names": ["nope_nope_nope"], "action": "SCMP_ACT_ALLOW"}]}`,
			[]string{`p.json:1:77: syscalls[0].names[0]: unknown syscall "nope_nope_nope" for any architecture of the profile`}},
		{"a syscall of another architecture",
			`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["_llseek"], "action": "SCMP_ACT_ALLOW"}]}`,
			[]string{`p.json:1:100: syscalls[0].names[0]: syscall "_llseek" does not exist on the profile's architectures, only on SCMP_ARCH_X86: runtimes skip the rule for it`}},
		{"notify as the default",
			`{"defaultAction": "SCMP_ACT_NOTIFY"}`,
			[]string{`p.json:1:19: defaultAction: SCMP_ACT_NOTIFY cannot be the default action: runc refuses it, as the notification of the runtime's own write would never arrive`}},
		{"notify on write",
			`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]}`,
			[]string{`p.json:1:89: syscalls[0].action: SCMP_ACT_NOTIFY cannot be used for write: runc refuses it, as it needs write to hand the notification fd over`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.in), "p.json")
			if err == nil {
				t.Fatalf("got profile %+v, want errors %q", p, tc.want)
			}
			var errs ParseErrors
			if !errors.As(err, &errs) {
				t.Fatalf("got error %T %v, want ParseErrors", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseErrorPositions(t *testing.T) {
	_, err := Parse([]byte("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\"names\": [\"opne\"], \"action\": \"SCMP_ACT_ALLOW\"}\n  ]\n}\n"), "f.json")
	var errs ParseErrors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("got %v, want one ParseError", err)
	}
	e := errs[0]
	if e.File != "f.json" || e.Line != 4 || e.Col != 16 || e.Path != "syscalls[0].names[0]" {
		t.Errorf("got %s:%d:%d %s, want f.json:4:16 syscalls[0].names[0]", e.File, e.Line, e.Col, e.Path)
	}
}

// TestParseAcceptsRuntimeProfiles checks that the profiles runtimes ship
// parse without a single error.
func TestParseAcceptsRuntimeProfiles(t *testing.T) {
	files := []string{"testdata/containers-common-seccomp.json", "testdata/oci-linux-seccomp.json"}
	if _, err := os.Stat("/usr/share/containers/seccomp.json"); err == nil {
		files = append(files, "/usr/share/containers/seccomp.json")
	}
	for _, f := range files {
		p, err := ParseFile(f)
		if err != nil {
			t.Errorf("ParseFile(%s): %v", f, err)
			continue
		}
		if len(p.Syscalls) == 0 {
			t.Errorf("%s: got no rules", f)
		}
	}
}

func TestParseOCIForm(t *testing.T) {
	p, err := ParseFile("testdata/oci-linux-seccomp.json")
	if err != nil {
		t.Fatal(err)
	}
	if !p.OCI() {
		t.Errorf("OCI(): got false for a runtime-spec LinuxSeccomp")
	}
	if p.ListenerPath != "/run/seccomp-agent.sock" || p.ListenerMetadata != "workload=web" ||
		!reflect.DeepEqual(p.Flags, []Flag{FlagSpecAllow}) || *p.DefaultErrnoRet != 38 ||
		!reflect.DeepEqual(p.Architectures, []syscalls.Arch{syscalls.X86_64, syscalls.X86, syscalls.X32}) {
		t.Errorf("got %+v, want the fields of testdata/oci-linux-seccomp.json", p)
	}
	cc, err := ParseFile("testdata/containers-common-seccomp.json")
	if err != nil {
		t.Fatal(err)
	}
	if cc.OCI() {
		t.Errorf("OCI(): got true for a profile with archMap and includes")
	}
}

func TestParseLegacyName(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW", "args": null, "includes": {}, "comment": ""}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	s := p.Syscalls[0]
	if s.Name != "read" || !reflect.DeepEqual(s.AllNames(), []string{"read"}) || s.Includes != nil || s.Args != nil {
		t.Errorf("got %+v, want name read, no includes, no args", s)
	}
}
