package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// testCluster are the options of the test cluster: two kubelets on one
// VM, with per-node paths, and no kube-proxy.
var testCluster = Options{
	Image:             "localhost/sysrec:test",
	ImagePullPolicy:   corev1.PullNever,
	SeccompRoot:       "/var/lib/sysrec-test/cluster/$(NODE_NAME)/kubelet/seccomp",
	RuntimeEndpoint:   "unix:///var/lib/sysrec-test/cluster/$(NODE_NAME)/containerd/containerd.sock",
	ContainerdAddress: "/run/sysrec-test/containerd-$(NODE_NAME)/containerd.sock",
	PodCgroupRoots:    []string{"$(NODE_NAME)/kubepods", "kubepods.slice"},
	APIServer:         "10.0.2.15:6443",
}

// decode decodes multi-document YAML strictly into typed objects, as
// kubectl would.
func decode(t *testing.T, data []byte) []runtime.Object {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var objs []runtime.Object
	for _, doc := range strings.Split(string(data), "\n---\n") {
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decoding: %v\n%s", err, doc)
		}
		objs = append(objs, obj)
	}
	return objs
}

// decoded returns YAML(opts) decoded.
func decoded(t *testing.T, opts Options) []runtime.Object {
	t.Helper()
	data, err := YAML(opts)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, data)
}

func find[T runtime.Object](t *testing.T, objs []runtime.Object, name string) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.(T); ok && reflect.ValueOf(v).Elem().FieldByName("Name").String() == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %s", zero, name)
	return zero
}

func TestYAMLRoundTrips(t *testing.T) {
	for name, opts := range map[string]Options{"defaults": {}, "test cluster": testCluster} {
		t.Run(name, func(t *testing.T) {
			objs, err := Objects(opts)
			if err != nil {
				t.Fatal(err)
			}
			got := decoded(t, opts)
			if len(got) != len(objs) {
				t.Fatalf("YAML holds %d objects, Objects %d", len(got), len(objs))
			}
			var kinds []string
			for i, o := range got {
				kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
				// Decoding fills in TypeMeta only; the rest must come back.
				if !equality.Semantic.DeepEqual(o, objs[i]) {
					t.Errorf("object %d (%s) does not decode to what Objects built", i, kinds[i])
				}
			}
			want := []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ServiceAccount",
				"ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "Role", "RoleBinding",
				"DaemonSet", "Deployment"}
			if !slices.Equal(kinds, want) {
				t.Errorf("kinds in order %v, want %v", kinds, want)
			}
		})
	}
}

func TestJSONIsAList(t *testing.T) {
	data, err := JSON(testCluster)
	if err != nil {
		t.Fatal(err)
	}
	var list corev1.List
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "List" || list.APIVersion != "v1" || len(list.Items) != 12 {
		t.Fatalf("got %s %s with %d items, want a v1 List of 12", list.APIVersion, list.Kind, len(list.Items))
	}
	var docs [][]byte
	for _, item := range list.Items {
		docs = append(docs, item.Raw)
	}
	ds := find[*appsv1.DaemonSet](t, decode(t, bytes.Join(docs, []byte("\n---\n"))), AgentName)
	if ds.Spec.Template.Spec.Containers[0].Image != testCluster.Image {
		t.Errorf("image %q, want %q", ds.Spec.Template.Spec.Containers[0].Image, testCluster.Image)
	}
}

