package profiles

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

// sockValue encodes socket(family, type) as the recorder captures it.
func sockValue(family, typ uint64) uint64 { return family<<8 | typ }

const (
	afUnix, afInet, afInet6, afNetlink, afPacket, afVsock = 1, 2, 10, 16, 17, 40
	sockStream, sockDgram, sockRaw                        = 1, 2, 3
	sockCloexec, sockNonblock                             = 0x80000, 0x800
	sigchld                                               = 17
	cloneVM                                               = 0x100
)

func generateArgs(t *testing.T, recorded map[syscalls.Arch][]string, args RecordedArgs) *Profile {
	t.Helper()
	p, err := GenerateArgs(recorded, args, ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func marshalString(t *testing.T, p *Profile) string {
	t.Helper()
	b, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGenerateArgs(t *testing.T) {
	x64 := syscalls.X86_64
	allow := func(names ...string) Syscall { return Syscall{Names: names, Action: ActAllow} }
	cond := func(name string, args ...Arg) Syscall {
		return Syscall{Names: []string{name}, Action: ActAllow, Args: args}
	}
	eq := func(i uint, v uint64) Arg { return Arg{Index: i, Value: v, Op: OpEqualTo} }
	masked := func(i uint, mask, datum uint64) Arg {
		return Arg{Index: i, Value: mask, ValueTwo: datum, Op: OpMaskedEqual}
	}
	sock := func(family, typ uint64) Syscall { return cond("socket", eq(0, family), masked(1, 0xf, typ)) }
	enosys := Syscall{Names: []string{"clone3"}, Action: ActErrno, ErrnoRet: uintp(38)}
	noSocketcall := Syscall{Names: []string{"socketcall"}, Action: ActErrno, ErrnoRet: uintp(13), Comment: socketcallComment}
	for _, tc := range []struct {
		name     string
		recorded map[syscalls.Arch][]string
		args     RecordedArgs
		want     []Syscall
		arches   []syscalls.Arch
	}{
		{
			name:     "socket families: one rule per value",
			recorded: map[syscalls.Arch][]string{x64: {"write", "socket", "read", "socketpair"}},
			args: RecordedArgs{x64: {
				"socket":     {Values: []uint64{sockValue(afInet6, sockStream), sockValue(afUnix, sockDgram), sockValue(afInet, sockStream)}},
				"socketpair": {Values: []uint64{afUnix}},
			}},
			want: []Syscall{allow("read", "write"),
				sock(afUnix, sockDgram), sock(afInet, sockStream), sock(afInet6, sockStream),
				cond("socketpair", eq(0, afUnix))},
		},
		{
			name:     "clone without namespaces: Docker's mask",
			recorded: map[syscalls.Arch][]string{x64: {"clone", "read"}},
			args:     RecordedArgs{x64: {"clone": {Values: []uint64{0}}}},
			want:     []Syscall{allow("read"), cond("clone", masked(0, 2114060288, 0))},
		},
		{
			name:     "namespace flags: clone and unshare with the combinations, setns with the type",
			recorded: map[syscalls.Arch][]string{x64: {"clone", "unshare", "setns"}},
			args: RecordedArgs{x64: {
				"clone":   {Values: []uint64{0, CloneNewUser | CloneNewPID}},
				"unshare": {Values: []uint64{CloneNewNet}},
				"setns":   {Values: []uint64{CloneNewNet}},
			}},
			want: []Syscall{
				cond("clone", masked(0, CloneNamespaces, 0)), cond("clone", masked(0, CloneNamespaces, CloneNewUser|CloneNewPID)),
				cond("setns", eq(1, CloneNewNet)),
				cond("unshare", masked(0, UnshareNamespaces, CloneNewNet)),
			},
		},
		{
			name:     "clone3 fails with ENOSYS; clone has clone3's flags",
			recorded: map[syscalls.Arch][]string{x64: {"clone3", "read"}},
			args:     RecordedArgs{x64: {"clone3": {}, "clone": {Values: []uint64{CloneNewNet}}}},
			want:     []Syscall{allow("read"), cond("clone", masked(0, CloneNamespaces, CloneNewNet)), enosys},
		},
		{
			name:     "clone3 and clone",
			recorded: map[syscalls.Arch][]string{x64: {"clone", "clone3"}},
			args:     RecordedArgs{x64: {"clone3": {}, "clone": {Values: []uint64{0}}}},
			want:     []Syscall{cond("clone", masked(0, CloneNamespaces, 0)), enosys},
		},
		{
			name:     "clone3 called on i386 only: its flags reach clone too",
			recorded: map[syscalls.Arch][]string{x64: {"clone", "clone3"}, syscalls.X86: {"clone3"}},
			args: RecordedArgs{
				x64:          {"clone3": {}, "clone": {Values: []uint64{0}}},
				syscalls.X86: {"clone3": {}, "clone": {Values: []uint64{CloneNewUser}}},
			},
			want:   []Syscall{cond("clone", masked(0, CloneNamespaces, 0)), cond("clone", masked(0, CloneNamespaces, CloneNewUser)), enosys, noSocketcall},
			arches: []syscalls.Arch{syscalls.X86, x64},
		},
		{
			name:     "clone3 without any flags for clone: clone by name",
			recorded: map[syscalls.Arch][]string{x64: {"clone3"}},
			args:     RecordedArgs{x64: {"clone3": {}}},
			want:     []Syscall{allow("clone"), enosys},
		},
		{
			name:     "clone3 not captured: by name",
			recorded: map[syscalls.Arch][]string{x64: {"clone3", "clone"}},
			args:     RecordedArgs{x64: {"clone": {Values: []uint64{0}}}},
			want:     []Syscall{allow("clone3"), cond("clone", masked(0, CloneNamespaces, 0))},
		},
		{
			name:     "overflow: by name",
			recorded: map[syscalls.Arch][]string{x64: {"ioctl", "prctl"}},
			args:     RecordedArgs{x64: {"ioctl": {Values: []uint64{0x5401, 0x5413}, Overflow: true}, "prctl": {Values: []uint64{15}}}},
			want:     []Syscall{allow("ioctl"), cond("prctl", eq(0, 15))},
		},
		{
			name:     "ioctl, personality, mmap and mprotect",
			recorded: map[syscalls.Arch][]string{x64: {"ioctl", "personality", "mmap", "mprotect"}},
			args: RecordedArgs{x64: {
				"ioctl":       {Values: []uint64{0x5401}},
				"personality": {Values: []uint64{0xffffffff}},
				"mmap":        {Values: []uint64{0, ProtWrite, ProtExec}},
				"mprotect":    {Values: []uint64{0}},
			}},
			want: []Syscall{
				cond("ioctl", masked(1, 0xffffffff, 0x5401)),
				// Rules with equal conditions share their names.
				{Names: []string{"mmap", "mprotect"}, Action: ActAllow, Args: []Arg{masked(2, 6, 0)}},
				cond("mmap", masked(2, 6, ProtWrite)), cond("mmap", masked(2, 6, ProtExec)),
				cond("personality", masked(0, 0xffffffff, 0xffffffff)),
			},
		},
		{
			name:     "a name recorded on one architecture without values: by name",
			recorded: map[syscalls.Arch][]string{x64: {"socket", "clone"}, syscalls.X86: {"socket", "clone"}},
			args: RecordedArgs{
				x64:          {"socket": {Values: []uint64{sockValue(afInet, sockStream)}}, "clone": {Values: []uint64{0}}},
				syscalls.X86: {"clone": {Values: []uint64{CloneNewNS}}},
			},
			want:   []Syscall{allow("socket"), cond("clone", masked(0, CloneNamespaces, 0)), cond("clone", masked(0, CloneNamespaces, CloneNewNS)), noSocketcall},
			arches: []syscalls.Arch{syscalls.X86, x64},
		},
		{
			name:     "i386's mmap is old_mmap: by name; mmap2 has values",
			recorded: map[syscalls.Arch][]string{syscalls.X86: {"mmap", "mmap2"}},
			args:     RecordedArgs{syscalls.X86: {"mmap": {Values: []uint64{0}}, "mmap2": {Values: []uint64{ProtExec}}}},
			want:     []Syscall{allow("mmap"), cond("mmap2", masked(2, 6, ProtExec)), noSocketcall},
			arches:   []syscalls.Arch{syscalls.X86},
		},
		{
			// libseccomp copies socket's rules to i386 socketcall with
			// argument 0 made SYS_SOCKET: any family would pass.
			name:     "i386 socket families: socketcall fails",
			recorded: map[syscalls.Arch][]string{x64: {"socket"}, syscalls.X86: {"socket", "socketpair"}},
			args: RecordedArgs{
				x64:          {"socket": {Values: []uint64{sockValue(afInet, sockStream)}}},
				syscalls.X86: {"socket": {Values: []uint64{sockValue(afUnix, sockStream)}}, "socketpair": {Values: []uint64{afUnix}}},
			},
			want:   []Syscall{sock(afUnix, sockStream), sock(afInet, sockStream), cond("socketpair", eq(0, afUnix)), noSocketcall},
			arches: []syscalls.Arch{syscalls.X86, x64},
		},
		{
			name:     "i386 socket families on x86_64 only: socketcall fails",
			recorded: map[syscalls.Arch][]string{x64: {"socket"}, syscalls.X86: {"read"}},
			args:     RecordedArgs{x64: {"socket": {Values: []uint64{sockValue(afInet, sockStream)}}}},
			want:     []Syscall{allow("read"), sock(afInet, sockStream), noSocketcall},
			arches:   []syscalls.Arch{syscalls.X86, x64},
		},
		{
			// The families bind the direct syscalls only; Lint says so.
			name:     "socketcall recorded: allowed by name, socket keeps its rules",
			recorded: map[syscalls.Arch][]string{x64: {"socket"}, syscalls.X86: {"socketcall", "socket"}},
			args: RecordedArgs{
				x64:          {"socket": {Values: []uint64{sockValue(afInet, sockStream)}}},
				syscalls.X86: {"socket": {Values: []uint64{sockValue(afInet, sockDgram)}}},
			},
			want:   []Syscall{allow("socketcall"), sock(afInet, sockStream), sock(afInet, sockDgram)},
			arches: []syscalls.Arch{syscalls.X86, x64},
		},
		{
			name:     "no values: Generate",
			recorded: map[syscalls.Arch][]string{x64: {"socket", "read"}},
			want:     []Syscall{allow("read", "socket")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := generateArgs(t, tc.recorded, tc.args)
			arches := tc.arches
			if arches == nil {
				arches = []syscalls.Arch{x64}
			}
			want := &Profile{DefaultAction: ActErrno, Architectures: arches, Syscalls: tc.want}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%s\nwant\n%s", marshalString(t, got), marshalString(t, want))
			}
			// What sysrec writes parses back to the same profile.
			back, err := Parse([]byte(marshalString(t, got)), "generated.json")
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("parsing the generated profile: %v\n%+v", err, back)
			}
		})
	}
}

// The JSON has the shapes that the issue and Docker's default profile
// write.
func TestGenerateArgsJSON(t *testing.T) {
	p := generateArgs(t, map[syscalls.Arch][]string{syscalls.X86_64: {"socket", "clone"}},
		RecordedArgs{syscalls.X86_64: {"socket": {Values: []uint64{sockValue(afInet, sockStream)}}, "clone": {Values: []uint64{0}}}})
	var args [][]json.RawMessage
	for _, s := range p.Syscalls {
		var raw []json.RawMessage
		for _, a := range s.Args {
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, b)
		}
		args = append(args, raw)
	}
	got := fmt.Sprintf("%s", args)
	want := `[[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}] [{"index":0,"value":2,"op":"SCMP_CMP_EQ"} {"index":1,"value":15,"valueTwo":1,"op":"SCMP_CMP_MASKED_EQ"}]]`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}

	// Docker's default allows clone without CAP_SYS_ADMIN with the same
	// condition.
	docker := runtimeDefault(t, "docker")
	found := false
	for _, s := range docker.Syscalls {
		if slices.Equal(s.Names, []string{"clone"}) && s.Excludes != nil && slices.Contains(s.Excludes.Caps, "CAP_SYS_ADMIN") && (s.Includes == nil || len(s.Includes.Arches) == 0) {
			found = true
			if !reflect.DeepEqual(s.Args, p.Syscalls[0].Args) {
				t.Errorf("Docker's clone rule has %+v, sysrec writes %+v", s.Args, p.Syscalls[0].Args)
			}
		}
	}
	if !found {
		t.Error("Docker's default profile has no clone rule for containers without CAP_SYS_ADMIN")
	}
}

