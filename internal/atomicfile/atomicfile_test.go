package atomicfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary doubles as a writer that the tests can kill: with
// helperEnv set, it creates helperPath with Create, writes to it, prints
// "ready", and then commits or aborts as a line on its stdin says, or
// waits for the end of stdin. With denyEnv set to an errno number, its
// kernel answers every O_TMPFILE open with that errno first, as a file
// system without O_TMPFILE (EOPNOTSUPP) or a kernel older than it (EISDIR)
// does.
const (
	helperEnv = "ATOMICFILE_TEST_HELPER"
	pathEnv   = "ATOMICFILE_TEST_PATH"
	denyEnv   = "ATOMICFILE_TEST_DENY_TMPFILE"
)

// exitNoSeccomp is the helper's exit status where it cannot install the
// seccomp filter that denies O_TMPFILE.
const exitNoSeccomp = 3

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

func helper() int {
	if v := os.Getenv(denyEnv); v != "" {
		var errno int
		fmt.Sscan(v, &errno)
		if err := denyTmpfile(unix.Errno(errno)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return exitNoSeccomp
		}
	}
	f, err := Create(os.Getenv(pathEnv), 0o640)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := f.WriteString("new"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	switch strings.TrimSpace(line) {
	case "commit":
		err = f.Commit()
	case "abort":
		err = f.Abort()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// denyTmpfile installs, on every thread of the process, a seccomp filter
// under which an openat whose flags hold O_TMPFILE fails with errno.
func denyTmpfile(errno unix.Errno) error {
	var one [2]byte
	binary.NativeEndian.PutUint16(one[:], 1)
	if one[0] != 1 {
		return errors.New("the filter reads the flags' low half as little-endian")
	}
	// struct seccomp_data: nr at 0, args[2] (openat's flags) at 32.
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_OPENAT, Jt: 0, Jf: 3},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 32},
		{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: unix.O_TMPFILE &^ unix.O_DIRECTORY, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return fmt.Errorf("installing the seccomp filter: %w", e)
	}
	if r != 0 {
		return fmt.Errorf("installing the seccomp filter: thread %d could not take it", r)
	}
	return nil
}

// writer is a helper process that holds a pending write.
type writer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer
}

// startWriter starts a helper process that writes path, and returns once
// it has written and not yet committed. env adds to its environment.
func startWriter(t *testing.T, path string, env ...string) *writer {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), helperEnv+"=1", pathEnv+"="+path), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{cmd: cmd, stdin: stdin, stderr: new(bytes.Buffer)}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("got %q, want ready", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			werr := cmd.Wait()
			var ee *exec.ExitError
			if errors.As(werr, &ee) && ee.ExitCode() == exitNoSeccomp {
				t.Skipf("cannot deny O_TMPFILE with a seccomp filter here: %s", w.stderr)
			}
			t.Fatalf("the writer never got ready: %v (%v); stderr: %s", err, werr, w.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the writer was not ready within 30 s; stderr: %s", w.stderr)
	}
	return w
}

// finish tells the writer to commit or abort, and waits for it.
func (w *writer) finish(t *testing.T, order string) {
	t.Helper()
	if _, err := io.WriteString(w.stdin, order+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("%s: %v; stderr: %s", order, err, w.stderr)
	}
}

// kill kills the writer with SIGKILL, and waits for it.
func (w *writer) kill(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := w.cmd.Wait()
	if ws, ok := w.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("got %v, want the writer killed by SIGKILL", err)
	}
}

// A writer killed with SIGKILL before it commits leaves nothing behind:
// not beside a file it would have replaced, nor where it would have
// created one. While it writes, no name shows either.
func TestKillLeavesNothing(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(fmt.Sprintf("existing=%v", existing), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "k.json")
			want := []string{"other"}
			if err := os.WriteFile(filepath.Join(dir, "other"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if existing {
				if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
				want = []string{"k.json", "other"}
			}
			w := startWriter(t, path)
			assertOnlyFile(t, dir, want...)
			w.kill(t)
			assertOnlyFile(t, dir, want...)
			if existing {
				if got, _ := os.ReadFile(path); string(got) != "old" {
					t.Errorf("after the kill: got %q, want old", got)
				}
			}
		})
	}
}

