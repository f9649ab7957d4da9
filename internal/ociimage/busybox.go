package ociimage

import (
	"fmt"
	"os/exec"
	"strings"
)

// BusyboxFiles returns /bin/busybox, read from the static busybox at
// hostPath (Debian's busybox-static installs /bin/busybox), and a link
// /bin/APPLET -> busybox for each applet that `busybox --list` names.
func BusyboxFiles(hostPath string) ([]File, error) {
	out, err := exec.Command(hostPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", hostPath, err)
	}
	files := []File{{Path: "/bin/busybox", Mode: 0o755, HostPath: hostPath}}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		files = append(files, Symlink("/bin/"+applet, "busybox"))
	}
	return files, nil
}