// randomRecording returns what a recorder could have captured: names on
// one or two architectures, values for the captured ones (all kinds),
// overflows, and clone3 with its flags in clone's values.
func randomRecording(r *rand.Rand) (map[syscalls.Arch][]string, RecordedArgs) {
	arches := []syscalls.Arch{syscalls.X86_64}
	switch r.IntN(3) {
	case 0:
		arches = append(arches, syscalls.X86)
	case 1:
		arches = []syscalls.Arch{syscalls.X86}
	}
	recorded := map[syscalls.Arch][]string{}
	args := RecordedArgs{}
	for _, arch := range arches {
		args[arch] = map[string]ArgValues{}
		names := []string{"read", "write"}
		for _, e := range argCatalogue {
			if r.IntN(3) == 0 {
				continue
			}
			if _, ok := syscalls.Number(arch, e.name); !ok {
				continue
			}
			names = append(names, e.name)
			if argKind(arch, e.name) == KindNone {
				continue
			}
			if e.kind == KindClone3 {
				args[arch]["clone3"] = ArgValues{}
				cv := args[arch]["clone"]
				cv.Values = append(cv.Values, randomArgValue(r, KindClone))
				args[arch]["clone"] = cv
				continue
			}
			v := args[arch][e.name]
			for range 1 + r.IntN(3) {
				v.Values = append(v.Values, randomArgValue(r, e.kind))
			}
			v.Overflow = r.IntN(8) == 0
			args[arch][e.name] = v
		}
		for n, v := range args[arch] {
			slices.Sort(v.Values)
			v.Values = slices.Compact(v.Values)
			args[arch][n] = v
		}
		r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		recorded[arch] = names
	}
	return recorded, args
}

