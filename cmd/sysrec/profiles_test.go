package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/runtimes"
	"github.com/sysrec/sysrec/syscalls"
)

// writeProfile writes p as JSON to dir/name and returns its path.
func writeProfile(t *testing.T, dir, name string, p *profiles.Profile) string {
	t.Helper()
	data, err := profiles.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(data))
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func allowList(arch syscalls.Arch, names ...string) *profiles.Profile {
	return &profiles.Profile{
		DefaultAction: profiles.ActErrno,
		Architectures: []syscalls.Arch{arch},
		Syscalls:      []profiles.Syscall{{Names: names, Action: profiles.ActAllow}},
	}
}

// A profile that does not parse: the parser's error names its line.
const badProfile = "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\"names\": [\"read\"], \"action\": 7}\n  ]\n}\n"

// mergeInputs writes the profiles that merge tests combine: two allow
// lists for different architectures, and one with another default action.
func mergeInputs(t *testing.T, dir string) (a, b, log string) {
	t.Helper()
	a = writeProfile(t, dir, "a.json", allowList(syscalls.X86_64, "read", "write"))
	b = writeProfile(t, dir, "b.json", allowList(syscalls.AArch64, "close", "read"))
	logP := allowList(syscalls.X86_64, "exit")
	logP.DefaultAction = profiles.ActLog
	log = writeProfile(t, dir, "log.json", logP)
	return a, b, log
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	a, b, l := mergeInputs(t, dir)
	bad := writeFile(t, dir, "bad.json", badProfile)

	res := sysrec(t, "merge", a, b)
	if res.code != 0 {
		t.Fatalf("exit status %d: %s", res.code, res.stderr)
	}
	want := &profiles.Profile{
		DefaultAction: profiles.ActErrno,
		Architectures: []syscalls.Arch{syscalls.AArch64, syscalls.X86_64},
		Syscalls:      []profiles.Syscall{{Names: []string{"close", "read", "write"}, Action: profiles.ActAllow}},
	}
	wantData, _ := profiles.Marshal(want)
	if res.stdout != string(wantData) {
		t.Errorf("got\n%s\nwant\n%s", res.stdout, wantData)
	}

	// To a file, in the other order: the same bytes.
	out := filepath.Join(dir, "out.json")
	if res := sysrec(t, "merge", "-o", out, b, a); res.code != 0 || res.stdout != "" {
		t.Fatalf("merge -o: status %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, wantData) {
		t.Errorf("merge -o in the other order: got\n%s\nwant\n%s", got, wantData)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"conflicting default actions", []string{a, l}, 1, []string{"defaultAction differs", a + " has SCMP_ACT_ERRNO", l + " has SCMP_ACT_LOG", "--default-action"}},
		{"default action settles it", []string{"--default-action", "log", a, l}, 0, nil},
		{"bad default action", []string{"--default-action", "allowish", a}, 2, []string{"--default-action"}},
		{"no profile", nil, 2, []string{"no profile given"}},
		{"invalid profile", []string{a, bad}, 1, []string{bad + ":4:"}},
		{"missing file", []string{a, filepath.Join(dir, "none.json")}, 1, []string{"none.json", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sysrec(t, append([]string{"merge"}, tc.args...)...)
			if res.code != tc.code {
				t.Errorf("exit status: got %d, want %d; stderr %s", res.code, tc.code, res.stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(res.stderr, s) {
					t.Errorf("stderr %q lacks %q", res.stderr, s)
				}
			}
		})
	}
}

func TestInstall(t *testing.T) {
	src := t.TempDir()
	web := writeProfile(t, src, "web.json", allowList(syscalls.X86_64, "read"))
	// A tree as record --containers writes it.
	tree := filepath.Join(src, "profiles")
	app := allowList(syscalls.X86_64, "write")
	writeProfile(t, tree, "shop/cart/app.json", app)
	writeProfile(t, tree, "shop/cart/sidecar.json", allowList(syscalls.X86_64, "close"))
	writeFile(t, tree, "index.json", `{"profiles": []}`)

	root := t.TempDir()
	res := sysrec(t, "install", "-o", "json", "--root", root, web, tree)
	if res.code != 0 {
		t.Fatalf("exit status %d: %s", res.code, res.stderr)
	}
	var rep struct{ Installed []installed }
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("stdout: %v\n%s", err, res.stdout)
	}
	want := []installed{
		{web, filepath.Join(root, "sysrec/web.json"), "sysrec/web.json"},
		{filepath.Join(tree, "shop/cart/app.json"), filepath.Join(root, "sysrec/shop/cart/app.json"), "sysrec/shop/cart/app.json"},
		{filepath.Join(tree, "shop/cart/sidecar.json"), filepath.Join(root, "sysrec/shop/cart/sidecar.json"), "sysrec/shop/cart/sidecar.json"},
	}
	if !reflect.DeepEqual(rep.Installed, want) {
		t.Errorf("got %+v\nwant %+v", rep.Installed, want)
	}
	for _, w := range want {
		if _, err := os.Stat(filepath.Join(root, w.LocalhostProfile)); err != nil {
			t.Errorf("%s was not installed: %v", w.LocalhostProfile, err)
		}
	}
	if res := sysrec(t, "install", "--root", root, web); res.code != 0 || !strings.Contains(res.stdout, "LOCALHOST PROFILE") || !strings.Contains(res.stdout, "sysrec/web.json") {
		t.Errorf("table: status %d:\n%s%s", res.code, res.stdout, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "sysrec", "index.json")); err == nil {
		t.Error("index.json was installed")
	}
	got, _ := readProfile(t, filepath.Join(root, "sysrec/shop/cart/app.json"))
	if !reflect.DeepEqual(got, app) {
		t.Errorf("installed profile: got %+v, want %+v", got, app)
	}

	outside := t.TempDir()
	linked := t.TempDir()
	os.Symlink(outside, filepath.Join(linked, "sysrec"))
	bad := writeFile(t, src, "bad.json", badProfile)
	plain := t.TempDir()
	hostile := t.TempDir()
	writeFile(t, hostile, "index.json", `{"profiles": [{"profile": "../../web.json"}]}`)
	partial := t.TempDir()
	writeProfile(t, partial, "shop/cart/app.json", app)
	writeFile(t, partial, "index.json", `{"profiles": [{"profile": "shop/cart/app.json"}, {"profile": "shop/cart/gone.json"}]}`)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"invalid profile", []string{"--root", root, web, bad}, 1, bad + ":4:"},
		{"linked install dir", []string{"--root", linked, web}, 1, "symbolic link"},
		{"bad dir", []string{"--root", root, "--dir", "../etc", web}, 2, "--dir"},
		{"no profile", []string{"--root", root}, 2, "no profile given"},
		{"bad format", []string{"-o", "xml", "--root", root, web}, 2, "-o"},
		{"directory without index", []string{"--root", root, plain}, 1, "without index.json"},
		{"index with an escaping path", []string{"--root", root, hostile}, 1, `profile "../../web.json"`},
		{"index lists a missing profile", []string{"--root", root, partial}, 1, "lists shop/cart/gone.json, which is missing"},
		{"two profiles, one name", []string{"--root", root, web, filepath.Join(tree, "shop/cart/app.json"), writeProfile(t, plain, "web.json", app)}, 1, "would both be installed as web.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sysrec(t, append([]string{"install"}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("got status %d, stderr %q; want %d and %q", res.code, res.stderr, tc.code, tc.stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("install wrote through a link: %v", entries)
	}
}

