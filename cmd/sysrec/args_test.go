package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// flagCase is one behaviour of a command and the command lines that must
// all show it: flags before, after and among the arguments.
type flagCase struct {
	name    string
	require func(testing.TB) // nil: the case runs anywhere
	lines   [][]string       // {tmp} is a fresh directory for each line
	code    int
	check   func(t *testing.T, tmp string, res result) // nil: the status is all
}

// Every command takes its flags before, after or among its arguments, and
// "--" still ends them.
func TestFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	a, b, l := mergeInputs(t, dir)
	merged := mergeFiles(t, a, b)
	risky := writeProfile(t, dir, "risky.json", containerAllowList(syscalls.X86_64, "read", "ptrace", "read"))
	clean := writeProfile(t, dir, "clean.json", containerAllowList(syscalls.X86_64, "read", "write"))
	withMount := writeProfile(t, dir, "mount.json", allowList(syscalls.X86_64, "read", "mount"))
	deployed := writeFile(t, dir, "deployed.json", `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
		{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}`)
	allow := writeProfile(t, dir, "allow.json", &profiles.Profile{DefaultAction: profiles.ActAllow})
	// script shows the arguments it got, and exits with a status that no
	// failure of sysrec's has.
	script := writeFile(t, dir, "script", "#!/bin/sh\necho \"args:$*\"\nexit 3\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	out := "{tmp}/out.json"

	cases := []flagCase{
		{name: "lint --strict", lines: [][]string{
			{"lint", "--strict", "-o", "json", risky},
			{"lint", risky, "--strict", "-o", "json"},
			{"lint", "-o", "json", risky, "--strict"},
			{"lint", "--output=json", clean, "--strict", risky},
		}, code: 2, check: lintWarnings(2)},
		{name: "lint --strict=false", lines: [][]string{
			{"lint", "--strict=false", "-o=json", risky},
			{"lint", risky, "--strict=false", "-o=json"},
		}, code: 0, check: lintWarnings(2)},
		{name: "lint of a file called -", lines: [][]string{
			{"lint", "-o", "json", "-"},
			{"lint", "-", "-o", "json"},
		}, code: 1, check: lintedFile("-")},

		{name: "merge -o", lines: [][]string{
			{"merge", "-o", out, a, b},
			{"merge", a, b, "-o", out},
			{"merge", a, "--output", out, b},
			{"merge", "-o=" + out, a, b},
			{"merge", a, b, "--output=" + out},
		}, code: 0, check: all(wantStdout(""), wantFile("out.json", merged))},
		{name: "merge -o -", lines: [][]string{
			{"merge", "-o", "-", a, b},
			{"merge", a, b, "-o", "-"},
		}, code: 0, check: wantStdout(string(merged))},
		{name: "merge --default-action", lines: [][]string{
			{"merge", "--default-action", "log", "-o", out, a, l},
			{"merge", a, l, "--default-action", "log", "-o", out},
			{"merge", a, "--default-action=log", l, "-o", out},
		}, code: 0, check: wantDefaultAction(profiles.ActLog)},
		{name: "merge -o without a value", lines: [][]string{
			{"merge", a, b, "-o"},
		}, code: 2, check: wantStderr("flag needs an argument: -o")},

		{name: "diff -o", lines: [][]string{
			{"diff", "-o", "json", withMount, deployed},
			{"diff", withMount, deployed, "-o", "json"},
			{"diff", withMount, "-o", "json", deployed},
		}, code: 1, check: diffOf(withMount, deployed)},
		// The capability that matters comes first: a flag that kept only its
		// last value would lose it.
		{name: "diff --cap repeated", lines: [][]string{
			{"diff", "--cap", "sys_admin", "--cap", "net_admin", "-o", "json", withMount, deployed},
			{"diff", withMount, deployed, "--cap", "sys_admin", "--cap", "net_admin", "-o", "json"},
			{"diff", "--cap", "sys_admin", withMount, "-o", "json", deployed, "--cap=net_admin"},
		}, code: 0, check: diffOf(withMount, deployed)},

		{name: "export", lines: [][]string{
			{"export", "--format", "configmap", "--name", "flags", a},
			{"export", a, "--format", "configmap", "--name", "flags"},
			{"export", "--format=configmap", a, "--name=flags"},
		}, code: 0, check: configMapOf("flags", "a.json")},

		// --dir takes a value that looks like a flag.
		{name: "install --dir -x", lines: [][]string{
			{"install", "--root", "{tmp}", "--dir", "-x", a},
			{"install", a, "--root", "{tmp}", "--dir", "-x"},
			{"install", "--root", "{tmp}", a, "--dir", "-x", "-o", "json"},
		}, code: 0, check: wantInstalled("-x/a.json")},

		{name: "run --profile", lines: [][]string{
			{"run", "--profile", allow, script, "x"},
			{"run", script, "x", "--profile", allow},
			{"run", script, "-p", allow, "x"},
			{"run", script, "x", "--profile=" + allow},
		}, code: 3, check: wantStdout("args:x\n")},
		{name: "run -- CMD -o x", lines: [][]string{
			{"run", "-p", allow, "--", script, "-o", "x", "--profile", "y"},
		}, code: 3, check: wantStdout("args:-o x --profile y\n")},
		{name: "run -- CMD -p", lines: [][]string{
			{"run", "--", script, "-p", allow},
		}, code: 2, check: wantStderr("no profile given")},

		// Checked before the recording starts: no BPF needed.
		{name: "record --default-action", lines: [][]string{
			{"record", "--default-action", "deny", "--", "/bin/true"},
			{"record", "/bin/true", "--default-action", "deny"},
			{"record", "-o", out, "/bin/true", "--default-action", "deny"},
		}, code: 2, check: wantStderr("unknown seccomp action")},
		{name: "record -o", require: testenv.RequireBPF, lines: [][]string{
			{"record", "-o", out, "--", "/bin/sh", "-c", "exit 0"},
			{"record", "/bin/true", "-o", out},
			{"record", "--output=" + out, "/bin/true"},
		}, code: 0, check: wantDefaultAction(profiles.ActErrno)},
		{name: "record --default-action log", require: testenv.RequireBPF, lines: [][]string{
			{"record", "--default-action", "log", "/bin/true", "-o", out},
			{"record", "/bin/true", "--default-action=log", "-o", out},
		}, code: 0, check: wantDefaultAction(profiles.ActLog)},
		{name: "record -- CMD -o y", require: testenv.RequireBPF, lines: [][]string{
			{"record", "-o", out, "--", script, "-o", "y"},
		}, code: 3, check: all(wantStdout("args:-o y\n"), wantDefaultAction(profiles.ActErrno))},

		// --pid takes a negative value, which no process has.
		{name: "violations --pid -1", require: testenv.RequireRoot, lines: [][]string{
			{"violations", "--pid", "-1", "--since", "1m", "--runtime-endpoint", "none", "-o", "json"},
			{"violations", "--since=1m", "--pid=-1", "-o=json", "--runtime-endpoint=none"},
		}, code: 0, check: wantStdout("[]\n")},
		{name: "violations with an argument", lines: [][]string{
			{"violations", "extra", "-o", "json"},
		}, code: 2, check: wantStderr("takes no arguments")},

		{name: "global flag before the command", lines: [][]string{
			{"--log-level", "loud", "record", "/bin/true", "-o", out},
			{"--log-level=loud", "record", "-o", out, "/bin/true"},
		}, code: 2, check: wantStderr("--log-level")},
		{name: "a command's own flag without --", lines: [][]string{
			{"run", "--profile", risky, "/bin/ls", "-la"},
		}, code: 2, check: wantStderr("flag provided but not defined: -la",
			"if -la is an argument, put -- before the arguments: sysrec run --profile "+risky+" -- /bin/ls -la")},
		{name: "a quoted word in the corrected command line", lines: [][]string{
			{"record", "-o", "x y.json", "/bin/sh", "-c", "echo hi"},
		}, code: 2, check: wantStderr("put -- before the arguments: sysrec record -o 'x y.json' -- /bin/sh -c 'echo hi'")},
		{name: "global flag and command flags", lines: [][]string{
			{"--log-level", "debug", "lint", risky, "--strict", "-o", "json"},
		}, code: 2, check: lintWarnings(2)},
	}
	for _, cmd := range []string{"record", "lint", "diff", "merge", "export", "install", "run", "violations"} {
		cases = append(cases,
			flagCase{name: cmd + " unknown flag", lines: [][]string{
				{cmd, a, "--bogus"},
				{cmd, a, "--bogus=1", b},
				{cmd, "--bogus", a},
			}, code: 2, check: wantStderr("flag provided but not defined: -bogus", "see sysrec "+cmd+" --help")},
			flagCase{name: cmd + " help", lines: [][]string{
				{cmd, a, "--help"},
				{cmd, a, "-h", b},
				{cmd, "-h", a},
			}, code: 0, check: wantStdout("NAME:\n   sysrec " + cmd + " - ")},
		)
	}

	for _, tc := range cases {
		for _, line := range tc.lines {
			t.Run(tc.name, func(t *testing.T) {
				if tc.require != nil {
					tc.require(t)
				}
				tmp := t.TempDir()
				args := make([]string, len(line))
				for i, arg := range line {
					args[i] = strings.ReplaceAll(arg, "{tmp}", tmp)
				}
				res := sysrec(t, args...)
				if res.code != tc.code {
					t.Errorf("sysrec %s: got exit status %d, want %d; stderr %q", shorten(line, dir), res.code, tc.code, res.stderr)
				}
				if tc.check != nil {
					tc.check(t, tmp, res)
				}
			})
		}
	}
}

