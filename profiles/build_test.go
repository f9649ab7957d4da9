package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

// sleepRecording is what `sysrec record -- sleep 1.5` records on x86_64.
var sleepRecording = []string{"access", "arch_prctl", "brk", "clock_nanosleep", "close", "execve", "exit_group",
	"fstat", "getrandom", "mmap", "mprotect", "munmap", "newfstatat", "openat", "pread64", "prlimit64", "read",
	"rseq", "set_robust_list", "set_tid_address"}

// threadedRecording is a threaded C program's recording that happened to
// make no futex call, with a signal handler.
var threadedRecording = []string{"brk", "clone3", "execve", "exit_group", "mmap", "mprotect", "munmap",
	"rt_sigaction", "rt_sigprocmask", "set_robust_list", "write"}

func completedNames(cs []Completion) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Names...)
		if !strings.HasPrefix(c.Reason, strings.Join(c.Names, ", ")+":") && !strings.Contains(c.Reason, c.Names[0]) {
			panic("reason does not name its syscalls: " + c.Reason)
		}
	}
	slices.Sort(out)
	return out
}

func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		name     string
		recorded map[syscalls.Arch][]string
		want     []string
	}{
		{"sleep", map[syscalls.Arch][]string{syscalls.X86_64: sleepRecording}, []string{"restart_syscall"}},
		{"nothing recorded", map[syscalls.Arch][]string{syscalls.X86_64: nil}, nil},
		{"threads and a handler", map[syscalls.Arch][]string{syscalls.X86_64: threadedRecording},
			[]string{"exit", "futex", "madvise", "restart_syscall", "rt_sigreturn"}},
		{"i386 handler", map[syscalls.Arch][]string{syscalls.X86: {"rt_sigaction", "exit_group"}},
			[]string{"restart_syscall", "rt_sigreturn", "sigreturn"}},
		{"i386 handler, x86_64 recording", map[syscalls.Arch][]string{syscalls.X86_64: {"rt_sigaction"}, syscalls.X86: {"exit_group"}},
			[]string{"restart_syscall", "rt_sigreturn", "sigreturn"}},
		{"aarch64 has no sigreturn", map[syscalls.Arch][]string{syscalls.AArch64: {"rt_sigaction", "exit_group"}},
			[]string{"restart_syscall", "rt_sigreturn"}},
		{"go runtime", map[syscalls.Arch][]string{syscalls.X86_64: {"clone", "sigaltstack", "rt_sigaction", "rt_sigreturn", "futex", "exit_group", "getpid"}},
			[]string{"exit", "madvise", "restart_syscall", "sched_yield", "tgkill"}},
		{"signal stack without threads", map[syscalls.Arch][]string{syscalls.X86_64: {"sigaltstack", "exit_group"}},
			[]string{"restart_syscall"}},
		{"no table", map[syscalls.Arch][]string{syscalls.ARM: {"rt_sigaction"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := completedNames(Complete(tc.recorded))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Complete = %v, want %v", got, tc.want)
			}
		})
	}
}

// Every name that the catalogue adds exists on some architecture, every
// reason starts with the names it adds, and no name is in two rules.
func TestCompletionCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range completions {
		if want := strings.Join(c.add, ", ") + ":"; !strings.HasPrefix(c.reason, want) {
			t.Errorf("reason %q does not start with %q", c.reason, want)
		}
		for _, n := range append(slices.Clone(c.add), c.x86...) {
			if seen[n] {
				t.Errorf("%s is in two completion rules", n)
			}
			seen[n] = true
			if _, ok := syscalls.Number(syscalls.X86_64, n); !ok {
				if _, ok := syscalls.Number(syscalls.X86, n); !ok {
					t.Errorf("%s is no syscall", n)
				}
			}
			if argKind(syscalls.X86_64, n) != KindNone {
				t.Errorf("%s has argument rules: completion would widen them", n)
			}
		}
	}
}

