package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/sysrec/sysrec/deploy"
	"github.com/sysrec/sysrec/profiles/kube"
)

// exportFormats are the values of export --format.
var exportFormats = []string{"configmap", "seccompprofile", "daemonset", "pod-patch"}

// defaultImage runs the DaemonSet that export --format daemonset writes:
// a small image with a shell.
const defaultImage = "docker.io/library/busybox:1.37"

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "print Kubernetes objects that carry seccomp profiles to nodes and pods",
		ArgsUsage: "PROFILE|DIR... | deploy",
		Description: "export prints YAML for kubectl apply, one document per object:\n\n" +
			"  configmap       a ConfigMap holding the profiles' JSON, one key per file\n" +
			"  daemonset       that ConfigMap and a DaemonSet that copies the profiles to\n" +
			"                  /var/lib/kubelet/seccomp/DIR/ on every node, as sysrec\n" +
			"                  install does\n" +
			"  seccompprofile  one SeccompProfile of the security-profiles-operator\n" +
			"                  (security-profiles-operator.x-k8s.io/v1beta1) per profile\n" +
			"  pod-patch       per profile, a patch for a workload's pod template that\n" +
			"                  sets securityContext.seccompProfile to the Localhost\n" +
			"                  profile DIR/<name>.json that daemonset and install write\n\n" +
			"A directory written by sysrec record --containers exports its tree: its\n" +
			"profiles keep <namespace>/<workload>/<container>.json below DIR, and their\n" +
			"pod patches set each container's profile.\n\n" +
			"sysrec export deploy, without --format, prints instead what runs sysrec on a\n" +
			"cluster: its namespace, the SyscallRecording CRD, RBAC, the node agent's\n" +
			"DaemonSet and the controller's Deployment (deploy/sysrec.yaml has them with\n" +
			"the defaults). It takes the flags marked deploy, and --image and --namespace.\n" +
			"Paths may hold $(NODE_NAME), which Kubernetes replaces with the node's name.\n\n" +
			"Examples:\n   sysrec export --format daemonset --namespace kube-system profiles/ | kubectl apply -f -\n" +
			"   kubectl patch deployment web --patch \"$(sysrec export --format pod-patch web.json)\"\n" +
			"   sysrec export deploy --image registry.example/sysrec:v1 | kubectl apply -f -",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "`FORMAT`: " + strings.Join(exportFormats, ", ")},
			&cli.StringFlag{Name: "name", Value: "sysrec-seccomp-profiles", Usage: "`NAME` of the ConfigMap and DaemonSet; with one profile, of the SeccompProfile"},
			&cli.StringFlag{Name: "namespace", Usage: "`NS` of the objects (default: kubectl's; for deploy, " + deploy.DefaultNamespace + ")"},
			&cli.StringFlag{Name: "dir", Value: "sysrec", Usage: "the profiles go to /var/lib/kubelet/seccomp/`DIR`/"},
			&cli.StringFlag{Name: "image", Usage: "`IMAGE` of the DaemonSet: it needs sh, mkdir, cp, mv and sleep (default: " + defaultImage + "; for deploy, sysrec's image, " + deploy.DefaultImage + ")"},
			&cli.StringFlag{Name: "image-pull-policy", Value: string(deploy.DefaultImagePullPolicy), Usage: "deploy: the pods' image pull `POLICY`: Always, IfNotPresent or Never"},
			&cli.StringFlag{Name: "seccomp-root", Value: deploy.DefaultSeccompRoot, Usage: "deploy: the kubelet's seccomp `DIR` on the nodes"},
			&cli.StringFlag{Name: "runtime-endpoint", Value: deploy.DefaultRuntimeEndpoint, Usage: "deploy: the CRI socket on the nodes, `ENDPOINT` unix:///PATH"},
			&cli.StringFlag{Name: "containerd-address", Usage: "deploy: containerd's socket `PATH` on the nodes, to record containers outside Kubernetes too (default: none)"},
			&cli.StringSliceFlag{Name: "pod-cgroup-root", Usage: "deploy: the kubelet's pod cgroup `DIR` below the cgroup2 mount (repeatable; default: the agent's)"},
			&cli.StringFlag{Name: "api-server", Usage: "deploy: the API server's `HOST:PORT`, for clusters without kube-proxy (the controller then uses the host network)"},
			&cli.IntFlag{Name: "controller-replicas", Value: 1, Usage: "deploy: `N` replicas of the controller (leader election makes more than 1 safe)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "yaml", Usage: "deploy: print as `FORMAT`: yaml, or json (a v1 List)"},
		},
		Action: export,
	}
}

// deployFlags are the flags of export deploy only; profileFlags those of
// the profile formats only.
var (
	deployFlags  = []string{"image-pull-policy", "seccomp-root", "runtime-endpoint", "containerd-address", "pod-cgroup-root", "api-server", "controller-replicas", "output"}
	profileFlags = []string{"format", "name", "dir"}
)

