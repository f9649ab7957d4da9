package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// A real LOG record is listed, named, and merged into a profile with
// --into.
func TestViolations(t *testing.T) {
	testenv.RequireRoot(t)
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	var list []violation
	pid := testenv.LogUntilSeen(t, func(pid int) bool {
		res := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none", "-o", "json")
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		list = nil
		if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
			t.Fatalf("-o json: %v\n%s", err, res.stdout)
		}
		return slices.ContainsFunc(list, func(v violation) bool { return v.PID == pid })
	})
	i := slices.IndexFunc(list, func(v violation) bool { return v.PID == pid })
	if v := list[i]; v.Syscall != "uname" || v.Arch != native || v.Action != "SCMP_ACT_LOG" || v.Comm != "workload" {
		t.Errorf("got %+v, want uname logged on %s by workload", v, native)
	}

	one := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none", "--pid", strconv.Itoa(pid), "-o", "json")
	var only []violation
	if err := json.Unmarshal([]byte(one.stdout), &only); err != nil || len(only) != 1 || only[0].PID != pid {
		t.Errorf("--pid %d: got %v, %s; want its one record", pid, err, one.stdout)
	}

	table := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none")
	if table.code != 0 || !strings.Contains(table.stdout, "SYSCALL") || !strings.Contains(table.stdout, strconv.Itoa(pid)) {
		t.Errorf("table: exit %d, got\n%s", table.code, table.stdout)
	}

	// --into adds what was logged to a profile that lacks it.
	p, err := profiles.Generate(map[syscalls.Arch][]string{native: {"read", "write"}}, profiles.ActLog)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := profiles.Marshal(p)
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	into := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none", "--into", path)
	if into.code != 0 || !strings.Contains(into.stderr, "added to "+path) {
		t.Fatalf("--into: exit %d, stderr %s", into.code, into.stderr)
	}
	got, _ := readProfile(t, path)
	if names := allowed(got); !slices.Contains(names, "uname") || !slices.Contains(names, "read") {
		t.Errorf("after --into: got %v, want read and write plus uname", names)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after --into: got mode %v, %v; want 0600 kept", fi.Mode(), err)
	}
}

// --follow with the audit source prints each new record as a JSON line.
func TestViolationsFollow(t *testing.T) {
	testenv.RequireRoot(t)
	cmd := sysrecCmd(t, "violations", "--follow", "--source", "audit", "--runtime-endpoint", "none", "-o", "json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startGroup(t, cmd)
	waitAuditJoined(t, cmd)
	pid := testenv.RunLogged(t)
	lines := bufio.NewScanner(out)
	deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	found := false
	for !found && lines.Scan() {
		var v violation
		if err := json.Unmarshal(lines.Bytes(), &v); err != nil {
			t.Fatalf("not a JSON line: %q", lines.Text())
		}
		found = v.PID == pid && v.Syscall == "uname"
	}
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if !found {
		t.Fatalf("no JSON line for pid %d", pid)
	}
	if err != nil {
		t.Errorf("after SIGINT: got %v, want exit 0", err)
	}
}

// waitAuditJoined returns once the sysrec that cmd runs has joined the
// audit log multicast group: a record made from then on reaches it.
func waitAuditJoined(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, func() error {
		err := testenv.AuditJoined(cmd.Process.Pid)
		if state, serr := procState(cmd.Process.Pid); err != nil && (serr != nil || state == "Z") {
			t.Fatalf("sysrec exited before it joined the audit log group: %v", err)
		}
		return err
	})
}

func TestViolationsUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"violations", "--source", "syslog"}, "want kmsg, audit or journal"},
		{[]string{"violations", "--since", "yesterday"}, "want a time as"},
		{[]string{"violations", "-o", "xml"}, "-o"},
		{[]string{"violations", "extra"}, "takes no arguments"},
	} {
		res := sysrec(t, tc.args...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: got exit %d, %q; want 2 and %q", tc.args, res.code, res.stderr, tc.want)
		}
	}
}

