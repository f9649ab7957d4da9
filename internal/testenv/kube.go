package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// DefaultKubeBin is where scripts/kube-build.sh puts the Kubernetes and
// etcd binaries; SYSREC_KUBE_BIN names another directory.
const DefaultKubeBin = "/var/lib/sysrec-test/kube-build/v1.37.2-etcd-v3.7.3/bin"

// KubeBin is the directory of the Kubernetes binaries the tests run.
func KubeBin() string {
	if d := os.Getenv("SYSREC_KUBE_BIN"); d != "" {
		return d
	}
	return DefaultKubeBin
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// KubeAPI starts a real etcd and kube-apiserver (from KubeBin) with
// sysrec's CRD installed, for the test's lifetime, and returns an admin
// connection to it. Without the binaries the test is skipped (a failure
// under SYSREC_REQUIRE_BPF=1): scripts/kube-build.sh builds them.
func KubeAPI(t testing.TB) *rest.Config {
	t.Helper()
	dir := KubeBin()
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			Skip(t, "no %s in %s: run scripts/kube-build.sh", b, dir)
		}
	}
	// controller-runtime complains, with a stack, when its global logger
	// is never set; the tests have nothing to say through it.
	ctrllog.SetLogger(logr.Discard())
	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "deploy", "crd")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting etcd and kube-apiserver from %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	return cfg
}
