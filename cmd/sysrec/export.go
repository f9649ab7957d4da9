package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

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
		ArgsUsage: "PROFILE|DIR...",
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
			"Examples:\n   sysrec export --format daemonset --namespace kube-system profiles/ | kubectl apply -f -\n" +
			"   kubectl patch deployment web --patch \"$(sysrec export --format pod-patch web.json)\"",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "`FORMAT`: " + strings.Join(exportFormats, ", ")},
			&cli.StringFlag{Name: "name", Value: "sysrec-seccomp-profiles", Usage: "`NAME` of the ConfigMap and DaemonSet; with one profile, of the SeccompProfile"},
			&cli.StringFlag{Name: "namespace", Usage: "`NS` of the objects (default: kubectl's)"},
			&cli.StringFlag{Name: "dir", Value: "sysrec", Usage: "the profiles go to /var/lib/kubelet/seccomp/`DIR`/"},
			&cli.StringFlag{Name: "image", Value: defaultImage, Usage: "`IMAGE` of the DaemonSet: it needs sh, mkdir, cp, mv and sleep"},
		},
		Action: export,
	}
}

func export(c *cli.Context) error {
	format := c.String("format")
	if format == "" {
		return usageError("export: --format is required: one of %s", strings.Join(exportFormats, ", "))
	}
	if !slices.Contains(exportFormats, format) {
		return usageError("--format %q: want one of %s", format, strings.Join(exportFormats, ", "))
	}
	if c.NArg() == 0 {
		return usageError("export: no profile given: usage: sysrec export --format FORMAT PROFILE|DIR...")
	}
	dir, files, in, err := profilesToShip(c)
	if err != nil {
		return err
	}
	opts := kube.Options{Name: c.String("name"), Namespace: c.String("namespace"), Dir: dir, Image: c.String("image")}

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
