package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// Address families and namespace flags, as the rules spell them.
const (
	afUnix  = 1
	afInet6 = 10
)

// argRules returns the argument conditions of p's allow rules for name.
func argRules(p *profiles.Profile, name string) [][]profiles.Arg {
	var out [][]profiles.Arg
	for _, s := range p.Syscalls {
		if s.Action == profiles.ActAllow && len(s.Args) > 0 && slices.Contains(s.Names, name) {
			out = append(out, s.Args)
		}
	}
	return out
}

// The closed loop of argument rules with sysrec run: a glibc program that
// opens AF_INET6 and AF_UNIX sockets, unshares a UTS namespace, starts a
// thread and forks is recorded with the default --args; its profile
// allows socket for those families only, unshare for CLONE_NEWUTS only,
// and clone without namespace flags, and makes clone3 fail with ENOSYS.
// The program runs unchanged under it (glibc falls back from clone3 to
// clone), and the same program asking for AF_NETLINK, CLONE_NEWNET from
// unshare, or the clone syscall with CLONE_NEWNET fails with EPERM at that
// call.
func TestArgRulesClosedLoop(t *testing.T) {
	testenv.RequireBPF(t)
	workload := testenv.Workload(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "args.json")
	words := []string{"inet6", "unix", "unshare-uts", "thread", "fork"}
	run := func(args ...string) result {
		t.Helper()
		return sysrec(t, append(args, append([]string{"--", workload, "args"}, words...)...)...)
	}
	if res := run("record", "-o", profile); res.code != 0 {
		t.Fatalf("record: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	p, data := readProfile(t, profile)
	if slices.Contains(p.AllowedNames(), "socket") || slices.Contains(p.AllowedNames(), "unshare") || slices.Contains(p.AllowedNames(), "clone") {
		t.Errorf("socket, unshare or clone allowed unconditionally:\n%s", data)
	}
	wantSocket := [][]profiles.Arg{
		{{Index: 0, Value: afUnix, Op: profiles.OpEqualTo}, {Index: 1, Value: 0xf, ValueTwo: 2, Op: profiles.OpMaskedEqual}},  // SOCK_DGRAM
		{{Index: 0, Value: afInet6, Op: profiles.OpEqualTo}, {Index: 1, Value: 0xf, ValueTwo: 1, Op: profiles.OpMaskedEqual}}, // SOCK_STREAM
	}
	if got := argRules(p, "socket"); !slices.EqualFunc(got, wantSocket, slices.Equal) {
		t.Errorf("socket rules: got %v, want %v", got, wantSocket)
	}
	wantUnshare := [][]profiles.Arg{{{Index: 0, Value: profiles.UnshareNamespaces, ValueTwo: profiles.CloneNewUTS, Op: profiles.OpMaskedEqual}}}
	if got := argRules(p, "unshare"); !slices.EqualFunc(got, wantUnshare, slices.Equal) {
		t.Errorf("unshare rules: got %v, want %v", got, wantUnshare)
	}
	wantClone := [][]profiles.Arg{{{Index: 0, Value: profiles.CloneNamespaces, ValueTwo: 0, Op: profiles.OpMaskedEqual}}}
	if got := argRules(p, "clone"); !slices.EqualFunc(got, wantClone, slices.Equal) {
		t.Errorf("clone rules: got %v, want Docker's shape %v", got, wantClone)
	}
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	if d, err := p.Evaluate(profiles.Query{Arch: native, Name: "clone3"}); err != nil || d.Action != profiles.ActErrno || d.ErrnoRet != 38 {
		t.Errorf("clone3: got %+v (%v), want SCMP_ACT_ERRNO with ENOSYS (38)", d, err)
	}

	// The same run, twice: the same bytes.
	again := filepath.Join(dir, "again.json")
	if res := run("record", "-o", again); res.code != 0 {
		t.Fatalf("record again: exit %d: %s", res.code, res.stderr)
	}
	if _, data2 := readProfile(t, again); string(data2) != string(data) {
		t.Errorf("two recordings of the same run differ:\n%s\n%s", data, data2)
	}

	res := run("run", "--profile", profile)
	if res.code != 0 || strings.Count(res.stdout, ": ok") != len(words) {
		t.Fatalf("under its profile: got exit %d, stdout %q, stderr %q; want 0 and every word ok", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stderr, "clone3") && !strings.Contains(res.stderr, "(ENOSYS by rule") {
		t.Errorf("run names clone3's ENOSYS as a denial without saying it is the fallback:\n%s", res.stderr)
	}
	for _, tc := range []struct{ word, want string }{
		{"netlink", "netlink: Operation not permitted"},
		{"unshare-net", "unshare-net: Operation not permitted"},
		{"clone-net", "clone-net: Operation not permitted"},
	} {
		res := sysrec(t, "run", "--profile", profile, "--", workload, "args", "inet6", tc.word)
		if res.code != 1 || !strings.Contains(res.stdout, "inet6: ok\n"+tc.want) {
			t.Errorf("%s under the profile: got exit %d, stdout %q; want 1 and inet6 ok, then %q", tc.word, res.code, res.stdout, tc.want)
		}
	}
}

// sysrec diff explains the denial: a recording of the program that asks
// for AF_NETLINK, against the profile, names the recorded value, the
// decision, and the values the profile allows.
func TestArgRulesDiff(t *testing.T) {
	testenv.RequireBPF(t)
	workload := testenv.Workload(t)
	dir := t.TempDir()
	deployed, recorded := filepath.Join(dir, "deployed.json"), filepath.Join(dir, "netlink.json")
	for _, r := range []struct {
		out   string
		words []string
	}{{deployed, []string{"inet6", "unix"}}, {recorded, []string{"inet6", "netlink"}}} {
		if res := sysrec(t, append([]string{"record", "-o", r.out, "--", workload, "args"}, r.words...)...); res.code != 0 {
			t.Fatalf("record %v: exit %d: %s", r.words, res.code, res.stderr)
		}
	}
	res := sysrec(t, "diff", recorded, deployed)
	var line string
	for _, l := range strings.Split(res.stdout, "\n") {
		if strings.Contains(l, " socket ") {
			line = l
		}
	}
	for _, want := range []string{"partly-denied", "socket(AF_NETLINK, SOCK_RAW)", "SCMP_ACT_ERRNO", "allowed only when", "socket(AF_INET6, SOCK_STREAM)", "socket(AF_UNIX, SOCK_DGRAM)"} {
		if !strings.Contains(line, want) {
			t.Errorf("diff's socket row: got %q, want it to say %q\nstdout:\n%s", line, want, res.stdout)
		}
	}
	if res.code != 1 {
		t.Errorf("diff: got exit %d, want 1 (the workload would break)", res.code)
	}
}

// A Go program runs under a profile recorded with the default --args:
// the Go runtime's threads come from clone, and os/exec's children from
// clone or clone3 (which fails with ENOSYS, so it falls back).
func TestArgRulesGoProgram(t *testing.T) {
	testenv.RequireBPF(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "go.json")
	self := func(args ...string) []string { return append(args, "--", os.Args[0], goWorkloadArg) }
	if res := sysrec(t, self("record", "-o", profile)...); res.code != 0 || !strings.Contains(res.stdout, "go workload: ok") {
		t.Fatalf("record: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	p, data := readProfile(t, profile)
	if len(argRules(p, "clone")) == 0 {
		t.Errorf("no argument rule for clone:\n%s", data)
	}
	if res := sysrec(t, self("run", "--profile", profile)...); res.code != 0 || !strings.Contains(res.stdout, "go workload: ok") {
		t.Errorf("under its profile: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
}

// goWorkloadArg, as the test binary's only argument, makes it the Go
// program of TestArgRulesGoProgram (see TestMain): threads, and children
// started by os/exec.
const goWorkloadArg = "sysrec-go-workload"

func goWorkload() int {
	done := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() { done <- exec.Command("/bin/true").Run() }()
	}
	for i := 0; i < 4; i++ {
		if err := <-done; err != nil {
			fmt.Printf("go workload: running /bin/true: %v\n", err)
			return 1
		}
	}
	fmt.Println("go workload: ok")
	return 0
}

// The closed loop of argument rules in containers, on containerd and
// CRI-O: the glibc program records socket rules for AF_INET6 and AF_UNIX
// in its container's profile, runs unchanged under that profile, and
// fails with EPERM when it asks for AF_NETLINK.
func TestArgRulesContainers(t *testing.T) {
	for _, rt := range testenv.Runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			endpoint := rt.Endpoint(t)
			testenv.RequireBPF(t)
			workload := testenv.Workload(t)
			out := filepath.Join(t.TempDir(), "profiles")
			cmd, stderr := recordContainersCmd(t, "--runtime-endpoint", endpoint,
				"--namespace", "sysrec-args", "--output-dir", out, "--duration", "4s")
			mounts := map[string]string{workload: "/workload"}
			pod := func(name, seccomp string, words ...string) testenv.Pod {
				return testenv.Pod{Name: name, Namespace: "sysrec-args", Mounts: mounts, Seccomp: seccomp,
					Command: append([]string{"/workload", "args"}, words...)}
			}
			words := []string{"inet6", "unix", "thread", "fork"}
			id := testenv.RunPod(t, endpoint, pod("probe", testenv.Unconfined, words...))
			if code, log := testenv.WaitExit(t, endpoint, id); code != 0 {
				t.Fatalf("unconfined: exit %d, log %q", code, log)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("sysrec: %v\n%s", err, stderr())
			}
			profile := filepath.Join(out, "sysrec-args", "probe", "app.json")
			p, data := readProfile(t, profile)
			if slices.Contains(p.AllowedNames(), "socket") || len(argRules(p, "socket")) != 2 {
				t.Fatalf("want socket allowed for two families only:\n%s", data)
			}
			id = testenv.RunPod(t, endpoint, pod("probe-enforced", profile, words...))
			if code, log := testenv.WaitExit(t, endpoint, id); code != 0 || strings.Count(log, ": ok") != len(words) {
				t.Errorf("under the recorded profile: got exit %d, log %q; want 0 and every word ok", code, log)
			}
			id = testenv.RunPod(t, endpoint, pod("probe-netlink", profile, "inet6", "netlink"))
			if code, log := testenv.WaitExit(t, endpoint, id); code != 1 || !strings.Contains(log, "netlink: Operation not permitted") {
				t.Errorf("AF_NETLINK under the recorded profile: got exit %d, log %q; want 1 and EPERM", code, log)
			}
		})
	}
}