// TestGenerated fails when deploy/sysrec.yaml is not what go generate
// ./deploy writes now.
func TestGenerated(t *testing.T) {
	file, err := os.ReadFile("sysrec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	for _, line := range strings.SplitAfter(string(file), "\n") {
		if len(body) > 0 || !strings.HasPrefix(line, "#") {
			body = append(body, line)
		}
	}
	want, err := YAML(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(body, "") != string(want) {
		t.Errorf("deploy/sysrec.yaml differs from YAML(Options{}): run go generate ./deploy")
	}
}

// TestCRDIsControllerGens checks that the CRD is the one controller-gen
// wrote, field for field.
func TestCRDIsControllerGens(t *testing.T) {
	data, err := os.ReadFile("crd/sysrec.dev_syscallrecordings.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "status")
	docs, err := documents(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(docs[1], want) {
		got, _ := yaml.Marshal(docs[1])
		t.Errorf("CRD differs from crd/sysrec.dev_syscallrecordings.yaml:\n%s", got)
	}
}

func TestAgentIsNotPrivileged(t *testing.T) {
	ds := find[*appsv1.DaemonSet](t, decoded(t, Options{}), AgentName)
	pod := ds.Spec.Template.Spec
	if len(pod.Containers) != 1 || pod.Containers[0].Name != "agent" || len(pod.InitContainers) != 0 {
		t.Fatalf("want one container named agent, got %+v", pod.Containers)
	}
	sc := pod.Containers[0].SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged {
		t.Errorf("privileged: got %v, want false", sc)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("runAsUser is not 0")
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
		t.Errorf("seccompProfile %+v, want Unconfined", sc.SeccompProfile)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Fatalf("capabilities %+v: want drop ALL", sc.Capabilities)
	}
	want := []corev1.Capability{"BPF", "PERFMON", "DAC_READ_SEARCH", "AUDIT_READ"}
	if !slices.Equal(sc.Capabilities.Add, want) {
		t.Errorf("capabilities added %v, want exactly %v", sc.Capabilities.Add, want)
	}
	if pod.SecurityContext != nil && pod.SecurityContext.SeccompProfile != nil {
		t.Errorf("pod-level seccompProfile %+v overrides nothing but confuses", pod.SecurityContext.SeccompProfile)
	}
	if !pod.HostPID || !pod.HostNetwork || pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostPID %v hostNetwork %v dnsPolicy %s, want true, true, ClusterFirstWithHostNet", pod.HostPID, pod.HostNetwork, pod.DNSPolicy)
	}
	if pod.ServiceAccountName != AgentName || pod.PriorityClassName != "system-node-critical" ||
		pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds != 30 {
		t.Errorf("serviceAccountName %s priorityClassName %s grace %v", pod.ServiceAccountName, pod.PriorityClassName, pod.TerminationGracePeriodSeconds)
	}
	if !reflect.DeepEqual(pod.Tolerations, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}) {
		t.Errorf("tolerations %+v, want one that tolerates every taint", pod.Tolerations)
	}
	res := pod.Containers[0].Resources
	if res.Requests.Cpu().String() != "10m" || res.Requests.Memory().String() != "40Mi" || res.Limits.Memory().String() != "128Mi" || !res.Limits.Cpu().IsZero() {
		t.Errorf("resources %+v", res)
	}
	if c := pod.Containers[0]; c.Image != DefaultImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s %s, want %s IfNotPresent", c.Image, c.ImagePullPolicy, DefaultImage)
	}
}

// clusterSH are the options that scripts/cluster.sh deploys the agent
// with: each kubelet's seccomp root and CRI socket in its own directory of
// /var/lib/sysrec-test/cluster, which holds the cluster's CA key too.
var clusterSH = Options{
	Image:           "localhost/sysrec:dev",
	ImagePullPolicy: corev1.PullNever,
	SeccompRoot:     "/var/lib/sysrec-test/cluster/$(NODE_NAME)/kubelet/seccomp",
	RuntimeEndpoint: "unix:///var/lib/sysrec-test/cluster/$(NODE_NAME)/cri.sock",
	PodCgroupRoots:  []string{"/$(NODE_NAME)/kubepods"},
	APIServer:       "127.0.0.1:6443",
}

// mount is one of the agent's mounts: host is the hostPath volume's path
// (or emptyDir), sub its subPathExpr, ctr the mountPath.
type mount struct {
	host, sub, ctr string
	readOnly       bool
}