func allArches() map[syscalls.Arch][]string {
	return map[syscalls.Arch][]string{
		syscalls.X86_64:  append(slices.Clone(threadedRecording), "socket", "openat", "read", "ppoll", "kill"),
		syscalls.X86:     {"socketcall", "rt_sigaction", "exit_group", "read", "mmap2"},
		syscalls.AArch64: {"clone", "sigaltstack", "nanosleep", "openat"},
	}
}

func mustBuild(t *testing.T, rec map[syscalls.Arch][]string, args RecordedArgs, o BuildOptions) (*Profile, map[string]string) {
	t.Helper()
	if o.DefaultAction == "" {
		o.DefaultAction = ActErrno
	}
	p, reasons, err := Build(rec, args, o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p, reasons
}

func marshal(t *testing.T, p *Profile) []byte {
	t.Helper()
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decisions is what p does with every syscall of every architecture with
// a table, over all argument values, without the rule that decided.
func decisions(t *testing.T, p *Profile) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, arch := range []syscalls.Arch{syscalls.X86_64, syscalls.X86, syscalls.AArch64} {
		for _, n := range syscalls.Names(arch) {
			ds, err := p.Outcomes(arch, n, nil)
			if err != nil {
				t.Fatalf("%s on %s: %v", n, arch, err)
			}
			var s []string
			for _, d := range ds {
				s = append(s, fmt.Sprintf("%s/%d", d.Action, d.ErrnoRet))
			}
			slices.Sort(s)
			out[string(arch)+"/"+n] = slices.Compact(s)
			if d, err := p.Evaluate(Query{Arch: arch, Name: n}); err != nil {
				t.Fatalf("%s on %s: %v", n, arch, err)
			} else {
				out[string(arch)+"/"+n+"/zero"] = []string{string(d.Action)}
			}
		}
	}
	return out
}

var testArgs = RecordedArgs{syscalls.X86_64: {"socket": {Values: []uint64{1<<8 | 1, 2<<8 | 2}}, "clone3": {Values: []uint64{0}}}}

// A grouped profile allows exactly what the flat one does, with and
// without completion, for every name of every architecture; the completed
// one allows the exact one's set plus the names that completion added.
func TestBuildGroupsKeepSemantics(t *testing.T) {
	rec := allArches()
	for _, exact := range []bool{true, false} {
		flat, reasons := mustBuild(t, rec, testArgs, BuildOptions{Exact: exact})
		grouped, reasons2 := mustBuild(t, rec, testArgs, BuildOptions{Exact: exact, Groups: true})
		if !maps.Equal(reasons, reasons2) {
			t.Errorf("exact=%v: reasons differ: %v vs %v", exact, reasons, reasons2)
		}
		if exact != (len(reasons) == 0) {
			t.Errorf("exact=%v: reasons %v", exact, reasons)
		}
		df, dg := decisions(t, flat), decisions(t, grouped)
		if !maps.EqualFunc(df, dg, slices.Equal) {
			for k := range df {
				if !slices.Equal(df[k], dg[k]) {
					t.Errorf("exact=%v: %s: flat %v, grouped %v", exact, k, df[k], dg[k])
				}
			}
		}
		if len(grouped.Syscalls) <= len(flat.Syscalls) {
			t.Errorf("exact=%v: grouping made %d rules of %d", exact, len(grouped.Syscalls), len(flat.Syscalls))
		}
	}
	exact, _ := mustBuild(t, rec, testArgs, BuildOptions{Exact: true})
	full, reasons := mustBuild(t, rec, testArgs, BuildOptions{Groups: true})
	de, dc := decisions(t, exact), decisions(t, full)
	for k, v := range de {
		parts := strings.Split(k, "/")
		name := parts[1]
		if slices.Equal(v, dc[k]) {
			if reasons[name] != "" && len(parts) == 2 {
				// The name exists on this arch and is added: the
				// decision must change somewhere.
				if _, ok := syscalls.Number(syscalls.Arch(parts[0]), name); ok {
					t.Errorf("%s: completion added %s, but its decision did not change: %v", k, name, v)
				}
			}
			continue
		}
		if reasons[name] == "" {
			t.Errorf("%s: exact %v, completed %v, and completion gives no reason", k, v, dc[k])
		}
		if want := []string{string(ActAllow) + "/0"}; len(parts) == 2 && !slices.Equal(dc[k], want) {
			t.Errorf("%s: completed %v, want allowed", k, dc[k])
		}
	}
}

func TestBuildComments(t *testing.T) {
	p, reasons := mustBuild(t, map[syscalls.Arch][]string{syscalls.X86_64: sleepRecording}, nil, BuildOptions{Groups: true})
	var comments []string
	for _, r := range p.Syscalls {
		comments = append(comments, r.Comment)
		if r.Comment == "" {
			t.Errorf("rule %v has no comment", r.Names)
		}
	}
	want := []string{"group: file I/O", "group: memory", "group: time", "group: process", "group: threads",
		"group: scheduling and resources", "group: other", "completion: " + reasons["restart_syscall"]}
	if !slices.Equal(comments, want) {
		t.Errorf("comments:\n%q\nwant\n%q", comments, want)
	}
	if last := p.Syscalls[len(p.Syscalls)-1]; !slices.Equal(last.Names, []string{"restart_syscall"}) {
		t.Errorf("completion rule holds %v", last.Names)
	}
	if got := Completed(p); !maps.Equal(got, reasons) {
		t.Errorf("Completed = %v, want %v", got, reasons)
	}
	// Flat: one recorded rule, then the completion's.
	flat, _ := mustBuild(t, map[syscalls.Arch][]string{syscalls.X86_64: sleepRecording}, nil, BuildOptions{})
	if len(flat.Syscalls) != 2 || flat.Syscalls[0].Comment != "" || !slices.Equal(flat.Syscalls[0].Names, sleepRecording) {
		t.Errorf("flat profile: %s", marshal(t, flat))
	}
	// Exact: only what was recorded.
	exact, r := mustBuild(t, map[syscalls.Arch][]string{syscalls.X86_64: sleepRecording}, nil, BuildOptions{Exact: true})
	if len(exact.Syscalls) != 1 || len(r) != 0 {
		t.Errorf("exact profile: %s, reasons %v", marshal(t, exact), r)
	}
}

// Build's output is the same whatever the order of its input, and Merge
// gives it back unchanged.
func TestBuildDeterministic(t *testing.T) {
	rec := allArches()
	want, _ := mustBuild(t, rec, testArgs, BuildOptions{Groups: true})
	wantJSON := marshal(t, want)
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		shuffled := map[syscalls.Arch][]string{}
		for a, names := range rec {
			s := slices.Clone(names)
			rnd.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
			shuffled[a] = s
		}
		got, _ := mustBuild(t, shuffled, testArgs, BuildOptions{Groups: true})
		if b := marshal(t, got); !bytes.Equal(b, wantJSON) {
			t.Fatalf("run %d differs:\n%s\nwant\n%s", i, b, wantJSON)
		}
	}
	for _, groups := range []bool{false, true} {
		p, _ := mustBuild(t, rec, testArgs, BuildOptions{Groups: groups})
		m, err := Merge([]*Profile{p}, "")
		if err != nil {
			t.Fatal(err)
		}
		if a, b := marshal(t, p), marshal(t, m); !bytes.Equal(a, b) {
			t.Errorf("groups=%v: Merge changed Build's profile:\n%s\nwant\n%s", groups, b, a)
		}
	}
}