// randomArgValue returns a value of kind k as the recorder captures it.
func randomArgValue(r *rand.Rand, k ArgKind) uint64 {
	pick := func(vs ...uint64) uint64 { return vs[r.IntN(len(vs))] }
	ns := []uint64{CloneNewNS, CloneNewCgroup, CloneNewUTS, CloneNewIPC, CloneNewUser, CloneNewPID, CloneNewNet}
	switch k {
	case KindSocket:
		return sockValue(pick(afUnix, afInet, afInet6, afNetlink, afPacket, afVsock), pick(sockStream, sockDgram, sockRaw))
	case KindSocketpair:
		return pick(afUnix, afInet, afNetlink)
	case KindClone, KindUnshare:
		var v uint64
		for _, f := range ns {
			if r.IntN(4) == 0 {
				v |= f
			}
		}
		if k == KindUnshare && r.IntN(4) == 0 {
			v |= CloneNewTime
		}
		return v
	case KindSetns:
		return pick(0, CloneNewNet, CloneNewNS, CloneNewUser, CloneNewTime)
	case KindPersonality:
		return pick(0, 8, 0x20000, 0xffffffff)
	case KindPrctl:
		return pick(1, 4, 15, 22, 38)
	case KindIoctl:
		return pick(0x5401, 0x5413, 0x541b, 0xc0045002, 0x80086601)
	case KindMmap, KindMprotect:
		return pick(0, ProtWrite, ProtExec, ProtWrite|ProtExec)
	}
	return 0
}

