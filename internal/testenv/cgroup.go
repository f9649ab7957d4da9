package testenv

import (
	"os"
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
