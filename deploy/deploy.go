// Package deploy builds the Kubernetes objects that run sysrec on a
// cluster: its namespace, the SyscallRecording CRD, least-privilege RBAC,
// the node agent's DaemonSet and the controller's Deployment. sysrec
// export deploy prints them, and deploy/sysrec.yaml holds them with the
// default options.
package deploy

//go:generate go run gen.go

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// crds are the CustomResourceDefinitions that controller-gen writes from
// api/v1alpha1 (go generate ./api/v1alpha1).
//
//go:embed crd/*.yaml
var crds embed.FS

// Defaults of Options' zero values: a production node's kubelet and
// containerd.
const (
	DefaultNamespace       = "sysrec-system"
	DefaultImage           = "localhost/sysrec:dev"
	DefaultImagePullPolicy = corev1.PullIfNotPresent
	DefaultSeccompRoot     = "/var/lib/kubelet/seccomp"
	DefaultRuntimeEndpoint = "unix:///run/containerd/containerd.sock"
)

// Names of the objects, and the labels of the pods.
const (
	AgentName      = "sysrec-agent"
	ControllerName = "sysrec-controller"
	// LeaderElectionName names the controller's Role and RoleBinding for
	// its leader election Lease.
	LeaderElectionName = "sysrec-controller-leader-election"

	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	AppName        = "sysrec"
	AgentComponent = "agent"
	// ControllerComponent is the controller pods' component label.
	ControllerComponent = "controller"
)

// Ports that the agent and the controller serve /metrics and /healthz,
// /readyz on, on their pod's IP. The DaemonSet and the Deployment declare
// them as the ports named metrics and health.
const (
	AgentMetricsPort      = 9090
	AgentHealthPort       = 9091
	ControllerMetricsPort = 9092
	ControllerHealthPort  = 9093
)

// HostCgroupFS is where the agent sees the host's /sys/fs/cgroup: its own
// /sys/fs/cgroup is the container's cgroup namespace.
const HostCgroupFS = "/host/sys/fs/cgroup"

// Where the agent's container sees the node's seccomp root and sockets,
// whatever their paths on the node: its arguments name these paths. The
// sockets are HostCRIDir/NAME and HostContainerdDir/NAME, NAME the
// socket's own file name (or cri.sock and containerd.sock where that
// name holds a $(VAR)).
const (
	HostSeccompRoot   = "/host/seccomp"
	HostCRIDir        = "/host/cri"
	HostContainerdDir = "/host/containerd"
)

// controllerUID runs the controller: distroless's nonroot user.
const controllerUID = 65532

// AgentCapabilities are the capabilities that the agent's container adds
// after dropping all of them, in place of privileged: true. It runs as
// uid 0, which owns the kubelet's seccomp root and the CRI socket, so it
// needs no CAP_DAC_OVERRIDE or CAP_CHOWN to use them. CAP_SYS_RESOURCE is
// not among them: kernels from 5.11 charge BPF maps to the memory cgroup,
// not RLIMIT_MEMLOCK (add it for older kernels), and a node whose root
// lacks it in its bounding set (as CI's VM) cannot start a container that
// asks for it.
var AgentCapabilities = []corev1.Capability{
	// bpf(): loading the recorder's programs and creating its maps
	// (kernel 5.8+; older kernels want CAP_SYS_ADMIN for it).
	"BPF",
	// Attaching the tracing programs (raw_syscalls tracepoints, fentry)
	// and the task iterator, and bpf_probe_read_kernel in them.
	"PERFMON",
	// open_by_handle_at(2), which turns the cgroup IDs that the programs
	// report into cgroup directories (recorder.go).
	"DAC_READ_SEARCH",
	// Joining the audit netlink multicast group, where the SCMP_ACT_LOG
	// records of the audit stage arrive (violations.OpenAudit).
	"AUDIT_READ",
	// Not needed, as the end-to-end test shows on both runtimes:
	// SYS_PTRACE (/proc/PID/stat and cgroup, all the agent reads of other
	// processes, are world-readable) and SYS_ADMIN (BPF and PERFMON cover
	// loading, attaching and the iterators from kernel 5.8).
}