// Where O_TMPFILE is refused, a named temporary file does the job: Commit
// renames it over the target, Abort removes it.
func TestFallbackWithoutTmpfile(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EOPNOTSUPP, unix.EISDIR, unix.EINVAL} {
		for _, order := range []string{"commit", "abort"} {
			t.Run(fmt.Sprintf("%s/%s", unix.ErrnoName(errno), order), func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "p.json")
				if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
				w := startWriter(t, path, fmt.Sprintf("%s=%d", denyEnv, errno))
				// The named temporary file shows that the fallback was taken.
				tmps, _ := filepath.Glob(filepath.Join(dir, ".p.json.tmp-*"))
				if len(tmps) != 1 {
					t.Fatalf("while pending: got temporary files %v, want one .p.json.tmp-*", tmps)
				}
				w.finish(t, order)
				assertOnlyFile(t, dir, "p.json")
				got, _ := os.ReadFile(path)
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				want, wantPerm := "new", os.FileMode(0o640)
				if order == "abort" {
					want, wantPerm = "old", 0o600
				}
				if string(got) != want || fi.Mode().Perm() != wantPerm {
					t.Errorf("after %s: got %q mode %v, want %q %v", order, got, fi.Mode().Perm(), want, wantPerm)
				}
			})
		}
	}
}

// Only a missing O_TMPFILE leads to the named file; a directory that
// cannot be written still fails.
func TestUnnamedUnsupported(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{unix.EOPNOTSUPP, true},
		{unix.EISDIR, true},
		{unix.EINVAL, true},
		{unix.ENOENT, false},
		{unix.EACCES, false},
		{unix.EROFS, false},
		{unix.ENOSPC, false},
	} {
		if got := unnamedUnsupported(tc.err); got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A pending write has no name in the directory, and Commit creates a file
// that did not exist, with its permissions.
func TestUnnamedUntilCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "n.json")
	f, err := Create(path, 0o604)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := f.WriteString("new"); err != nil {
		t.Fatal(err)
	}
	assertOnlyFile(t, dir)
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	assertOnlyFile(t, dir, "n.json")
	got, _ := os.ReadFile(path)
	fi, err := os.Stat(path)
	if err != nil || string(got) != "new" || fi.Mode().Perm() != 0o604 {
		t.Errorf("got %q mode %v (%v), want new 0604", got, fi.Mode().Perm(), err)
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new"))
	// Until Commit, readers see the old content.
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatalf("before commit: got %q, want old", got)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(got) != "new" || fi.Mode().Perm() != 0o644 {
		t.Errorf("got %q mode %v, want new 0644", got, fi.Mode().Perm())
	}
	if err := f.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	assertOnlyFile(t, dir, "p.json")
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(filepath.Join(dir, "p.json"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	assertOnlyFile(t, dir)
	if err := f.Commit(); err == nil {
		t.Errorf("Commit after Abort succeeded")
	}
}

func TestCreateFailsEarly(t *testing.T) {
	dir := t.TempDir()
	for name, path := range map[string]string{
		"missing directory": filepath.Join(dir, "nope", "p.json"),
		"a directory":       dir,
	} {
		if _, err := Create(path, 0o644); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, path)
		}
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if _, err := Create(filepath.Join(ro, "p.json"), 0o644); err == nil {
			t.Errorf("read-only directory: got no error")
		}
	}
}

func assertOnlyFile(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

// A device is written in place, never renamed over.
func TestDeviceIsWrittenInPlace(t *testing.T) {
	before, err := os.Stat("/dev/null")
	if err != nil {
		t.Skip("no /dev/null")
	}
	if err := WriteFile("/dev/null", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat("/dev/null")
	if err != nil || after.Mode() != before.Mode() || !os.SameFile(before, after) {
		t.Fatalf("/dev/null changed: %v, %v", after, err)
	}
	if matches, _ := filepath.Glob("/dev/.null.tmp-*"); len(matches) > 0 {
		t.Errorf("temporary files left in /dev: %v", matches)
	}
}