// A record from a container's process is attributed to its pod,
// namespace and container through CRI, on each runtime.
func TestViolationsAttribution(t *testing.T) {
	for _, rt := range testenv.Runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			endpoint := rt.Endpoint(t)
			// The shell itself writes (echo is a builtin), and keeps running,
			// so its pid can be attributed when the record arrives.
			profile := writeFile(t, t.TempDir(), "log-write.json",
				`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_LOG"}]}`)
			cmd := sysrecCmd(t, "violations", "--follow", "--source", "audit", "--runtime-endpoint", endpoint, "--namespace", "sysrec-viol", "-o", "json")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			startGroup(t, cmd)
			waitAuditJoined(t, cmd)
			testenv.RunPod(t, endpoint, testenv.Pod{Name: "logger", Namespace: "sysrec-viol", Seccomp: profile,
				Command: []string{"/bin/sh", "-c", "while :; do echo x >/dev/null; sleep 0.2; done"}})
			deadline := time.AfterFunc(15*time.Second, func() { cmd.Process.Kill() })
			defer deadline.Stop()
			lines := bufio.NewScanner(out)
			var got violation
			for lines.Scan() {
				var v violation
				if err := json.Unmarshal(lines.Bytes(), &v); err != nil {
					t.Fatalf("not a JSON line: %q", lines.Text())
				}
				if v.Namespace != "sysrec-viol" {
					t.Fatalf("--namespace sysrec-viol let through %+v", v)
				}
				if v.Syscall == "write" {
					got = v
					break
				}
			}
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
			if got.Pod != "logger" || got.Container != "app" || got.Workload != "logger" || got.Action != "SCMP_ACT_LOG" {
				t.Errorf("got %+v, want a logged write attributed to sysrec-viol/logger/app", got)
			}
		})
	}
}

// socketsWorkload is the name under which the test binary, run through a
// link of that name, opens one socket of each family its arguments name
// (inet, inet6, netlink, unix) and exits: 3 if one fails. Its comm is
// the link's name.
const socketsWorkload = "sysrec-sockets"

var workloadFamilies = map[string][2]int{
	"inet":    {unix.AF_INET, unix.SOCK_DGRAM},
	"netlink": {unix.AF_NETLINK, unix.SOCK_RAW},
	"unix":    {unix.AF_UNIX, unix.SOCK_STREAM},
	"inet6":   {unix.AF_INET6, unix.SOCK_DGRAM},
}

func init() {
	if filepath.Base(os.Args[0]) != socketsWorkload {
		return
	}
	for _, name := range os.Args[1:] {
		f, ok := workloadFamilies[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown family %s\n", name)
			os.Exit(2)
		}
		fd, err := unix.Socket(f[0], f[1]|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintf(os.Stderr, "socket(%s): %v\n", name, err)
			os.Exit(3)
		}
		unix.Close(fd)
	}
	os.Exit(0)
}

// socketsLink returns the path of a link to the test binary that runs it
// as the sockets workload.
func socketsLink(t *testing.T) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), socketsWorkload)
	if err := os.Symlink(os.Args[0], link); err != nil {
		t.Fatal(err)
	}
	return link
}

// inetOnlyProfile allows every syscall of the host's ABI, socket only for
// AF_INET datagram sockets (the rule record writes), and logs the rest.
func inetOnlyProfile(t *testing.T) *profiles.Profile {
	t.Helper()
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	inet, _, _ := profiles.ArgValue(native, "socket", [6]uint64{unix.AF_INET, unix.SOCK_DGRAM})
	p, err := profiles.GenerateArgs(map[syscalls.Arch][]string{native: syscalls.Names(native)},
		profiles.RecordedArgs{native: {"socket": {Values: []uint64{inet}}}}, profiles.ActLog)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(p.AllowedNames(), "socket") {
		t.Fatalf("the profile allows socket by name")
	}
	return p
}