// Options configure the objects. The zero value is a production cluster:
// the kubelet's seccomp root, containerd's socket, the default image.
type Options struct {
	// Namespace of the agent, the controller and their service accounts;
	// DefaultNamespace if empty.
	Namespace string
	// Image of sysrec, whose entrypoint is the sysrec binary; DefaultImage
	// if empty.
	Image string
	// ImagePullPolicy of both containers: Always, IfNotPresent or Never;
	// DefaultImagePullPolicy if empty.
	ImagePullPolicy corev1.PullPolicy
	// SeccompRoot is the kubelet's seccomp directory on the nodes, where
	// the agent installs profiles; DefaultSeccompRoot if empty. Like the
	// other paths it may hold $(NODE_NAME), for nodes that share a host:
	// the volume is then the host directory above the first $(, and the
	// agent mounts only the path below it (a subPathExpr, which
	// Kubernetes expands with the pod's environment), never that
	// directory itself.
	SeccompRoot string
	// RuntimeEndpoint is the CRI socket on the nodes, a path or a
	// unix:// URL; DefaultRuntimeEndpoint if empty.
	RuntimeEndpoint string
	// ContainerdAddress is containerd's own socket, if the agent should
	// use it besides the CRI; none if empty.
	ContainerdAddress string
	// PodCgroupRoots are the cgroup directories, below the cgroup2 mount,
	// under which the kubelet puts pods; the agent's default if empty.
	PodCgroupRoots []string
	// APIServer, host:port, is the API server that the pods reach, for
	// clusters without kube-proxy (where the kubernetes Service has no
	// route). The controller then runs on the host network too. Empty
	// leaves the pods to the kubernetes Service.
	APIServer string
	// ControllerReplicas of the controller's Deployment; 1 if zero.
	// Leader election makes more than one safe.
	ControllerReplicas int32
}

// withDefaults fills the zero values of opts and validates it.
func (opts Options) withDefaults() (Options, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	if opts.ImagePullPolicy == "" {
		opts.ImagePullPolicy = DefaultImagePullPolicy
	}
	if opts.SeccompRoot == "" {
		opts.SeccompRoot = DefaultSeccompRoot
	}
	if opts.RuntimeEndpoint == "" {
		opts.RuntimeEndpoint = DefaultRuntimeEndpoint
	}
	if opts.ControllerReplicas == 0 {
		opts.ControllerReplicas = 1
	}
	return opts, opts.validate()
}

// Validate reports the first problem with opts, whose zero values stand
// for the defaults.
func (opts Options) Validate() error {
	_, err := opts.withDefaults()
	return err
}

func (opts Options) validate() error {
	if errs := validation.IsDNS1123Label(opts.Namespace); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %s", opts.Namespace, strings.Join(errs, "; "))
	}
	if strings.TrimSpace(opts.Image) != opts.Image || strings.ContainsAny(opts.Image, " \t\n") {
		return fmt.Errorf("image %q: an image reference holds no spaces", opts.Image)
	}
	switch opts.ImagePullPolicy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("image pull policy %q: want Always, IfNotPresent or Never", opts.ImagePullPolicy)
	}
	if _, err := agentMounts(opts); err != nil {
		return err
	}
	for _, r := range opts.PodCgroupRoots {
		if r == "" || slices.Contains(strings.Split(r, "/"), "..") {
			return fmt.Errorf("pod cgroup root %q: want a directory below the cgroup2 mount, such as kubepods, without ..", r)
		}
	}
	if opts.APIServer != "" {
		if err := checkHostPort(opts.APIServer); err != nil {
			return fmt.Errorf("API server %q: %w", opts.APIServer, err)
		}
	}
	if opts.ControllerReplicas < 0 {
		return fmt.Errorf("controller replicas %d: want 1 or more (0 means 1)", opts.ControllerReplicas)
	}
	return nil
}

