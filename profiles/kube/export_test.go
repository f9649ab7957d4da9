package kube

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/kubelet"
	"github.com/sysrec/sysrec/syscalls"
)

const validProfile = `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}` + "\n"

func uintp(v uint) *uint { return &v }

var exportFiles = []kubelet.File{
	{Rel: "web.json", Data: []byte(validProfile)},
	{Rel: "shop/cart/app.json", Data: []byte(strings.Replace(validProfile, "read", "write", 1))},
}

var exportOpts = Options{Name: "profiles", Namespace: "kube-system", Dir: "sysrec", Image: "busybox"}

func TestConfigMap(t *testing.T) {
	cm, err := ConfigMap(exportFiles, exportOpts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"web.json": string(exportFiles[0].Data), "shop__cart__app.json": string(exportFiles[1].Data)}
	if !reflect.DeepEqual(cm.Data, want) || cm.Name != "profiles" || cm.Namespace != "kube-system" || cm.Kind != "ConfigMap" || cm.APIVersion != "v1" {
		t.Errorf("got %+v, want ConfigMap kube-system/profiles with data %v", cm, want)
	}

	for _, tc := range []struct {
		name  string
		files []kubelet.File
		opts  Options
		want  string
	}{
		{"bad name", exportFiles, Options{Name: "Not_A_Name"}, "ConfigMap name"},
		{"key clash", []kubelet.File{{Rel: "a/b.json"}, {Rel: "a__b.json"}}, exportOpts, "share the ConfigMap key"},
		{"bad key", []kubelet.File{{Rel: "a b.json"}}, exportOpts, "ConfigMap key"},
		{"too big", []kubelet.File{{Rel: "big.json", Data: make([]byte, 2<<20)}}, exportOpts, "several parts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ConfigMap(tc.files, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// The DaemonSet's install script, run with the ConfigMap's files, puts
// the profiles where Install would.
func TestDaemonSetInstallsLikeInstall(t *testing.T) {
	cm, err := ConfigMap(exportFiles, exportOpts)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := DaemonSet(exportFiles, exportOpts)
	if err != nil {
		t.Fatal(err)
	}
	spec := ds.Spec.Template.Spec
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Operator != corev1.TolerationOpExists || spec.Tolerations[0].Key != "" {
		t.Errorf("tolerations: got %+v, want one that tolerates every taint", spec.Tolerations)
	}
	if !reflect.DeepEqual(ds.Spec.Selector.MatchLabels, map[string]string{labelName: "profiles"}) || ds.Spec.Template.Labels[labelName] != "profiles" {
		t.Errorf("selector %v does not select the template's labels %v", ds.Spec.Selector, ds.Spec.Template.Labels)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	if v := vols["profiles"]; v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
		t.Errorf("profiles volume: got %+v, want ConfigMap %s", v, cm.Name)
	}
	if v := vols["seccomp"]; v.HostPath == nil || v.HostPath.Path != kubelet.SeccompRoot {
		t.Errorf("seccomp volume: got %+v, want hostPath %s", v, kubelet.SeccompRoot)
	}
	if len(spec.InitContainers) != 1 || len(spec.Containers) != 1 {
		t.Fatalf("got %d init containers and %d containers, want 1 and 1", len(spec.InitContainers), len(spec.Containers))
	}
	init := spec.InitContainers[0]
	mounts := map[string]string{}
	for _, m := range init.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if init.Image != "busybox" || spec.Containers[0].Image != "busybox" {
		t.Errorf("images: got %s and %s, want busybox", init.Image, spec.Containers[0].Image)
	}

	// Run the script with the mounts replaced by directories here.
	src, host := t.TempDir(), t.TempDir()
	for k, v := range cm.Data {
		os.WriteFile(filepath.Join(src, k), []byte(v), 0o644)
	}
	if len(init.Command) != 3 || init.Command[0] != "/bin/sh" {
		t.Fatalf("init command: got %q, want /bin/sh -c SCRIPT", init.Command)
	}
	script := strings.NewReplacer("'"+mounts["profiles"]+"/", "'"+src+"/", "'"+mounts["seccomp"]+"/", "'"+host+"/").Replace(init.Command[2])
	if out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("running the install script: %v\n%s\n%s", err, out, script)
	}
	want := t.TempDir()
	if _, err := kubelet.Install(want, "sysrec", exportFiles); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, host), tree(t, want); !reflect.DeepEqual(got, want) {
		t.Errorf("the DaemonSet installs\n%v\nkubelet.Install installs\n%v", got, want)
	}

	// Other profiles, another rollout.
	other, err := DaemonSet(exportFiles[:1], exportOpts)
	if err != nil {
		t.Fatal(err)
	}
	const ann = "sysrec.dev/profiles-sha256"
	if a, b := ds.Spec.Template.Annotations[ann], other.Spec.Template.Annotations[ann]; a == "" || a == b {
		t.Errorf("profiles hash: got %q and %q for different profiles", a, b)
	}
}

// tree maps each file below dir to its content and mode.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			out[rel] = fi.Mode().String()
			return nil
		}
		data, _ := os.ReadFile(p)
		out[rel] = fi.Mode().String() + " " + string(data)
		return nil
	})
	return out
}