func mounts(t *testing.T, ds *appsv1.DaemonSet) []mount {
	t.Helper()
	pod := ds.Spec.Template.Spec
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		if _, dup := vols[v.Name]; dup {
			t.Errorf("volume %s declared twice", v.Name)
		}
		vols[v.Name] = v
	}
	var out []mount
	used := map[string]bool{}
	hostPaths := map[string]string{}
	for _, vm := range pod.Containers[0].VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok {
			t.Fatalf("mount of volume %s, which is not declared", vm.Name)
		}
		used[vm.Name] = true
		if vm.SubPath != "" || vm.MountPropagation != nil {
			t.Errorf("mount %+v: want subPathExpr only, no subPath or propagation", vm)
		}
		switch {
		case v.HostPath != nil:
			if other, ok := hostPaths[v.HostPath.Path]; ok && other != v.Name {
				t.Errorf("volumes %s and %s are both hostPath %s: want one", other, v.Name, v.HostPath.Path)
			}
			hostPaths[v.HostPath.Path] = v.Name
			out = append(out, mount{v.HostPath.Path, vm.SubPathExpr, vm.MountPath, vm.ReadOnly})
		case v.EmptyDir != nil:
			out = append(out, mount{"emptyDir", vm.SubPathExpr, vm.MountPath, vm.ReadOnly})
		default:
			t.Errorf("volume %s is neither a hostPath nor an emptyDir", v.Name)
		}
	}
	for name := range vols {
		if !used[name] {
			t.Errorf("volume %s is declared but not mounted", name)
		}
	}
	return out
}

// hostPathType returns the type of the hostPath volume of path.
func hostPathType(t *testing.T, ds *appsv1.DaemonSet, path string) corev1.HostPathType {
	t.Helper()
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.HostPath != nil && v.HostPath.Path == path {
			if v.HostPath.Type == nil {
				t.Fatalf("hostPath volume %s has no type", path)
			}
			return *v.HostPath.Type
		}
	}
	t.Fatalf("no hostPath volume %s", path)
	return ""
}

func TestAgentMounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want []mount
		// types of the hostPath volumes other than /sys/fs/cgroup.
		types map[string]corev1.HostPathType
	}{
		{"defaults", Options{}, []mount{
			{"/sys/fs/cgroup", "", HostCgroupFS, true},
			{"/run/containerd", "", "/host/cri", true},
			{"/var/lib/kubelet/seccomp", "", "/host/seccomp", false},
			{"emptyDir", "", "/tmp", false},
		}, map[string]corev1.HostPathType{
			"/run/containerd":          corev1.HostPathDirectory,
			"/var/lib/kubelet/seccomp": corev1.HostPathDirectoryOrCreate,
		}},
		{"cluster.sh", clusterSH, []mount{
			// The seccomp root and the CRI socket share the volume of the
			// node directories' parent, but mount only their own paths.
			{"/sys/fs/cgroup", "", HostCgroupFS, true},
			{"/var/lib/sysrec-test/cluster", "$(NODE_NAME)/cri.sock", "/host/cri/cri.sock", true},
			{"/var/lib/sysrec-test/cluster", "$(NODE_NAME)/kubelet/seccomp", "/host/seccomp", false},
			{"emptyDir", "", "/tmp", false},
		}, map[string]corev1.HostPathType{
			"/var/lib/sysrec-test/cluster": corev1.HostPathDirectory,
		}},
		{"test cluster", testCluster, []mount{
			{"/sys/fs/cgroup", "", HostCgroupFS, true},
			{"/run/sysrec-test", "containerd-$(NODE_NAME)/containerd.sock", "/host/containerd/containerd.sock", true},
			{"/var/lib/sysrec-test/cluster", "$(NODE_NAME)/containerd/containerd.sock", "/host/cri/containerd.sock", true},
			{"/var/lib/sysrec-test/cluster", "$(NODE_NAME)/kubelet/seccomp", "/host/seccomp", false},
			{"emptyDir", "", "/tmp", false},
		}, map[string]corev1.HostPathType{
			"/run/sysrec-test":             corev1.HostPathDirectory,
			"/var/lib/sysrec-test/cluster": corev1.HostPathDirectory,
		}},
		{"socket below the seccomp root", Options{SeccompRoot: "/srv/node/", RuntimeEndpoint: "/srv/node/crio/crio.sock", ContainerdAddress: "unix:///srv/node/crio/../containerd/containerd.sock"}, []mount{
			{"/sys/fs/cgroup", "", HostCgroupFS, true},
			{"/srv/node", "", "/host/seccomp", false},
			{"/srv/node/containerd", "", "/host/containerd", true},
			{"/srv/node/crio", "", "/host/cri", true},
			{"emptyDir", "", "/tmp", false},
		}, map[string]corev1.HostPathType{
			"/srv/node":            corev1.HostPathDirectoryOrCreate,
			"/srv/node/containerd": corev1.HostPathDirectory,
			"/srv/node/crio":       corev1.HostPathDirectory,
		}},
		{"both sockets in one directory", Options{ContainerdAddress: DefaultRuntimeEndpoint}, []mount{
			{"/sys/fs/cgroup", "", HostCgroupFS, true},
			{"/run/containerd", "", "/host/containerd", true},
			{"/run/containerd", "", "/host/cri", true},
			{"/var/lib/kubelet/seccomp", "", "/host/seccomp", false},
			{"emptyDir", "", "/tmp", false},
		}, nil},
		{"variable inside a name", Options{SeccompRoot: "/var/lib/kubelet-$(NODE_NAME)/seccomp/", RuntimeEndpoint: "unix:///run/containerd-$(NODE_NAME).sock"}, []mount{
			{"/sys/fs/cgroup", "", HostCgroupFS, true},
			{"/run", "containerd-$(NODE_NAME).sock", "/host/cri/cri.sock", true},
			{"/var/lib", "kubelet-$(NODE_NAME)/seccomp", "/host/seccomp", false},
			{"emptyDir", "", "/tmp", false},
		}, map[string]corev1.HostPathType{
			"/run":     corev1.HostPathDirectory,
			"/var/lib": corev1.HostPathDirectory,
		}},
		{"seccomp root above a variable socket", Options{SeccompRoot: "/srv/nodes", RuntimeEndpoint: "/srv/nodes/$(NODE_NAME)/crio.sock"}, []mount{
			{"/srv/nodes", "", "/host/seccomp", false},
			{"/srv/nodes", "$(NODE_NAME)/crio.sock", "/host/cri/crio.sock", true},
			{"/sys/fs/cgroup", "", HostCgroupFS, true},
			{"emptyDir", "", "/tmp", false},
		}, map[string]corev1.HostPathType{
			"/srv/nodes": corev1.HostPathDirectoryOrCreate,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := find[*appsv1.DaemonSet](t, decoded(t, tc.opts), AgentName)
			got := mounts(t, ds)
			byPath := func(a, b mount) int { return strings.Compare(a.host+" "+a.ctr, b.host+" "+b.ctr) }
			slices.SortFunc(got, byPath)
			slices.SortFunc(tc.want, byPath)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("mounts:\n got %+v\nwant %+v", got, tc.want)
			}
			for p, want := range tc.types {
				if typ := hostPathType(t, ds, p); typ != want {
					t.Errorf("hostPath %s is of type %s, want %s", p, typ, want)
				}
			}

			// No mount of the directory above a $(VAR): each mount of its
			// volume has a subPathExpr, which names the node.
			for _, p := range []string{tc.opts.SeccompRoot, tc.opts.RuntimeEndpoint, tc.opts.ContainerdAddress} {
				i := strings.Index(p, "$(")
				if i < 0 {
					continue
				}
				prefix := path.Clean(strings.TrimPrefix(p[:strings.LastIndex(p[:i], "/")+1], "unix://"))
				for _, m := range got {
					if m.host == prefix && !strings.Contains(m.sub, "$(NODE_NAME)") && m.ctr != HostSeccompRoot {
						t.Errorf("%s: mount %+v exposes %s beyond the node's own files", p, m, prefix)
					}
				}
			}

			// The agent is given the container's paths, each a mountPath or,
			// for a socket whose directory is mounted, in one.
			ctr := map[string]mount{}
			for _, m := range got {
				ctr[m.ctr] = m
			}
			given := map[string]string{}
			for _, arg := range ds.Spec.Template.Spec.Containers[0].Args {
				name, value, _ := strings.Cut(arg, "=")
				switch name {
				case "--seccomp-root", "--runtime-endpoint", "--containerd-address", "--cgroup-fs":
					given[name] = value
				default:
					continue
				}
				if strings.Contains(value, "$(") {
					t.Errorf("%s: a path of the node, for the container's", arg)
				}
				p := strings.TrimPrefix(value, "unix://")
				if name != "--cgroup-fs" && name != "--seccomp-root" && !strings.HasPrefix(value, "unix:///") {
					t.Errorf("%s: want a unix:// URL", arg)
				}
				m, ok := ctr[p]
				if !ok {
					m, ok = ctr[path.Dir(p)]
					ok = ok && m.sub == "" && name != "--seccomp-root" && name != "--cgroup-fs"
				}
				if !ok {
					t.Errorf("%s: %s is no mountPath (nor a socket in a directory mounted)", arg, p)
				} else if m.readOnly != (name != "--seccomp-root") {
					t.Errorf("%s: mount %+v read-only %v", arg, m, m.readOnly)
				}
			}
			if given["--seccomp-root"] != HostSeccompRoot || !strings.HasPrefix(given["--runtime-endpoint"], "unix://"+HostCRIDir+"/") ||
				(tc.opts.ContainerdAddress != "") != strings.HasPrefix(given["--containerd-address"], "unix://"+HostContainerdDir+"/") {
				t.Errorf("paths given %v", given)
			}
		})
	}
}