func export(c *cli.Context) error {
	format := c.String("format")
	// "deploy" is a mode, not a subcommand: a subcommand would stop the
	// flags that follow a profile from being read as export's
	// (flagsFirst). With --format, deploy is a profile directory.
	if format == "" && c.Args().First() == "deploy" {
		return exportDeploy(c)
	}
	if format == "" {
		return usageError("export: --format is required: one of %s; or sysrec export deploy for sysrec's own deployment", strings.Join(exportFormats, ", "))
	}
	if !slices.Contains(exportFormats, format) {
		return usageError("--format %q: want one of %s", format, strings.Join(exportFormats, ", "))
	}
	for _, f := range deployFlags {
		if c.IsSet(f) {
			return usageError("export: %s is for sysrec export deploy only, not --format %s", flagDisplay(f), format)
		}
	}
	if c.NArg() == 0 {
		return usageError("export: no profile given: usage: sysrec export --format FORMAT PROFILE|DIR...")
	}
	dir, files, in, err := profilesToShip(c)
	if err != nil {
		return err
	}
	image := defaultImage
	if c.IsSet("image") {
		image = c.String("image")
	}
	opts := kube.Options{Name: c.String("name"), Namespace: c.String("namespace"), Dir: dir, Image: image}

	var objs []any
	switch format {
	case "configmap", "daemonset":
		cm, err := kube.ConfigMap(in, opts)
		if err != nil {
			return err
		}
		objs = append(objs, cm)
		if format == "daemonset" {
			ds, err := kube.DaemonSet(in, opts)
			if err != nil {
				return err
			}
			objs = append(objs, ds)
		}
	case "seccompprofile":
		for _, f := range files {
			name := kube.SeccompProfileName(f.rel)
			if len(files) == 1 && c.IsSet("name") {
				name = opts.Name
			}
			sp, err := kube.SeccompProfile(name, opts.Namespace, f.profile)
			if err != nil {
				return fmt.Errorf("exporting %s: %w", f.source, err)
			}
			objs = append(objs, sp)
		}
	case "pod-patch":
		for _, f := range files {
			objs = append(objs, kube.PodPatch(dir, f.rel))
		}
	}
	data, err := yamlDocuments(objs)
	if err != nil {
		return err
	}
	_, err = c.App.Writer.Write(data)
	return err
}

// flagDisplay is how a flag is written in errors: -o for output.
func flagDisplay(name string) string {
	if name == "output" {
		return "-o"
	}
	return "--" + name
}

// exportDeploy prints the objects that run sysrec on a cluster.
func exportDeploy(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageError("export deploy takes no arguments, got %q: see sysrec export --help", c.Args().Slice()[1:])
	}
	for _, f := range profileFlags {
		if c.IsSet(f) {
			return usageError("export deploy: --%s is for the profile formats only: see sysrec export --help", f)
		}
	}
	output := c.String("output")
	if output != "yaml" && output != "json" {
		return usageError("export deploy: -o %q: want yaml or json", output)
	}
	opts := deploy.Options{
		Namespace:         c.String("namespace"),
		Image:             deploy.DefaultImage,
		ImagePullPolicy:   corev1.PullPolicy(c.String("image-pull-policy")),
		SeccompRoot:       c.String("seccomp-root"),
		RuntimeEndpoint:   c.String("runtime-endpoint"),
		ContainerdAddress: c.String("containerd-address"),
		PodCgroupRoots:    c.StringSlice("pod-cgroup-root"),
		APIServer:         c.String("api-server"),
	}
	// An empty value set on the command line is a mistake, not a request
	// for the default.
	for _, f := range []struct {
		name  string
		value *string
	}{
		{"namespace", &opts.Namespace},
		{"image", &opts.Image},
		{"image-pull-policy", (*string)(&opts.ImagePullPolicy)},
		{"seccomp-root", &opts.SeccompRoot},
		{"runtime-endpoint", &opts.RuntimeEndpoint},
		{"containerd-address", &opts.ContainerdAddress},
		{"api-server", &opts.APIServer},
	} {
		if !c.IsSet(f.name) {
			continue
		}
		if *f.value = c.String(f.name); *f.value == "" {
			return usageError("export deploy: --%s is empty: give a value or leave the flag out for the default", f.name)
		}
	}
	replicas := c.Int("controller-replicas")
	if replicas < 1 || replicas > math.MaxInt32 {
		return usageError("export deploy: --controller-replicas %d: want 1 or more", replicas)
	}
	opts.ControllerReplicas = int32(replicas)
	if err := opts.Validate(); err != nil {
		return usageError("export deploy: %w: see sysrec export --help", err)
	}
	var data []byte
	var err error
	if output == "json" {
		data, err = deploy.JSON(opts)
	} else {
		data, err = deploy.YAML(opts)
	}
	if err != nil {
		return err
	}
	_, err = c.App.Writer.Write(data)
	return err
}

// yamlDocuments encodes objs as YAML documents separated by "---". Empty
// fields that Kubernetes types always encode (status, creationTimestamp)
// are dropped, so that the output holds only what was set.
func yamlDocuments(objs []any) ([]byte, error) {
	var b bytes.Buffer
	for i, o := range objs {
		js, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encoding %T: %w", o, err)
		}
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("encoding %T: %w", o, err)
		}
		delete(m, "status") // the cluster writes it
		y, err := yaml.Marshal(pruneEmpty(m))
		if err != nil {
			return nil, fmt.Errorf("encoding %T as YAML: %w", o, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// pruneEmpty drops nulls and empty objects from decoded JSON, keeping
// empty lists and strings, which can mean something.
func pruneEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			e = pruneEmpty(e)
			if m, ok := e.(map[string]any); e == nil || ok && len(m) == 0 {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = pruneEmpty(e)
		}
		return v
	}
	return v
}