func TestPodPatch(t *testing.T) {
	p := PodPatch("sysrec", "web.json")
	if sc := p.Spec.Template.Spec.SecurityContext; sc == nil || sc.SeccompProfile == nil ||
		sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost || *sc.SeccompProfile.LocalhostProfile != "sysrec/web.json" {
		t.Errorf("pod-level patch: got %+v", sc)
	}
	p = PodPatch("sysrec", "shop/cart/app.json")
	cs := p.Spec.Template.Spec.Containers
	if p.Name != "cart" || p.Namespace != "shop" || len(cs) != 1 || cs[0].Name != "app" || cs[0].SecurityContext == nil ||
		*cs[0].SecurityContext.SeccompProfile.LocalhostProfile != "sysrec/shop/cart/app.json" || p.Spec.Template.Spec.SecurityContext != nil {
		t.Errorf("container patch: got %+v", p)
	}
}

func TestSeccompProfile(t *testing.T) {
	p := &profiles.Profile{
		DefaultAction: profiles.ActErrno,
		Architectures: []syscalls.Arch{syscalls.X86_64},
		Flags:         []profiles.Flag{profiles.FlagLog},
		Syscalls: []profiles.Syscall{
			{Name: "close", Names: []string{"read"}, Action: profiles.ActAllow, Comment: "dropped"},
			{Names: []string{"personality"}, Action: profiles.ActErrno, ErrnoRet: uintp(38), Args: []profiles.Arg{{Index: 0, Value: 8, Op: profiles.OpEqualTo}}},
		},
	}
	obj, err := SeccompProfile("web", "ns", p)
	if err != nil {
		t.Fatal(err)
	}
	want := SeccompProfileSpec{
		DefaultAction: profiles.ActErrno,
		Architectures: []string{"SCMP_ARCH_X86_64"},
		Flags:         []profiles.Flag{profiles.FlagLog},
		Syscalls: []spoSyscall{
			{Names: []string{"close", "read"}, Action: profiles.ActAllow},
			{Names: []string{"personality"}, Action: profiles.ActErrno, ErrnoRet: 38, Args: []profiles.Arg{{Index: 0, Value: 8, Op: profiles.OpEqualTo}}},
		},
	}
	if !reflect.DeepEqual(obj.Spec, want) || obj.Name != "web" || obj.Namespace != "ns" || obj.Kind != "SeccompProfile" {
		t.Errorf("got %+v, want spec %+v", obj, want)
	}

	for _, tc := range []struct {
		name string
		p    *profiles.Profile
		want string
	}{
		{"defaultErrnoRet", &profiles.Profile{DefaultAction: profiles.ActErrno, DefaultErrnoRet: uintp(38)}, "defaultErrnoRet"},
		{"archMap", &profiles.Profile{DefaultAction: profiles.ActErrno, ArchMap: []profiles.ArchMap{{Arch: "SCMP_ARCH_X86_64"}}}, "archMap"},
		{"includes", &profiles.Profile{DefaultAction: profiles.ActErrno, Syscalls: []profiles.Syscall{{Names: []string{"a"}, Action: profiles.ActAllow, Includes: &profiles.Filter{Caps: []string{"CAP_SYS_ADMIN"}}}}}, "syscalls[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := SeccompProfile("web", "", tc.p); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ConfigMap") {
				t.Errorf("got %v, want an error about %s that suggests a ConfigMap", err, tc.want)
			}
		})
	}
}

func TestSeccompProfileName(t *testing.T) {
	for rel, want := range map[string]string{
		"web.json":             "web",
		"shop/cart/app.json":   "shop-cart-app",
		"My_Web.json":          "my-web",
		"kube-system/x/y.json": "kube-system-x-y",
	} {
		if got := SeccompProfileName(rel); got != want {
			t.Errorf("SeccompProfileName(%q): got %q, want %q", rel, got, want)
		}
	}
}
