package cri

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Seccomp returns the seccomp profile that the runtime enforces on
// container id, as the OCI runtime spec's linux.seccomp JSON (the
// profile with includes/excludes already applied, as runc loads it), or
// nil when the container runs unconfined.
//
// The CRI API has no call for it: containerd and CRI-O both put the
// container's OCI spec in the "runtimeSpec" of the "info" JSON of a
// verbose ContainerStatus.
func (c *Client) Seccomp(ctx context.Context, id string) ([]byte, error) {
	st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		return nil, fmt.Errorf("asking %s about container %s: %w", c.runtime, id, err)
	}
	return seccompOfInfo(st.GetInfo())
}

// seccompOfInfo extracts runtimeSpec.linux.seccomp from a verbose
// status's info.
func seccompOfInfo(info map[string]string) ([]byte, error) {
	raw, ok := info["info"]
	if !ok {
		return nil, fmt.Errorf("the runtime's container status has no info: it cannot tell which seccomp profile the container runs under")
	}
	var v struct {
		RuntimeSpec *struct {
			Linux *struct {
				Seccomp json.RawMessage `json:"seccomp"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, fmt.Errorf("decoding the runtime's container info: %w", err)
	}
	if v.RuntimeSpec == nil {
		return nil, fmt.Errorf("the runtime's container info has no runtimeSpec: it cannot tell which seccomp profile the container runs under")
	}
	if v.RuntimeSpec.Linux == nil {
		return nil, nil
	}
	s := bytes.TrimSpace(v.RuntimeSpec.Linux.Seccomp)
	if len(s) == 0 || bytes.Equal(s, []byte("null")) {
		return nil, nil
	}
	return s, nil
}
