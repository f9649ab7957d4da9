package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/controller"
	"github.com/sysrec/sysrec/internal/kube"
	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/recording"
)

func TestPromoteRecordingsControllerUsage(t *testing.T) {
	for _, args := range [][]string{
		{"promote"},
		{"promote", "a", "b"},
		{"promote", "--window", "soon", "web"},
		{"promote", "--window", "0s", "web"},
		{"recordings", "-o", "xml"},
		{"recordings", "extra"},
		{"controller", "extra"},
	} {
		r := sysrec(t, args...)
		if r.code != 2 {
			t.Errorf("sysrec %s: exit status %d, want 2 (stderr %q)", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// writeKubeconfig writes a kubeconfig for cfg, as the CLI reads it.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: "shop"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestControllerPromoteRecordingsAgainstAPIServer runs sysrec controller,
// promote and recordings against a real kube-apiserver.
func TestControllerPromoteRecordingsAgainstAPIServer(t *testing.T) {
	cfg := testenv.KubeAPI(t)
	kubeconfig := writeKubeconfig(t, cfg)
	c, err := kube.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "shop", Name: "web"}
	if err := c.Create(ctx, &v1alpha1.SyscallRecording{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Spec:       v1alpha1.SyscallRecordingSpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}); err != nil {
		t.Fatal(err)
	}
	// An agent reports a container and a violation a minute old.
	node := v1alpha1.NodeResult{
		Node: "node-a", Updated: recording.Now(time.Now()),
		Containers: []v1alpha1.NodeContainer{{Name: "app", Pods: []string{"web-1"}, Syscalls: map[string][]string{"SCMP_ARCH_X86_64": {"read", "write"}}}},
		Violations: []v1alpha1.Violation{{Container: "app", Syscall: "ptrace", Pod: "web-1", Count: 2, Last: recording.Now(time.Now().Add(-time.Minute))}},
	}
	patch, _ := json.Marshal(map[string]any{
		"apiVersion": "sysrec.dev/v1alpha1", "kind": "SyscallRecording",
		"metadata": map[string]any{"name": key.Name, "namespace": key.Namespace},
		"status":   map[string]any{"nodes": []v1alpha1.NodeResult{node}},
	})
	obj := &v1alpha1.SyscallRecording{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	if err := c.Status().Patch(ctx, obj, client.RawPatch(types.ApplyPatchType, patch), client.FieldOwner("sysrec-agent/node-a")); err != nil {
		t.Fatal(err)
	}

	// sysrec controller, with leader election, serves its health and
	// publishes the profile.
	health := freePort(t)
	cmd := sysrecCmd(t, "controller", "--kubeconfig", kubeconfig, "--metrics-address", "0", "--health-address", health,
		"--leader-elect", "--leader-election-namespace", "shop")
	logPath := filepath.Join(t.TempDir(), "controller.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	controllerLog := func() string { data, _ := os.ReadFile(logPath); return string(data) }
	wait := func(what string, check func() error) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			select {
			case err := <-exited:
				stopped = true
				t.Fatalf("%s: sysrec controller exited: %v\n%s", what, err, controllerLog())
			default:
			}
			err := check()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v\ncontroller's stderr:\n%s", what, err, controllerLog())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait("/healthz", func() error {
		resp, err := http.Get("http://" + health + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
	wait("the published profile", func() error {
		r := &v1alpha1.SyscallRecording{}
		if err := c.Get(ctx, key, r); err != nil {
			return err
		}
		if len(r.Status.Profiles) != 1 || r.Status.Stage != v1alpha1.StageAudit {
			return fmt.Errorf("status %+v", r.Status)
		}
		return nil
	})

	// Refused: the violation is inside the window.
	r := sysrec(t, "promote", "web", "--kubeconfig", kubeconfig)
	if r.code != 1 || !strings.Contains(r.stderr, "ptrace") || !strings.Contains(r.stderr, "--force") || r.stdout != "" {
		t.Errorf("promote with a recent violation: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	t.Logf("refused: %s", r.stderr)
	// Granted with a window that the violation is older than.
	r = sysrec(t, "promote", "-n", "shop", "web", "--window", "30s", "--kubeconfig", kubeconfig)
	if r.code != 0 || r.stdout != "web Enforce\n" {
		t.Fatalf("promote --window 30s: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	wait("the enforcing profile", func() error {
		r := &v1alpha1.SyscallRecording{}
		if err := c.Get(ctx, key, r); err != nil {
			return err
		}
		if r.Status.Stage != v1alpha1.StageEnforce || r.Spec.Promotion.Window == nil || r.Spec.Promotion.Window.Duration != 30*time.Second {
			return fmt.Errorf("spec %+v, status stage %s", r.Spec, r.Status.Stage)
		}
		return nil
	})
	if r := sysrec(t, "promote", "-n", "shop", "nosuch", "--kubeconfig", kubeconfig); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("promote of a missing recording: exit %d, stderr %q", r.code, r.stderr)
	}

	r = sysrec(t, "recordings", "-A", "-o", "json", "--kubeconfig", kubeconfig)
	var list []controller.Summary
	if err := json.Unmarshal([]byte(r.stdout), &list); r.code != 0 || err != nil {
		t.Fatalf("recordings -o json: exit %d, %v, stdout %q, stderr %q", r.code, err, r.stdout, r.stderr)
	}
	if len(list) != 1 || list[0].Name != "web" || list[0].Stage != v1alpha1.StageEnforce || list[0].Violations != 1 || len(list[0].Profiles) != 1 || list[0].Profiles[0].Syscalls != 2 {
		t.Errorf("recordings -o json = %+v", list)
	}
	r = sysrec(t, "recordings", "--kubeconfig", kubeconfig)
	t.Logf("sysrec recordings:\n%s", r.stdout)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "NAMESPACE") || !strings.Contains(r.stdout, "app@"+list[0].Profiles[0].Version) {
		t.Errorf("recordings: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := sysrec(t, "recordings", "-n", "other", "-o", "yaml", "--kubeconfig", kubeconfig); r.code != 0 || r.stdout != "[]\n" {
		t.Errorf("recordings -n other: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// SIGTERM stops the controller cleanly.
	t.Logf("controller's log:\n%s", controllerLog())
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("controller after SIGTERM: %v\n%s", err, controllerLog())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the controller did not stop on SIGTERM:\n%s", controllerLog())
	}
}
