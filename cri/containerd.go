package cri

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
)

// KindContainerd is the workload kind of a container that containerd runs
// outside Kubernetes (ctr run, nerdctl): it is its own workload.
const KindContainerd = "containerd"

// k8sNamespace is the containerd namespace of the CRI plugin's containers,
// which the CRI API attributes.
const k8sNamespace = "k8s.io"

// Containerd asks containerd about the containers it runs outside
// Kubernetes, through its own API: the CRI API only knows pods. Such a
// container is named <containerd namespace>/<container id>.
type Containerd struct {
	client *containerd.Client
}

// DialContainerd connects to containerd's socket (a path, or unix:///path).
func DialContainerd(ctx context.Context, address string) (*Containerd, error) {
	address = strings.TrimPrefix(address, "unix://")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := containerd.New(address, containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connecting to containerd at %s: %w", address, err)
	}
	if _, err := c.Version(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("asking containerd at %s for its version: %w: is containerd running there?", address, err)
	}
	return &Containerd{client: c}, nil
}

// Close closes the connection.
func (c *Containerd) Close() error { return c.client.Close() }

// Namespaces lists containerd's namespaces other than the CRI plugin's.
func (c *Containerd) Namespaces(ctx context.Context) ([]string, error) {
	all, err := c.client.NamespaceService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containerd namespaces: %w", err)
	}
	var out []string
	for _, ns := range all {
		if ns != k8sNamespace {
			out = append(out, ns)
		}
	}
	return out, nil
}

// ErrNotFound is returned by Containerd.Container for an id that no
// namespace holds.
var ErrNotFound = errors.New("no such container")

// Container returns what containerd knows about container id, from the
// first of namespaces that holds it.
func (c *Containerd) Container(ctx context.Context, id string, namespaces ...string) (*Container, error) {
	for _, ns := range namespaces {
		info, err := c.container(ctx, ns, id)
		if errdefs.IsNotFound(err) {
			continue
		}
		return info, err
	}
	return nil, fmt.Errorf("container %s in containerd namespaces %v: %w", id, namespaces, ErrNotFound)
}

func (c *Containerd) container(ctx context.Context, ns, id string) (*Container, error) {
	ctx = namespaces.WithNamespace(ctx, ns)
	ctr, err := c.client.ContainerService().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &Container{
		ID:           ctr.ID,
		Name:         ctr.ID,
		Image:        ctr.Image,
		PodName:      ctr.ID,
		PodNamespace: ns,
		PodLabels:    ctr.Labels,
		Workload:     ctr.ID,
		WorkloadKind: KindContainerd,
	}
	// A container that has no running task has no pid.
	if l, err := c.client.LoadContainer(ctx, id); err == nil {
		if t, err := l.Task(ctx, nil); err == nil {
			out.PID = int(t.Pid())
		}
	}
	return out, nil
}