func TestAgentArgs(t *testing.T) {
	ds := find[*appsv1.DaemonSet](t, decoded(t, testCluster), AgentName)
	c := ds.Spec.Template.Spec.Containers[0]
	want := []string{
		"agent",
		"--node-name=$(NODE_NAME)",
		"--seccomp-root=/host/seccomp",
		"--runtime-endpoint=unix:///host/cri/containerd.sock",
		"--containerd-address=unix:///host/containerd/containerd.sock",
		"--pod-cgroup-root=$(NODE_NAME)/kubepods",
		"--pod-cgroup-root=kubepods.slice",
		"--cgroup-fs=/host/sys/fs/cgroup",
		"--metrics-address=$(POD_IP):9090",
		"--health-address=$(POD_IP):9091",
	}
	if !slices.Equal(c.Args, want) || len(c.Command) != 0 {
		t.Errorf("command %q args:\n got %q\nwant %q", c.Command, c.Args, want)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for name, field := range map[string]string{"NODE_NAME": "spec.nodeName", "POD_IP": "status.podIP", "POD_NAMESPACE": "metadata.namespace"} {
		if e := env[name]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != field {
			t.Errorf("env %s: got %+v, want the field %s", name, e, field)
		}
	}
	if env["KUBERNETES_SERVICE_HOST"].Value != "10.0.2.15" || env["KUBERNETES_SERVICE_PORT"].Value != "6443" {
		t.Errorf("KUBERNETES_SERVICE_HOST %+v and _PORT %+v, want 10.0.2.15 and 6443", env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"])
	}
	if c.Image != testCluster.Image || c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("image %s %s", c.Image, c.ImagePullPolicy)
	}

	prod := find[*appsv1.DaemonSet](t, decoded(t, Options{}), AgentName).Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(prod, "--seccomp-root=/host/seccomp") || !slices.Contains(prod, "--runtime-endpoint=unix:///host/cri/containerd.sock") ||
		slices.ContainsFunc(prod, func(a string) bool { return strings.HasPrefix(a, "--containerd-address") }) {
		t.Errorf("default args %q", prod)
	}
}

func TestAPIServer(t *testing.T) {
	for _, opts := range []Options{{}, {APIServer: "[fd00::1]:6443"}} {
		objs := decoded(t, opts)
		ds := find[*appsv1.DaemonSet](t, objs, AgentName)
		dep := find[*appsv1.Deployment](t, objs, ControllerName)
		set := opts.APIServer != ""
		if dep.Spec.Template.Spec.HostNetwork != set {
			t.Errorf("API server %q: controller hostNetwork %v", opts.APIServer, dep.Spec.Template.Spec.HostNetwork)
		}
		for _, c := range []corev1.Container{ds.Spec.Template.Spec.Containers[0], dep.Spec.Template.Spec.Containers[0]} {
			var host, port string
			for _, e := range c.Env {
				switch e.Name {
				case "KUBERNETES_SERVICE_HOST":
					host = e.Value
				case "KUBERNETES_SERVICE_PORT":
					port = e.Value
				}
			}
			if set && (host != "fd00::1" || port != "6443") || !set && (host != "" || port != "") {
				t.Errorf("API server %q: %s has KUBERNETES_SERVICE_HOST %q _PORT %q", opts.APIServer, c.Name, host, port)
			}
		}
	}
}

func TestController(t *testing.T) {
	dep := find[*appsv1.Deployment](t, decoded(t, Options{ControllerReplicas: 2}), ControllerName)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
	}
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	want := []string{"controller", "--leader-elect", "--leader-election-namespace=$(POD_NAMESPACE)", "--metrics-address=$(POD_IP):9092", "--health-address=$(POD_IP):9093"}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.Privileged != nil && *sc.Privileged {
		t.Errorf("securityContext %+v", sc)
	}
	if pod.HostNetwork || pod.HostPID || len(pod.Volumes) != 0 || pod.ServiceAccountName != ControllerName {
		t.Errorf("hostNetwork %v hostPID %v volumes %v serviceAccountName %s", pod.HostNetwork, pod.HostPID, pod.Volumes, pod.ServiceAccountName)
	}
	if one := find[*appsv1.Deployment](t, decoded(t, Options{}), ControllerName); *one.Spec.Replicas != 1 {
		t.Errorf("default replicas %d, want 1", *one.Spec.Replicas)
	}
}

