package main

import (
	"strings"
	"testing"
)

const sample = `@default
    # System calls that are always permitted
    brk
    futex

@basic-io
    # Basic IO
    close
    read

@file-system
    # File system operations
    close
    openat

@signal
    # Process signal handling
    rt_sigaction

@system-service
    # General system service operations
    @basic-io
    @default
    ioctl

@known
    # All known syscalls declared in the kernel
    brk
    close
    futex
    ioctl
    openat
    read
    rt_sigaction
    set_tls

# Unlisted System Calls (supported by the local kernel, but not included in any of the groups listed above):
#   cachestat
`

func TestParse(t *testing.T) {
	sd, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sd["@system-service"], " "); got != "brk close futex ioctl read" {
		t.Errorf("@system-service expands to %q", got)
	}
	if _, ok := sd["cachestat"]; ok {
		t.Error("the unlisted section was read")
	}
}

func TestAssign(t *testing.T) {
	sd, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	// Only the groups the sample has.
	saved := groups
	defer func() { groups = saved }()
	groups = []group{
		{"File", "file", "file I/O", []string{"@basic-io", "@file-system"}},
		{"Signals", "signals", "signals", []string{"@signal"}},
		{"Memory", "memory", "memory", nil},
		{"Threads", "threads", "threads", nil},
		{"Other", "other", "other", nil},
	}
	savedExtra := extra
	defer func() { extra = savedExtra }()
	extra = map[string][]string{"memory": {"brk"}, "threads": {"futex"}, "file": {"ioctl"}}
	table, err := assign(sd)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]string{"close": "file", "read": "file", "openat": "file", "rt_sigaction": "signals",
		"brk": "memory", "futex": "threads", "ioctl": "file", "set_tls": "other"} {
		if table[n] != want {
			t.Errorf("%s: got %q, want %q", n, table[n], want)
		}
	}
	// An extra name that systemd has in a functional group is an error.
	extra = map[string][]string{"memory": {"read"}}
	if _, err := assign(sd); err == nil || !strings.Contains(err.Error(), "functional") {
		t.Errorf("extra read: got %v, want an error", err)
	}
	// So is a systemd group that no sysrec group takes.
	extra = nil
	groups = groups[1:]
	if _, err := assign(sd); err == nil || !strings.Contains(err.Error(), "not mapped") {
		t.Errorf("unmapped @basic-io: got %v, want an error", err)
	}
}
