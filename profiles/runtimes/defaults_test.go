package runtimes

import (
	"reflect"
	"testing"

	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

func TestDefaultParses(t *testing.T) {
	for _, rt := range append(Names, "cri-o", "Docker") {
		p, err := Default(rt)
		if err != nil {
			t.Errorf("Default(%q): %v", rt, err)
			continue
		}
		if len(p.Syscalls) < 5 {
			t.Errorf("Default(%q): got %d rules, want a real profile", rt, len(p.Syscalls))
		}
		// What Default returns must also survive the strict parser
		// after a round trip.
		data, err := profiles.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := profiles.Parse(data, rt); err != nil {
			t.Errorf("re-parsing the %s default: %v", rt, err)
		}
	}
	// Evaluate answers for every syscall of every architecture with a
	// table: no conflict, no error.
	for _, rt := range Names {
		p, err := Default(rt)
		if err != nil {
			t.Fatal(err)
		}
		for _, arch := range []syscalls.Arch{syscalls.X86_64, syscalls.X86, syscalls.AArch64} {
			for _, name := range syscalls.Names(arch) {
				for _, caps := range [][]string{nil, profiles.DefaultCaps, {"CAP_SYS_ADMIN"}} {
					if _, err := p.Evaluate(profiles.Query{Arch: arch, Name: name, Caps: caps}); err != nil {
						t.Errorf("%s default: Evaluate(%s, %s, %v): %v", rt, arch, name, caps, err)
					}
					if _, err := p.Outcomes(arch, name, caps); err != nil {
						t.Errorf("%s default: Outcomes(%s, %s, %v): %v", rt, arch, name, caps, err)
					}
				}
			}
		}
	}
	if _, err := Default("podman"); err == nil {
		t.Errorf("Default(podman): got no error, want unknown runtime")
	}
}

func TestDefaultFacts(t *testing.T) {
	eperm := profiles.Decision{Action: profiles.ActErrno, ErrnoRet: 1, Rule: profiles.RuleDefault}
	for _, tc := range []struct {
		runtime string
		q       profiles.Query
		want    profiles.Action
		errno   uint
	}{
		{"docker", profiles.Query{Name: "read"}, profiles.ActAllow, 0},
		{"docker", profiles.Query{Name: "kexec_load"}, profiles.ActErrno, 1},
		{"docker", profiles.Query{Name: "reboot"}, profiles.ActErrno, 1},
		{"docker", profiles.Query{Name: "reboot", Caps: []string{"CAP_SYS_BOOT"}}, profiles.ActAllow, 0},
		{"docker", profiles.Query{Name: "clone3"}, profiles.ActErrno, 38}, // ENOSYS so that glibc falls back to clone
		{"docker", profiles.Query{Name: "clone3", Caps: []string{"CAP_SYS_ADMIN"}}, profiles.ActAllow, 0},
		{"docker", profiles.Query{Name: "clone", Args: [6]uint64{0x10000000}}, profiles.ActErrno, 1}, // CLONE_NEWUSER
		{"docker", profiles.Query{Name: "clone", Args: [6]uint64{0x10000000}, Caps: []string{"CAP_SYS_ADMIN"}}, profiles.ActAllow, 0},
		{"docker", profiles.Query{Name: "clone", Args: [6]uint64{0x11}}, profiles.ActAllow, 0}, // SIGCHLD | CLONE_VM-less fork
		{"docker", profiles.Query{Name: "personality", Args: [6]uint64{8}}, profiles.ActAllow, 0},
		{"docker", profiles.Query{Name: "personality", Args: [6]uint64{9}}, profiles.ActErrno, 1},
		{"docker", profiles.Query{Name: "ptrace", Kernel: "4.4.0"}, profiles.ActErrno, 1},
		{"docker", profiles.Query{Name: "ptrace", Kernel: "5.10.0-27-amd64"}, profiles.ActAllow, 0},
		{"docker", profiles.Query{Name: "ptrace"}, profiles.ActAllow, 0},
		{"docker", profiles.Query{Arch: syscalls.X86, Name: "socketcall"}, profiles.ActAllow, 0},
		{"crio", profiles.Query{Name: "read"}, profiles.ActAllow, 0},
		{"crio", profiles.Query{Name: "kexec_load"}, profiles.ActErrno, 1},
		{"crio", profiles.Query{Name: "socket", Args: [6]uint64{16, 3, 9}}, profiles.ActErrno, 22}, // NETLINK_AUDIT without CAP_AUDIT_WRITE
		{"crio", profiles.Query{Name: "socket", Args: [6]uint64{16, 3, 9}, Caps: []string{"CAP_AUDIT_WRITE"}}, profiles.ActAllow, 0},
		{"crio", profiles.Query{Name: "socket", Args: [6]uint64{2, 1, 0}}, profiles.ActAllow, 0},
		{"containerd", profiles.Query{Name: "read"}, profiles.ActAllow, 0},
		{"containerd", profiles.Query{Name: "reboot"}, profiles.ActErrno, 1},
		{"containerd", profiles.Query{Name: "clone", Args: [6]uint64{0x10000000}}, profiles.ActErrno, 1},
	} {
		p, err := Default(tc.runtime)
		if err != nil {
			t.Fatal(err)
		}
		if tc.q.Arch == "" {
			tc.q.Arch = syscalls.X86_64
		}
		if tc.runtime == "containerd" {
			native, _, err := syscalls.Host()
			if err != nil {
				t.Fatal(err)
			}
			if native != syscalls.X86_64 {
				continue // containerd's profile is built for the host
			}
		}
		got, err := p.Evaluate(tc.q)
		if err != nil {
			t.Errorf("%s %s: %v", tc.runtime, tc.q.Name, err)
			continue
		}
		if got.Action != tc.want || got.ErrnoRet != tc.errno {
			t.Errorf("%s: %s(%#x) caps %v kernel %q: got %s(%d) by rule %d, want %s(%d)",
				tc.runtime, tc.q.Name, tc.q.Args[:3], tc.q.Caps, tc.q.Kernel, got.Action, got.ErrnoRet, got.Rule, tc.want, tc.errno)
		}
	}

	// Without CAP_SYS_ADMIN, docker's clone depends on its flags: allowed
	// when no namespace flag is set, EPERM otherwise.
	p, err := Default("docker")
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Outcomes(syscalls.X86_64, "clone", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Action != profiles.ActAllow || out[0].Rule < 0 || out[1] != eperm {
		t.Errorf("docker clone outcomes without caps: got %+v, want an ALLOW rule and the EPERM default", out)
	}
	out, err = p.Outcomes(syscalls.X86_64, "clone", []string{"CAP_SYS_ADMIN"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Action != profiles.ActAllow || len(p.Syscalls[out[0].Rule].Args) != 0 {
		t.Errorf("docker clone outcomes with CAP_SYS_ADMIN: got %+v, want one unconditional ALLOW", out)
	}
	out, err = p.Outcomes(syscalls.X86_64, "read", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []profiles.Decision{{Action: profiles.ActAllow, Rule: 0}}; !reflect.DeepEqual(out, want) {
		t.Errorf("docker read outcomes: got %+v, want %+v", out, want)
	}
}
