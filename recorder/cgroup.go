package recorder

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Cgroup2Mount returns where the cgroup v2 hierarchy is mounted, read from
// a mounts table such as /proc/self/mounts: /sys/fs/cgroup on a pure v2
// host, /sys/fs/cgroup/unified on a hybrid one. Container roots for
// Options.ContainerRoots lie below it.
func Cgroup2Mount(mountsFile string) (string, error) {
	f, err := os.Open(mountsFile)
	if err != nil {
		return "", fmt.Errorf("finding the cgroup v2 mount: %w", err)
	}
	defer f.Close()
	return cgroup2Mount(f)
}

func cgroup2Mount(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// device mountpoint fstype options dump pass
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[2] == "cgroup2" {
			return f[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("finding the cgroup v2 mount: %w", err)
	}
	return "", fmt.Errorf("finding the cgroup v2 mount: none is mounted: container mode needs cgroup v2 (mount -t cgroup2 none /sys/fs/cgroup/unified)")
}