// Merging generated profiles unions the values: the result is the
// profile generated from the union of the recordings, byte for byte,
// whatever the order.
func TestMergeGeneratedArgs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 14))
	for i := range 300 {
		recA, argsA := randomRecording(r)
		recB, argsB := randomRecording(r)
		a := generateArgs(t, recA, argsA)
		b := generateArgs(t, recB, argsB)
		union := map[syscalls.Arch][]string{}
		for _, rec := range []map[syscalls.Arch][]string{recA, recB} {
			for arch, names := range rec {
				union[arch] = append(union[arch], names...)
			}
		}
		for arch := range union {
			slices.Sort(union[arch])
			union[arch] = slices.Compact(union[arch])
		}
		unionArgs := RecordedArgs{}
		unionArgs.Add(argsA)
		unionArgs.Add(argsB)
		want := marshalString(t, generateArgs(t, union, unionArgs))
		for _, order := range [][]*Profile{{a, b}, {b, a}} {
			m, err := Merge(order, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := marshalString(t, m); got != want {
				t.Fatalf("case %d: merged\n%s\nwant\n%s\nfrom\n%s\n%s", i, got, want, marshalString(t, a), marshalString(t, b))
			}
		}
	}
}

// The same recording gives the same bytes, whatever the order of its
// names and values and of Go's maps.
func TestGenerateArgsIsDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		rec, args := randomRecording(r)
		want := marshalString(t, generateArgs(t, rec, args))
		for range 10 {
			rec2 := map[syscalls.Arch][]string{}
			for arch, names := range rec {
				n := slices.Clone(names)
				r.Shuffle(len(n), func(i, j int) { n[i], n[j] = n[j], n[i] })
				rec2[arch] = n
			}
			args2 := RecordedArgs{}
			for arch, m := range args {
				args2[arch] = map[string]ArgValues{}
				for name, v := range m {
					vs := slices.Clone(v.Values)
					r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
					args2[arch][name] = ArgValues{Values: vs, Overflow: v.Overflow}
				}
			}
			if got := marshalString(t, generateArgs(t, rec2, args2)); got != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		}
	}
}

