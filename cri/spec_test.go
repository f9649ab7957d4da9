package cri

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
)

func TestSeccompOfInfo(t *testing.T) {
	for _, tc := range []struct {
		name, info string
		want       string
		err        string
	}{
		{name: "profile", info: `{"pid": 1, "runtimeSpec": {"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}}}}`, want: `{"defaultAction": "SCMP_ACT_ERRNO"}`},
		{name: "unconfined", info: `{"runtimeSpec": {"linux": {"namespaces": []}}}`},
		{name: "null", info: `{"runtimeSpec": {"linux": {"seccomp": null}}}`},
		{name: "no linux", info: `{"runtimeSpec": {}}`},
		{name: "no spec", info: `{"pid": 1}`, err: "no runtimeSpec"},
		{name: "not json", info: `{`, err: "decoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := seccompOfInfo(map[string]string{"info": tc.info})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %q, %v; want an error about %s", got, err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := seccompOfInfo(map[string]string{}); err == nil {
		t.Error("no info: got no error")
	}
}

// The profile read back through CRI is the one the container was
// started with, with each runtime.
func TestSeccomp(t *testing.T) {
	for _, r := range testenv.Runtimes {
		t.Run(r.Name, func(t *testing.T) {
			endpoint := r.Endpoint(t)
			dir := t.TempDir()
			local := filepath.Join(dir, "p.json")
			os.WriteFile(local, []byte(`{"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`), 0o644)
			ids := testenv.RunPods(t, endpoint, []testenv.Pod{
				{Name: "localhost", Namespace: "sysrec-test", Command: []string{"/bin/sleep", "60"}, Seccomp: local},
				{Name: "default", Namespace: "sysrec-test", Command: []string{"/bin/sleep", "60"}, Seccomp: testenv.RuntimeDefault},
				{Name: "unconfined", Namespace: "sysrec-test", Command: []string{"/bin/sleep", "60"}, Seccomp: testenv.Unconfined},
			})
			ctx := context.Background()
			c, err := Dial(ctx, endpoint)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			data, err := c.Seccomp(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			p, err := profiles.Parse(data, "localhost")
			if err != nil {
				t.Fatalf("the Localhost profile: %v\n%s", err, data)
			}
			if p.DefaultAction != profiles.ActLog || len(p.Syscalls) != 1 || !slices.Equal(p.Syscalls[0].Names, []string{"kexec_load"}) || p.Syscalls[0].Action != profiles.ActErrno {
				t.Errorf("Localhost profile: got %s", data)
			}

			data, err = c.Seccomp(ctx, ids[1])
			if err != nil {
				t.Fatal(err)
			}
			p, err = profiles.Parse(data, "default")
			if err != nil {
				t.Fatalf("the runtime's default: %v\n%s", err, data)
			}
			if p.DefaultAction != profiles.ActErrno || len(p.Syscalls) < 5 {
				t.Errorf("runtime default: got defaultAction %s and %d rules, want an errno allow-list", p.DefaultAction, len(p.Syscalls))
			}

			if data, err := c.Seccomp(ctx, ids[2]); err != nil || data != nil {
				t.Errorf("unconfined: got %q, %v; want nothing", data, err)
			}
		})
	}
}
