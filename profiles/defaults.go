package profiles

import (
	"encoding/json"
	"fmt"
	"strings"

	containerd "github.com/containerd/containerd/v2/contrib/seccomp"
	crio "github.com/containers/common/pkg/seccomp"
	docker "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtimes lists the runtimes whose default profile RuntimeDefault knows.
var Runtimes = []string{"containerd", "crio", "docker"}

// DefaultCaps is the capability set that containerd, CRI-O and Docker give
// a container by default (containerd's oci.defaultUnixCaps, Docker's
// oci/caps.DefaultCapabilities). containerd's default profile depends on
// it; Evaluate takes the set per query.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// RuntimeDefault returns a runtime's default profile: "containerd", "crio"
// (or "cri-o"), "docker".
//
// Docker's and CRI-O's profiles come as shipped, with archMap and the
// includes/excludes on capabilities, architectures and kernel versions
// intact: Evaluate applies them per query. containerd builds its default
// profile in Go for one container and this host's architecture instead
// of shipping JSON, so its profile is the one it generates for a container
// with DefaultCaps on this host's architecture.
func RuntimeDefault(runtime string) (*Profile, error) {
	var v any
	switch strings.ToLower(strings.TrimSpace(runtime)) {
	case "containerd":
		v = containerd.DefaultProfile(&specs.Spec{Process: &specs.Process{
			Capabilities: &specs.LinuxCapabilities{Bounding: DefaultCaps},
		}})
	case "crio", "cri-o":
		v = crio.DefaultProfile()
	case "docker", "moby":
		v = docker.DefaultProfile()
	default:
		return nil, fmt.Errorf("unknown container runtime %q: want one of %s", runtime, strings.Join(Runtimes, ", "))
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s default profile: %w", runtime, err)
	}
	p, err := Parse(data, runtime+"-default.json")
	if err != nil {
		return nil, fmt.Errorf("parsing the %s default profile: %w", runtime, err)
	}
	return p, nil
}
