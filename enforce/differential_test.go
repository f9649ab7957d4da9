//go:build cgo

package enforce

// The differential test: random profiles are compiled by Compile, the
// compiler sysrec run loads filters from (libseccomp, as runc uses it,
// plus runc's ENOSYS stub), and the BPF is run on random syscalls by a
// small classic-BPF interpreter; the evaluator (Profile.Evaluate) must give
// the same action and errno. SYSREC_DIFF_SEED changes the seed,
// SYSREC_DIFF_CASES the number of cases.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// bpfInsn is a classic BPF instruction (struct sock_filter).
type bpfInsn struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

func decodeBPF(prog []unix.SockFilter) []bpfInsn {
	out := make([]bpfInsn, len(prog))
	for i, in := range prog {
		out[i] = bpfInsn{code: in.Code, jt: in.Jt, jf: in.Jf, k: in.K}
	}
	return out
}

// runBPF runs a seccomp classic BPF program on a struct seccomp_data (nr,
// arch, instruction_pointer, args[6]) and returns the filter's return
// value. It implements the instructions the kernel's seccomp checker
// allows and fails on any other.
func runBPF(t *testing.T, prog []bpfInsn, nr, auditArch uint32, args [6]uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.NativeEndian.PutUint32(data[0:], nr)
	binary.NativeEndian.PutUint32(data[4:], auditArch)
	binary.NativeEndian.PutUint64(data[8:], 0x1000)
	for i, a := range args {
		binary.NativeEndian.PutUint64(data[16+8*i:], a)
	}
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.code {
		case 0x20: // BPF_LD | BPF_W | BPF_ABS
			if in.k%4 != 0 || in.k+4 > uint32(len(data)) {
				t.Fatalf("pc %d: load of seccomp_data offset %d", pc, in.k)
			}
			a = binary.NativeEndian.Uint32(data[in.k:])
		case 0x00: // BPF_LD | BPF_W | BPF_IMM
			a = in.k
		case 0x01: // BPF_LDX | BPF_W | BPF_IMM
			x = in.k
		case 0x60: // BPF_LD | BPF_MEM
			a = mem[in.k]
		case 0x61: // BPF_LDX | BPF_MEM
			x = mem[in.k]
		case 0x02: // BPF_ST
			mem[in.k] = a
		case 0x03: // BPF_STX
			mem[in.k] = x
		case 0x07: // BPF_MISC | BPF_TAX
			x = a
		case 0x87: // BPF_MISC | BPF_TXA
			a = x
		case 0x54: // BPF_ALU | BPF_AND | BPF_K
			a &= in.k
		case 0x44: // BPF_ALU | BPF_OR | BPF_K
			a |= in.k
		case 0x05: // BPF_JMP | BPF_JA
			pc += int(in.k)
		case 0x15, 0x25, 0x35, 0x45: // BPF_JMP | JEQ/JGT/JGE/JSET | BPF_K
			var cond bool
			switch in.code {
			case 0x15:
				cond = a == in.k
			case 0x25:
				cond = a > in.k
			case 0x35:
				cond = a >= in.k
			case 0x45:
				cond = a&in.k != 0
			}
			if cond {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case 0x06: // BPF_RET | BPF_K
			return in.k
		case 0x16: // BPF_RET | BPF_A
			return a
		default:
			t.Fatalf("pc %d: BPF opcode %#04x is not implemented by the test interpreter", pc, in.code)
		}
	}
	t.Fatalf("BPF program ran off its end")
	return 0
}

// decodeRet turns a seccomp return value into a profiles.Decision (Rule unset).
func decodeRet(t *testing.T, ret uint32) profiles.Decision {
	t.Helper()
	data := uint(ret & 0xffff)
	switch ret & 0xffff0000 {
	case 0x80000000:
		return profiles.Decision{Action: profiles.ActKillProcess}
	case 0x00000000:
		return profiles.Decision{Action: profiles.ActKillThread}
	case 0x00030000:
		return profiles.Decision{Action: profiles.ActTrap}
	case 0x00050000:
		return profiles.Decision{Action: profiles.ActErrno, ErrnoRet: data}
	case 0x7ff00000:
		return profiles.Decision{Action: profiles.ActTrace, ErrnoRet: data}
	case 0x7ffc0000:
		return profiles.Decision{Action: profiles.ActLog}
	case 0x7fff0000:
		return profiles.Decision{Action: profiles.ActAllow}
	}
	t.Fatalf("unknown seccomp return %#x", ret)
	return profiles.Decision{}
}

