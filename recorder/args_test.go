package recorder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// argsWorkloadEnv makes the test binary run argsWorkload instead of its
// tests: the workloads of the argument capture tests are this binary,
// re-executed.
const argsWorkloadEnv = "SYSREC_ARGS_WORKLOAD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(argsWorkloadEnv); mode != "" {
		if err := argsWorkload(mode); err != nil {
			fmt.Fprintf(os.Stderr, "args workload %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Values the workloads pass.
const (
	overflowIoctls = 40     // distinct ioctl requests, more than the kernel's set keeps
	threadIoctl    = 0x6000 // + thread index: each thread's ioctl request
	argThreads     = 8
)

// argsWorkload makes the syscalls of one capture test.
func argsWorkload(mode string) error {
	switch mode {
	case "values":
		return valuesWorkload()
	case "ioctls":
		// Requests that no file implements: each fails, but is captured
		// at entry.
		for i := 0; i < overflowIoctls; i++ {
			unix.Syscall(unix.SYS_IOCTL, 0, uintptr(0x7000+i), 0)
		}
		return nil
	case "threads":
		return threadsWorkload()
	case "clone3":
		return clone3Workload()
	case "filtered":
		return filteredWorkload()
	}
	return fmt.Errorf("unknown mode")
}

func valuesWorkload() error {
	s6, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket AF_INET6: %w", err)
	}
	su, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return fmt.Errorf("socket AF_UNIX: %w", err)
	}
	if _, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	if err := unix.Unshare(0); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	ns, err := unix.Open("/proc/self/ns/uts", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Setns(ns, unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	var name [16]byte
	if err := unix.Prctl(unix.PR_GET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl: %w", err)
	}
	if _, err := unix.IoctlGetInt(su, unix.TIOCINQ); err != nil {
		return fmt.Errorf("ioctl FIONREAD: %w", err)
	}
	// A socket is no terminal: ENOTTY, but captured all the same.
	unix.IoctlGetWinsize(s6, unix.TIOCGWINSZ)
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	if err := unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC); err != nil {
		return fmt.Errorf("mprotect: %w", err)
	}
	// 0xffffffff asks for the persona without changing it.
	if _, _, errno := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0); errno != 0 {
		return fmt.Errorf("personality: %w", errno)
	}
	return nil
}

// threadsWorkload makes an ioctl from each of argThreads threads that
// all run at once.
func threadsWorkload() error {
	var ready, done sync.WaitGroup
	ready.Add(argThreads)
	start := make(chan struct{})
	tids := make([]int, argThreads)
	for i := range argThreads {
		done.Add(1)
		go func() {
			defer done.Done()
			// Each goroutine holds its own thread until the end.
			runtime.LockOSThread()
			tids[i] = unix.Gettid()
			ready.Done()
			<-start
			unix.Syscall(unix.SYS_IOCTL, 0, uintptr(threadIoctl+i), 0)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	slices.Sort(tids)
	if len(slices.Compact(tids)) != argThreads {
		return fmt.Errorf("got threads %v, want %d distinct", tids, argThreads)
	}
	return nil
}

// cloneArgs is struct clone_args, as far as clone3 needs it.
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

// clone3Workload forks a child into a new UTS namespace with a raw
// clone3, whose flags are in memory; the child exits at once.
func clone3Workload() error {
	args := cloneArgs{flags: unix.CLONE_NEWUTS, exitSignal: uint64(unix.SIGCHLD)}
	pid, _, errno := unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	if errno != 0 {
		return fmt.Errorf("clone3: %w", errno)
	}
	if pid == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(int(pid), &ws, 0, nil); err != nil {
		return fmt.Errorf("wait4: %w", err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("clone3 child: got status %v, want exit 0", ws)
	}
	return nil
}

// filteredWorkload puts its thread under a seccomp filter that denies
// socket with EPERM, then asks for an AF_INET6 socket.
func filteredWorkload() error {
	runtime.LockOSThread() // the filter is this thread's; it never unlocks
	const (
		retErrno = 0x00050000
		retAllow = 0x7fff0000
	)
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_SOCKET},
		{Code: unix.BPF_RET | unix.BPF_K, K: retErrno | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: retAllow},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	if _, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM, 0); !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("socket under the filter: got %v, want EPERM", err)
	}
	return nil
}