// checkHostPort accepts host:port with a port number.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port, such as 10.0.0.1:6443: %w", err)
	}
	if host == "" {
		return errors.New("want host:port, such as 10.0.0.1:6443: the host is missing")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("want host:port, such as 10.0.0.1:6443: port %q is not a number from 1 to 65535", port)
	}
	return nil
}

// hostPath is where a path of Options lies on the nodes: below the host
// directory dir, at sub. sub is empty for a path without $(VAR): dir is
// then the path itself. For a path with $(VAR), which only Kubernetes can
// expand (in a subPathExpr, with the pod's environment), dir is the
// directory above the first $( and sub the rest, such as
// $(NODE_NAME)/kubelet/seccomp.
type hostPath struct {
	dir, sub string
}

// hostDir splits the absolute path p of a directory or a file.
func hostDir(what, p string) (hostPath, error) {
	if !path.IsAbs(p) {
		return hostPath{}, fmt.Errorf("%s %q: want an absolute path", what, p)
	}
	i := strings.Index(p, "$(")
	if i < 0 {
		if path.Clean(p) == "/" {
			return hostPath{}, fmt.Errorf("%s %q: the agent would mount the host's whole /", what, p)
		}
		return hostPath{dir: path.Clean(p)}, nil
	}
	slash := strings.LastIndex(p[:i], "/")
	hp := hostPath{dir: path.Clean(p[:slash+1]), sub: p[slash+1:]}
	if hp.dir == "/" {
		return hostPath{}, fmt.Errorf("%s %q: the agent would mount the host's whole / : put $(NODE_NAME) deeper in the path", what, p)
	}
	// Cleaning would drop a $(VAR) before a .., and Kubernetes refuses ..
	// in a subPathExpr.
	if slices.Contains(strings.Split(hp.sub, "/"), "..") {
		return hostPath{}, fmt.Errorf("%s %q: want no .. after the $(", what, p)
	}
	hp.sub = path.Clean(hp.sub)
	return hp, nil
}

// socketPath splits the socket at p, a path or a unix:// URL, as hostDir
// does, where the socket's path holds a $(VAR); its directory otherwise.
// It returns the socket's file name too.
func socketPath(what, p string) (hostPath, string, error) {
	sock := strings.TrimPrefix(p, "unix://")
	if strings.Contains(sock, "://") {
		return hostPath{}, "", fmt.Errorf("%s %q: want a unix socket, a path or unix:///PATH", what, p)
	}
	if !path.IsAbs(sock) {
		return hostPath{}, "", fmt.Errorf("%s %q: want an absolute path, such as unix:///run/containerd/containerd.sock", what, p)
	}
	if strings.HasSuffix(sock, "/") {
		return hostPath{}, "", fmt.Errorf("%s %q: want a socket's path, not a directory's", what, p)
	}
	if strings.Contains(sock, "$(") {
		hp, err := hostDir(what, sock)
		return hp, path.Base(hp.sub), err
	}
	sock = path.Clean(sock)
	hp, err := hostDir(what, path.Dir(sock))
	return hp, path.Base(sock), err
}

// Objects returns the objects that run sysrec on a cluster, in the order
// they apply in: namespace, CRD, service accounts, RBAC, the agent's
// DaemonSet and the controller's Deployment.
func Objects(opts Options) ([]client.Object, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	crdObjs, err := CRDs()
	if err != nil {
		return nil, err
	}
	agent, err := agentDaemonSet(opts)
	if err != nil {
		return nil, err
	}
	objs := []client.Object{namespace(opts)}
	for _, c := range crdObjs {
		objs = append(objs, c)
	}
	objs = append(objs,
		serviceAccount(opts, AgentName, AgentComponent),
		serviceAccount(opts, ControllerName, ControllerComponent))
	objs = append(objs, rbac(opts)...)
	objs = append(objs, agent, controllerDeployment(opts))
	sort.SliceStable(objs, func(i, j int) bool {
		return applyOrder(objs[i]) < applyOrder(objs[j])
	})
	return objs, nil
}

