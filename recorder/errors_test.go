package recorder

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/bpf"
)

const privilegeAdvice = "run as root or grant CAP_BPF and CAP_PERFMON"

// A verifier rejection says so, names the program, keeps the verifier's
// log for %+v, and gives no advice about privileges, though the kernel
// reports it with EACCES; a permission error from before the verifier
// ran gets the advice.
func TestLoadErrorClassification(t *testing.T) {
	log := []string{
		"0: R1=ctx() R10=fp0",
		"0: (79) r0 = *(u64 *)(r10 -8)",
		"invalid read from stack off -8+0 size 8",
		"processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0",
	}
	rejected := &ebpf.VerifierError{Cause: unix.EACCES, Log: log}
	for _, tc := range []struct {
		name     string
		err      error
		programs []string
		program  string // the program a rejection names; "" for no rejection
		advice   bool
	}{
		{"rejected in a collection", fmt.Errorf("program sys_enter_portable: %w", rejected),
			[]string{"sched_process_fork", "sys_enter", "sys_enter_portable"}, "sys_enter_portable", false},
		{"rejected, one program", fmt.Errorf("program prog: %w", rejected), []string{"sys_exit_filtered"}, "sys_exit_filtered", false},
		{"rejected with EPERM", fmt.Errorf("program sys_enter: %w", &ebpf.VerifierError{Cause: unix.EPERM, Log: log}),
			[]string{"sys_enter", "sys_enter_portable"}, "sys_enter", false},
		{"rejected, program unknown", rejected, []string{"a", "b"}, "(unknown)", false},
		{"refused before the verifier", fmt.Errorf("program sys_enter: %w", &ebpf.VerifierError{Cause: unix.EPERM}),
			[]string{"sys_enter"}, "", true},
		{"EACCES", fmt.Errorf("map events: %w", unix.EACCES), []string{"sys_enter"}, "", true},
		{"other", fmt.Errorf("map events: %w", unix.EINVAL), []string{"sys_enter"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loadError("loading eBPF objects", tc.err, tc.programs...)
			msg := err.Error()
			if !strings.HasPrefix(msg, "loading eBPF objects: ") {
				t.Errorf("got %q, want it to start with what was done", msg)
			}
			if got := strings.Contains(msg, privilegeAdvice); got != tc.advice {
				t.Errorf("got %q: advice about privileges %v, want %v", msg, got, tc.advice)
			}
			var re *RejectedError
			if tc.program == "" {
				if !errors.Is(err, tc.err) {
					t.Errorf("got %q, which does not wrap the cause", msg)
				}
				if errors.Is(err, ErrVerifierRejected) || errors.As(err, &re) {
					t.Errorf("got %q, a verifier rejection", msg)
				}
				return
			}
			if !errors.Is(err, ErrVerifierRejected) || !errors.As(err, &re) {
				t.Fatalf("got %q (%T), want a *RejectedError", msg, err)
			}
			want := "the kernel's verifier rejected eBPF program " + tc.program + ": "
			if !strings.Contains(msg, want) {
				t.Errorf("got %q, want it to contain %q", msg, want)
			}
			if !strings.Contains(msg, "invalid read from stack") {
				t.Errorf("got %q, want the verifier's last line", msg)
			}
			var ve *ebpf.VerifierError
			if !errors.As(err, &ve) {
				t.Errorf("got %q, from which errors.As finds no *ebpf.VerifierError", msg)
			}
			full := fmt.Sprintf("%+v", err)
			if !strings.HasPrefix(full, "loading eBPF objects: "+want) {
				t.Errorf("%%+v: got %q, want it to start with %q", full, want)
			}
			for _, line := range log {
				if !strings.Contains(full, "\n\t"+line) {
					t.Errorf("%%+v: got %q, want the log's line %q", full, line)
				}
			}
			if last := fmt.Sprintf("%-1v", err); !strings.HasSuffix(last, "\n\t"+log[len(log)-1]) || strings.Contains(last, log[0]) {
				t.Errorf("%%-1v: got %q, want only the log's last line", last)
			}
			if s := fmt.Sprintf("%v|%s", err, err); s != msg+"|"+msg {
				t.Errorf("%%v|%%s: got %q, want Error twice", s)
			}
		})
	}
}