// recordArgs records this test binary running workload mode under r.
func recordArgs(t *testing.T, r *Recorder, mode string) *Recording {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), argsWorkloadEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	rec, err := recordCmd(t, r, cmd)
	if err != nil {
		t.Fatalf("workload %s: %v\n%s", mode, err, stderr.Bytes())
	}
	return rec
}

func hostArchs(t *testing.T) (native, compat syscalls.Arch) {
	t.Helper()
	native, compat, err := syscalls.Host()
	if err != nil {
		t.Fatal(err)
	}
	return native, compat
}

// argPaths are the recorders that cover every path of sys_enter that
// records a syscall: the tasks' own entries; the general path, with the
// only entry held by another target's task (see holdSlot); and the
// portable program.
var argPaths = map[string]Options{
	"own entries": {},
	"general":     {TaskSlots: 1},
	"portable":    {portable: true},
}

// newArgRecorder returns a recorder for one of argPaths, capturing
// groups.
func newArgRecorder(t *testing.T, path string, groups []profiles.ArgGroup) *Recorder {
	t.Helper()
	opts := argPaths[path]
	opts.ArgGroups = groups
	r := newRecorder(t, opts)
	if opts.TaskSlots == 1 {
		holdSlot(t, r)
	}
	return r
}

// holdSlot has a task of another target hold a task entry of r until the
// test ends: with one entry, every task of the test's target then takes
// the general path.
func holdSlot(t *testing.T, r *Recorder) {
	t.Helper()
	cmd := exec.Command(testenv.Workload(t), "sleep")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	target, err := r.StartCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		target.Wait(context.Background())
		target.Close()
	})
	// It has made syscalls, so it holds the entry.
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	var slot bpf.TaskSlot
	if err := r.objs.TaskSlots.Lookup(uint32(0), &slot); err != nil || slot.Tag != target.id+1 {
		t.Fatalf("task entry: got tag %d (%v), want the holder's, %d", slot.Tag, err, target.id+1)
	}
}

// The kernel side captures each syscall's argument as profiles.ArgKind
// encodes it, on every path that records a syscall.
func TestCaptureArgs(t *testing.T) {
	for path := range argPaths {
		t.Run(path, func(t *testing.T) {
			testCaptureArgs(t, newArgRecorder(t, path, profiles.ArgGroups))
		})
	}
}

func testCaptureArgs(t *testing.T, r *Recorder) {
	native, _ := hostArchs(t)
	rec := recordArgs(t, r, "values")
	got := rec.Args[native]
	for name, want := range map[string][]uint64{
		"socket":      {unix.AF_UNIX<<8 | unix.SOCK_DGRAM, unix.AF_INET6<<8 | unix.SOCK_STREAM},
		"socketpair":  {unix.AF_UNIX},
		"unshare":     {0},
		"setns":       {unix.CLONE_NEWUTS},
		"personality": {0xffffffff},
		"ioctl":       {unix.TIOCGWINSZ, unix.TIOCINQ},
		// The runtime's threads (clone3 where the C library starts them):
		// no namespace flag.
		"clone": {0},
	} {
		slices.Sort(want)
		if v, ok := got[name]; !ok || !reflect.DeepEqual(v, profiles.ArgValues{Values: want}) {
			t.Errorf("%s: got %+v (captured: %v), want values %#x", name, v, ok, want)
		}
	}
	// clone3 (the C library's threads) has an entry without values.
	if v, ok := got["clone3"]; !ok || len(v.Values) != 0 || v.Overflow {
		t.Errorf("clone3: got %+v (captured: %v), want an empty entry", v, ok)
	}
	// The loader and the Go runtime also map and name memory: what the
	// workload asked for must be there, and nothing they never ask for.
	for _, c := range []struct {
		name    string
		want    uint64
		allowed []uint64
	}{
		{"prctl", unix.PR_GET_NAME, []uint64{unix.PR_GET_NAME, unix.PR_SET_VMA}},
		{"mmap", unix.PROT_EXEC, []uint64{0, unix.PROT_WRITE, unix.PROT_EXEC}},
		{"mprotect", unix.PROT_WRITE | unix.PROT_EXEC, []uint64{0, unix.PROT_WRITE, unix.PROT_WRITE | unix.PROT_EXEC}},
	} {
		v := got[c.name]
		extra := slices.DeleteFunc(slices.Clone(v.Values), func(x uint64) bool { return slices.Contains(c.allowed, x) })
		if !slices.Contains(v.Values, c.want) || len(extra) != 0 || v.Overflow {
			t.Errorf("%s: got %+v, want %#x among values from %#x", c.name, v, c.want, c.allowed)
		}
	}
	if rec.ArgOverflows != 0 {
		t.Errorf("arg overflows: got %d, want 0", rec.ArgOverflows)
	}
	for arch := range rec.Args {
		if arch != native {
			t.Errorf("got values under %s, want only %s", arch, native)
		}
	}
}

