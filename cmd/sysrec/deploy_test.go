package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/sysrec/sysrec/deploy"
	"github.com/sysrec/sysrec/syscalls"
)

// kubeDecoder decodes YAML or JSON strictly into typed objects, as kubectl
// would.
func kubeDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

func TestExportDeploy(t *testing.T) {
	dec := kubeDecoder(t)

	t.Run("defaults are deploy/sysrec.yaml", func(t *testing.T) {
		res := sysrec(t, "export", "deploy")
		if res.code != 0 {
			t.Fatalf("exit status %d: %s", res.code, res.stderr)
		}
		file, err := os.ReadFile("../../deploy/sysrec.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(file), res.stdout) || !strings.HasPrefix(res.stdout, "apiVersion: v1\nkind: Namespace\n") {
			t.Errorf("sysrec export deploy differs from deploy/sysrec.yaml (run go generate ./deploy):\n%s", res.stdout)
		}
	})

	// The test cluster's options, flags after the mode as after profiles.
	opts := deploy.Options{
		Namespace:          "sysrec-test",
		Image:              "localhost/sysrec:test",
		ImagePullPolicy:    corev1.PullNever,
		SeccompRoot:        "/var/lib/sysrec-test/cluster/$(NODE_NAME)/kubelet/seccomp",
		RuntimeEndpoint:    "unix:///var/lib/sysrec-test/cluster/$(NODE_NAME)/containerd/containerd.sock",
		ContainerdAddress:  "/run/sysrec-test/containerd.sock",
		PodCgroupRoots:     []string{"$(NODE_NAME)/kubepods", "kubepods.slice"},
		APIServer:          "10.0.2.15:6443",
		ControllerReplicas: 2,
	}
	args := []string{"export", "deploy",
		"--namespace", opts.Namespace, "--image", opts.Image, "--image-pull-policy=Never",
		"--seccomp-root", opts.SeccompRoot, "--runtime-endpoint", opts.RuntimeEndpoint,
		"--containerd-address", opts.ContainerdAddress,
		"--pod-cgroup-root", opts.PodCgroupRoots[0], "--pod-cgroup-root", opts.PodCgroupRoots[1],
		"--api-server", opts.APIServer, "--controller-replicas", "2"}

	t.Run("options", func(t *testing.T) {
		res := sysrec(t, args...)
		if res.code != 0 {
			t.Fatalf("exit status %d: %s", res.code, res.stderr)
		}
		want, err := deploy.YAML(opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.stdout != string(want) {
			t.Errorf("got\n%s\nwant deploy.YAML(%+v):\n%s", res.stdout, opts, want)
		}
		var ds *appsv1.DaemonSet
		for _, doc := range documents(res.stdout) {
			obj, _, err := dec.Decode([]byte(doc), nil, nil)
			if err != nil {
				t.Fatalf("decoding: %v\n%s", err, doc)
			}
			if d, ok := obj.(*appsv1.DaemonSet); ok {
				ds = d
			}
		}
		if ds == nil || ds.Namespace != "sysrec-test" {
			t.Fatalf("no DaemonSet in namespace sysrec-test:\n%s", res.stdout)
		}
		c := ds.Spec.Template.Spec.Containers[0]
		if c.Image != opts.Image || c.ImagePullPolicy != corev1.PullNever || !slices.Contains(c.Args, "--seccomp-root="+deploy.HostSeccompRoot) || !slices.Contains(c.Args, "--runtime-endpoint=unix://"+deploy.HostCRIDir+"/containerd.sock") {
			t.Errorf("agent container %s %s %q", c.Image, c.ImagePullPolicy, c.Args)
		}
	})

	t.Run("json", func(t *testing.T) {
		res := sysrec(t, append(args, "-o", "json")...)
		if res.code != 0 {
			t.Fatalf("exit status %d: %s", res.code, res.stderr)
		}
		want, err := deploy.JSON(opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.stdout != string(want) {
			t.Errorf("got\n%s\nwant deploy.JSON:\n%s", res.stdout, want)
		}
		obj, _, err := dec.Decode([]byte(res.stdout), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		list, ok := obj.(*corev1.List)
		if !ok || len(list.Items) != 12 {
			t.Fatalf("got %T, want a v1 List of 12 objects", obj)
		}
		for _, item := range list.Items {
			if _, _, err := dec.Decode(item.Raw, nil, nil); err != nil {
				t.Errorf("item: %v", err)
			}
		}
	})

	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"argument", []string{"deploy", "profiles/"}, "export deploy takes no arguments"},
		{"profile flag", []string{"deploy", "--dir", "x"}, "--dir is for the profile formats only"},
		{"bad output", []string{"deploy", "-o", "table"}, `-o "table": want yaml or json`},
		{"empty image", []string{"deploy", "--image="}, "--image is empty"},
		{"bad pull policy", []string{"deploy", "--image-pull-policy", "Sometimes"}, "want Always, IfNotPresent or Never"},
		{"relative seccomp root", []string{"deploy", "--seccomp-root", "seccomp"}, `seccomp root "seccomp": want an absolute path`},
		{"tcp endpoint", []string{"deploy", "--runtime-endpoint", "tcp://h:1"}, "want a unix socket"},
		{"bad api server", []string{"deploy", "--api-server", "10.0.0.1"}, "want host:port"},
		{"zero replicas", []string{"deploy", "--controller-replicas", "0"}, "want 1 or more"},
		{"bad namespace", []string{"deploy", "--namespace", "Sys_Rec"}, `namespace "Sys_Rec"`},
		{"deploy flag with a format", []string{"--format", "configmap", "x.json", "--seccomp-root", "/x"}, "--seccomp-root is for sysrec export deploy only"},
		{"-o with a format", []string{"--format", "configmap", "x.json", "-o", "json"}, "-o is for sysrec export deploy only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sysrec(t, append([]string{"export"}, tc.args...)...)
			if res.code != 2 || !strings.Contains(res.stderr, tc.stderr) || res.stdout != "" {
				t.Errorf("got status %d, stderr %q, stdout %q; want 2 and %q", res.code, res.stderr, res.stdout, tc.stderr)
			}
		})
	}
}

// TestExportDeployKeepsProfileUsage checks export's usage from before
// deploy: flags after the profiles, and a profile named deploy.
func TestExportDeployKeepsProfileUsage(t *testing.T) {
	dir := t.TempDir()
	writeProfile(t, dir, "deploy", allowList(syscalls.X86_64, "read"))
	cmd := sysrecCmd(t, "export", "--format", "configmap", "deploy", "--name", "from-dir")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res := finish(t, cmd, &stdout, &stderr)
	if res.code != 0 {
		t.Fatalf("exit status %d: %s", res.code, res.stderr)
	}
	var cm corev1.ConfigMap
	strictYAML(t, res.stdout, &cm)
	if cm.Name != "from-dir" || len(cm.Data) != 1 {
		t.Errorf("got %+v, want ConfigMap from-dir with the profile", cm)
	}
	if res := sysrec(t, "export", "--format", "daemonset", filepath.Join(dir, "deploy")); res.code != 0 || !strings.Contains(res.stdout, "image: docker.io/library/busybox:1.37") {
		t.Errorf("daemonset: status %d, stderr %s; want the default image:\n%s", res.code, res.stderr, res.stdout)
	}
}