// spoSeccompProfile mirrors the security-profiles-operator's
// SeccompProfile (api/seccompprofile/v1beta1), to decode export's output
// strictly.
type spoSeccompProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Disabled         bool     `json:"disabled,omitempty"`
		BaseProfileName  string   `json:"baseProfileName,omitempty"`
		DefaultAction    string   `json:"defaultAction"`
		Architectures    []string `json:"architectures,omitempty"`
		ListenerPath     string   `json:"listenerPath,omitempty"`
		ListenerMetadata string   `json:"listenerMetadata,omitempty"`
		Syscalls         []*struct {
			Names    []string `json:"names"`
			Action   string   `json:"action"`
			ErrnoRet uint     `json:"errnoRet,omitempty"`
			Args     []*struct {
				Index    uint   `json:"index"`
				Value    uint64 `json:"value,omitempty"`
				ValueTwo uint64 `json:"valueTwo,omitempty"`
				Op       string `json:"op"`
			} `json:"args,omitempty"`
		} `json:"syscalls,omitempty"`
		Flags []*string `json:"flags,omitempty"`
	} `json:"spec,omitempty"`
}

// documents splits multi-document YAML.
func documents(s string) []string {
	return strings.Split(strings.TrimPrefix(s, "---\n"), "\n---\n")
}