// Without argument groups nothing is captured; with the default ones,
// only their syscalls are.
func TestCaptureArgGroups(t *testing.T) {
	native, _ := hostArchs(t)
	for name, groups := range map[string][]profiles.ArgGroup{"nil": nil, "empty": {}} {
		t.Run(name, func(t *testing.T) {
			rec := recordArgs(t, newRecorder(t, Options{ArgGroups: groups}), "values")
			if len(rec.Args) != 0 || rec.ArgOverflows != 0 {
				t.Errorf("got args %v and %d overflows, want none", rec.Args, rec.ArgOverflows)
			}
			if !slices.Contains(rec.Syscalls[native], "socket") {
				t.Errorf("got syscalls %v, want socket among them", rec.Syscalls[native])
			}
		})
	}
	t.Run("default", func(t *testing.T) {
		rec := recordArgs(t, newRecorder(t, Options{ArgGroups: profiles.DefaultArgGroups}), "values")
		var names []string
		for name := range rec.Args[native] {
			names = append(names, name)
		}
		slices.Sort(names)
		want := []string{"clone", "clone3", "setns", "socket", "socketpair", "unshare"}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("got values for %v, want %v", names, want)
		}
	})
}

// More distinct values than the kernel keeps: the syscall overflows, and
// the captures that found its set full are counted.
func TestCaptureArgsOverflow(t *testing.T) {
	native, _ := hostArchs(t)
	r := newRecorder(t, Options{ArgGroups: []profiles.ArgGroup{profiles.ArgsIoctl}})
	rec := recordArgs(t, r, "ioctls")
	v := rec.Args[native]["ioctl"]
	size := len(bpf.TargetArgs{}.Ioctl)
	if !v.Overflow || len(v.Values) != size {
		t.Errorf("ioctl: got overflow %v with %d values, want overflow with %d", v.Overflow, len(v.Values), size)
	}
	if want := uint64(overflowIoctls - size); rec.ArgOverflows < want {
		t.Errorf("arg overflows: got %d, want at least %d", rec.ArgOverflows, want)
	}
	if got := rec.Args.Overflowed(); !reflect.DeepEqual(got, []string{string(native) + "/ioctl"}) {
		t.Errorf("overflowed: got %v, want [%s/ioctl]", got, native)
	}
}

// Threads of one process that run at once all land their values in the
// target, on each path.
func TestCaptureArgsThreads(t *testing.T) {
	native, _ := hostArchs(t)
	for path := range argPaths {
		t.Run(path, func(t *testing.T) {
			rec := recordArgs(t, newArgRecorder(t, path, []profiles.ArgGroup{profiles.ArgsIoctl}), "threads")
			var want []uint64
			for i := range argThreads {
				want = append(want, threadIoctl+uint64(i))
			}
			if v := rec.Args[native]["ioctl"]; !reflect.DeepEqual(v, profiles.ArgValues{Values: want}) {
				t.Errorf("ioctl: got %+v, want values %#x", v, want)
			}
		})
	}
}

