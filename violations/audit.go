package violations

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// MarkerComm is the comm of the process whose seccomp record marks a
// place in the audit log (see enforce.LogMarker). Read skips its records:
// they are sysrec's own, never a workload's.
const MarkerComm = "sysrec-marker"

// auditReadLog is the audit netlink multicast group that carries every
// audit record (AUDIT_NLGRP_READLOG).
const auditReadLog = 1

// AuditLog is a subscription to the audit netlink multicast group: every
// audit record, with no rate limit, whether or not auditd runs. The
// subscription holds from the moment OpenAudit returns, so a caller that
// opens it before starting a workload misses none of the workload's
// records.
type AuditLog struct {
	fd  int
	buf []byte
}

// OpenAudit joins the audit log multicast group. It needs CAP_AUDIT_READ.
func OpenAudit() (*AuditLog, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("opening the audit netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (auditReadLog - 1)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("joining the audit log multicast group: %w: run as root or grant CAP_AUDIT_READ", err)
	}
	return &AuditLog{fd: fd, buf: make([]byte, 1<<16)}, nil
}

// Next returns the next seccomp record, waiting for one until ctx is done.
func (a *AuditLog) Next(ctx context.Context) (Record, error) {
	for {
		n, _, err := unix.Recvfrom(a.fd, a.buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			if err := waitReadable(ctx, a.fd); err != nil {
				return Record{}, err
			}
			continue
		}
		if errors.Is(err, unix.ENOBUFS) {
			return Record{}, fmt.Errorf("reading audit records: the socket overflowed and records were lost: %w", err)
		}
		if err != nil {
			return Record{}, fmt.Errorf("reading audit records: %w", err)
		}
		if r, ok := parseAuditMessage(a.buf[:n]); ok {
			return r, nil
		}
	}
}

// Close leaves the group.
func (a *AuditLog) Close() error { return unix.Close(a.fd) }

// parseAuditMessage parses one audit netlink datagram, which holds one
// record. The kernel's audit messages do not always pad nlmsg_len as
// syscall.ParseNetlinkMessage wants, so the header is read here.
func parseAuditMessage(msg []byte) (Record, bool) {
	if len(msg) < unix.NLMSG_HDRLEN {
		return Record{}, false
	}
	if typ := binary.NativeEndian.Uint16(msg[4:6]); typ != AuditSeccomp {
		return Record{}, false
	}
	size := int(binary.NativeEndian.Uint32(msg[0:4]))
	if size < unix.NLMSG_HDRLEN || size > len(msg) {
		size = len(msg)
	}
	r, ok, err := Parse("type=1326 " + strings.TrimRight(string(msg[unix.NLMSG_HDRLEN:size]), "\x00"))
	if err != nil || !ok {
		return Record{}, false
	}
	return r, true
}
