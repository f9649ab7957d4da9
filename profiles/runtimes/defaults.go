// Package runtimes gives the default seccomp profiles of containerd, CRI-O
// and Docker, as the runtimes' own Go packages build them, so that
// recorded profiles can be compared with what a pod of seccompProfile type
// RuntimeDefault runs under.
package runtimes

import (
	"encoding/json"
	"fmt"
	"strings"

	containerd "github.com/containerd/containerd/v2/contrib/seccomp"
	crio "github.com/containers/common/pkg/seccomp"
	docker "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/sysrec/sysrec/profiles"
)

// Names lists the runtimes whose default profile Default knows.
var Names = []string{"containerd", "crio", "docker"}

// Default returns a runtime's default profile: "containerd", "crio" (or
// "cri-o"), "docker".
//
// Docker's and CRI-O's profiles come as shipped, with archMap and the
// includes/excludes on capabilities, architectures and kernel versions
// intact: Evaluate applies them per query. containerd builds its default
// profile in Go for one container and this host's architecture instead
// of shipping JSON, so its profile is the one it generates for a container
// with profiles.DefaultCaps on this host's architecture.
func Default(runtime string) (*profiles.Profile, error) {
	var v any
	switch strings.ToLower(strings.TrimSpace(runtime)) {
	case "containerd":
		v = containerd.DefaultProfile(&specs.Spec{Process: &specs.Process{
			Capabilities: &specs.LinuxCapabilities{Bounding: profiles.DefaultCaps},
		}})
	case "crio", "cri-o":
		v = crio.DefaultProfile()
	case "docker", "moby":
		v = docker.DefaultProfile()
	default:
		return nil, fmt.Errorf("unknown container runtime %q: want one of %s", runtime, strings.Join(Names, ", "))
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s default profile: %w", runtime, err)
	}
	p, err := profiles.Parse(data, runtime+"-default.json")
	if err != nil {
		return nil, fmt.Errorf("parsing the %s default profile: %w", runtime, err)
	}
	return p, nil
}