func strictYAML(t *testing.T, doc string, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		t.Fatalf("decoding %T strictly: %v\n%s", v, err, doc)
	}
}

func TestExport(t *testing.T) {
	src := t.TempDir()
	webP := allowList(syscalls.X86_64, "read", "write")
	web := writeProfile(t, src, "web.json", webP)
	tree := filepath.Join(src, "profiles")
	appP := allowList(syscalls.AArch64, "close")
	writeProfile(t, tree, "shop/cart/app.json", appP)
	writeFile(t, tree, "index.json", `{"profiles": []}`)
	webData, _ := os.ReadFile(web)

	t.Run("daemonset", func(t *testing.T) {
		res := sysrec(t, "export", "--format", "daemonset", "--namespace", "kube-system", "--name", "seccomp", web, tree)
		if res.code != 0 {
			t.Fatalf("exit status %d: %s", res.code, res.stderr)
		}
		docs := documents(res.stdout)
		if len(docs) != 2 {
			t.Fatalf("got %d documents, want a ConfigMap and a DaemonSet:\n%s", len(docs), res.stdout)
		}
		var cm corev1.ConfigMap
		strictYAML(t, docs[0], &cm)
		if cm.Kind != "ConfigMap" || cm.Name != "seccomp" || cm.Namespace != "kube-system" || len(cm.Data) != 2 {
			t.Errorf("got %+v, want ConfigMap kube-system/seccomp with 2 keys", cm)
		}
		if cm.Data["web.json"] != string(webData) {
			t.Errorf("web.json: got %q, want the file's bytes %q", cm.Data["web.json"], webData)
		}
		app, err := profiles.Parse([]byte(cm.Data["shop__cart__app.json"]), "app")
		if err != nil || !reflect.DeepEqual(app, appP) {
			t.Errorf("shop__cart__app.json: got %+v, %v; want %+v", app, err, appP)
		}
		var ds appsv1.DaemonSet
		strictYAML(t, docs[1], &ds)
		if ds.Kind != "DaemonSet" || ds.APIVersion != "apps/v1" || ds.Name != "seccomp" || ds.Namespace != "kube-system" {
			t.Errorf("got %s %s %s/%s, want apps/v1 DaemonSet kube-system/seccomp", ds.APIVersion, ds.Kind, ds.Namespace, ds.Name)
		}
		script := ds.Spec.Template.Spec.InitContainers[0].Command[2]
		for _, s := range []string{"'/host/sysrec/web.json'", "'/host/sysrec/shop/cart/app.json'", "'/profiles/shop__cart__app.json'"} {
			if !strings.Contains(script, s) {
				t.Errorf("install script lacks %s:\n%s", s, script)
			}
		}
		if strings.Contains(res.stdout, "status:") || strings.Contains(res.stdout, "creationTimestamp") {
			t.Errorf("output holds fields the cluster writes:\n%s", res.stdout)
		}
	})

	t.Run("configmap", func(t *testing.T) {
		res := sysrec(t, "export", "--format", "configmap", web)
		if res.code != 0 {
			t.Fatalf("exit status %d: %s", res.code, res.stderr)
		}
		var cm corev1.ConfigMap
		strictYAML(t, res.stdout, &cm)
		if cm.Name != "sysrec-seccomp-profiles" || cm.Namespace != "" || cm.Data["web.json"] != string(webData) {
			t.Errorf("got %+v", cm)
		}
	})

	t.Run("seccompprofile", func(t *testing.T) {
		res := sysrec(t, "export", "--format", "seccompprofile", "--namespace", "shop", web, tree)
		if res.code != 0 {
			t.Fatalf("exit status %d: %s", res.code, res.stderr)
		}
		docs := documents(res.stdout)
		if len(docs) != 2 {
			t.Fatalf("got %d documents, want 2:\n%s", len(docs), res.stdout)
		}
		for i, want := range []struct {
			name string
			p    *profiles.Profile
		}{{"web", webP}, {"shop-cart-app", appP}} {
			var sp spoSeccompProfile
			strictYAML(t, docs[i], &sp)
			if sp.APIVersion != "security-profiles-operator.x-k8s.io/v1beta1" || sp.Kind != "SeccompProfile" || sp.Name != want.name || sp.Namespace != "shop" {
				t.Errorf("got %s %s %s/%s, want SeccompProfile shop/%s", sp.APIVersion, sp.Kind, sp.Namespace, sp.Name, want.name)
			}
			// The spec is the profile: it decodes as one.
			spec, _ := json.Marshal(sp.Spec)
			got, err := profiles.Parse(spec, want.name)
			if err != nil || !reflect.DeepEqual(got, want.p) {
				t.Errorf("spec: got %+v, %v; want %+v", got, err, want.p)
			}
		}
	})

	t.Run("pod-patch matches install", func(t *testing.T) {
		res := sysrec(t, "export", "--format", "pod-patch", "--dir", "mine", web, tree)
		if res.code != 0 {
			t.Fatalf("exit status %d: %s", res.code, res.stderr)
		}
		root := t.TempDir()
		if res := sysrec(t, "install", "--root", root, "--dir", "mine", web, tree); res.code != 0 {
			t.Fatalf("install: exit status %d: %s", res.code, res.stderr)
		}
		docs := documents(res.stdout)
		if len(docs) != 2 {
			t.Fatalf("got %d documents, want 2:\n%s", len(docs), res.stdout)
		}
		var pod, ctr appsv1.Deployment
		strictYAML(t, docs[0], &pod)
		strictYAML(t, docs[1], &ctr)
		sc := pod.Spec.Template.Spec.SecurityContext
		if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost {
			t.Fatalf("pod patch: got %+v, want a Localhost seccompProfile", pod.Spec.Template.Spec)
		}
		cs := ctr.Spec.Template.Spec.Containers
		if len(cs) != 1 || cs[0].Name != "app" || ctr.Name != "cart" || ctr.Namespace != "shop" || cs[0].SecurityContext == nil || cs[0].SecurityContext.SeccompProfile == nil {
			t.Fatalf("container patch: got %+v, want container app of shop/cart", ctr)
		}
		for _, sp := range []*corev1.SeccompProfile{sc.SeccompProfile, cs[0].SecurityContext.SeccompProfile} {
			if sp.LocalhostProfile == nil {
				t.Fatalf("no localhostProfile in %+v", sp)
			}
			if _, err := os.Stat(filepath.Join(root, *sp.LocalhostProfile)); err != nil {
				t.Errorf("localhostProfile %s is not where install put the profile: %v", *sp.LocalhostProfile, err)
			}
		}
	})

	bad := writeFile(t, src, "bad.json", badProfile)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no format", []string{web}, 2, "--format is required"},
		{"bad format", []string{"--format", "helm", web}, 2, "--format"},
		{"no profile", []string{"--format", "configmap"}, 2, "no profile given"},
		{"invalid profile", []string{"--format", "configmap", bad}, 1, bad + ":4:"},
		{"bad name", []string{"--format", "configmap", "--name", "Bad_Name", web}, 1, "ConfigMap name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sysrec(t, append([]string{"export"}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("got status %d, stderr %q; want %d and %q", res.code, res.stderr, tc.code, tc.stderr)
			}
		})
	}
}