const (
	auditArchX86_64 = 0xc000003e
	auditArchI386   = 0x40000003
)

// diffPool are the syscalls random profiles use: few, so rules collide.
var diffPool = []string{"read", "write", "close", "ioctl", "personality", "clone"}

// diffValues are the values conditions use: small, at the 32-bit border
// and with high bits, so 64-bit and 32-bit comparisons differ.
var diffValues = []uint64{0, 1, 2, 5, 0xff, 0x7fffffff, 0xffffffff, 1 << 32, 1<<32 + 5, 0xffffffff00000000, math.MaxUint64}

func randomProfile(r *rand.Rand) *profiles.Profile {
	acts := []profiles.Action{profiles.ActAllow, profiles.ActErrno, profiles.ActLog, profiles.ActTrap, profiles.ActKillProcess, profiles.ActKillThread}
	errnoPtr := func() *uint {
		if r.IntN(3) == 0 {
			return nil
		}
		v := uint(1 + r.IntN(3)) // few values, so actions collide
		if r.IntN(4) == 0 {
			v = uint(1 + r.IntN(4000))
		}
		return &v
	}
	p := &profiles.Profile{DefaultAction: []profiles.Action{profiles.ActErrno, profiles.ActAllow, profiles.ActLog, profiles.ActKillProcess, profiles.ActTrap}[r.IntN(5)]}
	if p.DefaultAction == profiles.ActErrno {
		p.DefaultErrnoRet = errnoPtr()
	}
	if r.IntN(2) == 0 {
		p.Architectures = []syscalls.Arch{syscalls.X86_64, syscalls.X86}
	}
	for range 1 + r.IntN(6) {
		s := profiles.Syscall{Action: acts[r.IntN(len(acts))]}
		if s.Action == profiles.ActErrno {
			s.ErrnoRet = errnoPtr()
		}
		for range 1 + r.IntN(2) {
			n := diffPool[r.IntN(len(diffPool))]
			if !slices.Contains(s.Names, n) {
				s.Names = append(s.Names, n)
			}
		}
		nargs := []int{0, 0, 1, 1, 1, 2, 2, 3}[r.IntN(8)]
		for range nargs {
			a := profiles.Arg{Index: uint(r.IntN(3)), Op: profiles.Operators[r.IntN(len(profiles.Operators))], Value: diffValues[r.IntN(len(diffValues))]}
			if a.Op == profiles.OpMaskedEqual {
				a.ValueTwo = diffValues[r.IntN(len(diffValues))] & a.Value
			}
			s.Args = append(s.Args, a)
		}
		p.Syscalls = append(p.Syscalls, s)
	}
	return p
}

// randomArgs picks arguments near the values the profile's conditions use
// so that conditions fire both ways.
func randomArgs(r *rand.Rand, p *profiles.Profile) [6]uint64 {
	var near [3][]uint64
	for _, s := range p.Syscalls {
		for _, a := range s.Args {
			if a.Op == profiles.OpMaskedEqual {
				near[a.Index] = append(near[a.Index], a.ValueTwo, a.ValueTwo|^a.Value, a.ValueTwo^(a.Value&-a.Value))
				continue
			}
			near[a.Index] = append(near[a.Index], a.Value, a.Value-1, a.Value+1)
		}
	}
	var args [6]uint64
	for i := range args {
		switch {
		case i < 3 && len(near[i]) > 0 && r.IntN(4) != 0:
			args[i] = near[i][r.IntN(len(near[i]))]
		case r.IntN(2) == 0:
			args[i] = diffValues[r.IntN(len(diffValues))]
		default:
			args[i] = r.Uint64()
		}
	}
	return args
}

func envInt(t *testing.T, name string, def uint64) uint64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

