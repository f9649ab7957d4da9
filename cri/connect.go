package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultContainerdSocket is containerd's own API socket, asked when no
// containerd address is given and the CRI runtime is not containerd.
const DefaultContainerdSocket = "/run/containerd/containerd.sock"

// None, given as an endpoint or a containerd address, asks for no
// connection.
const None = "none"

// Conn holds the connections to a node's container runtimes: through CRI,
// which knows pods, and through containerd's own API, which knows the
// containers containerd runs outside Kubernetes. Either may be nil; then
// CRIErr or ContainerdErr says why, where something was tried.
type Conn struct {
	CRI        *Client
	Containerd *Containerd
	// ContainerdNamespaces are containerd's namespaces other than the CRI
	// plugin's, read when Containerd was connected.
	ContainerdNamespaces []string
	// CRIErr and ContainerdErr say why an automatic connection (endpoint
	// or address "") was not made; nil when it was, or was not tried.
	CRIErr, ContainerdErr error
}

// Connect connects to the runtimes that name a node's containers.
//
// endpoint is the CRI endpoint: None for no CRI, "" for the first of
// DefaultEndpoints that answers (none answering is not an error: CRIErr
// says why), or unix:///path, which must answer.
//
// containerdAddress is containerd's API socket: None for none, a path or
// unix:///path, which must answer, or "" for the CRI endpoint when the
// CRI runtime is containerd, else DefaultContainerdSocket where it exists
// (not answering is not an error: ContainerdErr says why).
func Connect(ctx context.Context, endpoint, containerdAddress string) (*Conn, error) {
	c := &Conn{}
	var err error
	switch endpoint {
	case None:
	case "":
		c.CRI, c.CRIErr = Detect(ctx, DefaultEndpoints)
	default:
		if c.CRI, err = Dial(ctx, endpoint); err != nil {
			return nil, err
		}
	}
	auto := containerdAddress == ""
	switch {
	case containerdAddress == None:
		return c, nil
	case auto && c.CRI != nil && c.CRI.Runtime() == "containerd":
		containerdAddress = endpoint
		if containerdAddress == "" {
			containerdAddress = DefaultEndpoints[0]
		}
	case auto:
		if _, err := os.Stat(DefaultContainerdSocket); err != nil {
			return c, nil
		}
		containerdAddress = DefaultContainerdSocket
	}
	ctrd, err := DialContainerd(ctx, containerdAddress)
	if err == nil {
		c.ContainerdNamespaces, err = ctrd.Namespaces(ctx)
		if err != nil {
			ctrd.Close()
		}
	}
	switch {
	case err != nil && !auto:
		c.Close()
		return nil, err
	case err != nil:
		c.ContainerdErr = err
	default:
		c.Containerd = ctrd
	}
	return c, nil
}

// Close closes the connections.
func (c *Conn) Close() error {
	var errs []error
	if c.CRI != nil {
		errs = append(errs, c.CRI.Close())
	}
	if c.Containerd != nil {
		errs = append(errs, c.Containerd.Close())
	}
	return errors.Join(errs...)
}

// Runtime is the CRI runtime's name, "" without one.
func (c *Conn) Runtime() string {
	if c.CRI == nil {
		return ""
	}
	return c.CRI.Runtime()
}

// Resolve names the container of a cgroup, given its path or just its
// directory's name: through containerd's own API for the containers it
// runs outside Kubernetes, then through CRI, else from the name alone
// (see ResolveCgroup). A cgroup that holds no container, or that the
// runtime does not know as one (a pod sandbox), gets a Container without
// a pod name. The error is set only when ctx is done.
func (c *Conn) Resolve(ctx context.Context, cgroupPath string) (*Container, error) {
	if c.Containerd != nil {
		// A plain containerd container's cgroup is named by its id, which
		// need not look like a CRI one.
		info, err := c.Containerd.Container(ctx, filepath.Base(cgroupPath), c.ContainerdNamespaces...)
		if err == nil {
			return info, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("asking containerd about cgroup %s: %w", cgroupPath, ctx.Err())
		}
	}
	if c.CRI == nil {
		return ResolveCgroup(cgroupPath), nil
	}
	id, _, ok := ContainerIDFromCgroup(cgroupPath)
	if !ok {
		return &Container{}, nil // not a container
	}
	info, err := c.CRI.Container(ctx, id)
	if err == nil {
		return info, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("asking the runtime about cgroup %s: %w", cgroupPath, ctx.Err())
	}
	return &Container{ID: id}, nil // a sandbox, or gone: no pod name
}

// ResolveCgroup names the container of a cgroup from its path alone, for
// nodes where no runtime answers: container, pod and workload are the
// first 12 digits of its id, in namespace "unknown". A cgroup that holds
// no container gets a Container without a pod name.
func ResolveCgroup(cgroupPath string) *Container {
	id, _, ok := ContainerIDFromCgroup(cgroupPath)
	if !ok {
		return &Container{}
	}
	short := id[:12]
	return &Container{ID: id, Name: short, PodName: short, PodNamespace: "unknown", Workload: short, WorkloadKind: KindPod}
}