// kindOrder is the order objects apply in: an object comes after those it
// needs.
var kindOrder = []string{
	"Namespace", "CustomResourceDefinition", "ServiceAccount",
	"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
	"DaemonSet", "Deployment",
}

func applyOrder(o client.Object) int {
	i := slices.Index(kindOrder, o.GetObjectKind().GroupVersionKind().Kind)
	if i < 0 {
		return len(kindOrder)
	}
	return i
}

// CRDs returns the CustomResourceDefinitions of sysrec's API.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(crds, "crd/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, name := range names {
		data, err := crds.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			return nil, fmt.Errorf("decoding the embedded CRD %s: %w: run go generate ./api/v1alpha1", name, err)
		}
		out = append(out, &crd)
	}
	if len(out) == 0 {
		return nil, errors.New("no CRD embedded: run go generate ./api/v1alpha1 ./deploy")
	}
	return out, nil
}

func labels(component string) map[string]string {
	return map[string]string{LabelName: AppName, LabelComponent: component}
}

func meta(name, namespace, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels(component)}
}

func namespace(opts Options) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: opts.Namespace, Labels: map[string]string{LabelName: AppName}},
	}
}

func serviceAccount(opts Options, name, component string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: meta(name, opts.Namespace, component),
	}
}

const sysrecGroup = "sysrec.dev"

// Event recorders write core events (client-go's record) or
// events.k8s.io ones (client-go's events, controller-runtime's
// GetEventRecorder): both are allowed.
var eventsRule = rbacv1.PolicyRule{
	APIGroups: []string{"", "events.k8s.io"},
	Resources: []string{"events"},
	Verbs:     []string{"create", "patch"},
}

// AgentRules are the agent's permissions, cluster-wide: it watches the
// pods of its node and the recordings, and reports on their status.
func AgentRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{sysrecGroup}, Resources: []string{"syscallrecordings"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{sysrecGroup}, Resources: []string{"syscallrecordings/status"}, Verbs: []string{"get", "patch"}},
		eventsRule,
	}
}

// ControllerRules are the controller's permissions, cluster-wide: it
// merges the recordings' partial profiles into ConfigMaps and the
// security-profiles-operator's SeccompProfiles.
//
// They are the verbs that the controller package's kubebuilder:rbac
// markers list; TestControllerRulesMatchMarkers keeps the two equal.
func ControllerRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{sysrecGroup}, Resources: []string{"syscallrecordings"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{sysrecGroup}, Resources: []string{"syscallrecordings/status"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
		{APIGroups: []string{"security-profiles-operator.x-k8s.io"}, Resources: []string{"seccompprofiles"}, Verbs: []string{"get", "create", "patch", "delete"}},
		eventsRule,
	}
}

// LeaderElectionRules are the controller's permissions in its own
// namespace: the Lease of its leader election.
func LeaderElectionRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
	}
}

func rbac(opts Options) []client.Object {
	subject := func(name string) []rbacv1.Subject {
		return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: opts.Namespace}}
	}
	clusterRole := func(name, component string, rules []rbacv1.PolicyRule) []client.Object {
		return []client.Object{
			&rbacv1.ClusterRole{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
				ObjectMeta: meta(name, "", component),
				Rules:      rules,
			},
			&rbacv1.ClusterRoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
				ObjectMeta: meta(name, "", component),
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
				Subjects:   subject(name),
			},
		}
	}
	objs := clusterRole(AgentName, AgentComponent, AgentRules())
	objs = append(objs, clusterRole(ControllerName, ControllerComponent, ControllerRules())...)
	return append(objs,
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta(LeaderElectionName, opts.Namespace, ControllerComponent),
			Rules:      LeaderElectionRules(),
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta(LeaderElectionName, opts.Namespace, ControllerComponent),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: LeaderElectionName},
			Subjects:   subject(ControllerName),
		})
}

// fieldEnv is an environment variable from the pod's own fields.
func fieldEnv(name, field string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: field}}}
}

