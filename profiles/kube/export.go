// Package kube exports seccomp profiles as Kubernetes objects: a
// ConfigMap of their JSON, a DaemonSet that installs them on every node
// as package kubelet does, the security-profiles-operator's
// SeccompProfile, and pod template patches that use them.
package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/kubelet"
)

// Options name the Kubernetes objects that carry profiles to nodes.
type Options struct {
	// Name of the ConfigMap and DaemonSet.
	Name string
	// Namespace of every object; empty leaves it to kubectl.
	Namespace string
	// Dir is the directory below the kubelet's seccomp root that the
	// profiles go to, as kubelet.Install's dir.
	Dir string
	// Image runs the DaemonSet's shell: it needs sh, mkdir, cp, mv and
	// sleep.
	Image string
}

// maxConfigMapBytes is the most data a ConfigMap can hold (etcd's 1 MiB
// object limit, less room for the metadata).
const maxConfigMapBytes = 1000 * 1024

// labelName is the label that selects the DaemonSet's pods.
const labelName = "app.kubernetes.io/name"

// ConfigMapKey is the ConfigMap key of a profile installed at rel: keys
// cannot hold '/', so "shop/cart/app.json" is "shop__cart__app.json".
func ConfigMapKey(rel string) string { return strings.ReplaceAll(rel, "/", "__") }

// ConfigMap holds the profiles' JSON, one key per file (see
// ConfigMapKey).
func ConfigMap(files []kubelet.File, opts Options) (*corev1.ConfigMap, error) {
	if err := checkName("ConfigMap", opts.Name); err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(opts),
		Data:       map[string]string{},
	}
	size := 0
	rels := map[string]string{}
	for _, f := range files {
		key := ConfigMapKey(f.Rel)
		if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
			return nil, fmt.Errorf("profile %s: ConfigMap key %q: %s", f.Rel, key, strings.Join(errs, "; "))
		}
		if prev, ok := rels[key]; ok {
			return nil, fmt.Errorf("profiles %s and %s share the ConfigMap key %q: rename one", prev, f.Rel, key)
		}
		rels[key] = f.Rel
		cm.Data[key] = string(f.Data)
		size += len(key) + len(f.Data)
	}
	if size > maxConfigMapBytes {
		return nil, fmt.Errorf("the profiles take %d bytes, more than the %d a ConfigMap can hold: export them in several parts, under different names", size, maxConfigMapBytes)
	}
	return cm, nil
}

