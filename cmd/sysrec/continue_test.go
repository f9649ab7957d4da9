package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/tree"
)

// record --containers flushes its profiles while it records, so that a
// crash (here kill -9) loses at most an interval and leaves no temporary
// file; a session started on the same directory continues the profiles
// there, merging into them, and the index says so.
func TestRecordContainersFlushAndContinue(t *testing.T) {
	rt := testenv.Runtimes[0]
	endpoint := rt.Endpoint(t)
	testenv.RequireBPF(t)
	out := filepath.Join(t.TempDir(), "profiles")
	labels := map[string]string{"app": "flush", "pod-template-hash": "5d8c7b9f4"}
	profile := filepath.Join(out, "sysrec-flush", "flush", "app.json")

	// The first session is killed once it has flushed the first replica.
	cmd, stderr := recordContainersCmd(t, "--runtime-endpoint", endpoint, "--namespace", "sysrec-flush",
		"--output-dir", out, "--flush-interval", "200ms")
	testenv.RunPod(t, endpoint, testenv.Pod{Name: "flush-5d8c7b9f4-bcdfg", Namespace: "sysrec-flush", Labels: labels,
		Command: []string{"/bin/sh", "-c", "uname -s"}, Seccomp: testenv.Unconfined})
	testenv.WaitFor(t, 30*time.Second, func() error {
		p, err := profiles.ParseFile(profile)
		if err != nil {
			idx, _ := os.ReadFile(filepath.Join(out, "index.json"))
			return fmt.Errorf("%w\n%s\nindex: %s", err, stderr(), idx)
		}
		if !slices.Contains(allowed(p), "uname") {
			return fmt.Errorf("flushed profile: got %v, want uname", allowed(p))
		}
		// A flush writes the profiles, then the index: wait for both.
		if idx, err := tree.ReadIndex(out); err != nil || len(idx.Profiles) != 1 {
			return fmt.Errorf("flushed index: %v, %v", idx, err)
		}
		return nil
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	entries, err := os.ReadDir(filepath.Dir(profile))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "app.json" {
			t.Errorf("after kill -9: got %s beside the profile, want nothing else\n%s", e.Name(), stderr())
		}
	}
	idx, data := readIndex(t, out)
	if len(idx.Profiles) != 1 || idx.Sessions != 1 {
		t.Fatalf("flushed index: got %d profiles, %d sessions; want 1 and 1:\n%s", len(idx.Profiles), idx.Sessions, data)
	}

	// The second session records another replica, which mkdirs, and ends
	// on its own: the profile holds both replicas' syscalls.
	cmd, stderr = recordContainersCmd(t, "--runtime-endpoint", endpoint, "--namespace", "sysrec-flush",
		"--output-dir", out, "--duration", "3s")
	testenv.RunPod(t, endpoint, testenv.Pod{Name: "flush-5d8c7b9f4-hjklm", Namespace: "sysrec-flush", Labels: labels,
		Command: []string{"/bin/sh", "-c", "mkdir /tmp/x"}, Seccomp: testenv.Unconfined})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sysrec: %v\n%s", err, stderr())
	}
	if !strings.Contains(stderr(), "continuing the profiles already in the output directory") {
		t.Errorf("got stderr %q, want it to say it continues the profiles", stderr())
	}
	p, _ := readProfile(t, profile)
	if names := allowed(p); !slices.Contains(names, "uname") || !(slices.Contains(names, "mkdir") || slices.Contains(names, "mkdirat")) {
		t.Errorf("continued profile: got %v, want uname (first session) and mkdir (second)", names)
	}
	idx, data = readIndex(t, out)
	if len(idx.Profiles) != 1 || idx.Sessions != 2 || idx.Profiles[0].Replicas != 2 {
		t.Errorf("continued index: got %d profiles, %d sessions; want 1 profile of 2 replicas, 2 sessions:\n%s", len(idx.Profiles), idx.Sessions, data)
	}
	if _, err := tree.ReadIndex(out); err != nil {
		t.Error(err)
	}
}