func TestLint(t *testing.T) {
	dir := t.TempDir()
	clean := writeProfile(t, dir, "clean.json", containerAllowList(syscalls.X86_64, "read", "write"))
	risky := writeProfile(t, dir, "risky.json", containerAllowList(syscalls.X86_64, "read", "ptrace", "read"))
	bad := writeFile(t, dir, "bad.json", badProfile)
	var defaults []string
	for _, rt := range runtimes.Names {
		p, err := runtimes.Default(rt)
		if err != nil {
			t.Fatal(err)
		}
		defaults = append(defaults, writeProfile(t, dir, rt+".json", p))
	}
	// Debian's /usr/share/containers/seccomp.json, as committed.
	defaults = append(defaults, "../../profiles/testdata/containers-common-seccomp.json")

	for _, tc := range []struct {
		name             string
		args             []string
		code             int
		errors, warnings int // -1: some
		want             []string
	}{
		{"clean", []string{clean}, 0, 0, 0, nil},
		{"clean, strict", []string{"--strict", clean}, 0, 0, 0, nil},
		{"warnings", []string{risky}, 0, 0, 2, []string{"duplicate-name syscalls[0].names[2]", "dangerous-syscall syscalls[0].names[1]"}},
		{"warnings, strict", []string{"--strict", risky}, 2, 0, 2, nil},
		{"errors", []string{"--strict", clean, bad, risky}, 1, -1, 2, []string{"parse syscalls[0].action"}},
		{"missing file", []string{filepath.Join(dir, "none.json")}, 1, 1, 0, []string{"parse "}},
		{"runtime defaults", defaults, 0, 0, -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sysrec(t, append([]string{"lint", "-o", "json"}, tc.args...)...)
			if res.code != tc.code {
				t.Errorf("exit status: got %d, want %d; stderr %s", res.code, tc.code, res.stderr)
			}
			var rep lintReport
			dec := json.NewDecoder(strings.NewReader(res.stdout))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rep); err != nil {
				t.Fatalf("stdout is not a lint report: %v\n%s", err, res.stdout)
			}
			if tc.errors >= 0 && rep.Errors != tc.errors || tc.errors < 0 && rep.Errors == 0 ||
				tc.warnings >= 0 && rep.Warnings != tc.warnings || tc.warnings < 0 && rep.Warnings == 0 {
				t.Errorf("got %d errors and %d warnings, want %d and %d (-1: some):\n%s", rep.Errors, rep.Warnings, tc.errors, tc.warnings, res.stdout)
			}
			for _, f := range rep.Findings {
				if f.File == risky && f.Line == 0 {
					t.Errorf("finding without a line: %+v", f)
				}
			}
			for _, w := range tc.want {
				found := false
				for _, f := range rep.Findings {
					found = found || strings.HasPrefix(f.Code+" "+f.Path, w)
				}
				if !found {
					t.Errorf("no finding %q in\n%s", w, res.stdout)
				}
			}
		})
	}

	// The parser's position reaches the table, and YAML has the JSON's
	// schema.
	res := sysrec(t, "lint", bad)
	if res.code != 1 || !strings.Contains(res.stdout, bad) || !strings.Contains(res.stdout, "4:") || !strings.HasPrefix(res.stdout, "FILE") {
		t.Errorf("table: got status %d:\n%s", res.code, res.stdout)
	}
	res = sysrec(t, "lint", "-o", "yaml", risky)
	var rep lintReport
	if err := yaml.UnmarshalStrict([]byte(res.stdout), &rep); err != nil || rep.Warnings != 2 || rep.Findings[0].File != risky {
		t.Errorf("yaml: got %+v, %v:\n%s", rep, err, res.stdout)
	}

	for _, args := range [][]string{{"lint"}, {"lint", "-o", "xml", clean}} {
		if res := sysrec(t, args...); res.code != 2 {
			t.Errorf("%q: exit status %d, want 2; stderr %s", args, res.code, res.stderr)
		}
	}
}

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	recorded := writeProfile(t, dir, "recorded.json", allowList(syscalls.X86_64, "read", "write", "ptrace"))
	small := writeProfile(t, dir, "small.json", allowList(syscalls.X86_64, "read", "write"))
	withMount := writeProfile(t, dir, "mount.json", allowList(syscalls.X86_64, "read", "mount"))
	deployed := writeFile(t, dir, "deployed.json", `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
		{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
		{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}`)
	bpf := writeProfile(t, dir, "bpf.json", allowList(syscalls.X86_64, "read", "bpf"))
	bad := writeFile(t, dir, "bad.json", badProfile)

	type want struct{ deployed, syscall, verdict string }
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		deployed []string
		rows     []want
		stderr   string
	}{
		{"would break", []string{recorded, deployed}, 1, []string{deployed},
			[]want{{deployed, "ptrace", "denied"}, {deployed, "read", "allowed"}, {deployed, "close", "unused"}}, "would break"},
		{"fits", []string{small, deployed}, 0, []string{deployed},
			[]want{{deployed, "write", "allowed"}, {deployed, "close", "unused"}}, "0 denied"},
		{"default capabilities", []string{withMount, deployed}, 1, []string{deployed},
			[]want{{deployed, "mount", "denied"}}, "would break"},
		{"more capabilities", []string{"--cap", "sys_admin", withMount, deployed}, 0, []string{deployed},
			[]want{{deployed, "mount", "allowed"}}, ""},
		{"runtime defaults", []string{small, "runtime/default"}, 0,
			[]string{"runtime/default:containerd", "runtime/default:crio", "runtime/default:docker"},
			[]want{{"runtime/default:crio", "read", "allowed"}, {"runtime/default:docker", "ptrace", "unused"}}, ""},
		{"one runtime default", []string{bpf, "runtime/default:docker"}, 1, []string{"runtime/default:docker"},
			[]want{{"runtime/default:docker", "bpf", "denied"}}, "runtime/default:docker denies 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sysrec(t, append([]string{"diff", "-o", "json"}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("got status %d, stderr %q; want %d and %q", res.code, res.stderr, tc.code, tc.stderr)
			}
			var rep diffReport
			dec := json.NewDecoder(strings.NewReader(res.stdout))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rep); err != nil {
				t.Fatalf("stdout is not a diff report: %v\n%s", err, res.stdout)
			}
			var names []string
			got := map[want]bool{}
			for _, e := range rep.Comparisons {
				names = append(names, e.Deployed)
				for _, ac := range e.Arches {
					for _, v := range ac.Syscalls {
						got[want{e.Deployed, v.Name, v.Verdict}] = true
					}
				}
			}
			if !reflect.DeepEqual(names, tc.deployed) || rep.Recorded != tc.args[len(tc.args)-2] {
				t.Errorf("compared %s with %q, want %q", rep.Recorded, names, tc.deployed)
			}
			for _, w := range tc.rows {
				if !got[w] {
					t.Errorf("no row %+v in\n%s", w, res.stdout)
				}
			}
		})
	}

	// The table names the deciding rules.
	res := sysrec(t, "diff", recorded, deployed)
	// ptrace is above every syscall the kept rules name (mount needs
	// CAP_SYS_ADMIN), so runc's stub answers it.
	for _, s := range []string{"DEPLOYED", "ptrace", "denied", "runc's ENOSYS stub (newer than every syscall the profile names): SCMP_ACT_ERRNO(38)", "syscalls[0] (basics): SCMP_ACT_ALLOW"} {
		if !strings.Contains(res.stdout, s) {
			t.Errorf("table lacks %q:\n%s", s, res.stdout)
		}
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"one argument", []string{recorded}, 2, "want RECORDED and DEPLOYED"},
		{"bad arch", []string{"--arch", "sparc", recorded, deployed}, 2, "--arch"},
		{"bad format", []string{"-o", "xml", recorded, deployed}, 2, "-o"},
		{"unknown runtime", []string{recorded, "runtime/default:podman"}, 2, "podman"},
		{"invalid recorded", []string{bad, deployed}, 1, bad + ":4:"},
		{"invalid deployed", []string{recorded, bad}, 1, bad + ":4:"},
		{"no runtime", []string{"--runtime-endpoint", "unix://" + filepath.Join(dir, "none.sock"), recorded, "container:abc"}, 1, "none.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sysrec(t, append([]string{"diff"}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("got status %d, stderr %q; want %d and %q", res.code, res.stderr, tc.code, tc.stderr)
			}
		})
	}
}