func TestCompileMatchesEvaluate(t *testing.T) {
	seed := envInt(t, "SYSREC_DIFF_SEED", 1)
	want := int(envInt(t, "SYSREC_DIFF_CASES", 12000))
	r := rand.New(rand.NewPCG(seed, 0x5eccc0))
	cases, rejected, profilesRun, mismatches := 0, 0, 0, 0
	contested, contestedMiss, enosysHits, rejectedSeen := 0, 0, 0, 0
	var contestedLog []string
	hits := map[profiles.Action]int{}
	var failures []string
	for cases < want {
		p := randomProfile(r)
		data, err := profiles.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := profiles.Parse(data, "random.json")
		if err != nil {
			t.Fatalf("a random profile does not parse: %v\n%s", err, data)
		}
		f, err := Compile(parsed, Options{Caps: profiles.DefaultCaps, Kernel: "6.1"})
		if err != nil {
			// libseccomp refuses conflicting rules (-EEXIST); runc would
			// fail to start the container. Evaluate must refuse too.
			rejected++
			if evaluateRefuses(parsed) {
				rejectedSeen++
			}
			continue
		}
		profilesRun++
		prog := decodeBPF(f.Program)
		for range 40 {
			name := diffPool[r.IntN(len(diffPool))]
			arch, audit := syscalls.X86_64, uint32(auditArchX86_64)
			if r.IntN(4) == 0 {
				arch, audit = syscalls.X86, auditArchI386
			}
			nr, ok := syscalls.Number(arch, name)
			if !ok {
				t.Fatalf("no number for %s on %s", name, arch)
			}
			args := randomArgs(r, parsed)
			got := decodeRet(t, runBPF(t, prog, uint32(nr), audit, args))
			dec, err := parsed.Evaluate(profiles.Query{Arch: arch, Name: name, Args: args, Caps: profiles.DefaultCaps, Kernel: "6.1"})
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			cases++
			hits[got.Action]++
			if dec.Rule == profiles.RuleENOSYS {
				enosysHits++
			}
			ambiguous, err := parsed.Ambiguous(arch, name)
			if err != nil {
				t.Fatal(err)
			}
			if ambiguous {
				contested++
				if dec.Action != got.Action || dec.ErrnoRet != got.ErrnoRet {
					contestedMiss++
					if len(contestedLog) < 3 {
						contestedLog = append(contestedLog, fmt.Sprintf("%s %s%#x: libseccomp %s(%d), Evaluate %s(%d) rule %d\n%s",
							arch, name, args[:3], got.Action, got.ErrnoRet, dec.Action, dec.ErrnoRet, dec.Rule, data))
					}
				}
				continue
			}
			if dec.Action != got.Action || dec.ErrnoRet != got.ErrnoRet {
				mismatches++
				if len(failures) < 10 {
					failures = append(failures, fmt.Sprintf("%s %s%#x: libseccomp %s(%d), Evaluate %s(%d) rule %d\n%s",
						arch, name, args[:3], got.Action, got.ErrnoRet, dec.Action, dec.ErrnoRet, dec.Rule, data))
				}
				t.Fail()
			}
		}
	}
	var acts []string
	for a, n := range hits {
		acts = append(acts, fmt.Sprintf("%s=%d", a, n))
	}
	sort.Strings(acts)
	t.Logf("seed %d: %d cases over %d profiles (%d profiles rejected by libseccomp), %d mismatches: %v", seed, cases, profilesRun, rejected, mismatches, acts)
	t.Logf("%d cases returned ENOSYS from runc's stub", enosysHits)
	t.Logf("Evaluate reports the conflict in %d of the %d profiles libseccomp refused", rejectedSeen, rejected)
	t.Logf("%d cases depend on libseccomp's tree merging (see Profile.Ambiguous): Evaluate agrees with libseccomp on %d", contested, contested-contestedMiss)
	for _, f := range contestedLog {
		t.Logf("case decided by libseccomp's tree merging: %s", f)
	}
	for _, f := range failures {
		t.Errorf("mismatch: %s", f)
	}
	if rejectedSeen != rejected {
		t.Errorf("libseccomp refused %d profiles, Evaluate reported a conflict in %d", rejected, rejectedSeen)
	}
	// The contested cases depend on how libseccomp merges and orders its
	// decision tree, which Evaluate approximates.
	if contested > 0 && float64(contestedMiss) > 0.05*float64(contested) {
		t.Errorf("Evaluate disagrees with libseccomp on %d of %d contested cases, want at most 5%%", contestedMiss, contested)
	}
}

// evaluateRefuses reports whether Evaluate returns an error for some
// syscall of the pool.
func evaluateRefuses(p *profiles.Profile) bool {
	for _, name := range diffPool {
		for _, arch := range []syscalls.Arch{syscalls.X86_64, syscalls.X86} {
			if _, err := p.Evaluate(profiles.Query{Arch: arch, Name: name}); err != nil {
				return true
			}
		}
	}
	return false
}