// socketFamilies returns the families that p's socket rules allow, and
// whether it allows socket by name.
func socketFamilies(t *testing.T, p *profiles.Profile) ([]uint64, bool) {
	t.Helper()
	var fams []uint64
	for _, r := range p.Syscalls {
		if !slices.Contains(r.Names, "socket") || r.Action != profiles.ActAllow {
			continue
		}
		if len(r.Args) == 0 {
			return nil, true
		}
		for _, a := range r.Args {
			if a.Index == 0 && a.Op == profiles.OpEqualTo {
				fams = append(fams, a.Value)
			}
		}
	}
	slices.Sort(fams)
	return fams, false
}

// The rollout of a profile with argument rules: a workload opens AF_INET,
// AF_NETLINK and AF_UNIX sockets under a LOG profile that allows socket
// only for AF_INET; violations --follow --into widens the socket rule
// with exactly the two logged families, never allowing socket by name;
// the widened profile then runs the workload when enforced, and still
// refuses another family.
func TestViolationsWidenArgs(t *testing.T) {
	testenv.RequireBPF(t)
	native, _, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := writeProfile(t, dir, "profile.json", inetOnlyProfile(t))
	workload := socketsLink(t)

	stdout, stderr := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	follow := sysrecCmd(t, "--log-level", "debug", "violations", "--follow", "--source", "audit", "--runtime-endpoint", "none",
		"--comm", socketsWorkload, "--into", path, "-o", "json")
	for name, w := range map[string]*io.Writer{stdout: &follow.Stdout, stderr: &follow.Stderr} {
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		*w = f
	}
	read := func(name string) string { data, _ := os.ReadFile(name); return string(data) }
	startGroup(t, follow)
	waitAuditJoined(t, follow)

	res := sysrec(t, "run", "--profile", path, "--", workload, "inet", "netlink", "inet", "unix")
	if res.code != 0 {
		t.Fatalf("under the LOG profile: exit %d, stderr %s", res.code, res.stderr)
	}
	var records []violation
	testenv.WaitFor(t, 30*time.Second, func() error {
		records = nil
		for _, line := range strings.Split(strings.TrimSpace(read(stdout)), "\n") {
			var v violation
			if line != "" && json.Unmarshal([]byte(line), &v) == nil {
				records = append(records, v)
			}
		}
		if len(records) < 2 {
			return fmt.Errorf("violations --follow printed %d records, want 2:\n%s\n%s", len(records), read(stdout), read(stderr))
		}
		return nil
	})
	follow.Process.Signal(syscall.SIGINT)
	if err := follow.Wait(); err != nil || !strings.Contains(read(stderr), "2 syscalls added to "+path) {
		t.Fatalf("violations --into: %v; stderr %s; want 2 added (the socket rules)", err, read(stderr))
	}
	t.Logf("violations: %s", read(stderr))
	var logged []uint64
	for _, v := range records {
		if v.Syscall != "socket" || v.Arch != native || v.Action != string(profiles.ActLog) || v.Args == nil {
			t.Errorf("got %+v, want a logged socket call with its arguments", v)
			continue
		}
		logged = append(logged, v.Args[0])
	}
	if want := []uint64{unix.AF_NETLINK, unix.AF_UNIX}; !slices.Equal(logged, want) {
		t.Errorf("the records carry families %v, want %v", logged, want)
	}

	widened, _ := readProfile(t, path)
	fams, byName := socketFamilies(t, widened)
	if byName {
		t.Fatalf("after --into, socket is allowed by name")
	}
	if want := []uint64{unix.AF_UNIX, unix.AF_INET, unix.AF_NETLINK}; !slices.Equal(fams, want) {
		t.Errorf("after --into, socket is allowed for families %v, want %v", fams, want)
	}
	for _, c := range []struct {
		family, typ uint64
		allow       bool
	}{
		{unix.AF_NETLINK, unix.SOCK_RAW | unix.SOCK_CLOEXEC, true},
		{unix.AF_UNIX, unix.SOCK_STREAM, true},
		{unix.AF_INET, unix.SOCK_DGRAM, true},
		{unix.AF_PACKET, unix.SOCK_RAW, false},
		{unix.AF_INET6, unix.SOCK_DGRAM, false},
	} {
		d, err := widened.Evaluate(profiles.Query{Arch: native, Name: "socket", Args: [6]uint64{c.family, c.typ}})
		if err != nil || (d.Action == profiles.ActAllow) != c.allow {
			t.Errorf("socket(%d, %#x): got %+v, %v; want allowed %v", c.family, c.typ, d, err, c.allow)
		}
	}

	// Enforced, the widened profile runs the workload and refuses a
	// family it never logged.
	widened.DefaultAction = profiles.ActErrno
	enforced := writeProfile(t, dir, "enforced.json", widened)
	if res := sysrec(t, "run", "--profile", enforced, "--", workload, "inet", "netlink", "unix"); res.code != 0 {
		t.Errorf("under the widened profile: exit %d, stderr %s", res.code, res.stderr)
	}
	if res := sysrec(t, "run", "--profile", enforced, "--report-denied=false", "--", workload, "inet6"); res.code != 3 || !strings.Contains(res.stderr, "operation not permitted") {
		t.Errorf("AF_INET6 under the widened profile: exit %d, stderr %s; want EPERM", res.code, res.stderr)
	}
}

