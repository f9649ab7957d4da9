package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The image that scripts/containerd.sh and scripts/crio.sh import.
const testImage = "docker.io/library/sysrec-busybox:latest"

// Runtimes are the runtimes the integration tests run against: each one's endpoint comes
// from an environment variable that make test sets after it starts the
// runtime with its script.
var Runtimes = []Runtime{
	{"containerd", "SYSREC_CONTAINERD_ENDPOINT", "scripts/containerd.sh"},
	{"cri-o", "SYSREC_CRIO_ENDPOINT", "scripts/crio.sh"},
}

// Runtime is a container runtime that the tests can use.
type Runtime struct {
	Name, Env, Script string
}

// Endpoint returns the runtime's CRI endpoint, or skips t. It also skips
// when not root, since running containers needs root.
func (r Runtime) Endpoint(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "the test needs root to run containers")
	}
	e := os.Getenv(r.Env)
	if e == "" {
		Skip(t, "%s is not set: run the tests with make test, or with %s=$(%s start)", r.Env, r.Env, r.Script)
	}
	return e
}

// Pod is a pod of one container named "app", as the tests start it.
type Pod struct {
	Name, Namespace string
	Labels          map[string]string
	Command         []string
	// Seccomp, when set, is the absolute path of a Localhost seccomp
	// profile for the container, RuntimeDefault or Unconfined. Left empty,
	// the runtime decides: CRI-O applies its default profile.
	Seccomp string
	// Handler is the runtime handler (containerd's runtime class), "" for
	// the default.
	Handler string
	// Mounts bind host files or directories into the container, read-only:
	// host path → container path.
	Mounts map[string]string
}

// RunPod starts a pod through the CRI API, as the kubelet would, and
// removes it when the test ends. It returns the container's id.
func RunPod(t testing.TB, endpoint string, p Pod) string {
	t.Helper()
	return RunPods(t, endpoint, []Pod{p})[0]
}

// RunPods starts pods at the same time, and returns their containers' ids
// in the same order.
func RunPods(t testing.TB, endpoint string, pods []Pod) []string {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	base := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(strings.TrimPrefix(t.Name(), "Test"))) + "-" + time.Now().Format("150405.000000000")
	ids := make([]string, len(pods))
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var podID string
			podID, ids[i], errs[i] = startPod(rt, p, fmt.Sprintf("%s-%d", base, i), t.TempDir())
			if podID != "" {
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
					rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
				})
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return ids
}

// startPod runs a pod sandbox and its container.
func startPod(rt runtimeapi.RuntimeServiceClient, p Pod, uid, logs string) (podID, ctrID string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	podCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: p.Name, Namespace: p.Namespace, Uid: uid},
		Labels:       p.Labels,
		LogDirectory: logs,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: "/kubepods/besteffort/pod" + uid,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	pod, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg, RuntimeHandler: p.Handler})
	if err != nil {
		return "", "", fmt.Errorf("pod %s: RunPodSandbox: %w", p.Name, err)
	}
	ctr, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: pod.PodSandboxId,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
			Image:    &runtimeapi.ImageSpec{Image: testImage, UserSpecifiedImage: testImage},
			Command:  p.Command,
			Mounts:   mounts(p.Mounts),
			Linux:    containerLinux(p.Seccomp),
			LogPath:  "app.log",
			Labels:   map[string]string{"io.kubernetes.container.name": "app"},
		},
		SandboxConfig: podCfg,
	})
	if err != nil {
		return pod.PodSandboxId, "", fmt.Errorf("pod %s: CreateContainer: %w", p.Name, err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
		return pod.PodSandboxId, "", fmt.Errorf("pod %s: StartContainer: %w", p.Name, err)
	}
	return pod.PodSandboxId, ctr.ContainerId, nil
}

// mounts turns Pod.Mounts into the CRI's, sorted by container path.
func mounts(m map[string]string) []*runtimeapi.Mount {
	var out []*runtimeapi.Mount
	for host, ctr := range m {
		out = append(out, &runtimeapi.Mount{HostPath: host, ContainerPath: ctr, Readonly: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerPath < out[j].ContainerPath })
	return out
}

// Values of Pod.Seccomp that ask for the runtime's default profile, and
// for none.
const (
	RuntimeDefault = "runtime/default"
	Unconfined     = "unconfined"
)

// containerLinux applies a seccomp profile, or none.
func containerLinux(profile string) *runtimeapi.LinuxContainerConfig {
	sp := &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: profile}
	switch profile {
	case "":
		return nil
	case RuntimeDefault:
		sp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	case Unconfined:
		sp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
	}
	return &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{Seccomp: sp}}
}

// WaitExit waits until the container has exited and returns its exit code
// and log.
func WaitExit(t testing.TB, endpoint, ctrID string) (int32, string) {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := rt.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: ctrID})
		if err != nil {
			t.Fatalf("ContainerStatus: %v", err)
		}
		s := st.GetStatus()
		if s.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED {
			log, _ := os.ReadFile(s.GetLogPath())
			return s.GetExitCode(), string(log)
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s did not exit within 30s", ctrID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CtrNamespace is the containerd namespace of the tests' plain containers;
// scripts/containerd.sh imports the test image into it.
const CtrNamespace = "sysrec-ctr"

// RunCtr starts a plain containerd container with `ctr run`, as a user
// outside Kubernetes would, in CtrNamespace, and removes it when the test
// ends. It returns the container's id.
func RunCtr(t testing.TB, endpoint string, command ...string) string {
	t.Helper()
	RequireTool(t, "ctr")
	id := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(strings.TrimPrefix(t.Name(), "Test"))) + "-" + time.Now().Format("150405.000000")
	sock := strings.TrimPrefix(endpoint, "unix://")
	ctr := func(args ...string) ([]byte, error) {
		return exec.Command("ctr", append([]string{"-a", sock, "-n", CtrNamespace}, args...)...).CombinedOutput()
	}
	if out, err := ctr(append([]string{"run", "-d", testImage, id}, command...)...); err != nil {
		t.Fatalf("ctr run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		ctr("task", "kill", "-s", "SIGKILL", id)
		for i := 0; i < 50; i++ {
			if _, err := ctr("task", "delete", id); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if out, err := ctr("container", "delete", id); err != nil {
			t.Errorf("ctr container delete %s: %v\n%s", id, err, out)
		}
	})
	return id
}
