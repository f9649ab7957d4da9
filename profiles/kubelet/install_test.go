package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const validProfile = `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}` + "\n"

func TestInstall(t *testing.T) {
	old := unix.Umask(0o077) // modes must not depend on the umask
	defer unix.Umask(old)
	root := t.TempDir()
	files := []File{
		{Rel: "web.json", Data: []byte(validProfile)},
		{Rel: "shop/cart/app.json", Data: []byte(validProfile + " ")},
	}
	written, err := Install(root, "sysrec", files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "sysrec/web.json"), filepath.Join(root, "sysrec/shop/cart/app.json")}
	if strings.Join(written, " ") != strings.Join(want, " ") {
		t.Errorf("written: got %q, want %q", written, want)
	}
	for i, f := range files {
		got, err := os.ReadFile(want[i])
		if err != nil || string(got) != string(f.Data) {
			t.Errorf("%s: got %q, %v; want %q", want[i], got, err, f.Data)
		}
		checkMode(t, want[i], 0o644)
	}
	for _, d := range []string{"sysrec", "sysrec/shop", "sysrec/shop/cart"} {
		checkMode(t, filepath.Join(root, d), os.ModeDir|0o755)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "sysrec"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}

	// Installing again replaces the profile.
	if _, err := Install(root, "sysrec", []File{{Rel: "web.json", Data: []byte(validProfile + "\n")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(want[0]); string(got) != validProfile+"\n" {
		t.Errorf("after a second install: got %q", got)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
	}
}

// No symbolic link below the root is followed.
func TestInstallDoesNotFollowLinks(t *testing.T) {
	t.Run("install dir", func(t *testing.T) {
		root, outside := t.TempDir(), t.TempDir()
		os.Symlink(outside, filepath.Join(root, "sysrec"))
		_, err := Install(root, "sysrec", []File{{Rel: "web.json", Data: []byte(validProfile)}})
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("got %v, want a refusal to follow the link", err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("wrote through the link: %v", entries)
		}
	})
	t.Run("subdirectory", func(t *testing.T) {
		root, outside := t.TempDir(), t.TempDir()
		os.Mkdir(filepath.Join(root, "sysrec"), 0o755)
		os.Symlink(outside, filepath.Join(root, "sysrec", "shop"))
		_, err := Install(root, "sysrec", []File{{Rel: "shop/cart/app.json", Data: []byte(validProfile)}})
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("got %v, want a refusal to follow the link", err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("wrote through the link: %v", entries)
		}
	})
	t.Run("target file", func(t *testing.T) {
		root := t.TempDir()
		victim := filepath.Join(t.TempDir(), "victim")
		os.WriteFile(victim, []byte("precious"), 0o600)
		os.Mkdir(filepath.Join(root, "sysrec"), 0o755)
		target := filepath.Join(root, "sysrec", "web.json")
		os.Symlink(victim, target)
		if _, err := Install(root, "sysrec", []File{{Rel: "web.json", Data: []byte(validProfile)}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(victim); string(got) != "precious" {
			t.Errorf("the link's target was written: %q", got)
		}
		checkMode(t, target, 0o644)
		if got, _ := os.ReadFile(target); string(got) != validProfile {
			t.Errorf("target: got %q", got)
		}
	})
}

func TestInstallRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, dir, rel, data, want string
	}{
		{"invalid profile", "sysrec", "web.json", `{"defaultAction": `, "web.json"},
		{"escaping path", "sysrec", "../web.json", validProfile, `".."`},
		{"escaping dir", "..", "web.json", validProfile, `".."`},
		{"absolute path", "sysrec", "/etc/web.json", validProfile, "empty elements"},
		{"hidden name", "sysrec", ".web.json", validProfile, "hidden"},
		{"not json", "sysrec", "web.txt", validProfile, ".json"},
		{"empty dir", "", "web.json", validProfile, "empty path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			files := []File{{Rel: "ok.json", Data: []byte(validProfile)}, {Rel: tc.rel, Data: []byte(tc.data)}}
			_, err := Install(root, tc.dir, files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %s", err, tc.want)
			}
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Errorf("wrote %v despite the error", entries)
			}
		})
	}
}