// A program that the kernel's verifier rejects, loaded through the path
// that loads the capture programs, gives a *RejectedError with the
// verifier's log.
func TestVerifierRejection(t *testing.T) {
	r := newRecorder(t, Options{FilterCapture: CaptureNone})
	spec, err := bpf.Spec()
	if err != nil {
		t.Fatal(err)
	}
	spec = spec.Copy()
	kernel, err := loadKernelBTF(DefaultKernelBTF)
	if err != nil {
		t.Fatal(err)
	}
	bad := spec.Programs["sys_exit_filtered"].Copy()
	// It returns R0 without setting it. (A read of stack never written
	// would do only unprivileged: CAP_PERFMON allows it.)
	bad.Instructions = asm.Instructions{asm.Return()}
	spec.Programs["sys_exit_filtered"] = bad
	err = r.loadCapture(spec, kernel, "sys_exit_filtered", ebpf.AttachTraceRawTp)
	if err == nil {
		t.Fatal("the verifier accepted a program that returns an unset R0")
	}
	msg := err.Error()
	t.Logf("error: %+v", err)
	var re *RejectedError
	if !errors.Is(err, ErrVerifierRejected) || !errors.As(err, &re) {
		t.Fatalf("got %q (%T), want a *RejectedError", msg, err)
	}
	if want := "the kernel's verifier rejected eBPF program sys_exit_filtered: "; !strings.Contains(msg, want) {
		t.Errorf("got %q, want it to contain %q", msg, want)
	}
	if strings.Contains(msg, privilegeAdvice) {
		t.Errorf("got %q, which gives advice about privileges", msg)
	}
	full := fmt.Sprintf("%+v", err)
	if !strings.Contains(full, "\n\t") || !strings.Contains(full, "R0 !read_ok") {
		t.Errorf("%%+v: got %q, want the verifier's log", full)
	}
}

// In the auto mode a rejected fentry program means no capture, and a
// warning: it is sysrec's program, not the kernel's policy. Where the
// kernel refuses fentry anyway (as this project's VM does, with EPERM
// before any verifier runs) there is nothing to reject; make
// test-kernels runs it on Debian's 6.1 kernels, which allow fentry.
func TestAutoCaptureRejected(t *testing.T) {
	if got := newRecorder(t, Options{FilterCapture: CaptureAuto}).FilterCapture(); got != CaptureEntry {
		t.Skipf("this kernel refuses fentry on the seccomp entry (auto capture: %q), verifier or not", got)
	}
	var logs syncBuffer
	r := newRecorder(t, Options{
		FilterCapture: CaptureAuto,
		Logger:        slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		editSpec: func(spec *ebpf.CollectionSpec) {
			// It dereferences a scalar at its second instruction.
			p := spec.Programs["secure_computing"]
			p.Instructions[1] = asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord).WithMetadata(p.Instructions[1].Metadata)
		},
	})
	if got := r.FilterCapture(); got != CaptureNone {
		t.Errorf("auto capture with a rejected program: got mode %q, want %q", got, CaptureNone)
	}
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "verifier rejected") {
		t.Errorf("auto capture with a rejected program: got log %q, want a warning that the verifier rejected it", got)
	}
}

// syncBuffer is a bytes.Buffer that a logger may write from several
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSysEnterProgram reports which sys_enter program this kernel loads:
// sys_enter, which reads kernel-internal fields of task storage, or
// sys_enter_portable, with a debug log line that says why. Where
// SYSREC_WANT_SYS_ENTER names one (make test-kernels sets it per
// kernel), it must be that one.
func TestSysEnterProgram(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRecorder(t, Options{Logger: log, FilterCapture: CaptureNone})
	got := "sys_enter"
	if strings.Contains(r.objs.SysEnter.String(), "(sys_enter_portable)") {
		got = "sys_enter_portable"
	}
	// The marker that make test-kernels looks for.
	t.Logf("sys_enter program: %s (kernel %s)", got, kernelRelease(t))
	fellBack := strings.Contains(logs.String(), "the fast sys_enter program was rejected; using the portable one")
	if fellBack != (got == "sys_enter_portable") {
		t.Errorf("loaded %s, but the log says the fast program was rejected: %v\n%s", got, fellBack, logs.String())
	}
	if fellBack {
		t.Logf("why:\n%s", logs.String())
	}
	if want := os.Getenv("SYSREC_WANT_SYS_ENTER"); want != "" && got != want {
		t.Errorf("loaded %s, want %s (SYSREC_WANT_SYS_ENTER)", got, want)
	}
}

func kernelRelease(t *testing.T) string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Release[:])
}