// Merging grouped profiles keeps them grouped: the merge of two recordings'
// profiles is the profile of the union of the recordings, a name recorded
// in one input drops out of the other's completion rules, and a flat
// input's names join the groups.
func TestMergeKeepsGroups(t *testing.T) {
	a := map[syscalls.Arch][]string{syscalls.X86_64: sleepRecording}
	b := map[syscalls.Arch][]string{syscalls.X86_64: append(slices.Clone(threadedRecording), "restart_syscall", "socket")}
	union := map[syscalls.Arch][]string{syscalls.X86_64: append(slices.Clone(sleepRecording), b[syscalls.X86_64]...)}
	pa, _ := mustBuild(t, a, nil, BuildOptions{Groups: true})
	pb, _ := mustBuild(t, b, nil, BuildOptions{Groups: true})
	want, _ := mustBuild(t, union, nil, BuildOptions{Groups: true})
	for _, in := range [][]*Profile{{pa, pb}, {pb, pa}} {
		m, err := Merge(in, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, w := marshal(t, m), marshal(t, want); !bytes.Equal(got, w) {
			t.Errorf("merged:\n%s\nwant\n%s", got, w)
		}
	}
	// restart_syscall was recorded in b: a's completion rule for it is gone.
	m, _ := Merge([]*Profile{pa, pb}, "")
	if again, _ := Merge([]*Profile{m, m}, ""); !bytes.Equal(marshal(t, again), marshal(t, m)) {
		t.Errorf("merging a merged profile with itself changed it:\n%s\nwant\n%s", marshal(t, again), marshal(t, m))
	}
	if _, ok := Completed(m)["restart_syscall"]; ok {
		t.Errorf("restart_syscall is still a completion: %s", marshal(t, m))
	}
	// A flat profile merged with a grouped one: grouped.
	flatB, _ := mustBuild(t, b, nil, BuildOptions{})
	m, err := Merge([]*Profile{pa, flatB}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, w := marshal(t, m), marshal(t, want); !bytes.Equal(got, w) {
		t.Errorf("flat+grouped merged:\n%s\nwant\n%s", got, w)
	}
	// Two flat profiles with completion stay flat, completion apart.
	flatA, _ := mustBuild(t, a, nil, BuildOptions{})
	wantFlat, _ := mustBuild(t, union, nil, BuildOptions{})
	m, err = Merge([]*Profile{flatA, flatB}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, w := marshal(t, m), marshal(t, wantFlat); !bytes.Equal(got, w) {
		t.Errorf("flat merged:\n%s\nwant\n%s", got, w)
	}
}

func TestGroupTable(t *testing.T) {
	for name, want := range map[string]syscalls.Group{
		"openat": syscalls.GroupFile, "read": syscalls.GroupFile, "close": syscalls.GroupFile,
		"socket": syscalls.GroupNetwork, "epoll_wait": syscalls.GroupEvents, "mmap": syscalls.GroupMemory,
		"rt_sigaction": syscalls.GroupSignals, "rt_sigreturn": syscalls.GroupSignals, "clock_nanosleep": syscalls.GroupTime,
		"execve": syscalls.GroupProcess, "clone": syscalls.GroupProcess, "setuid": syscalls.GroupProcess,
		"futex": syscalls.GroupThreads, "mount": syscalls.GroupMount, "ptrace": syscalls.GroupDebug,
		"chown": syscalls.GroupFile, "reboot": syscalls.GroupAdmin, "getrandom": syscalls.GroupOther,
		"no_such_syscall": syscalls.GroupOther,
	} {
		if got := syscalls.GroupOf(name); got != want {
			t.Errorf("GroupOf(%s) = %s, want %s", name, got, want)
		}
	}
	p, err := Group(&Profile{DefaultAction: ActErrno, Syscalls: []Syscall{{Names: []string{"read", "socket", "write"}, Action: ActAllow}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Syscalls) != 2 || p.Syscalls[0].Comment != "group: file I/O" || !slices.Equal(p.Syscalls[0].Names, []string{"read", "write"}) {
		t.Errorf("Group: %s", marshal(t, p))
	}
}

func TestSplit(t *testing.T) {
	order, by := Split([]string{"write", "socket", "read", "read", "futex", "brand_new_syscall"})
	if want := []syscalls.Group{syscalls.GroupFile, syscalls.GroupNetwork, syscalls.GroupThreads, syscalls.GroupOther}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if !slices.Equal(by[syscalls.GroupFile], []string{"read", "write"}) || !slices.Equal(by[syscalls.GroupOther], []string{"brand_new_syscall"}) {
		t.Errorf("by group: %v", by)
	}
}