// A generated profile allows the recorded values and denies others with
// its default action.
func TestEvaluateGeneratedArgs(t *testing.T) {
	x64, x86 := syscalls.X86_64, syscalls.X86
	p := generateArgs(t, map[syscalls.Arch][]string{
		x64: {"read", "socket", "socketpair", "clone", "clone3", "unshare", "setns", "ioctl", "prctl", "personality", "mmap", "mprotect"},
		x86: {"read", "socket", "clone", "mmap2"},
	}, RecordedArgs{
		x64: {
			"socket":      {Values: []uint64{sockValue(afInet6, sockStream), sockValue(afUnix, sockDgram)}},
			"socketpair":  {Values: []uint64{afUnix}},
			"clone":       {Values: []uint64{0}},
			"clone3":      {},
			"unshare":     {Values: []uint64{CloneNewNet}},
			"setns":       {Values: []uint64{CloneNewNet}},
			"ioctl":       {Values: []uint64{0x5401}},
			"prctl":       {Values: []uint64{15}},
			"personality": {Values: []uint64{0}},
			"mmap":        {Values: []uint64{0, ProtWrite}},
			"mprotect":    {Values: []uint64{ProtExec}},
		},
		x86: {
			"socket": {Values: []uint64{sockValue(afInet, sockStream)}},
			"clone":  {Values: []uint64{CloneNewUser}},
			"mmap2":  {Values: []uint64{ProtWrite | ProtExec}},
		},
	})
	eperm := Decision{Action: ActErrno, ErrnoRet: 1, Rule: RuleDefault}
	for _, tc := range []struct {
		arch  syscalls.Arch
		name  string
		args  [6]uint64
		allow bool
	}{
		{x64, "read", [6]uint64{3}, true},
		{x64, "socket", [6]uint64{afInet6, sockStream | sockCloexec}, true},
		{x64, "socket", [6]uint64{afUnix, sockDgram | sockNonblock | sockCloexec}, true},
		{x64, "socket", [6]uint64{afInet, sockStream}, true}, // recorded on i386: rules hold for every architecture
		{x64, "socket", [6]uint64{afNetlink, sockRaw}, false},
		{x64, "socket", [6]uint64{afInet6, sockDgram}, false},
		{x64, "socket", [6]uint64{afUnix, sockStream}, false},
		{x64, "socket", [6]uint64{1<<32 | afInet6, sockStream}, false}, // EQ compares 64 bits
		{x64, "socketpair", [6]uint64{afUnix, sockStream}, true},
		{x64, "socketpair", [6]uint64{afInet, sockStream}, false},
		{x64, "clone", [6]uint64{cloneVM | sigchld}, true},
		{x64, "clone", [6]uint64{CloneNewNet | sigchld}, false},
		{x64, "clone", [6]uint64{CloneNewUser | sigchld}, true}, // recorded on i386
		{x64, "clone", [6]uint64{CloneNewUser | CloneNewNet}, false},
		{x64, "unshare", [6]uint64{CloneNewNet}, true},
		{x64, "unshare", [6]uint64{CloneNewNet | 0x400}, true}, // CLONE_FILES is no namespace
		{x64, "unshare", [6]uint64{CloneNewNet | CloneNewNS}, false},
		{x64, "unshare", [6]uint64{CloneNewTime}, false},
		{x64, "unshare", [6]uint64{0}, false},
		{x64, "setns", [6]uint64{3, CloneNewNet}, true},
		{x64, "setns", [6]uint64{3, 0}, false},
		{x64, "ioctl", [6]uint64{1, 0x5401}, true},
		{x64, "ioctl", [6]uint64{1, 0xdead00005401}, true}, // the request is an int
		{x64, "ioctl", [6]uint64{1, 0x5402}, false},
		{x64, "prctl", [6]uint64{15}, true},
		{x64, "prctl", [6]uint64{22}, false},
		{x64, "personality", [6]uint64{0}, true},
		{x64, "personality", [6]uint64{8}, false},
		{x64, "mmap", [6]uint64{0, 4096, 1 | ProtWrite}, true},
		{x64, "mmap", [6]uint64{0, 4096, 1}, true},
		{x64, "mmap", [6]uint64{0, 4096, 1 | ProtExec}, false},
		{x64, "mmap", [6]uint64{0, 4096, ProtWrite | ProtExec}, false},
		{x64, "mprotect", [6]uint64{0, 4096, 1 | ProtExec}, true},
		{x64, "mprotect", [6]uint64{0, 4096, 1}, false},
		{x86, "socket", [6]uint64{afInet6, sockStream}, true},
		{x86, "socket", [6]uint64{1<<32 | afInet6, sockStream}, true}, // i386 compares low words
		{x86, "socket", [6]uint64{afNetlink, sockRaw}, false},
		{x86, "clone", [6]uint64{CloneNewUser | sigchld}, true},
		{x86, "clone", [6]uint64{CloneNewPID}, false},
		{x86, "mmap2", [6]uint64{0, 4096, 7}, true},
		{x86, "mmap2", [6]uint64{0, 4096, 1 | ProtWrite}, false}, // recorded for x86_64's mmap, another name
	} {
		got, err := p.Evaluate(Query{Arch: tc.arch, Name: tc.name, Args: tc.args})
		if err != nil {
			t.Fatal(err)
		}
		if tc.allow && got.Action != ActAllow || !tc.allow && (got != eperm) {
			t.Errorf("%s %s(%#x): got %+v, want allowed %v (else EPERM by the default)", tc.arch, tc.name, tc.args[:3], got, tc.allow)
		}
	}
	// clone3 fails with ENOSYS, so that the C library falls back to clone.
	for _, arch := range []syscalls.Arch{x64} {
		got, err := p.Evaluate(Query{Arch: arch, Name: "clone3"})
		if err != nil || got.Action != ActErrno || got.ErrnoRet != 38 || got.Rule < 0 {
			t.Errorf("%s clone3: got %+v, %v; want ENOSYS by a rule", arch, got, err)
		}
	}
}