// clone3's flags are read from its struct clone_args, and land in clone's
// values.
func TestCaptureClone3(t *testing.T) {
	native, _ := hostArchs(t)
	r := newRecorder(t, Options{ArgGroups: []profiles.ArgGroup{profiles.ArgsNamespaces}})
	rec := recordArgs(t, r, "clone3")
	if v := rec.Args[native]["clone"]; !slices.Contains(v.Values, unix.CLONE_NEWUTS) || v.Overflow {
		t.Errorf("clone: got %+v, want CLONE_NEWUTS (%#x) among the values", v, unix.CLONE_NEWUTS)
	}
	if v, ok := rec.Args[native]["clone3"]; !ok || len(v.Values) != 0 || v.Overflow {
		t.Errorf("clone3: got %+v (captured: %v), want an empty entry", v, ok)
	}
	if rec.Processes != 2 {
		t.Errorf("processes: got %d, want 2", rec.Processes)
	}
}

// A syscall that a seccomp filter denies is captured with its value
// where the denied syscalls are captured at all.
func TestCaptureArgsUnderFilter(t *testing.T) {
	native, _ := hostArchs(t)
	for _, mode := range []FilterCapture{CaptureAuto, CaptureExit, CaptureNone} {
		t.Run(fmt.Sprintf("mode=%q", mode), func(t *testing.T) {
			r := newRecorder(t, Options{FilterCapture: mode, ArgGroups: []profiles.ArgGroup{profiles.ArgsSocket}})
			rec := recordArgs(t, r, "filtered")
			if rec.Filtered == 0 {
				t.Errorf("filtered tasks: got 0, want at least 1")
			}
			v, ok := rec.Args[native]["socket"]
			if r.FilterCapture() == CaptureNone {
				if ok {
					t.Errorf("socket: got %+v, want no capture: denied syscalls are not seen", v)
				}
				return
			}
			if want := (profiles.ArgValues{Values: []uint64{unix.AF_INET6<<8 | unix.SOCK_STREAM}}); !reflect.DeepEqual(v, want) {
				t.Errorf("socket: got %+v, want %+v", v, want)
			}
		})
	}
}