// DaemonSet runs on every node, tolerating every taint, and copies the
// profiles from the ConfigMap of the same name (see ConfigMap) to
// /var/lib/kubelet/seccomp/<dir>/<rel> on the node, where kubelet.Install
// would put them. Each file is copied next to its target and renamed over it, so
// the kubelet never reads half a profile. The pod template carries a hash
// of the profiles, so that changing them rolls the DaemonSet out again.
func DaemonSet(files []kubelet.File, opts Options) (*appsv1.DaemonSet, error) {
	if err := checkName("DaemonSet", opts.Name); err != nil {
		return nil, err
	}
	if err := kubelet.CheckRel(opts.Dir); err != nil {
		return nil, fmt.Errorf("install directory %q: %w", opts.Dir, err)
	}
	if opts.Image == "" {
		return nil, errors.New("the DaemonSet needs an image with a shell")
	}
	const src, dst = "/profiles", "/host"
	sorted := append([]kubelet.File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Rel < sorted[j].Rel })
	hash := sha256.New()
	script := []string{
		"set -eu",
		"umask 022",
		`put() { mkdir -p "$(dirname "$2")"; cp "$1" "$2.sysrec-tmp"; mv -f "$2.sysrec-tmp" "$2"; }`,
	}
	for _, f := range sorted {
		if err := kubelet.CheckRel(f.Rel); err != nil {
			return nil, fmt.Errorf("profile path %q: %w", f.Rel, err)
		}
		// Names are sanitized (checkRel and the ConfigMap key rules), so
		// single quotes hold them safely.
		if strings.ContainsRune(f.Rel, '\'') {
			return nil, fmt.Errorf("profile path %q: contains a quote", f.Rel)
		}
		script = append(script, fmt.Sprintf("put '%s/%s' '%s'", src, ConfigMapKey(f.Rel), path.Join(dst, opts.Dir, f.Rel)))
		fmt.Fprintf(hash, "%s\x00%d\x00%s", f.Rel, len(f.Data), f.Data)
	}
	script = append(script, fmt.Sprintf("echo installed %d seccomp profiles in /var/lib/kubelet/seccomp/%s", len(sorted), opts.Dir))

	labels := map[string]string{labelName: opts.Name, "app.kubernetes.io/managed-by": "sysrec"}
	meta := objectMeta(opts)
	meta.Labels = labels
	hostPathType := corev1.HostPathDirectoryOrCreate
	no, yes := false, true
	root, nobody := int64(0), int64(65534)
	dropAll := &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	small := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m"), corev1.ResourceMemory: resource.MustParse("8Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
	}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: meta,
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{labelName: opts.Name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      labels,
					Annotations: map[string]string{"sysrec.dev/profiles-sha256": hex.EncodeToString(hash.Sum(nil))},
				},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: &no,
					Tolerations:                  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					SecurityContext: &corev1.PodSecurityContext{
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					InitContainers: []corev1.Container{{
						Name:    "install",
						Image:   opts.Image,
						Command: []string{"/bin/sh", "-c", strings.Join(script, "\n")},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "profiles", MountPath: src, ReadOnly: true},
							{Name: "seccomp", MountPath: dst},
						},
						Resources: small,
						SecurityContext: &corev1.SecurityContext{
							RunAsUser:                &root, // the kubelet's directory is root's
							AllowPrivilegeEscalation: &no,
							ReadOnlyRootFilesystem:   &yes,
							Capabilities:             dropAll,
						},
					}},
					Containers: []corev1.Container{{
						Name:  "pause",
						Image: opts.Image,
						// Keeps the pod, and so the DaemonSet, ready.
						Command:   []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done`},
						Resources: small,
						SecurityContext: &corev1.SecurityContext{
							RunAsUser:                &nobody,
							RunAsNonRoot:             &yes,
							AllowPrivilegeEscalation: &no,
							ReadOnlyRootFilesystem:   &yes,
							Capabilities:             dropAll,
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "profiles", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: opts.Name},
						}}},
						{Name: "seccomp", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
							Path: kubelet.SeccompRoot, Type: &hostPathType,
						}}},
					},
				},
			},
		},
	}, nil
}

// PodPatch is a strategic merge patch for a workload's pod template
// (Deployment, StatefulSet, DaemonSet, Job) that gives it the profile
// installed at dir/rel: kubectl patch deployment web --patch-file FILE.
//
// A profile of a tree of recorded containers (package tree:
// <namespace>/<workload>/<container>.json) applies to that container,
// and the patch names the workload and namespace; any other applies to
// the whole pod.
func PodPatch(dir, rel string) *appsv1.Deployment {
	localhost := path.Join(dir, rel)
	sp := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &localhost}
	patch := &appsv1.Deployment{}
	if elems := strings.Split(rel, "/"); len(elems) == 3 {
		patch.ObjectMeta = metav1.ObjectMeta{Name: elems[1], Namespace: elems[0]}
		patch.Spec.Template.Spec.Containers = []corev1.Container{{
			Name:            strings.TrimSuffix(elems[2], ".json"),
			SecurityContext: &corev1.SecurityContext{SeccompProfile: sp},
		}}
		return patch
	}
	patch.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: sp}
	return patch
}

// SeccompProfileObject is the security-profiles-operator's SeccompProfile
// (security-profiles-operator.x-k8s.io/v1beta1), whose spec is the
// profile less what the operator's type cannot hold.
type SeccompProfileObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              SeccompProfileSpec `json:"spec"`
}

// SeccompProfileSpec mirrors the operator's SeccompProfileSpec.
type SeccompProfileSpec struct {
	DefaultAction    profiles.Action `json:"defaultAction"`
	Architectures    []string        `json:"architectures,omitempty"`
	ListenerPath     string          `json:"listenerPath,omitempty"`
	ListenerMetadata string          `json:"listenerMetadata,omitempty"`
	Syscalls         []spoSyscall    `json:"syscalls,omitempty"`
	Flags            []profiles.Flag `json:"flags,omitempty"`
}

type spoSyscall struct {
	Names    []string        `json:"names"`
	Action   profiles.Action `json:"action"`
	ErrnoRet uint            `json:"errnoRet,omitempty"`
	Args     []profiles.Arg  `json:"args,omitempty"`
}

// SeccompProfileName is the name of the SeccompProfile object for the
// profile at rel: "shop/cart/app.json" is "shop-cart-app", a DNS
// subdomain as object names must be.
func SeccompProfileName(rel string) string {
	s := strings.ToLower(strings.TrimSuffix(rel, ".json"))
	s = strings.NewReplacer("/", "-", "_", "-").Replace(s)
	return strings.Trim(s, "-.")
}

// SeccompProfile converts p into the operator's object. Comments are
// dropped; what would change what the profile does and the operator's
// type cannot hold (includes, excludes, defaultErrnoRet, archMap) is an
// error.
func SeccompProfile(name, namespace string, p *profiles.Profile) (*SeccompProfileObject, error) {
	if err := checkName("SeccompProfile", name); err != nil {
		return nil, err
	}
	unsupported := func(what string) error {
		return fmt.Errorf("SeccompProfile %s: the security-profiles-operator cannot hold %s: export it as a ConfigMap or DaemonSet instead", name, what)
	}
	if p.DefaultErrnoRet != nil {
		return nil, unsupported("defaultErrnoRet")
	}
	if len(p.ArchMap) > 0 {
		return nil, unsupported("archMap")
	}
	obj := &SeccompProfileObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "security-profiles-operator.x-k8s.io/v1beta1", Kind: "SeccompProfile"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: SeccompProfileSpec{
			DefaultAction:    p.DefaultAction,
			ListenerPath:     p.ListenerPath,
			ListenerMetadata: p.ListenerMetadata,
			Flags:            p.Flags,
		},
	}
	for _, a := range p.Architectures {
		obj.Spec.Architectures = append(obj.Spec.Architectures, string(a))
	}
	for i, r := range p.Syscalls {
		if r.Includes != nil || r.Excludes != nil {
			return nil, unsupported(fmt.Sprintf("the includes and excludes of syscalls[%d]", i))
		}
		s := spoSyscall{Names: r.AllNames(), Action: r.Action, Args: r.Args}
		if r.ErrnoRet != nil {
			s.ErrnoRet = *r.ErrnoRet
		}
		obj.Spec.Syscalls = append(obj.Spec.Syscalls, s)
	}
	return obj, nil
}

func objectMeta(opts Options) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: opts.Name, Namespace: opts.Namespace}
}

func checkName(kind, name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%s name %q: %s", kind, name, strings.Join(errs, "; "))
	}
	return nil
}