// For every captured syscall, the rule written for the value ArgValue
// captures from some arguments allows those arguments, and a rule written
// for another value does not.
func TestArgValueMatchesRules(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, arch := range []syscalls.Arch{syscalls.X86_64, syscalls.X86} {
		for _, e := range argCatalogue {
			k := argKind(arch, e.name)
			if k == KindNone || k == KindClone3 {
				continue
			}
			if _, ok := syscalls.Number(arch, e.name); !ok {
				continue
			}
			for range 200 {
				args := randomRawArgs(r, e.kind)
				v, gotKind, ok := ArgValue(arch, e.name, args)
				if gotKind != k {
					t.Fatalf("%s %s: ArgValue's kind %d, want %d", arch, e.name, gotKind, k)
				}
				if !ok {
					continue
				}
				other := randomArgValue(r, e.kind)
				for _, tc := range []struct {
					value uint64
					want  bool
				}{{v, true}, {other, other == v}} {
					p := generateArgs(t, map[syscalls.Arch][]string{arch: {e.name}}, RecordedArgs{arch: {e.name: {Values: []uint64{tc.value}}}})
					d, err := p.Evaluate(Query{Arch: arch, Name: e.name, Args: args})
					if err != nil {
						t.Fatal(err)
					}
					if got := d.Action == ActAllow; got != tc.want {
						t.Fatalf("%s %s(%#x) captured as %#x: the rule for %#x gives %+v, want allowed %v\n%s",
							arch, e.name, args[:3], v, tc.value, d, tc.want, marshalString(t, p))
					}
				}
			}
		}
	}
}

// randomRawArgs returns the arguments of a call of a syscall of kind k,
// with noise where the kernel ignores it: type flags, the exit signal and
// other clone flags, the upper half of int arguments compared under a
// mask.
func randomRawArgs(r *rand.Rand, k ArgKind) [6]uint64 {
	var a [6]uint64
	for i := range a {
		a[i] = r.Uint64()
	}
	noise := func() uint64 {
		if r.IntN(2) == 0 {
			return 0
		}
		return r.Uint64() &^ 0xffffffff
	}
	v := randomArgValue(r, k)
	switch k {
	case KindSocket:
		a[0] = v >> 8
		a[1] = v&0xf | []uint64{0, sockCloexec, sockNonblock}[r.IntN(3)] | noise()
	case KindSocketpair:
		a[0] = v
	case KindClone, KindUnshare:
		a[0] = v | r.Uint64()&^UnshareNamespaces
		if k == KindClone {
			a[0] &^= CloneNewTime
			a[0] |= r.Uint64() & 0xff // the exit signal
		}
	case KindSetns:
		a[1] = v
	case KindPersonality, KindPrctl:
		a[0] = v
		if k == KindPersonality {
			a[0] |= noise()
		}
	case KindIoctl:
		a[1] = v | noise()
	case KindMmap, KindMprotect:
		a[2] = v | r.Uint64()&^6
	}
	return a
}

func TestArgKinds(t *testing.T) {
	nr := func(arch syscalls.Arch, name string) int {
		n, ok := syscalls.Number(arch, name)
		if !ok {
			t.Fatalf("no %s on %s", name, arch)
		}
		return n
	}
	got := ArgKinds(syscalls.X86_64, DefaultArgGroups)
	want := map[int]ArgKind{
		nr(syscalls.X86_64, "socket"): KindSocket, nr(syscalls.X86_64, "socketpair"): KindSocketpair,
		nr(syscalls.X86_64, "clone"): KindClone, nr(syscalls.X86_64, "clone3"): KindClone3,
		nr(syscalls.X86_64, "unshare"): KindUnshare, nr(syscalls.X86_64, "setns"): KindSetns,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("x86_64 defaults: got %v, want %v", got, want)
	}
	got = ArgKinds(syscalls.X86, []ArgGroup{ArgsMmap})
	want = map[int]ArgKind{nr(syscalls.X86, "mmap2"): KindMmap, nr(syscalls.X86, "mprotect"): KindMprotect}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("i386 mmap: got %v, want %v (old_mmap's arguments are in memory)", got, want)
	}
	if got := ArgKinds(syscalls.X86_64, []ArgGroup{}); len(got) != 0 {
		t.Errorf("no groups: got %v", got)
	}
}

