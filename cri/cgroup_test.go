package cri

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	testID  = "3f1c2a9b8e7d6c5b4a3928170615f4e3d2c1b0a9f8e7d6c5b4a39281706a5b4c"
	testID2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	podUID  = "8f2b1c3d-4e5f-4a6b-9c7d-0e1f2a3b4c5d"
	// podUIDSystemd is podUID as the systemd cgroup driver spells it.
	podUIDSystemd = "8f2b1c3d_4e5f_4a6b_9c7d_0e1f2a3b4c5d"
)

func TestContainerIDFromCgroup(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		id      string
		runtime string
		ok      bool
	}{
		// containerd
		{"containerd systemd besteffort", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDSystemd + ".slice/cri-containerd-" + testID + ".scope", testID, "containerd", true},
		{"containerd systemd burstable", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDSystemd + ".slice/cri-containerd-" + testID + ".scope", testID, "containerd", true},
		{"containerd systemd guaranteed", "/kubepods.slice/kubepods-pod" + podUIDSystemd + ".slice/cri-containerd-" + testID + ".scope", testID, "containerd", true},
		{"containerd systemd init sub-cgroup", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDSystemd + ".slice/cri-containerd-" + testID + ".scope/init", testID, "containerd", true},
		{"cgroupfs besteffort", "/kubepods/besteffort/pod" + podUID + "/" + testID, testID, "", true},
		{"cgroupfs burstable", "/kubepods/burstable/pod" + podUID + "/" + testID, testID, "", true},
		{"cgroupfs guaranteed", "/kubepods/pod" + podUID + "/" + testID, testID, "", true},
		{"containerd without cgroup_parent", "/k8s.io/" + testID, testID, "containerd", true},
		// CRI-O
		{"cri-o systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDSystemd + ".slice/crio-" + testID + ".scope", testID, "cri-o", true},
		{"cri-o systemd container sub-cgroup", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDSystemd + ".slice/crio-" + testID + ".scope/container", testID, "cri-o", true},
		{"cri-o cgroupfs", "/kubepods/besteffort/pod" + podUID + "/crio-" + testID, testID, "cri-o", true},
		{"cri-o cgroupfs guaranteed", "/kubepods/pod" + podUID + "/crio-" + testID, testID, "cri-o", true},
		{"cri-o conmon systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDSystemd + ".slice/crio-conmon-" + testID + ".scope", "", "", false},
		{"cri-o conmon cgroupfs", "/kubepods/besteffort/pod" + podUID + "/crio-conmon-" + testID, "", "", false},
		// Docker
		{"docker cgroupfs", "/docker/" + testID, testID, "docker", true},
		{"docker systemd", "/system.slice/docker-" + testID + ".scope", testID, "docker", true},
		{"docker in docker", "/docker/" + testID2 + "/docker/" + testID, testID, "docker", true},
		// Podman
		{"podman systemd", "/machine.slice/libpod-" + testID + ".scope", testID, "podman", true},
		{"podman nested container", "/machine.slice/libpod-" + testID + ".scope/container", testID, "podman", true},
		{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + testID + ".scope", testID, "podman", true},
		{"podman cgroupfs", "/libpod_parent/libpod-" + testID, testID, "podman", true},
		{"podman conmon", "/machine.slice/libpod-conmon-" + testID + ".scope", "", "", false},
		// Nesting: the innermost ID wins.
		{"kubernetes in docker", "/docker/" + testID2 + "/kubepods/besteffort/pod" + podUID + "/" + testID, testID, "", true},
		{"kind node systemd", "/system.slice/docker-" + testID2 + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + podUIDSystemd + ".slice/cri-containerd-" + testID + ".scope", testID, "containerd", true},
		{"trailing slash", "/docker/" + testID + "/", testID, "docker", true},
		// Rejections.
		{"empty", "", "", "", false},
		{"root", "/", "", "", false},
		{"session scope", "/user.slice/user-0.slice/session-1.scope", "", "", false},
		{"containerd service", "/system.slice/containerd.service", "", "", false},
		{"63 hex", "/docker/" + testID[:63], "", "", false},
		{"65 hex", "/docker/" + testID + "a", "", "", false},
		{"uppercase hex", "/docker/" + strings.ToUpper(testID), "", "", false},
		{"uppercase hex scope", "/system.slice/docker-" + strings.ToUpper(testID) + ".scope", "", "", false},
		{"pod level cgroupfs", "/kubepods/besteffort/pod" + podUID, "", "", false},
		{"pod level systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDSystemd + ".slice", "", "", false},
		{"non-hex id", "/docker/" + strings.Repeat("g", 64), "", "", false},
		{"unknown prefix", "/system.slice/foo-" + testID + ".scope", "", "", false},
		{"slice suffix", "/system.slice/docker-" + testID + ".slice", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, runtime, ok := ContainerIDFromCgroup(tt.path)
			if id != tt.id || runtime != tt.runtime || ok != tt.ok {
				t.Errorf("ContainerIDFromCgroup(%q) = (%q, %q, %v), want (%q, %q, %v)",
					tt.path, id, runtime, ok, tt.id, tt.runtime, tt.ok)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	const v2Path = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDSystemd + ".slice/cri-containerd-" + testID + ".scope"
	tests := []struct {
		name    string
		content string
		want    string
		wantErr bool
	}{
		{
			name:    "pure v2",
			content: "0::" + v2Path + "\n",
			want:    v2Path,
		},
		{
			name:    "pure v2 without trailing newline",
			content: "0::/kubepods/besteffort/pod" + podUID + "/" + testID,
			want:    "/kubepods/besteffort/pod" + podUID + "/" + testID,
		},
		{
			name: "hybrid",
			content: "12:pids:/docker/" + testID + "\n" +
				"11:memory:/docker/" + testID + "\n" +
				"1:name=systemd:/docker/" + testID + "\n" +
				"0::/system.slice/containerd.service\n",
			want: "/system.slice/containerd.service",
		},
		{
			name: "pure v1 prefers name=systemd",
			content: "12:cpu,cpuacct:/cpu\n" +
				"11:memory:/memory\n" +
				"10:pids:/pids\n" +
				"9:devices:/devices\n" +
				"1:name=systemd:/systemd\n",
			want: "/systemd",
		},
		{
			name: "pure v1 pids before memory",
			content: "12:cpu,cpuacct:/cpu\n" +
				"11:memory:/memory\n" +
				"10:pids:/pids\n",
			want: "/pids",
		},
		{
			name: "pure v1 memory before cpu",
			content: "12:cpu,cpuacct:/cpu\n" +
				"11:memory:/memory\n",
			want: "/memory",
		},
		{
			name:    "pure v1 cpu in a list",
			content: "4:cpu,cpuacct:/cpu\n",
			want:    "/cpu",
		},
		{
			name:    "v1 cpuacct alone is not cpu",
			content: "4:cpuacct:/cpuacct\n",
			wantErr: true,
		},
		{
			name:    "v1 other controllers only",
			content: "9:devices:/devices\n8:freezer:/freezer\n",
			wantErr: true,
		},
		{
			name:    "path with colons",
			content: "0::/weird:name/" + testID + "\n",
			want:    "/weird:name/" + testID,
		},
		{
			name: "malformed lines skipped",
			content: "garbage\n" +
				"1:2\n" +
				"\n" +
				"3:memory:relative\n" +
				"0::" + v2Path + "\n",
			want: v2Path,
		},
		{
			name:    "only malformed lines",
			content: "garbage\n1:2\n0::\n",
			wantErr: true,
		},
		{
			name:    "empty",
			content: "",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcCgroup(strings.NewReader(tt.content))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %q", err, tt.want)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestContainerIDOfPID(t *testing.T) {
	procRoot := t.TempDir()
	files := map[int]string{
		100: "0::/kubepods/besteffort/pod" + podUID + "/" + testID + "\n",
		101: "0::/user.slice/user-0.slice/session-1.scope\n",
		// Hybrid host, cgroupfs driver: the container shows only in v1.
		102: "12:pids:/docker/" + testID + "\n1:name=systemd:/docker/" + testID + "\n0::/system.slice/containerd.service\n",
		103: "0::/system.slice/crio-conmon-" + testID + ".scope\n",
		104: "garbage\n",
		105: "1:name=systemd:/system.slice/docker-" + testID + ".scope\n",
	}
	for pid, content := range files {
		dir := filepath.Join(procRoot, strconv.Itoa(pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name     string
		pid      int
		id       string
		runtime  string
		ok       bool
		wantErr  bool
		notExist bool
	}{
		{name: "v2 cgroupfs pod", pid: 100, id: testID, ok: true},
		{name: "host process", pid: 101},
		{name: "hybrid falls back to v1", pid: 102, id: testID, runtime: "docker", ok: true},
		{name: "conmon", pid: 103},
		{name: "unparsable", pid: 104, wantErr: true},
		{name: "pure v1", pid: 105, id: testID, runtime: "docker", ok: true},
		{name: "gone", pid: 999, wantErr: true, notExist: true},
		{name: "zero pid", pid: 0, wantErr: true},
		{name: "negative pid", pid: -1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, runtime, ok, err := ContainerIDOfPID(procRoot, tt.pid)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got (%q, %q, %v, nil), want an error", id, runtime, ok)
				}
				if tt.notExist && !errors.Is(err, os.ErrNotExist) {
					t.Errorf("got error %v, want one wrapping os.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if id != tt.id || runtime != tt.runtime || ok != tt.ok {
				t.Errorf("got (%q, %q, %v), want (%q, %q, %v)", id, runtime, ok, tt.id, tt.runtime, tt.ok)
			}
		})
	}
}
