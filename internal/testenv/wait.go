package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitTick is how often WaitFor checks its condition.
const waitTick = 10 * time.Millisecond

// WaitFor returns once cond returns nil, checking it every few
// milliseconds, and fails t with cond's last error if that takes longer
// than timeout. It is for conditions that tests cannot be told about, only
// look at; the timeout can be generous, since a condition that holds ends
// the wait at once.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not so after %v: %v", timeout, err)
		}
		time.Sleep(waitTick)
	}
}

// auditReadLog is the audit netlink multicast group that carries every
// audit record (AUDIT_NLGRP_READLOG).
const auditReadLog = 1

// AuditJoined returns nil once process pid holds a netlink socket that
// has joined the audit log's multicast group: from then on, the kernel
// sends it every audit record. Otherwise it says what it found. It looks
// at the process's sockets and its network namespace's /proc/net/netlink,
// so it needs no cooperation from the process.
func AuditJoined(pid int) error {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return fmt.Errorf("listing the descriptors of pid %d: %w", pid, err)
	}
	sockets := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && err == nil {
			sockets[strings.TrimSuffix(ino, "]")] = true
		}
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/netlink", pid))
	if err != nil {
		return fmt.Errorf("reading the netlink sockets of pid %d: %w", pid, err)
	}
	audit := 0
	// sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[1] != strconv.Itoa(unix.NETLINK_AUDIT) || !sockets[f[9]] {
			continue
		}
		audit++
		if groups, err := strconv.ParseUint(f[3], 16, 32); err == nil && groups&(1<<(auditReadLog-1)) != 0 {
			return nil
		}
	}
	return fmt.Errorf("pid %d has %d audit netlink sockets, none in the audit log multicast group", pid, audit)
}
