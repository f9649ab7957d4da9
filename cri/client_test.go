package cri

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/sysrec/sysrec/internal/testenv"
)

// The image that scripts/containerd.sh and scripts/crio.sh import.
const testImage = "docker.io/library/sysrec-busybox:latest"

// The runtimes the integration tests run against: each one's endpoint comes
// from an environment variable that make test sets after it starts the
// runtime with its script.
var testRuntimes = []struct {
	name, env, script string
}{
	{RuntimeContainerd, "SYSREC_CONTAINERD_ENDPOINT", "scripts/containerd.sh"},
	{RuntimeCRIO, "SYSREC_CRIO_ENDPOINT", "scripts/crio.sh"},
}

// runtimeEndpoint returns the endpoint in env, or skips.
func runtimeEndpoint(t *testing.T, env, script string) string {
	t.Helper()
	e := os.Getenv(env)
	if e == "" {
		testenv.Skip(t, "%s is not set: run the tests with make test, or with %s=$(%s start)", env, env, script)
	}
	return e
}

// runPod starts a pod with one container through the CRI API, as the
// kubelet would, and removes it when the test ends.
func runPod(t *testing.T, endpoint, podName, ns string, labels map[string]string, cmd []string) (podID, ctrID string) {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	uid := strings.ReplaceAll(strings.TrimPrefix(t.Name(), "Test"), "/", "-") + "-" + time.Now().Format("150405.000000000")
	logs := t.TempDir()
	podCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: podName, Namespace: ns, Uid: uid},
		Labels:       labels,
		LogDirectory: logs,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: "/kubepods/besteffort/pod" + uid,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	pod, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod.PodSandboxId})
		rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId})
	})
	ctr, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: pod.PodSandboxId,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
			Image:    &runtimeapi.ImageSpec{Image: testImage, UserSpecifiedImage: testImage},
			Command:  cmd,
			LogPath:  "app.log",
			Labels:   map[string]string{"io.kubernetes.container.name": "app"},
		},
		SandboxConfig: podCfg,
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	return pod.PodSandboxId, ctr.ContainerId
}

// A container started through CRI is attributed to its pod, namespace,
// image and Deployment, and its process's cgroup names it, with each
// runtime.
func TestContainerAttribution(t *testing.T) {
	for _, r := range testRuntimes {
		t.Run(r.name, func(t *testing.T) {
			if os.Geteuid() != 0 {
				testenv.Skip(t, "the test needs root to run containers")
			}
			testContainerAttribution(t, runtimeEndpoint(t, r.env, r.script), r.name)
		})
	}
}

func testContainerAttribution(t *testing.T, endpoint, runtime string) {
	labels := map[string]string{"app": "web", "pod-template-hash": "7c9d8f6b5"}
	_, id := runPod(t, endpoint, "web-7c9d8f6b5-x2k4q", "sysrec-test", labels, []string{"/bin/sleep", "60"})

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
	if err == nil || !strings.Contains(err.Error(), "no CRI runtime answered") || !strings.Contains(err.Error(), "--runtime-endpoint") {
		t.Errorf("no runtime: got %v", err)
	}
}
