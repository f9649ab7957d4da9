package cri

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Runtime hints that ContainerIDFromCgroup returns.
const (
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimeDocker     = "docker"
	RuntimePodman     = "podman"
)

// idLen is the length of a container ID in hex digits.
const idLen = 64

// scopePrefixes maps the prefixes that runtimes give a container's cgroup
// (with the systemd driver, and CRI-O and Podman also with cgroupfs) to the
// runtime that uses them. Longer prefixes that share a start come first.
var scopePrefixes = []struct {
	prefix  string
	runtime string
}{
	{"cri-containerd-", RuntimeContainerd},
	{"crio-", RuntimeCRIO},
	{"docker-", RuntimeDocker},
	{"libpod-", RuntimePodman},
}

// conmonPrefixes name the cgroups of conmon, the monitor process that CRI-O
// and Podman run beside each container. Its ID is the container's, but the
// process is not part of the container and must not be recorded as such.
var conmonPrefixes = []string{"crio-conmon-", "libpod-conmon-"}

// ContainerIDFromCgroup extracts a container ID from a cgroup path as it
// appears in /proc/PID/cgroup after the second colon, for example
// "/kubepods/besteffort/pod<uid>/<id>" or
// "/kubepods.slice/.../cri-containerd-<id>.scope".
//
// The innermost path element that holds an ID wins, so sub-cgroups below
// the container ("/init", "/container") and nested runtimes are handled.
// runtime is a hint from the path's form: RuntimeContainerd, RuntimeCRIO,
// RuntimeDocker, RuntimePodman, or "" when the form is shared by several
// runtimes (a bare ID below a cgroupfs pod cgroup). ok is false when the
// path holds no container ID, and for the cgroups of conmon.
func ContainerIDFromCgroup(path string) (id string, runtime string, ok bool) {
	elems := strings.Split(path, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		elem := strings.TrimSuffix(elems[i], ".scope")
		for _, p := range conmonPrefixes {
			if strings.HasPrefix(elem, p) {
				return "", "", false
			}
		}
		for _, sp := range scopePrefixes {
			if rest, found := strings.CutPrefix(elem, sp.prefix); found && isContainerID(rest) {
				return rest, sp.runtime, true
			}
		}
		if isContainerID(elem) {
			parent := ""
			if i > 0 {
				parent = elems[i-1]
			}
			return elem, runtimeOfParent(parent), true
		}
	}
	return "", "", false
}

// runtimeOfParent tells the runtime of a bare container ID from the cgroup
// that holds it.
func runtimeOfParent(parent string) string {
	switch parent {
	case "docker":
		return RuntimeDocker
	case "k8s.io":
		// containerd's CRI plugin without a cgroup_parent puts containers
		// under its namespace name.
		return RuntimeContainerd
	}
	return ""
}

// isContainerID reports whether s is exactly 64 lowercase hex digits.
func isContainerID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// v1Preference ranks the cgroup v1 controllers whose path ParseProcCgroup
// accepts, best first. name=systemd mirrors the unit layout most closely;
// the others are mounted on nearly every v1 host.
var v1Preference = []string{"name=systemd", "pids", "memory", "cpu"}

// ParseProcCgroup reads the content of /proc/PID/cgroup and returns the
// cgroup path to look for a container ID in: the cgroup v2 path (the line
// "0::/..."), or, on a pure cgroup v1 host, the path of the name=systemd,
// pids, memory or cpu hierarchy, in that order of preference. Malformed
// lines are skipped; an error is returned when no line is usable.
func ParseProcCgroup(r io.Reader) (string, error) {
	paths, err := cgroupPaths(r)
	if err != nil {
		return "", err
	}
	return paths[0], nil
}

// cgroupPaths returns the usable cgroup paths of /proc/PID/cgroup content,
// best first: the cgroup v2 path, then the v1 paths in v1Preference order.
// It returns an error when there is none.
func cgroupPaths(r io.Reader) ([]string, error) {
	var v2 string
	v1 := make([]string, len(v1Preference))
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path; the path may itself
		// contain colons.
		fields := strings.SplitN(strings.TrimSpace(sc.Text()), ":", 3)
		if len(fields) != 3 || !strings.HasPrefix(fields[2], "/") {
			continue
		}
		hier, ctrls, path := fields[0], fields[1], fields[2]
		if hier == "0" && ctrls == "" {
			if v2 == "" {
				v2 = path
			}
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			for rank, want := range v1Preference {
				if c == want && v1[rank] == "" {
					v1[rank] = path
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading cgroup membership: %w", err)
	}
	var paths []string
	if v2 != "" {
		paths = append(paths, v2)
	}
	for _, p := range v1 {
		if p != "" {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil, errors.New("no cgroup v2 path and no name=systemd, pids, memory or cpu cgroup v1 path")
	}
	return paths, nil
}

// ContainerIDOfPID returns the container ID of process pid from
// procRoot/<pid>/cgroup; production passes "/proc". It looks in the path
// that ParseProcCgroup picks first, then in the other usable paths: on a
// hybrid cgroup host, a runtime with the cgroupfs driver places containers
// only in the v1 hierarchies, and the v2 line names the parent's cgroup.
// ok is false when the process is in no container. err is set when the
// file cannot be read or parsed; it wraps os.ErrNotExist when the process
// has gone.
func ContainerIDOfPID(procRoot string, pid int) (id, runtime string, ok bool, err error) {
	if pid <= 0 {
		return "", "", false, fmt.Errorf("invalid pid %d", pid)
	}
	f, err := os.Open(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", "", false, err
	}
	defer f.Close()
	paths, err := cgroupPaths(f)
	if err != nil {
		return "", "", false, fmt.Errorf("pid %d: %w", pid, err)
	}
	for _, p := range paths {
		if id, runtime, ok := ContainerIDFromCgroup(p); ok {
			return id, runtime, true, nil
		}
	}
	return "", "", false, nil
}