// An i386 task on x86_64 keeps its values under its own ABI, with i386's
// syscall numbers and registers. The task is a tiny static i386
// executable that the test writes.
func TestCaptureArgsCompat(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the compat program is i386 code")
	}
	native, compat := hostArchs(t)
	bin := filepath.Join(t.TempDir(), "i386")
	if err := os.WriteFile(bin, i386Program(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(bin).Run(); err != nil {
		t.Skipf("this kernel does not run i386 programs (IA32 emulation): %v", err)
	}
	r := newRecorder(t, Options{ArgGroups: profiles.ArgGroups})
	rec, err := recordCmd(t, r, exec.Command(bin))
	if err != nil {
		t.Fatalf("i386 program: %v", err)
	}
	want := profiles.RecordedArgs{native: {"clone3": {}}, compat: {
		"socket":  {Values: []uint64{unix.AF_INET6<<8 | unix.SOCK_STREAM}},
		"ioctl":   {Values: []uint64{unix.TIOCGWINSZ}},
		"clone3":  {},
		"prctl":   {Values: []uint64{unix.PR_GET_NAME}},
		"unshare": {Values: []uint64{unix.CLONE_NEWNET}},
	}}
	if !reflect.DeepEqual(rec.Args, want) {
		t.Errorf("got %v, want %v (syscalls %v)", rec.Args, want, rec.Syscalls)
	}
	if !slices.Contains(rec.Syscalls[compat], "socket") || !slices.Contains(rec.Syscalls[native], "execve") {
		t.Errorf("got syscalls %v, want %s socket after the %s execve", rec.Syscalls, compat, native)
	}
}

// i386Program returns a static i386 ELF executable that makes, with int
// 0x80, socket(AF_INET6, SOCK_STREAM, 0), ioctl(0, TIOCGWINSZ, 0),
// prctl(PR_GET_NAME, 0), unshare(CLONE_NEWNET) as a non-root user would
// (so it may fail) and exit(0). The upper halves of the 64-bit registers
// play no part: int 0x80 takes ebx, ecx and edx.
func i386Program() []byte {
	var code []byte
	mov := func(op byte, v uint32) { code = binary.LittleEndian.AppendUint32(append(code, op), v) }
	const eax, ebx, ecx, edx = 0xb8, 0xbb, 0xb9, 0xba
	call := func(nr, a0, a1, a2 uint32) {
		mov(eax, nr)
		mov(ebx, a0)
		mov(ecx, a1)
		mov(edx, a2)
		code = append(code, 0xcd, 0x80) // int 0x80
	}
	call(359, unix.AF_INET6, unix.SOCK_STREAM, 0) // socket
	call(54, 0, unix.TIOCGWINSZ, 0)               // ioctl
	call(172, unix.PR_GET_NAME, 0, 0)             // prctl: EFAULT
	call(310, unix.CLONE_NEWNET, 0, 0)            // unshare
	call(1, 0, 0, 0)                              // exit

	const base, hdr = 0x08048000, 52 + 32
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.Write([]byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w(uint16(2))             // ET_EXEC
	w(uint16(3))             // EM_386
	w(uint32(1))             // EV_CURRENT
	w(uint32(base + hdr))    // entry
	w(uint32(52))            // program headers
	w(uint32(0))             // section headers
	w(uint32(0))             // flags
	w(uint16(52))            // header size
	w(uint16(32))            // program header size
	w(uint16(1))             // program headers
	w([3]uint16{40, 0, 0})   // section headers: size, count, names
	w(uint32(1))             // PT_LOAD
	w(uint32(0))             // offset
	w([2]uint32{base, base}) // addresses
	size := uint32(hdr + len(code))
	w([2]uint32{size, size}) // file and memory size
	w(uint32(5))             // PF_R|PF_X
	w(uint32(0x1000))        // alignment
	b.Write(code)
	return b.Bytes()
}

// decode maps each ABI's values to its own architecture's names and
// encodings. clone3 has an empty entry on each ABI that recorded
// anything.
func TestDecodeArgs(t *testing.T) {
	h := newHost(syscalls.X86_64, syscalls.X86, profiles.ArgGroups)
	var s bpf.Target
	for _, c := range []struct {
		abi  bpf.ABI
		arch syscalls.Arch
		name string
	}{
		{bpf.ABINative, syscalls.X86_64, "socket"},
		{bpf.ABICompat, syscalls.X86, "socket"},
		{bpf.ABICompat, syscalls.X86, "ioctl"},
	} {
		nr, ok := syscalls.Number(c.arch, c.name)
		if !ok {
			t.Fatalf("no %s/%s", c.arch, c.name)
		}
		setBit(&s, c.abi, nr)
	}
	n := &s.Args[bpf.ABINative]
	n.SocketTypes[10>>2] |= 1 << ((10&3)*16 + 1) // AF_INET6, SOCK_STREAM
	n.SocketTypes[0] |= 1 << (1*16 + 2)          // AF_UNIX, SOCK_DGRAM
	n.SocketpairDomains = 1 << 1
	// CLONE_NEWNS|CLONE_NEWUSER, and nothing: combinations 1<<1|1<<5 and 0.
	n.CloneNs[0] = 1<<(1<<1|1<<5) | 1
	// CLONE_NEWTIME|CLONE_NEWNET: combination 1|1<<7, in the third word.
	n.UnshareNs[(1|1<<7)/64] = 1 << ((1 | 1<<7) % 64)
	n.Setns[0] = 1<<32 | unix.CLONE_NEWNET
	n.Personality[0] = 1<<32 | 0
	n.Prctl[1] = 1<<32 | unix.PR_GET_NAME // entry 0 still empty
	n.Ioctl[0], n.Ioctl[1] = 1<<32|0x5413, 1<<32|0x541b
	n.MmapProt = 1<<0 | 1<<2 // none, PROT_EXEC
	n.MprotectProt = 1 << 3  // PROT_WRITE|PROT_EXEC
	n.Overflow = 1 << profiles.KindIoctl
	c := &s.Args[bpf.ABICompat]
	c.SocketTypes[0] |= 1 << (1*16 + 1)
	c.Ioctl[0] = 1<<32 | 0x5413
	c.MmapProt = 1 << 1
	s.ArgsOverflow = 7

	rec := decode(&s, h)
	want := profiles.RecordedArgs{
		syscalls.X86_64: {
			"socket":      {Values: []uint64{1<<8 | 2, 10<<8 | 1}},
			"socketpair":  {Values: []uint64{1}},
			"clone":       {Values: []uint64{0, profiles.CloneNewNS | profiles.CloneNewUser}},
			"clone3":      {},
			"unshare":     {Values: []uint64{profiles.CloneNewTime | profiles.CloneNewNet}},
			"setns":       {Values: []uint64{profiles.CloneNewNet}},
			"personality": {Values: []uint64{0}},
			"prctl":       {Values: []uint64{unix.PR_GET_NAME}},
			"ioctl":       {Values: []uint64{0x5413, 0x541b}, Overflow: true},
			"mmap":        {Values: []uint64{0, profiles.ProtExec}},
			"mprotect":    {Values: []uint64{profiles.ProtWrite | profiles.ProtExec}},
		},
		syscalls.X86: {
			"socket": {Values: []uint64{1<<8 | 1}},
			"ioctl":  {Values: []uint64{0x5413}},
			"clone3": {},
			// i386's mmap is old_mmap: its prot is mmap2's.
			"mmap2": {Values: []uint64{profiles.ProtWrite}},
		},
	}
	if !reflect.DeepEqual(rec.Args, want) {
		t.Errorf("got %v, want %v", rec.Args, want)
	}
	if rec.ArgOverflows != 7 {
		t.Errorf("arg overflows: got %d, want 7", rec.ArgOverflows)
	}
	// Without groups, nothing is decoded.
	if rec := decode(&s, newHost(syscalls.X86_64, syscalls.X86, nil)); rec.Args != nil {
		t.Errorf("without groups: got %v, want nil", rec.Args)
	}
}

// The kernel's tables hold a bit and the kind of each captured syscall,
// per ABI.
func TestArgTables(t *testing.T) {
	h := newHost(syscalls.X86_64, syscalls.X86, profiles.DefaultArgGroups)
	bits, kinds := h.argTables()
	for _, c := range []struct {
		abi  int
		nr   int
		kind profiles.ArgKind
	}{
		{0, 41, profiles.KindSocket},  // x86_64 socket
		{0, 435, profiles.KindClone3}, // clone3
		{1, 359, profiles.KindSocket}, // i386 socket
		{1, 120, profiles.KindClone},  // i386 clone
		{0, 16, profiles.KindNone},    // ioctl: not in the default groups
		{1, 192, profiles.KindNone},   // mmap2: neither
	} {
		set := bits[c.abi][c.nr/64]&(1<<uint(c.nr%64)) != 0
		if set != (c.kind != profiles.KindNone) || profiles.ArgKind(kinds[c.abi][c.nr]) != c.kind {
			t.Errorf("ABI %d syscall %d: got bit %v, kind %d; want kind %d", c.abi, c.nr, set, kinds[c.abi][c.nr], c.kind)
		}
	}
	if bits, _ := newHost(syscalls.X86_64, syscalls.X86, nil).argTables(); bits != ([2][bpf.ArgSyscalls / 64]uint64{}) {
		t.Errorf("without groups: got %x, want no bit", bits)
	}
}
