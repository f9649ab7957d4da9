package profiles

import (
	"reflect"
	"testing"

	"github.com/sysrec/sysrec/syscalls"
)

func TestRuntimeDefaultParses(t *testing.T) {
	for _, rt := range append(Runtimes, "cri-o", "Docker") {
		p, err := RuntimeDefault(rt)
		if err != nil {
			t.Errorf("RuntimeDefault(%q): %v", rt, err)
			continue
		}
		if len(p.Syscalls) < 5 {
			t.Errorf("RuntimeDefault(%q): got %d rules, want a real profile", rt, len(p.Syscalls))
		}
		// What RuntimeDefault returns must also survive the strict parser
		// after a round trip.
		data, err := Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data, rt); err != nil {
			t.Errorf("re-parsing the %s default: %v", rt, err)
		}
	}
	// Evaluate answers for every syscall of every architecture with a
	// table: no conflict, no error.
	for _, rt := range Runtimes {
		p, err := RuntimeDefault(rt)
		if err != nil {
			t.Fatal(err)
		}
		for _, arch := range []syscalls.Arch{syscalls.X86_64, syscalls.X86, syscalls.AArch64} {
			for _, name := range syscalls.Names(arch) {
				for _, caps := range [][]string{nil, DefaultCaps, {"CAP_SYS_ADMIN"}} {
					if _, err := p.Evaluate(Query{Arch: arch, Name: name, Caps: caps}); err != nil {
						t.Errorf("%s default: Evaluate(%s, %s, %v): %v", rt, arch, name, caps, err)
					}
					if _, err := p.Outcomes(arch, name, caps); err != nil {
						t.Errorf("%s default: Outcomes(%s, %s, %v): %v", rt, arch, name, caps, err)
					}
				}
			}
		}
	}
	if _, err := RuntimeDefault("podman"); err == nil {
		t.Errorf("RuntimeDefault(podman): got no error, want unknown runtime")
	}
}

func TestRuntimeDefaultFacts(t *testing.T) {
	eperm := Decision{Action: ActErrno, ErrnoRet: 1, Rule: RuleDefault}
	for _, tc := range []struct {
		runtime string
		q       Query
		want    Action
		errno   uint
	}{
		{"docker", Query{Name: "read"}, ActAllow, 0},
		{"docker", Query{Name: "kexec_load"}, ActErrno, 1},
		{"docker", Query{Name: "reboot"}, ActErrno, 1},
		{"docker", Query{Name: "reboot", Caps: []string{"CAP_SYS_BOOT"}}, ActAllow, 0},
		{"docker", Query{Name: "clone3"}, ActErrno, 38}, // ENOSYS so that glibc falls back to clone
		{"docker", Query{Name: "clone3", Caps: []string{"CAP_SYS_ADMIN"}}, ActAllow, 0},
		{"docker", Query{Name: "clone", Args: [6]uint64{0x10000000}}, ActErrno, 1}, // CLONE_NEWUSER
		{"docker", Query{Name: "clone", Args: [6]uint64{0x10000000}, Caps: []string{"CAP_SYS_ADMIN"}}, ActAllow, 0},
		{"docker", Query{Name: "clone", Args: [6]uint64{0x11}}, ActAllow, 0}, // SIGCHLD | CLONE_VM-less fork
		{"docker", Query{Name: "personality", Args: [6]uint64{8}}, ActAllow, 0},
		{"docker", Query{Name: "personality", Args: [6]uint64{9}}, ActErrno, 1},
		{"docker", Query{Name: "ptrace", Kernel: "4.4.0"}, ActErrno, 1},
		{"docker", Query{Name: "ptrace", Kernel: "5.10.0-27-amd64"}, ActAllow, 0},
		{"docker", Query{Name: "ptrace"}, ActAllow, 0},
		{"docker", Query{Arch: syscalls.X86, Name: "socketcall"}, ActAllow, 0},
		{"crio", Query{Name: "read"}, ActAllow, 0},
		{"crio", Query{Name: "kexec_load"}, ActErrno, 1},
		{"crio", Query{Name: "socket", Args: [6]uint64{16, 3, 9}}, ActErrno, 22}, // NETLINK_AUDIT without CAP_AUDIT_WRITE
		{"crio", Query{Name: "socket", Args: [6]uint64{16, 3, 9}, Caps: []string{"CAP_AUDIT_WRITE"}}, ActAllow, 0},
		{"crio", Query{Name: "socket", Args: [6]uint64{2, 1, 0}}, ActAllow, 0},
		{"containerd", Query{Name: "read"}, ActAllow, 0},
		{"containerd", Query{Name: "reboot"}, ActErrno, 1},
		{"containerd", Query{Name: "clone", Args: [6]uint64{0x10000000}}, ActErrno, 1},
	} {
		p, err := RuntimeDefault(tc.runtime)
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
	p, err := RuntimeDefault("docker")
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Outcomes(syscalls.X86_64, "clone", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Action != ActAllow || out[0].Rule < 0 || out[1] != eperm {
		t.Errorf("docker clone outcomes without caps: got %+v, want an ALLOW rule and the EPERM default", out)
	}
	out, err = p.Outcomes(syscalls.X86_64, "clone", []string{"CAP_SYS_ADMIN"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Action != ActAllow || len(p.Syscalls[out[0].Rule].Args) != 0 {
		t.Errorf("docker clone outcomes with CAP_SYS_ADMIN: got %+v, want one unconditional ALLOW", out)
	}
	out, err = p.Outcomes(syscalls.X86_64, "read", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Decision{{Action: ActAllow, Rule: 0}}; !reflect.DeepEqual(out, want) {
		t.Errorf("docker read outcomes: got %+v, want %+v", out, want)
	}
}