// apiServerEnv points client-go's in-cluster config at opts.APIServer.
func apiServerEnv(opts Options) []corev1.EnvVar {
	if opts.APIServer == "" {
		return nil
	}
	host, port, _ := net.SplitHostPort(opts.APIServer) // validated
	return []corev1.EnvVar{
		{Name: "KUBERNETES_SERVICE_HOST", Value: host},
		{Name: "KUBERNETES_SERVICE_PORT", Value: port},
	}
}

func ports(metrics, health int32) []corev1.ContainerPort {
	return []corev1.ContainerPort{
		{Name: "metrics", ContainerPort: metrics, Protocol: corev1.ProtocolTCP},
		{Name: "health", ContainerPort: health, Protocol: corev1.ProtocolTCP},
	}
}

func probe(path string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("health")}}}
}

// agentMount is a path of the node that the agent uses: the host
// directory of its volume, the path below it if any (a subPathExpr), and
// where the agent's container sees it.
type agentMount struct {
	// name of what is mounted: seccomp-root, cri-socket or
	// containerd-socket.
	name      string
	host      hostPath
	mountPath string
	// arg is the path that the agent's argument names: mountPath, or for
	// a socket in a directory mounted whole, the socket in it.
	arg      string
	readOnly bool
}

// agentMounts returns what the agent mounts of the node: the seccomp
// root, the CRI socket and containerd's, if any.
//
// The container sees them at the same paths (HostSeccompRoot, HostCRIDir,
// HostContainerdDir) whatever their paths on the node, with or without a
// $(VAR): the agent's arguments then name no path of the node, and no
// mount of one path lands inside another's.
//
// A path without $(VAR) is mounted as today's nodes have it: the seccomp
// root itself (created if missing: it may not exist before the first
// Localhost profile), a socket's directory (which must exist, or the
// runtime is not there), so that the socket that a restarted runtime
// makes anew is seen.
//
// A path with $(VAR), as where kubelets share a host, is a subPathExpr
// below the host directory above the first $( (which must exist; the
// kubelet makes the directories below it that are missing): never that
// directory itself, which holds the other nodes' files and more. A
// socket is then mounted alone, file to file, not with its directory,
// which is the node's own (with its kubelet's pods, their tokens...).
// A file mount keeps the socket that was there when the container
// started: the agent must restart after its runtime does.
//
// The seccomp root is read-write: the agent writes the profiles there.
// The sockets are read-only, which keeps the agent from creating files
// beside them but not from connecting to them (connect(2) asks for write
// permission on the socket, not a writable mount).
func agentMounts(opts Options) ([]agentMount, error) {
	seccomp, err := hostDir("seccomp root", opts.SeccompRoot)
	if err != nil {
		return nil, err
	}
	mounts := []agentMount{{name: "seccomp-root", host: seccomp, mountPath: HostSeccompRoot, arg: HostSeccompRoot}}
	socket := func(name, what, p, dir, fallback string) error {
		hp, file, err := socketPath(what, p)
		if err != nil {
			return err
		}
		m := agentMount{name: name, host: hp, mountPath: dir, arg: dir + "/" + file, readOnly: true}
		if hp.sub != "" {
			// A mountPath is not expanded.
			if strings.Contains(file, "$(") {
				file = fallback
			}
			m.mountPath = dir + "/" + file
			m.arg = m.mountPath
		}
		mounts = append(mounts, m)
		return nil
	}
	if err := socket("cri-socket", "runtime endpoint", opts.RuntimeEndpoint, HostCRIDir, "cri.sock"); err != nil {
		return nil, err
	}
	if opts.ContainerdAddress != "" {
		if err := socket("containerd-socket", "containerd address", opts.ContainerdAddress, HostContainerdDir, "containerd.sock"); err != nil {
			return nil, err
		}
	}
	return mounts, nil
}

// mountArg returns the agent's path of the mount named name.
func mountArg(mounts []agentMount, name string) string {
	for _, m := range mounts {
		if m.name == name {
			return m.arg
		}
	}
	return ""
}

