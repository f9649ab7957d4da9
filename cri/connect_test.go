package cri

import (
	"context"
	"strings"
	"testing"
)

func TestConnectNone(t *testing.T) {
	ctx := context.Background()
	c, err := Connect(ctx, None, None)
	if err != nil {
		t.Fatalf("Connect(none, none): got %v, want nil", err)
	}
	defer c.Close()
	if c.CRI != nil || c.Containerd != nil || c.Runtime() != "" {
		t.Errorf("Connect(none, none): got %+v, want no connection", c)
	}
	id := strings.Repeat("ab", 32)
	got, err := c.Resolve(ctx, "/kubepods/besteffort/pod1/"+id)
	if err != nil || got.ID != id || got.PodName != id[:12] || got.PodNamespace != "unknown" || got.WorkloadKind != KindPod {
		t.Errorf("Resolve without a runtime: got %+v, %v; want container %s named %s in namespace unknown", got, err, id, id[:12])
	}
	if got, err := c.Resolve(ctx, "/system.slice/cron.service"); err != nil || got.PodName != "" {
		t.Errorf("Resolve of a cgroup without a container: got %+v, %v; want no pod name", got, err)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := context.Background()
	sock := "unix://" + t.TempDir() + "/none.sock"
	if _, err := Connect(ctx, sock, None); err == nil {
		t.Errorf("Connect to an explicit endpoint that does not answer: got nil error, want one")
	}
	c, err := Connect(ctx, None, sock)
	if err == nil {
		c.Close()
		t.Errorf("Connect to an explicit containerd address that does not answer: got nil error, want one")
	} else if strings.Contains(err.Error(), "--") {
		t.Errorf("Connect error %q names a command-line flag", err)
	}
}
