package cri

import (
	"context"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/internal/testenv"
)

// A container started through CRI is attributed to its pod, namespace,
// image and Deployment, and its process's cgroup names it, with each
// runtime.
func TestContainerAttribution(t *testing.T) {
	for _, r := range testenv.Runtimes {
		t.Run(r.Name, func(t *testing.T) {
			testContainerAttribution(t, r.Endpoint(t), r.Name)
		})
	}
}

func testContainerAttribution(t *testing.T, endpoint, runtime string) {
	labels := map[string]string{"app": "web", "pod-template-hash": "7c9d8f6b5"}
	id := testenv.RunPod(t, endpoint, testenv.Pod{Name: "web-7c9d8f6b5-x2k4q", Namespace: "sysrec-test", Labels: labels, Command: []string{"/bin/sleep", "60"}})

	ctx := context.Background()
	c, err := Dial(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Runtime() != runtime {
		t.Errorf("runtime: got %q, want %q", c.Runtime(), runtime)
	}
	got, err := c.Container(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Name != "app" || got.PodName != "web-7c9d8f6b5-x2k4q" || got.PodNamespace != "sysrec-test" ||
		got.Workload != "web" || got.WorkloadKind != KindDeployment || !strings.Contains(got.Image, "sysrec-busybox") ||
		got.PodLabels["app"] != "web" || got.PID <= 0 {
		t.Fatalf("got %+v, want container app of pod web-7c9d8f6b5-x2k4q in sysrec-test, Deployment web, image sysrec-busybox, a pid", got)
	}
	cgID, _, ok, err := ContainerIDOfPID("/proc", got.PID)
	if err != nil || !ok || cgID != id {
		t.Errorf("cgroup of pid %d: got %q, %v, %v; want %s", got.PID, cgID, ok, err, id)
	}
}

func TestDialErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Dial(ctx, "/run/containerd/containerd.sock"); err == nil || !strings.Contains(err.Error(), "want unix://") {
		t.Errorf("endpoint without scheme: got %v", err)
	}
	_, err := Detect(ctx, []string{"unix://" + t.TempDir() + "/none.sock"})
	if err == nil || !strings.Contains(err.Error(), "no CRI runtime answered") || strings.Contains(err.Error(), "--runtime-endpoint") {
		t.Errorf("no runtime: got %v, want \"no CRI runtime answered\" without a command-line flag", err)
	}
}
