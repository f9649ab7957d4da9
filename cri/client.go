package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultEndpoints are the CRI sockets of containerd and CRI-O, tried in
// this order when no endpoint is given.
var DefaultEndpoints = []string{
	"unix:///run/containerd/containerd.sock",
	"unix:///var/run/crio/crio.sock",
}

// Kubernetes labels that the kubelet, and the runtimes, put on containers.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
)

// Client asks a container runtime about containers through the CRI API,
// which containerd and CRI-O both serve.
type Client struct {
	conn    *grpc.ClientConn
	rt      runtimeapi.RuntimeServiceClient
	runtime string
}

// Dial connects to the CRI endpoint (unix:///path) and checks that a
// runtime answers there.
func Dial(ctx context.Context, endpoint string) (*Client, error) {
	if !strings.HasPrefix(endpoint, "unix://") {
		return nil, fmt.Errorf("CRI endpoint %q: want unix:///path/to/socket", endpoint)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connecting to CRI endpoint %s: %w", endpoint, err)
	}
	c := &Client{conn: conn, rt: runtimeapi.NewRuntimeServiceClient(conn)}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("asking CRI endpoint %s for its version: %w: is containerd or CRI-O running there?", endpoint, err)
	}
	c.runtime = v.RuntimeName
	return c, nil
}

// Detect connects to the first of endpoints that answers.
func Detect(ctx context.Context, endpoints []string) (*Client, error) {
	var errs []error
	for _, e := range endpoints {
		c, err := Dial(ctx, e)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("no CRI runtime answered: %w", errors.Join(errs...))
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Runtime is the runtime's name as it reports it ("containerd", "cri-o").
func (c *Client) Runtime() string { return c.runtime }

// Container is what the runtime knows about one container and its pod.
type Container struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Image        string            `json:"image"`
	PodName      string            `json:"podName"`
	PodNamespace string            `json:"podNamespace"`
	PodUID       string            `json:"podUID"`
	PodLabels    map[string]string `json:"podLabels,omitempty"`
	// Workload and WorkloadKind name the controller that owns the pod, as
	// WorkloadName derives them.
	Workload     string `json:"workload"`
	WorkloadKind string `json:"workloadKind"`
	// PID is the container's init process on the host, 0 when the runtime
	// does not say.
	PID int `json:"pid,omitempty"`
}

// Container returns what the runtime knows about container id.
func (c *Client) Container(ctx context.Context, id string) (*Container, error) {
	st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		return nil, fmt.Errorf("asking %s about container %s: %w", c.runtime, id, err)
	}
	s := st.GetStatus()
	labels := s.GetLabels()
	out := &Container{
		ID:           s.GetId(),
		Name:         labels[labelContainerName],
		Image:        s.GetImage().GetImage(),
		PodName:      labels[labelPodName],
		PodNamespace: labels[labelPodNamespace],
		PodUID:       labels[labelPodUID],
		PID:          infoPID(st.GetInfo()),
	}
	if out.Name == "" {
		out.Name = s.GetMetadata().GetName()
	}
	// The container's own labels hold only the kubelet's; the workload's
	// labels are the pod's.
	list, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{Id: id}})
	if err != nil {
		return nil, fmt.Errorf("listing container %s: %w", id, err)
	}
	if cs := list.GetContainers(); len(cs) == 1 {
		pod, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: cs[0].PodSandboxId})
		if err != nil {
			return nil, fmt.Errorf("asking %s about the pod of container %s: %w", c.runtime, id, err)
		}
		md := pod.GetStatus().GetMetadata()
		out.PodLabels = pod.GetStatus().GetLabels()
		if out.PodName == "" {
			out.PodName, out.PodNamespace, out.PodUID = md.GetName(), md.GetNamespace(), md.GetUid()
		}
	}
	out.Workload, out.WorkloadKind = WorkloadName(out.PodName, out.PodLabels)
	return out, nil
}

// infoPID reads the init pid from a verbose status's "info" JSON, which
// both containerd and CRI-O fill.
func infoPID(info map[string]string) int {
	var v struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(info["info"]), &v); err != nil {
		return 0
	}
	return v.PID
}