// agentArgs are the arguments of the agent's container.
func agentArgs(opts Options, mounts []agentMount) []string {
	args := []string{
		"agent",
		"--node-name=$(NODE_NAME)",
		"--seccomp-root=" + mountArg(mounts, "seccomp-root"),
		"--runtime-endpoint=unix://" + mountArg(mounts, "cri-socket"),
	}
	if opts.ContainerdAddress != "" {
		args = append(args, "--containerd-address=unix://"+mountArg(mounts, "containerd-socket"))
	}
	for _, r := range opts.PodCgroupRoots {
		args = append(args, "--pod-cgroup-root="+r)
	}
	return append(args,
		"--cgroup-fs="+HostCgroupFS,
		fmt.Sprintf("--metrics-address=$(POD_IP):%d", AgentMetricsPort),
		fmt.Sprintf("--health-address=$(POD_IP):%d", AgentHealthPort))
}

// agentVolumes returns the agent's volumes and its container's mounts of
// them: one hostPath volume for each host directory, which several mounts
// may share (with different subPathExprs), named after them.
func agentVolumes(mounts []agentMount) ([]corev1.Volume, []corev1.VolumeMount) {
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	dir := corev1.HostPathDirectory
	volumes := []corev1.Volume{{
		Name:         "cgroupfs",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/sys/fs/cgroup", Type: &dir}},
	}}
	volumeMounts := []corev1.VolumeMount{{Name: "cgroupfs", MountPath: HostCgroupFS, ReadOnly: true}}

	var dirs []string
	names := map[string][]string{}
	for _, m := range mounts {
		if names[m.host.dir] == nil {
			dirs = append(dirs, m.host.dir)
		}
		names[m.host.dir] = append(names[m.host.dir], m.name)
	}
	for _, d := range dirs {
		// Only the seccomp root mounted itself may be missing; a directory
		// above a $( must exist.
		t := &dir
		for _, m := range mounts {
			if m.host.dir == d && m.name == "seccomp-root" && m.host.sub == "" {
				t = &dirOrCreate
			}
		}
		volumes = append(volumes, corev1.Volume{
			Name:         strings.Join(names[d], "-and-"),
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: d, Type: t}},
		})
	}
	for _, m := range mounts {
		volumeMounts = append(volumeMounts, corev1.VolumeMount{
			Name:        strings.Join(names[m.host.dir], "-and-"),
			MountPath:   m.mountPath,
			SubPathExpr: m.host.sub,
			ReadOnly:    m.readOnly,
		})
	}

	tmpLimit := resource.MustParse("64Mi")
	volumes = append(volumes, corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &tmpLimit}}})
	volumeMounts = append(volumeMounts, corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"})
	return volumes, volumeMounts
}

func agentDaemonSet(opts Options) (*appsv1.DaemonSet, error) {
	mounts, err := agentMounts(opts)
	if err != nil {
		return nil, err
	}
	volumes, volumeMounts := agentVolumes(mounts)

	// NODE_NAME expands the $(NODE_NAME) of the subPathExprs as well as
	// of the arguments.
	env := []corev1.EnvVar{
		fieldEnv("NODE_NAME", "spec.nodeName"),
		fieldEnv("POD_IP", "status.podIP"),
		fieldEnv("POD_NAMESPACE", "metadata.namespace"),
	}
	grace := int64(30)
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: meta(AgentName, opts.Namespace, AgentComponent),
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: labels(AgentComponent)},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(AgentComponent)},
				Spec: corev1.PodSpec{
					ServiceAccountName:            AgentName,
					HostPID:                       true,
					HostNetwork:                   true,
					DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
					PriorityClassName:             "system-node-critical",
					TerminationGracePeriodSeconds: &grace,
					Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name:            "agent",
						Image:           opts.Image,
						ImagePullPolicy: opts.ImagePullPolicy,
						Args:            agentArgs(opts, mounts),
						Env:             append(env, apiServerEnv(opts)...),
						Ports:           ports(AgentMetricsPort, AgentHealthPort),
						LivenessProbe:   probe("/healthz"),
						ReadinessProbe:  probe("/readyz"),
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("10m"),
								corev1.ResourceMemory: resource.MustParse("40Mi"),
							},
							Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
						},
						SecurityContext: &corev1.SecurityContext{
							Privileged:               ptr(false),
							AllowPrivilegeEscalation: ptr(false),
							ReadOnlyRootFilesystem:   ptr(true),
							RunAsUser:                ptr(int64(0)),
							// RuntimeDefault blocks bpf().
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
							Capabilities: &corev1.Capabilities{
								Drop: []corev1.Capability{"ALL"},
								Add:  slices.Clone(AgentCapabilities),
							},
						},
						VolumeMounts: volumeMounts,
					}},
					Volumes: volumes,
				},
			},
		},
	}, nil
}

