package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RemoveCgroup removes cgroup directory dir, waiting while it is busy: the
// kernel may take the last task out of a cgroup a moment after the task
// was reaped. The tests and the churn benchmark remove their container
// cgroups with it.
func RemoveCgroup(dir string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil {
			return nil
		}
		if err != unix.EBUSY || time.Now().After(deadline) {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// RunIn runs a task that execs /bin/true in cgroup dir, started straight
// into it and in a mount namespace of its own, as an OCI runtime's
// entrypoint is, and returns the cgroup's id.
func RunIn(dir string) (uint64, error) {
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("running /bin/true in %s: %w", dir, err)
	}
	return st.Ino, nil
}

// RunContainer makes cgroup dir, runs a container's task in it (RunIn),
// and removes it. It returns the cgroup's id.
func RunContainer(dir string) (uint64, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, err
	}
	id, err := RunIn(dir)
	return id, errors.Join(err, RemoveCgroup(dir))
}

// RunContainers runs a container (RunContainer) in each of dirs, parallel
// at a time, and returns their cgroups' ids in the order of dirs.
func RunContainers(dirs []string, parallel int) ([]uint64, error) {
	ids := make([]uint64, len(dirs))
	errs := make([]error, len(dirs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ids[i], errs[i] = RunContainer(dirs[i])
			}
		}()
	}
	for i := range dirs {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids, errors.Join(errs...)
}