// shorten is line as a command line, with the test's directory left out.
func shorten(line []string, dir string) string {
	return strings.ReplaceAll(strings.Join(line, " "), dir+string(filepath.Separator), "")
}

// mergeFiles is what merge writes for the profiles at paths.
func mergeFiles(t *testing.T, paths ...string) []byte {
	t.Helper()
	ps, err := parseProfiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Merge(ps, "")
	if err != nil {
		t.Fatal(err)
	}
	data, err := profiles.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type check = func(t *testing.T, tmp string, res result)

// all runs each of checks.
func all(checks ...check) check {
	return func(t *testing.T, tmp string, res result) {
		for _, c := range checks {
			c(t, tmp, res)
		}
	}
}

// wantStdout wants stdout to start with prefix, and to be empty when
// prefix is.
func wantStdout(prefix string) check {
	return func(t *testing.T, _ string, res result) {
		if !strings.HasPrefix(res.stdout, prefix) || prefix == "" && res.stdout != "" {
			t.Errorf("got stdout %q, want it to start with %q", res.stdout, prefix)
		}
	}
}

func wantStderr(parts ...string) check {
	return func(t *testing.T, _ string, res result) {
		for _, s := range parts {
			if !strings.Contains(res.stderr, s) {
				t.Errorf("got stderr %q, want %q in it", res.stderr, s)
			}
		}
	}
}

// wantFile wants tmp/name to hold data.
func wantFile(name string, data []byte) check {
	return func(t *testing.T, tmp string, _ result) {
		got, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil || string(got) != string(data) {
			t.Errorf("got %s: %q, %v; want %q", name, got, err, data)
		}
	}
}

// wantDefaultAction wants a profile in tmp/out.json with action as its
// defaultAction.
func wantDefaultAction(action profiles.Action) check {
	return func(t *testing.T, tmp string, _ result) {
		p, _ := readProfile(t, filepath.Join(tmp, "out.json"))
		if p.DefaultAction != action {
			t.Errorf("got default action %s, want %s", p.DefaultAction, action)
		}
	}
}

// lintWarnings wants a JSON lint report with n warnings.
func lintWarnings(n int) check {
	return func(t *testing.T, _ string, res result) {
		var rep lintReport
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || rep.Warnings != n {
			t.Errorf("got %d warnings (%v) in %q, want %d", rep.Warnings, err, res.stdout, n)
		}
	}
}

// lintedFile wants a JSON lint report whose only finding is about file.
func lintedFile(file string) check {
	return func(t *testing.T, _ string, res result) {
		var rep lintReport
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || len(rep.Findings) != 1 || rep.Findings[0].File != file {
			t.Errorf("got report %q (%v), want one finding about %q", res.stdout, err, file)
		}
	}
}

// diffOf wants a JSON diff report of recorded against deployed.
func diffOf(recorded, deployed string) check {
	return func(t *testing.T, _ string, res result) {
		var rep diffReport
		err := json.Unmarshal([]byte(res.stdout), &rep)
		if err != nil || rep.Recorded != recorded || len(rep.Comparisons) != 1 || rep.Comparisons[0].Deployed != deployed {
			t.Errorf("got report %q (%v), want %s compared with %s", res.stdout, err, recorded, deployed)
		}
	}
}

// configMapOf wants a ConfigMap called name that holds key.
func configMapOf(name, key string) check {
	return func(t *testing.T, _ string, res result) {
		var cm corev1.ConfigMap
		strictYAML(t, res.stdout, &cm)
		if _, ok := cm.Data[key]; cm.Kind != "ConfigMap" || cm.Name != name || !ok {
			t.Errorf("got %s %s with %d keys, want ConfigMap %s with %s", cm.Kind, cm.Name, len(cm.Data), name, key)
		}
	}
}

// wantInstalled wants a profile installed as root tmp's rel.
func wantInstalled(rel string) check {
	return func(t *testing.T, tmp string, _ result) {
		if _, err := os.Stat(filepath.Join(tmp, rel)); err != nil {
			t.Errorf("got %v, want %s installed", err, rel)
		}
	}
}

// The reordering itself, for what the commands cannot show.
func TestFlagsFirst(t *testing.T) {
	app := &cli.App{
		Flags:    []cli.Flag{&cli.StringFlag{Name: "log-level"}},
		Commands: []*cli.Command{lintCommand(), mergeCommand(), diffCommand(), recordCommand()},
	}
	for _, tc := range []struct{ args, want string }{
		{"merge a b -o m", "merge -o m a b"},
		{"merge a --output=m b", "merge --output=m a b"},
		{"lint a --strict b -o json", "lint --strict -o json a b"},
		{"lint - --strict=false", "lint --strict=false -"},
		{"diff a --cap A b --cap B", "diff --cap A --cap B a b"},
		{"merge -o -5 a", "merge -o -5 a"},
		{"merge a -o -- b", "merge -o -- a b"},
		{"merge a -- -b -o c", "merge -- a -b -o c"},
		{"record -o x -- cmd -o y", "record -o x -- cmd -o y"},
		{"record cmd -o x -- -o y", "record -o x -- cmd -o y"},
		{"lint a --bogus b", "lint --bogus a b"},
		{"merge a b -o", "merge -o"},
		{"lint a -h", "lint -h"},
		{"lint a --help=false", "lint --help=false a"},
		{"--log-level debug lint a --strict", "--log-level debug lint --strict a"},
		{"--log-level lint lint a -o json", "--log-level lint lint -o json a"},
		{"recrod a -o json", "recrod a -o json"},
	} {
		got := flagsFirst(app, append([]string{"sysrec"}, strings.Fields(tc.args)...))[1:]
		if want := strings.Fields(tc.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", tc.args, got, want)
		}
	}
}
