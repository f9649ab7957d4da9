package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestReadStat(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "42"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The command name holds a space and a ')', as a name may.
	stat := fmt.Sprintf("42 (a) b) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %d 1000 100 18446744073709551615\n", 123456)
	if err := os.WriteFile(filepath.Join(root, "42", "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadStat(root, 42); err != nil || got != (Stat{PPID: 7, Start: 123456}) {
		t.Errorf("ReadStat: got %+v, %v; want parent 7, start 123456", got, err)
	}
	if _, err := ReadStat(root, 43); err == nil {
		t.Errorf("ReadStat of a missing process: got nil error, want one")
	}
	if _, err := parseStat(44, []byte("44 (short) S 1 2")); err == nil {
		t.Errorf("parseStat of a truncated stat: got nil error, want one")
	}
	self, err := ReadStat("/proc", os.Getpid())
	if err != nil || self.Start == 0 || self.PPID != os.Getppid() {
		t.Errorf("ReadStat of this process: got %+v, %v; want a start time and parent %d", self, err, os.Getppid())
	}
}