// diff explains an argument denial: the recorded value, the rule that
// denies it, and the rules that allow the syscall.
func TestDiffArgs(t *testing.T) {
	dir := t.TempDir()
	x64 := syscalls.X86_64
	generate := func(name string, values ...uint64) string {
		p, err := profiles.GenerateArgs(map[syscalls.Arch][]string{x64: {"read", "socket", "unshare"}}, profiles.RecordedArgs{x64: {
			"socket":  {Values: values},
			"unshare": {Values: []uint64{profiles.CloneNewNet}},
		}}, profiles.ActErrno)
		if err != nil {
			t.Fatal(err)
		}
		return writeProfile(t, dir, name, p)
	}
	// socket(AF_NETLINK, SOCK_RAW) and socket(AF_INET6, SOCK_STREAM).
	netlink := generate("netlink.json", 16<<8|3)
	mixed := generate("mixed.json", 16<<8|3, 10<<8|1)
	deployed := writeFile(t, dir, "deployed.json", `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
		{"names": ["read", "unshare"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 15, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}], "comment": "web"},
		{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 15, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}]}`)

	for _, tc := range []struct {
		recorded, verdict string
		line              []string
		stderr            string
	}{
		{netlink, "denied", []string{"socket", "denied",
			"recorded socket(AF_NETLINK, SOCK_RAW) -> defaultAction: SCMP_ACT_ERRNO(1); allowed only when: socket(AF_INET6, SOCK_STREAM) (syscalls[1]), socket(AF_UNIX, SOCK_DGRAM) (syscalls[2])"},
			"1 denied, 0 partly denied"},
		{mixed, "partly-denied", []string{"socket", "partly-denied",
			"recorded socket(AF_NETLINK, SOCK_RAW) -> defaultAction: SCMP_ACT_ERRNO(1); allowed only when: socket(AF_INET6, SOCK_STREAM) (syscalls[1]), socket(AF_UNIX, SOCK_DGRAM) (syscalls[2])"},
			"denies some recorded argument values of 1"},
	} {
		res := sysrec(t, "diff", tc.recorded, deployed)
		if res.code != 1 || !strings.Contains(res.stderr, tc.stderr) {
			t.Errorf("%s: got status %d, stderr %q; want 1 and %q", tc.recorded, res.code, res.stderr, tc.stderr)
		}
		found := false
		for _, l := range strings.Split(res.stdout, "\n") {
			if f := strings.Fields(l); len(f) > 4 && f[2] == tc.line[0] && f[3] == tc.line[1] {
				found = strings.HasSuffix(l, tc.line[2])
			}
		}
		if !found {
			t.Errorf("%s: no line %q in\n%s", tc.recorded, tc.line, res.stdout)
		}
		// unshare(CLONE_NEWNET) is allowed by name.
		if !regexp.MustCompile(`unshare\s+allowed\s+syscalls\[0\]: SCMP_ACT_ALLOW`).MatchString(res.stdout) {
			t.Errorf("%s: unshare is not allowed by syscalls[0]:\n%s", tc.recorded, res.stdout)
		}

		res = sysrec(t, "diff", "-o", "json", tc.recorded, deployed)
		var rep diffReport
		dec := json.NewDecoder(strings.NewReader(res.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("stdout is not a diff report: %v\n%s", err, res.stdout)
		}
		var socket *profiles.Verdict
		for i, v := range rep.Comparisons[0].Arches[0].Syscalls {
			if v.Name == "socket" {
				socket = &rep.Comparisons[0].Arches[0].Syscalls[i]
			}
		}
		if socket == nil || socket.Verdict != tc.verdict || len(socket.AllowedBy) != 2 || socket.AllowedBy[0].Comment != "web" {
			t.Fatalf("%s: socket: got %+v", tc.recorded, socket)
		}
		var denied []string
		for _, v := range socket.Values {
			if !v.Allowed {
				denied = append(denied, fmt.Sprintf("%s %s %d", v.Value, v.Decision.Action, v.Decision.Rule))
			}
		}
		if want := []string{"socket(AF_NETLINK, SOCK_RAW) SCMP_ACT_ERRNO -1"}; !reflect.DeepEqual(denied, want) {
			t.Errorf("%s: denied values %q, want %q", tc.recorded, denied, want)
		}
		if rep.Comparisons[0].Counts[tc.verdict] != 1 {
			t.Errorf("%s: counts %v", tc.recorded, rep.Comparisons[0].Counts)
		}
	}

	// The recorded profile fits itself.
	if res := sysrec(t, "diff", mixed, mixed); res.code != 0 || !strings.Contains(res.stderr, "0 denied, 0 partly denied") {
		t.Errorf("a recorded profile against itself: status %d, %s\n%s", res.code, res.stderr, res.stdout)
	}
}

// diff container:ID reads the profile that the runtime enforces.
func TestDiffContainer(t *testing.T) {
	for _, r := range testenv.Runtimes {
		t.Run(r.Name, func(t *testing.T) {
			endpoint := r.Endpoint(t)
			dir := t.TempDir()
			local := writeFile(t, dir, "local.json", `{"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}`)
			id := testenv.RunPod(t, endpoint, testenv.Pod{Name: "diff", Namespace: "sysrec-test", Command: []string{"/bin/sleep", "60"}, Seccomp: local})
			native, _, _ := syscalls.Host()
			recorded := writeProfile(t, dir, "recorded.json", allowList(native, "read", "ptrace"))
			res := sysrec(t, "diff", "-o", "json", "--runtime-endpoint", endpoint, recorded, "container:"+id)
			if res.code != 1 {
				t.Fatalf("exit status %d, want 1 (ptrace denied): %s\n%s", res.code, res.stderr, res.stdout)
			}
			var rep diffReport
			if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || len(rep.Comparisons) != 1 {
				t.Fatalf("got %v:\n%s", err, res.stdout)
			}
			verdicts := map[string]string{}
			for _, v := range rep.Comparisons[0].Arches[0].Syscalls {
				verdicts[v.Name] = v.Verdict
			}
			if verdicts["ptrace"] != "denied" || verdicts["read"] != "allowed" {
				t.Errorf("got %v, want ptrace denied and read allowed (logged)", verdicts)
			}
		})
	}
}