func controllerDeployment(opts Options) *appsv1.Deployment {
	grace := int64(30)
	env := []corev1.EnvVar{
		fieldEnv("POD_IP", "status.podIP"),
		fieldEnv("POD_NAMESPACE", "metadata.namespace"),
	}
	spec := corev1.PodSpec{
		ServiceAccountName:            ControllerName,
		TerminationGracePeriodSeconds: &grace,
		Containers: []corev1.Container{{
			Name:            "controller",
			Image:           opts.Image,
			ImagePullPolicy: opts.ImagePullPolicy,
			Args: []string{
				"controller",
				"--leader-elect",
				"--leader-election-namespace=$(POD_NAMESPACE)",
				fmt.Sprintf("--metrics-address=$(POD_IP):%d", ControllerMetricsPort),
				fmt.Sprintf("--health-address=$(POD_IP):%d", ControllerHealthPort),
			},
			Env:            append(env, apiServerEnv(opts)...),
			Ports:          ports(ControllerMetricsPort, ControllerHealthPort),
			LivenessProbe:  probe("/healthz"),
			ReadinessProbe: probe("/readyz"),
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("10m"),
					corev1.ResourceMemory: resource.MustParse("64Mi"),
				},
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptr(true),
				RunAsUser:                ptr(int64(controllerUID)),
				RunAsGroup:               ptr(int64(controllerUID)),
				AllowPrivilegeEscalation: ptr(false),
				ReadOnlyRootFilesystem:   ptr(true),
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
	if opts.APIServer != "" {
		spec.HostNetwork = true
		spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(ControllerName, opts.Namespace, ControllerComponent),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(opts.ControllerReplicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels(ControllerComponent)},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(ControllerComponent)},
				Spec:       spec,
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// YAML returns the objects as YAML documents for kubectl apply, separated
// by "---", in apply order.
func YAML(opts Options) ([]byte, error) {
	docs, err := documents(opts)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, d := range docs {
		y, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("encoding %s as YAML: %w", describe(d), err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return []byte(b.String()), nil
}

// JSON returns the objects as one v1 List, in apply order.
func JSON(opts Options) ([]byte, error) {
	docs, err := documents(opts)
	if err != nil {
		return nil, err
	}
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": docs}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(list); err != nil {
		return nil, fmt.Errorf("encoding the objects as JSON: %w", err)
	}
	return []byte(b.String()), nil
}

// documents returns the objects as decoded JSON, without what the cluster
// writes: status and null fields (creationTimestamp). Empty objects stay:
// some mean something (a CRD's subresources.status: {}).
func documents(opts Options) ([]map[string]any, error) {
	objs, err := Objects(opts)
	if err != nil {
		return nil, err
	}
	docs := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		js, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encoding %T %s: %w", o, o.GetName(), err)
		}
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("encoding %T %s: %w", o, o.GetName(), err)
		}
		delete(m, "status")
		docs = append(docs, dropNulls(m).(map[string]any))
	}
	return docs, nil
}

// dropNulls removes the null fields of decoded JSON.
func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				v[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range v {
			v[i] = dropNulls(e)
		}
	}
	return v
}

func describe(doc map[string]any) string {
	name, _ := doc["metadata"].(map[string]any)["name"].(string)
	return fmt.Sprintf("%v %s", doc["kind"], name)
}