func TestParseArgGroups(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []ArgGroup
		err  string
	}{
		{in: "all", want: ArgGroups},
		{in: "none", want: []ArgGroup{}},
		{in: "", want: []ArgGroup{}},
		{in: " all ", want: ArgGroups},
		{in: "socket,namespaces", want: DefaultArgGroups},
		{in: "namespaces,socket,socket", want: []ArgGroup{ArgsSocket, ArgsNamespaces}},
		{in: " mmap , ioctl", want: []ArgGroup{ArgsIoctl, ArgsMmap}},
		{in: "socket,bogus", err: `unknown argument group "bogus": want all, none or a comma-separated list of socket, namespaces, personality, prctl, ioctl, mmap`},
		{in: "socket,", err: `unknown argument group ""`},
		{in: "all,socket", err: `unknown argument group "all"`},
	} {
		got, err := ParseArgGroups(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, %v; want an error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) || got == nil {
			t.Errorf("%q: got %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	// The result is the caller's to change.
	all, _ := ParseArgGroups("all")
	all[0] = "changed"
	if ArgGroups[0] != ArgsSocket {
		t.Error("ParseArgGroups(all) returned ArgGroups itself")
	}
}

func TestRecordedArgsAdd(t *testing.T) {
	r := RecordedArgs{syscalls.X86_64: {"socket": {Values: []uint64{0x201, 0xa01}}}}
	r.Add(RecordedArgs{
		syscalls.X86_64: {"socket": {Values: []uint64{0x101, 0x201}}, "ioctl": {Overflow: true}},
		syscalls.X86:    {"clone": {Values: []uint64{0}}},
	})
	want := RecordedArgs{
		syscalls.X86_64: {"socket": {Values: []uint64{0x101, 0x201, 0xa01}}, "ioctl": {Overflow: true}},
		syscalls.X86:    {"clone": {Values: []uint64{0}}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %v, want %v", r, want)
	}
	if got := r.Overflowed(); !slices.Equal(got, []string{"SCMP_ARCH_X86_64/ioctl"}) {
		t.Errorf("Overflowed: got %q", got)
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []Arg
		want string
	}{
		{"socket", argConditions(KindSocket, sockValue(afNetlink, sockRaw)), "socket(AF_NETLINK, SOCK_RAW)"},
		{"socket", argConditions(KindSocket, sockValue(afInet6, sockStream)), "socket(AF_INET6, SOCK_STREAM)"},
		{"socket", []Arg{{Index: 0, Value: afVsock, Op: OpNotEqual}}, "socket(family != AF_VSOCK)"},
		{"socket", []Arg{{Index: 1, Value: sockStream | sockCloexec, Op: OpEqualTo}, {Index: 0, Value: 99, Op: OpEqualTo}}, "socket(99, SOCK_STREAM|SOCK_CLOEXEC)"},
		{"socketpair", argConditions(KindSocketpair, afUnix), "socketpair(AF_UNIX)"},
		{"unshare", argConditions(KindUnshare, CloneNewNet), "unshare(CLONE_NEWNET)"},
		{"unshare", argConditions(KindUnshare, CloneNewNet|CloneNewTime), "unshare(CLONE_NEWTIME|CLONE_NEWNET)"},
		{"clone", argConditions(KindClone, 0), "clone(no namespace flags)"},
		{"clone", argConditions(KindClone, CloneNewUser|CloneNewNS), "clone(CLONE_NEWNS|CLONE_NEWUSER)"},
		{"clone", []Arg{{Index: 0, Value: CloneNewUser, Op: OpMaskedEqual}}, "clone(without CLONE_NEWUSER)"},
		{"clone", []Arg{{Index: 0, Value: cloneVM | 0x200 | sigchld, Op: OpEqualTo}}, "clone(CLONE_VM|CLONE_FS|SIGCHLD)"},
		{"setns", argConditions(KindSetns, CloneNewNet), "setns(CLONE_NEWNET)"},
		{"setns", argConditions(KindSetns, 0), "setns(0 (any namespace))"},
		{"personality", argConditions(KindPersonality, 8), "personality(PER_LINUX32)"},
		{"personality", []Arg{{Index: 0, Value: 0x1234, Op: OpEqualTo}}, "personality(0x1234)"},
		{"prctl", argConditions(KindPrctl, 15), "prctl(PR_SET_NAME)"},
		{"prctl", argConditions(KindPrctl, 1000), "prctl(1000)"},
		{"ioctl", argConditions(KindIoctl, 0x5401), "ioctl(0x5401)"},
		{"mmap", argConditions(KindMmap, ProtExec), "mmap(PROT_EXEC without PROT_WRITE)"},
		{"mmap", argConditions(KindMmap, ProtExec|ProtWrite), "mmap(PROT_WRITE|PROT_EXEC)"},
		{"mprotect", argConditions(KindMprotect, 0), "mprotect(without PROT_WRITE|PROT_EXEC)"},
		{"read", []Arg{{Index: 0, Value: 3, Op: OpLessThan}, {Index: 2, Value: 0xf0, ValueTwo: 0x10, Op: OpMaskedEqual}}, "read(arg0 < 0x3, arg2 & 0xf0 == 0x10)"},
		{"ioctl", []Arg{{Index: 1, Value: 0xff00, ValueTwo: 0x5400, Op: OpMaskedEqual}}, "ioctl(request & 0xff00 == 0x5400)"},
		{"read", nil, "read(any arguments)"},
	} {
		if got := DescribeCall(tc.name, tc.args); got != tc.want {
			t.Errorf("DescribeCall(%s, %+v): got %q, want %q", tc.name, tc.args, got, tc.want)
		}
	}
	if got := DescribeArgValue(syscalls.X86_64, "socket", sockValue(afInet, sockDgram)); got != "socket(AF_INET, SOCK_DGRAM)" {
		t.Errorf("DescribeArgValue: got %q", got)
	}
	if got := DescribeArgValue(syscalls.X86_64, "read", 3); got != "read(0x3)" {
		t.Errorf("DescribeArgValue of an uncaptured syscall: got %q", got)
	}
}

// libseccomp copies socket's rules to i386 socketcall with argument 0
// made SYS_SOCKET and the family test reading socketcall's pointer: where
// sysrec saw no socketcall, GenerateArgs makes it fail; where it did, it
// stays allowed and Lint says that the families do not bind it.
func TestGenerateArgsSocketcall(t *testing.T) {
	x86, x64 := syscalls.X86, syscalls.X86_64
	args := RecordedArgs{
		x64: {"socket": {Values: []uint64{sockValue(afInet, sockStream)}}},
		x86: {"socket": {Values: []uint64{sockValue(afUnix, sockStream)}}, "socketpair": {Values: []uint64{afUnix}}},
	}
	refused := generateArgs(t, map[syscalls.Arch][]string{x64: {"read", "socket"}, x86: {"read", "socket", "socketpair"}}, args)
	recorded := generateArgs(t, map[syscalls.Arch][]string{x64: {"read", "socket"}, x86: {"read", "socket", "socketpair", "socketcall"}}, args)
	for _, tc := range []struct {
		p    *Profile
		arch syscalls.Arch
		name string
		args [6]uint64
		want Action
		errn uint
	}{
		{refused, x86, "socketcall", [6]uint64{1, 0xffd01231}, ActErrno, 13},
		{refused, x86, "socketcall", [6]uint64{8, 0xffd01230}, ActErrno, 13},
		{refused, x86, "socketcall", [6]uint64{2, 0}, ActErrno, 13},
		{refused, x86, "socket", [6]uint64{afUnix, sockStream | sockCloexec}, ActAllow, 0},
		{refused, x86, "socket", [6]uint64{afInet, sockStream}, ActAllow, 0}, // recorded on x86_64
		{refused, x86, "socket", [6]uint64{afPacket, sockRaw}, ActErrno, 1},
		{refused, x86, "socketpair", [6]uint64{afUnix}, ActAllow, 0},
		{refused, x86, "socketpair", [6]uint64{afInet}, ActErrno, 1},
		{recorded, x86, "socketcall", [6]uint64{1, 0xffd01230}, ActAllow, 0},
		{recorded, x86, "socket", [6]uint64{afPacket, sockRaw}, ActErrno, 1},
	} {
		d, err := tc.p.Evaluate(Query{Arch: tc.arch, Name: tc.name, Args: tc.args})
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != tc.want || d.ErrnoRet != tc.errn {
			t.Errorf("%s %s%#x: got %+v, want %s(%d)", tc.arch, tc.name, tc.args[:2], d, tc.want, tc.errn)
		}
	}
	codes := func(p *Profile) []string {
		var out []string
		for _, f := range Lint(p) {
			if f.Code != CodeCannotStart { // a recording of read and socket starts nothing
				out = append(out, f.Code+" "+f.Path)
			}
		}
		return out
	}
	if got := codes(refused); len(got) != 0 {
		t.Errorf("lint of the profile that refuses socketcall: got %q, want nothing", got)
	}
	if got, want := codes(recorded), []string{"socketcall-args syscalls[0].names[1]", "socketcall-args syscalls[0].names[1]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lint of the profile that allows socketcall: got %q, want %q\n%s", got, want, marshalString(t, recorded))
	}
	// Merging keeps the refusal: one profile holds the i386 recording,
	// another the family rules.
	a := generateArgs(t, map[syscalls.Arch][]string{x86: {"read"}}, RecordedArgs{x86: {}})
	b := generateArgs(t, map[syscalls.Arch][]string{x64: {"socket"}}, RecordedArgs{x64: args[x64]})
	m, err := Merge([]*Profile{a, b}, "")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := m.Evaluate(Query{Arch: x86, Name: "socketcall", Args: [6]uint64{1, 1}}); err != nil || d.Action != ActErrno || d.ErrnoRet != 13 {
		t.Errorf("merged: socketcall(SYS_SOCKET): got %+v, %v; want ERRNO(13)", d, err)
	}
}