func TestPortsAndProbes(t *testing.T) {
	objs := decoded(t, Options{})
	ds := find[*appsv1.DaemonSet](t, objs, AgentName)
	dep := find[*appsv1.Deployment](t, objs, ControllerName)
	for _, tc := range []struct {
		c               corev1.Container
		metrics, health int32
	}{
		{ds.Spec.Template.Spec.Containers[0], 9090, 9091},
		{dep.Spec.Template.Spec.Containers[0], 9092, 9093},
	} {
		ports := map[string]int32{}
		for _, p := range tc.c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if !reflect.DeepEqual(ports, map[string]int32{"metrics": tc.metrics, "health": tc.health}) {
			t.Errorf("%s: ports %v, want metrics %d and health %d", tc.c.Name, ports, tc.metrics, tc.health)
		}
		for _, p := range []struct {
			probe *corev1.Probe
			path  string
		}{{tc.c.LivenessProbe, "/healthz"}, {tc.c.ReadinessProbe, "/readyz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "health" {
				t.Errorf("%s: probe %+v, want GET %s on the port named health", tc.c.Name, p.probe, p.path)
			}
		}
		for _, want := range []string{
			"--metrics-address=$(POD_IP):" + itoa(tc.metrics),
			"--health-address=$(POD_IP):" + itoa(tc.health),
		} {
			if !slices.Contains(tc.c.Args, want) {
				t.Errorf("%s: args %q lack %s", tc.c.Name, tc.c.Args, want)
			}
		}
	}
}

func itoa(n int32) string { b, _ := json.Marshal(n); return string(b) }

func TestLabels(t *testing.T) {
	objs := decoded(t, Options{})
	ds := find[*appsv1.DaemonSet](t, objs, AgentName)
	dep := find[*appsv1.Deployment](t, objs, ControllerName)
	for _, tc := range []struct {
		component        string
		selector, labels map[string]string
	}{
		{"agent", ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels},
		{"controller", dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels},
	} {
		want := map[string]string{"app.kubernetes.io/name": "sysrec", "app.kubernetes.io/component": tc.component}
		if !reflect.DeepEqual(tc.selector, want) || !reflect.DeepEqual(tc.labels, want) {
			t.Errorf("%s: selector %v, pod labels %v, want both %v", tc.component, tc.selector, tc.labels, want)
		}
	}
	for _, o := range objs {
		if o, ok := o.(interface{ GetLabels() map[string]string }); !ok || o.GetLabels()["app.kubernetes.io/name"] != "sysrec" {
			if _, crd := o.(*apiextensionsv1.CustomResourceDefinition); !crd {
				t.Errorf("%T lacks app.kubernetes.io/name: sysrec", o)
			}
		}
	}
	for _, o := range objs {
		ns := reflect.ValueOf(o).Elem().FieldByName("Namespace").String()
		switch o.(type) {
		case *corev1.Namespace, *apiextensionsv1.CustomResourceDefinition, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
			if ns != "" {
				t.Errorf("%T is cluster-scoped but has namespace %s", o, ns)
			}
		default:
			if ns != DefaultNamespace {
				t.Errorf("%T in namespace %q, want %s", o, ns, DefaultNamespace)
			}
		}
	}
}

