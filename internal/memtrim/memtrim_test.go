package memtrim

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFile is this process's resident file-backed memory, in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestExecutable: dropping the executable's read-only pages lowers the
// resident file-backed memory, and the process goes on running (its code
// faults back in).
func TestExecutable(t *testing.T) {
	before := rssFile(t)
	n, err := Executable()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no read-only mapping of the executable was dropped")
	}
	after := rssFile(t)
	if after >= before {
		t.Errorf("RssFile: got %d kB after, %d kB before; want less", after, before)
	}
	// Code and read-only data used again come back.
	if s := strings.Repeat("x", 3); s != "xxx" {
		t.Fatal(s)
	}
}
