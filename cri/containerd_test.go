package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/internal/testenv"
)

// A plain `ctr run` container is attributed through containerd's own API:
// its namespace, id, image and init pid, which the cgroup confirms.
func TestContainerdAttribution(t *testing.T) {
	endpoint := testenv.Runtimes[0].Endpoint(t)
	id := testenv.RunCtr(t, endpoint, "/bin/sleep", "60")

	ctx := context.Background()
	c, err := DialContainerd(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nss, err := c.Namespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(nss, testenv.CtrNamespace) || slices.Contains(nss, "k8s.io") {
		t.Errorf("namespaces: got %v, want %s and not the CRI plugin's k8s.io", nss, testenv.CtrNamespace)
	}
	got, err := c.Container(ctx, id, "elsewhere", testenv.CtrNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Name != id || got.PodNamespace != testenv.CtrNamespace || got.Workload != id ||
		got.WorkloadKind != KindContainerd || !strings.Contains(got.Image, "sysrec-busybox") || got.PID <= 0 {
		t.Errorf("got %+v, want %s/%s with its image and pid", got, testenv.CtrNamespace, id)
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", got.PID))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0::/" + testenv.CtrNamespace + "/" + id + "\n"; !strings.Contains(string(cg), want) {
		t.Errorf("cgroup of pid %d: got\n%s\nwant a line %q", got.PID, cg, want)
	}
	if _, err := c.Container(ctx, "no-such-container", testenv.CtrNamespace); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: got %v, want ErrNotFound", err)
	}
}