// allows reports whether rules let verb act on group/resource.
func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if len(r.ResourceNames) == 0 && len(r.NonResourceURLs) == 0 &&
			(slices.Contains(r.APIGroups, group) || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*")) &&
			(slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) {
			return true
		}
	}
	return false
}

// grants lists what rules allow, one "group/resource verb" a line.
func grants(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, g+"/"+res+" "+v)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func expand(m map[string][]string) []string {
	var out []string
	for gr, verbs := range m {
		for _, v := range verbs {
			out = append(out, gr+" "+v)
		}
	}
	slices.Sort(out)
	return out
}

func TestRBAC(t *testing.T) {
	objs := decoded(t, Options{Namespace: "sec"})
	events := []string{"create", "patch"}
	for _, tc := range []struct {
		name  string
		rules []rbacv1.PolicyRule
		want  map[string][]string
	}{
		{AgentName, find[*rbacv1.ClusterRole](t, objs, AgentName).Rules, map[string][]string{
			"/pods":                               {"get", "list", "watch"},
			"sysrec.dev/syscallrecordings":        {"get", "list", "watch"},
			"sysrec.dev/syscallrecordings/status": {"get", "patch"},
			"/events":                             events,
			"events.k8s.io/events":                events,
		}},
		{ControllerName, find[*rbacv1.ClusterRole](t, objs, ControllerName).Rules, map[string][]string{
			"sysrec.dev/syscallrecordings":                        {"get", "list", "watch"},
			"sysrec.dev/syscallrecordings/status":                 {"get", "patch"},
			"/configmaps":                                         {"get", "list", "watch", "create", "patch", "delete"},
			"security-profiles-operator.x-k8s.io/seccompprofiles": {"get", "create", "patch", "delete"},
			"/events":              events,
			"events.k8s.io/events": events,
		}},
		{LeaderElectionName, find[*rbacv1.Role](t, objs, LeaderElectionName).Rules, map[string][]string{
			"coordination.k8s.io/leases": {"get", "create", "update"},
		}},
	} {
		if got, want := grants(tc.rules), expand(tc.want); !slices.Equal(got, want) {
			t.Errorf("%s grants\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	agent := find[*rbacv1.ClusterRole](t, objs, AgentName).Rules
	controller := find[*rbacv1.ClusterRole](t, objs, ControllerName).Rules
	for _, denied := range []struct {
		rules                  []rbacv1.PolicyRule
		who, group, res, verbs string
	}{
		{agent, "agent", "", "configmaps", "get create update patch delete"},
		{agent, "agent", "", "secrets", "get list watch"},
		{agent, "agent", "", "pods", "create update patch delete"},
		{agent, "agent", "sysrec.dev", "syscallrecordings", "create update patch delete"},
		{agent, "agent", "sysrec.dev", "syscallrecordings/status", "update"},
		{agent, "agent", "coordination.k8s.io", "leases", "get create update"},
		{controller, "controller", "", "secrets", "get list watch"},
		{controller, "controller", "", "pods", "get list create"},
		{controller, "controller", "sysrec.dev", "syscallrecordings", "create update patch delete"},
		{controller, "controller", "coordination.k8s.io", "leases", "get create update"},
	} {
		for _, verb := range strings.Fields(denied.verbs) {
			if allows(denied.rules, denied.group, denied.res, verb) {
				t.Errorf("the %s may %s %s.%s", denied.who, verb, denied.res, denied.group)
			}
		}
	}

	for _, tc := range []struct {
		subjects []rbacv1.Subject
		ref      rbacv1.RoleRef
		sa, kind string
		role     string
	}{
		{find[*rbacv1.ClusterRoleBinding](t, objs, AgentName).Subjects, find[*rbacv1.ClusterRoleBinding](t, objs, AgentName).RoleRef, AgentName, "ClusterRole", AgentName},
		{find[*rbacv1.ClusterRoleBinding](t, objs, ControllerName).Subjects, find[*rbacv1.ClusterRoleBinding](t, objs, ControllerName).RoleRef, ControllerName, "ClusterRole", ControllerName},
		{find[*rbacv1.RoleBinding](t, objs, LeaderElectionName).Subjects, find[*rbacv1.RoleBinding](t, objs, LeaderElectionName).RoleRef, ControllerName, "Role", LeaderElectionName},
	} {
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: tc.sa, Namespace: "sec"}}
		if !reflect.DeepEqual(tc.subjects, want) || tc.ref != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: tc.kind, Name: tc.role}) {
			t.Errorf("binding of %s %s: subjects %+v ref %+v", tc.kind, tc.role, tc.subjects, tc.ref)
		}
	}
	if rb := find[*rbacv1.RoleBinding](t, objs, LeaderElectionName); rb.Namespace != "sec" {
		t.Errorf("leader election RoleBinding in %q, want sec", rb.Namespace)
	}
	for _, sa := range []string{AgentName, ControllerName} {
		find[*corev1.ServiceAccount](t, objs, sa)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		err  string
	}{
		{Options{Namespace: "Bad_NS"}, `namespace "Bad_NS"`},
		{Options{Image: "a b"}, `image "a b"`},
		{Options{ImagePullPolicy: "Sometimes"}, "want Always, IfNotPresent or Never"},
		{Options{SeccompRoot: "var/lib/kubelet/seccomp"}, `seccomp root "var/lib/kubelet/seccomp": want an absolute path`},
		{Options{SeccompRoot: "/$(NODE_NAME)/seccomp"}, "whole /"},
		{Options{RuntimeEndpoint: "tcp://10.0.0.1:1234"}, "want a unix socket"},
		{Options{RuntimeEndpoint: "unix://run/containerd.sock"}, "want an absolute path"},
		{Options{RuntimeEndpoint: "/containerd.sock"}, "whole /"},
		{Options{ContainerdAddress: "containerd.sock"}, `containerd address "containerd.sock"`},
		{Options{ContainerdAddress: "unix:///$(NODE_NAME).sock"}, "whole /"},
		{Options{SeccompRoot: "/srv/$(NODE_NAME)/../seccomp"}, "want no .. after the $("},
		{Options{RuntimeEndpoint: "unix:///run/containerd/"}, "want a socket's path"},
		{Options{PodCgroupRoots: []string{""}}, "pod cgroup root"},
		{Options{PodCgroupRoots: []string{"../x"}}, "pod cgroup root"},
		{Options{APIServer: "10.0.0.1"}, `API server "10.0.0.1": want host:port`},
		{Options{APIServer: ":6443"}, "the host is missing"},
		{Options{APIServer: "h:http"}, "not a number"},
		{Options{ControllerReplicas: -1}, "controller replicas -1"},
	} {
		_, err := Objects(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: got error %v, want one with %q", tc.opts, err, tc.err)
		}
		if verr := tc.opts.Validate(); verr == nil || err != nil && verr.Error() != err.Error() {
			t.Errorf("%+v: Validate says %v, Objects %v", tc.opts, verr, err)
		}
	}
	for _, opts := range []Options{testCluster, clusterSH} {
		if err := opts.Validate(); err != nil {
			t.Errorf("%+v: %v", opts, err)
		}
	}
}

// TestControllerRulesMatchMarkers: the controller's ClusterRole and
// leader-election Role grant exactly what the controller package's
// kubebuilder:rbac markers say it uses.
func TestControllerRulesMatchMarkers(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "controller", "controller.go"))
	if err != nil {
		t.Fatal(err)
	}
	marker := regexp.MustCompile(`(?m)^// \+kubebuilder:rbac:groups=([^,]*),resources=([^,]*),verbs=(\S+)$`)
	want := map[string][]string{}
	for _, m := range marker.FindAllStringSubmatch(string(src), -1) {
		group := strings.Trim(m[1], `"`)
		want[group+"/"+m[2]] = strings.Split(m[3], ";")
	}
	if len(want) == 0 {
		t.Fatal("no kubebuilder:rbac markers in controller/controller.go")
	}
	rules := append(slices.Clone(ControllerRules()), LeaderElectionRules()...)
	got := grants(rules)
	// The core group's events are granted too, for older event recorders.
	got = slices.DeleteFunc(got, func(g string) bool { return strings.HasPrefix(g, "/events ") })
	if w := expand(want); !slices.Equal(got, w) {
		t.Errorf("the controller's rules grant\n%s\nits markers want\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
	}
}
