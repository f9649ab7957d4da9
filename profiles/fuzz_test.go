package profiles

import (
	"os"
	"reflect"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

// FuzzParse checks that Parse (and Evaluate on what it accepts) never
// panics and that every profile it accepts survives Marshal and Parse
// unchanged. CI runs it for a while:
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 15s ./profiles
func FuzzParse(f *testing.F) {
	files := []string{"testdata/containers-common-seccomp.json", "testdata/oci-linux-seccomp.json"}
	for _, rt := range runtimeDefaults {
		files = append(files, runtimeDefaultFile(rt))
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"defaultAction": "SCMP_ACT_ERRNO"}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["opne"], "action": "SCMP_ACT_ALLOW"}]}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "defaultAction": "SCMP_ACT_LOG"}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "action": "SCMP_ACT_ERRNO", "errno": "ENOSYS", ` +
			`"args": [{"index": 0, "value": 18446744073709551615, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}], ` +
			`"includes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["amd64"], "minKernel": "5.8"}, "comment": "\u00e9\ud83d\ude00"}]}`,
		`{"defaultAction": "SCMP_ACT_ERRNO"} x`, `{"a": [1.5e3, -0, true, false, null, "\"\\\/\b\f\n\r\t"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz.json")
		if err != nil {
			if p != nil {
				t.Fatalf("Parse returned both a profile and %v", err)
			}
			return
		}
		// Evaluate must not panic on whatever Parse accepts.
		for _, s := range p.Syscalls {
			for _, name := range s.AllNames() {
				_, _ = p.Evaluate(Query{Arch: syscalls.X86_64, Name: name, Args: [6]uint64{1, 2, 3}, Kernel: "5.10"})
			}
		}
		out, err := Marshal(p)
		if err != nil {
			t.Fatalf("Marshal of a parsed profile: %v", err)
		}
		q, err := Parse(out, "remarshalled.json")
		if err != nil {
			t.Fatalf("re-parsing a marshalled profile: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the profile:\n got %#v\nwant %#v", q, p)
		}
	})
}
