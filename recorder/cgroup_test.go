package recorder

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/internal/testenv"
)

func TestCgroup2Mount(t *testing.T) {
	for _, tc := range []struct {
		name, mounts, want string
	}{
		{"pure v2", "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n", "/sys/fs/cgroup"},
		{"hybrid", "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n", "/sys/fs/cgroup/unified"},
		{"none", "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\nproc /proc proc rw 0 0\n", ""},
	} {
		got, err := cgroup2Mount(strings.NewReader(tc.mounts))
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// cgroupID returns the id of pid's cgroup v2 cgroup: its directory's inode.
func cgroupID(t *testing.T, root string, pid int) uint64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if path, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			fi, err := os.Stat(filepath.Join(root, path))
			if err != nil {
				t.Fatal(err)
			}
			return fi.Sys().(*syscall.Stat_t).Ino
		}
	}
	t.Fatalf("pid %d has no cgroup v2 path", pid)
	return 0
}

// A container started through CRI while the recorder runs is recorded in a
// target of its own cgroup, from its entrypoint's execve on: its own
// syscalls are there, the OCI runtime's setup before the execve is not.
func TestContainerRecording(t *testing.T) {
	for _, rt := range testenv.Runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			endpoint := rt.Endpoint(t)
			root, kubepods := kubepodsCgroup(t)
			r := newRecorder(t, Options{ContainerRoots: []string{kubepods}})

			id := testenv.RunPod(t, endpoint, testenv.Pod{Name: "rec-" + rt.Name, Namespace: "sysrec-test",
				Command: []string{"/bin/sh", "-c", "uname -a >/dev/null; exec sleep 30"}, Seccomp: testenv.Unconfined})
			ctx := context.Background()
			c, err := cri.Dial(ctx, endpoint)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			info, err := c.Container(ctx, id)
			if err != nil || info.PID <= 0 {
				t.Fatalf("container %s: %+v, %v", id, info, err)
			}
			cg := cgroupID(t, root, info.PID)

			// The entrypoint runs uname, then execs sleep.
			var names []string
			testenv.WaitFor(t, 30*time.Second, func() error {
				if rec := recs(t, r)[cg]; rec != nil {
					names = nativeNames(t, rec)
				}
				if ids, err := r.CgroupIDs(); err != nil || !slices.Contains(ids, cg) && names != nil {
					t.Fatalf("CgroupIDs: got %v, %v; want it to hold %d", ids, err, cg)
				}
				if !slices.Contains(names, "nanosleep") && !slices.Contains(names, "clock_nanosleep") {
					return fmt.Errorf("container cgroup %d recorded no sleep: got %v", cg, names)
				}
				return nil
			})
			rec := recs(t, r)[cg]
			if rec.Adopted != 0 || rec.Filtered != 0 {
				t.Errorf("a container started while recording: got %d adopted and %d filtered tasks, want 0 and 0", rec.Adopted, rec.Filtered)
			}
			for _, want := range []string{"execve", "uname"} {
				if !slices.Contains(names, want) {
					t.Errorf("missing %s: %v", want, names)
				}
				if o, ok := rec.Origins[nativeArch(t)][want]; !ok || o.PID <= 0 || o.Exe == "" {
					t.Errorf("%s: got origin %+v, want one with a pid and an executable", want, o)
				}
			}
			// The entrypoint's execve, named by its path in the container.
			if o := rec.Origins[nativeArch(t)]["execve"]; o.Exe != "/bin/sh" || o.PID != info.PID {
				t.Errorf("execve: got origin %+v, want /bin/sh, pid %d", o, info.PID)
			}
			// runc and crun pivot the root and mount file systems before
			// they exec the entrypoint.
			for _, setup := range []string{"pivot_root", "mount", "sethostname"} {
				if slices.Contains(names, setup) {
					t.Errorf("recorded %s, which only the runtime's setup makes: %v", setup, names)
				}
			}
		})
	}
}

func recs(t *testing.T, r *Recorder) map[uint64]*Recording {
	t.Helper()
	m, err := r.Cgroups()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Containers that already run when the recorder starts are adopted: their
// syscalls from then on are recorded, and the recording says it is
// partial. One that runs under a seccomp filter is flagged.
func TestRunningContainersAreAdopted(t *testing.T) {
	for _, rt := range testenv.Runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			endpoint := rt.Endpoint(t)
			root, kubepods := kubepodsCgroup(t)
			loop := []string{"/bin/sh", "-c", "while :; do uname >/dev/null; sleep 0.05; done"}
			ids := testenv.RunPods(t, endpoint, []testenv.Pod{
				{Name: "adopt-" + rt.Name, Namespace: "sysrec-test", Command: loop, Seccomp: testenv.Unconfined},
				{Name: "adopt-filtered-" + rt.Name, Namespace: "sysrec-test", Command: loop, Seccomp: testenv.RuntimeDefault},
			})
			ctx := context.Background()
			c, err := cri.Dial(ctx, endpoint)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var cgs []uint64
			for _, id := range ids {
				info, err := c.Container(ctx, id)
				if err != nil || info.PID <= 0 {
					t.Fatalf("container %s: %+v, %v", id, info, err)
				}
				cgs = append(cgs, cgroupID(t, root, info.PID))
			}

			r := newRecorder(t, Options{ContainerRoots: []string{kubepods}})
			testenv.WaitFor(t, 30*time.Second, func() error {
				m := recs(t, r)
				if m[cgs[0]] != nil && m[cgs[1]] != nil &&
					slices.Contains(nativeNames(t, m[cgs[0]]), "uname") &&
					slices.Contains(nativeNames(t, m[cgs[1]]), "uname") {
					return nil
				}
				return fmt.Errorf("running containers (cgroups %v) not recorded making uname: got %v", cgs, m)
			})
			m := recs(t, r)
			plain, filtered := m[cgs[0]], m[cgs[1]]
			if plain.Adopted == 0 || filtered.Adopted == 0 {
				t.Errorf("adopted tasks: got %d and %d, want both > 0", plain.Adopted, filtered.Adopted)
			}
			if plain.Filtered != 0 {
				t.Errorf("unconfined container: got %d filtered tasks, want 0", plain.Filtered)
			}
			if filtered.Filtered == 0 {
				t.Errorf("container under RuntimeDefault: got 0 filtered tasks, want > 0")
			}
		})
	}
}

// kubepodsCgroup returns the cgroup2 mount and the kubepods cgroup below
// it, where the test pods' cgroups go.
func kubepodsCgroup(t *testing.T) (root, kubepods string) {
	t.Helper()
	root, err := Cgroup2Mount("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	kubepods = filepath.Join(root, "kubepods")
	if err := os.MkdirAll(kubepods, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, kubepods
}