// Records read from the log's history carry no arguments: --into then
// leaves a syscall that the profile allows only with some values out,
// says why, and allows the rest by name as before.
func TestViolationsIntoWithoutArgs(t *testing.T) {
	testenv.RequireBPF(t)
	dir := t.TempDir()
	workload := socketsLink(t)
	logProfile := writeProfile(t, dir, "log.json", inetOnlyProfile(t))
	// The profile to add to also lacks uname, which the records name too.
	p := inetOnlyProfile(t)
	p.Syscalls[0].Names = slices.DeleteFunc(slices.Clone(p.Syscalls[0].Names), func(n string) bool { return n == "uname" })
	before := writeProfile(t, dir, "before.json", p)
	for try := 1; ; try++ {
		testenv.WaitKernelLogBudget(t)
		if res := sysrec(t, "run", "--profile", logProfile, "--", workload, "netlink"); res.code != 0 {
			t.Fatalf("under the LOG profile: exit %d, stderr %s", res.code, res.stderr)
		}
		pid := testenv.RunLogged(t) // a uname record
		path := filepath.Join(dir, fmt.Sprintf("into-%d.json", try))
		copyFile(t, before, path)
		res := sysrec(t, "violations", "--since", "1m", "--runtime-endpoint", "none", "--into", path, "-o", "json")
		if res.code != 0 {
			t.Fatalf("violations --into: exit %d, stderr %s", res.code, res.stderr)
		}
		var list []violation
		if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
			t.Fatal(err)
		}
		seen := slices.ContainsFunc(list, func(v violation) bool { return v.Comm == socketsWorkload && v.Syscall == "socket" }) &&
			slices.ContainsFunc(list, func(v violation) bool { return v.PID == pid })
		if !seen {
			if try == 4 {
				t.Fatalf("the kernel log never showed both records in %d tries", try)
			}
			continue
		}
		for _, v := range list {
			if v.Args != nil {
				t.Errorf("a record from the log's history carries arguments: %+v", v)
			}
		}
		if !strings.Contains(res.stderr, "socket ("+string(list[0].Arch)+") not added: its rules allow only some argument values, and the record carries none; run `sysrec violations --follow --into "+path) {
			t.Errorf("stderr: %s\nwant it to say why socket was not added", res.stderr)
		}
		got, _ := readProfile(t, path)
		fams, byName := socketFamilies(t, got)
		if byName || !slices.Equal(fams, []uint64{unix.AF_INET}) {
			t.Errorf("after --into: socket families %v, by name %v; want AF_INET only", fams, byName)
		}
		if !slices.Contains(got.AllowedNames(), "uname") {
			t.Errorf("after --into: uname is not allowed")
		}
		return
	}
}
