package cri

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sysrec/sysrec/profiles/tree"
)

// FuzzCgroup checks the parsers of /proc/PID/cgroup and of cgroup paths
// on any input: ParseProcCgroup returns one of the content's paths or an
// error, and ContainerIDFromCgroup, on the content as a path and on each
// path found in it, never panics and returns only an ID that is 64
// lowercase hex digits, one of the path's elements (less the runtime's
// prefix and ".scope"), with a runtime hint it knows.
//
//	go test -run '^$' -fuzz FuzzCgroup -fuzztime 15s ./cri
func FuzzCgroup(f *testing.F) {
	const v2 = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDSystemd + ".slice/cri-containerd-" + testID + ".scope"
	for _, s := range []string{
		v2,
		"0::" + v2 + "\n",
		"0::/kubepods/besteffort/pod" + podUID + "/" + testID,
		"12:pids:/docker/" + testID + "\n11:memory:/docker/" + testID + "\n1:name=systemd:/docker/" + testID + "\n0::/system.slice/containerd.service\n",
		"12:cpu,cpuacct:/cpu\n11:memory:/memory\n10:pids:/pids\n9:devices:/devices\n1:name=systemd:/systemd\n",
		"0::/weird:name/" + testID + "\n",
		"garbage\n1:2\n\n3:memory:relative\n0::" + v2 + "\n",
		"/kubepods/pod" + podUID + "/crio-conmon-" + testID,
		"/machine.slice/libpod-" + testID + ".scope/container",
		"/docker/" + testID2 + "/kubepods/besteffort/pod" + podUID + "/" + testID,
		"/k8s.io/" + testID,
		"/system.slice/docker-" + strings.ToUpper(testID) + ".scope",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkContainerID(t, s)
		p, err := ParseProcCgroup(strings.NewReader(s))
		paths, err2 := cgroupPaths(strings.NewReader(s))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("ParseProcCgroup: %v, cgroupPaths: %v", err, err2)
		}
		if err != nil {
			if p != "" {
				t.Fatalf("ParseProcCgroup returned %q and %v", p, err)
			}
			return
		}
		if len(paths) == 0 || paths[0] != p {
			t.Fatalf("ParseProcCgroup returned %q, cgroupPaths %q", p, paths)
		}
		for _, p := range paths {
			if !strings.HasPrefix(p, "/") || !strings.Contains(s, p) {
				t.Fatalf("path %q: want an absolute path from the content", p)
			}
			checkContainerID(t, p)
		}
	})
}

func checkContainerID(t *testing.T, path string) {
	t.Helper()
	id, runtime, ok := ContainerIDFromCgroup(path)
	if !ok {
		if id != "" || runtime != "" {
			t.Fatalf("ContainerIDFromCgroup(%q): not ok, but id %q, runtime %q", path, id, runtime)
		}
		return
	}
	if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("ContainerIDFromCgroup(%q): id %q is not 64 lowercase hex digits", path, id)
	}
	if !slices.Contains([]string{"", RuntimeContainerd, RuntimeCRIO, RuntimeDocker, RuntimePodman}, runtime) {
		t.Fatalf("ContainerIDFromCgroup(%q): unknown runtime %q", path, runtime)
	}
	elem := false
	for _, e := range strings.Split(path, "/") {
		e = strings.TrimSuffix(e, ".scope")
		for _, sp := range scopePrefixes {
			if e == sp.prefix+id && runtime == sp.runtime {
				elem = true
			}
		}
		elem = elem || e == id
	}
	if !elem {
		t.Fatalf("ContainerIDFromCgroup(%q): id %q, runtime %q: not one of its elements", path, id, runtime)
	}
	// A sub-cgroup below the container's does not change the answer.
	if id2, runtime2, ok2 := ContainerIDFromCgroup(path + "/init"); id2 != id || runtime2 != runtime || !ok2 {
		t.Fatalf("ContainerIDFromCgroup(%q): got %q, %q, %v; below it, %q, %q, %v", path, id, runtime, ok, id2, runtime2, ok2)
	}
}

// FuzzSanitizeName checks SanitizeName's promises on any name, and that
// the tree of profiles that record --containers writes with it is one
// that tree.ReadIndex accepts.
//
//	go test -run '^$' -fuzz FuzzSanitizeName -fuzztime 15s ./cri
func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"", ".", "..", "web", "kube-system", "nginx-7d4b9c8f6-x2k9q", "a/b", "../../etc", "\x00", "\xff", "ünïcode", ".hidden", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SanitizeName(s)
		if got == "" || got[0] == '.' || len(got) > maxNameLen || !utf8.ValidString(got) {
			t.Fatalf("SanitizeName(%q) = %q: want a non-empty name of at most %d bytes, not starting with '.'", s, got, maxNameLen)
		}
		for _, r := range got {
			if !isSafeRune(r) {
				t.Fatalf("SanitizeName(%q) = %q: holds %q", s, got, r)
			}
		}
		if again := SanitizeName(got); again != got {
			t.Fatalf("SanitizeName(%q) = %q, but SanitizeName(%q) = %q", s, got, got, again)
		}
		if err := tree.CheckPath(got + "/" + got + "/" + got + ".json"); err != nil {
			t.Fatalf("SanitizeName(%q) = %q: the tree's reader refuses it: %v", s, got, err)
		}
	})
}
