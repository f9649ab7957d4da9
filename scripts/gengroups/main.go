// Command gengroups writes sysrec's table of syscall groups, the functional
// groups ("file I/O", "network", ...) that a grouped profile splits its
// allowed names into, from systemd's syscall groups as
// `systemd-analyze syscall-filter` prints them (Debian's systemd package).
//
// systemd keeps its groups with the kernel's syscalls; sysrec maps them to
// fewer, coarser groups with the rules below, so that the table is made and
// not written:
//
//   - groups lists sysrec's groups in the order that a profile writes them.
//     Each takes the names of the systemd groups it lists; a name in several
//     goes to the first sysrec group, in this order, that takes one of its
//     systemd groups.
//   - systemd's catch-all groups (@default, @system-service, @known) say
//     nothing about a name's function. For names that are only in those,
//     extra gives a sysrec group. The generator fails when an extra name is
//     in a functional systemd group (systemd decides it) or in no systemd group
//     (a typo or a name systemd dropped), so the list cannot go stale
//     silently.
//   - Any other name is "other".
//
// Only the groups are read: the "Unlisted System Calls" section depends on
// the running kernel, not on systemd, and is ignored.
//
// The source is committed: syscalls/systemd-syscall-filter.txt holds
// systemd-analyze's output (without that section) under a first line
// "# VERSION", so `make generate` gives the same table on every machine,
// whatever systemd it has. `make update-groups` refreshes it from the
// installed systemd (-save).
//
// Usage: go run ./scripts/gengroups -input FILE -o syscalls/zgroups.go
//
//	go run ./scripts/gengroups -save FILE -o syscalls/zgroups.go
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"io"
	"log"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
)

// group is one sysrec group.
type group struct {
	ident   string   // the Go constant's suffix: Group + ident
	key     string   // short name, for flags and reports
	label   string   // the human label, used in rule comments ("group: file I/O")
	systemd []string // the systemd groups whose names it takes
}

// groups is sysrec's group list, in profile order; the first group that
// takes a name's systemd group wins. File I/O comes before the privileged
// groups so that @chown (also in @privileged) is file I/O; process comes
// before admin so that @setuid is process.
var groups = []group{
	{"File", "file", "file I/O", []string{"@basic-io", "@file-system", "@sync", "@chown", "@aio"}},
	{"Network", "network", "network", []string{"@network-io"}},
	{"Events", "events", "I/O events", []string{"@io-event"}},
	{"Memory", "memory", "memory", []string{"@memlock", "@pkey"}},
	{"IPC", "ipc", "IPC", []string{"@ipc"}},
	{"Signals", "signals", "signals", []string{"@signal"}},
	{"Time", "time", "time", []string{"@timer", "@clock"}},
	{"Process", "process", "process", []string{"@process", "@setuid"}},
	{"Threads", "threads", "threads", nil},
	{"Resources", "resources", "scheduling and resources", []string{"@resources"}},
	{"Mount", "mount", "mount", []string{"@mount"}},
	{"Debug", "debug", "debugging", []string{"@debug"}},
	{"Keyring", "keyring", "kernel keyring", []string{"@keyring"}},
	{"Admin", "admin", "system administration", []string{"@privileged", "@module", "@reboot", "@swap", "@raw-io", "@cpu-emulation"}},
	{"Other", "other", "other", []string{"@obsolete"}},
}

// catchAll are systemd's groups that do not say what a syscall does.
var catchAll = []string{"@default", "@system-service", "@known"}

// extra gives a group to names that systemd has only in catch-all groups.
var extra = map[string][]string{
	"file": {"ioctl", "copy_file_range", "fadvise64", "fadvise64_64", "arm_fadvise64_64", "flock", "readahead",
		"readdir", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "umask", "name_to_handle_at"},
	"memory": {"brk", "mmap", "mmap2", "mprotect", "munmap", "madvise", "mremap", "remap_file_pages",
		"get_mempolicy", "userfaultfd", "mincore", "memfd_secret", "map_shadow_stack"},
	"signals": {"rt_sigreturn", "sigreturn", "pause", "restart_syscall"},
	"time": {"clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
		"clock_nanosleep_time64", "nanosleep", "gettimeofday", "time"},
	"process": {"execve", "exit", "exit_group", "getpid", "getppid", "gettid", "getpgid", "getpgrp", "getsid",
		"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
		"getgroups", "getgroups32", "getresuid", "getresuid32", "getresgid", "getresgid32",
		"arch_prctl", "set_thread_area", "get_thread_area", "set_tls", "setpgid", "setsid", "personality",
		"uname", "olduname", "oldolduname", "sysinfo", "kcmp", "setfsgid", "setfsgid32", "process_mrelease",
		"seccomp", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self"},
	"admin": {"syslog"},
	"threads": {"futex", "futex_time64", "futex_waitv", "futex_wait", "futex_wake", "futex_requeue",
		"get_robust_list", "set_robust_list", "rseq", "membarrier", "set_tid_address", "sched_yield"},
	"resources": {"getrlimit", "ugetrlimit", "prlimit64", "sched_getaffinity", "sched_getattr", "sched_getparam",
		"sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
		"sched_rr_get_interval_time64", "getpriority", "ioprio_get", "getcpu"},
}

func main() {
	out := flag.String("o", "zgroups.go", "output file")
	input := flag.String("input", "", "read systemd-analyze syscall-filter's output from this file instead of running it; its first line may be \"# VERSION\"")
	version := flag.String("version", "", "the systemd version that -input comes from (default: its first line)")
	save := flag.String("save", "", "run systemd-analyze and save its output, with its version, to this file")
	flag.Parse()
	if err := run(*out, *input, *version, *save); err != nil {
		log.Fatalf("gengroups: %v", err)
	}
}

func run(out, input, version, save string) error {
	var text []byte
	var err error
	if input != "" {
		if text, err = os.ReadFile(input); err != nil {
			return err
		}
		if first, rest, ok := bytes.Cut(text, []byte("\n")); ok && bytes.HasPrefix(first, []byte("# ")) {
			if version == "" {
				version = string(first[2:])
			}
			text = rest
		}
		if version == "" {
			return fmt.Errorf("%s names no systemd version on its first line: pass -version", input)
		}
	} else {
		if text, err = exec.Command("systemd-analyze", "syscall-filter").Output(); err != nil {
			return fmt.Errorf("running systemd-analyze syscall-filter (Debian's systemd package; scripts/install-deps.sh generate installs it): %w", err)
		}
		v, err := exec.Command("systemd-analyze", "--version").Output()
		if err != nil {
			return fmt.Errorf("running systemd-analyze --version: %w", err)
		}
		version, _, _ = strings.Cut(string(v), "\n")
		if i := bytes.Index(text, []byte("# Unlisted System Calls")); i >= 0 {
			text = text[:i]
		}
		if save != "" {
			if err := os.WriteFile(save, append([]byte("# "+version+"\n"), text...), 0o644); err != nil {
				return err
			}
		}
	}
	sd, err := parse(bytes.NewReader(text))
	if err != nil {
		return err
	}
	table, err := assign(sd)
	if err != nil {
		return err
	}
	src, err := render(version, table)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// parse reads systemd's groups: "@name" lines, then indented members (a
// name or another "@group") and "#" descriptions, ending at a blank line.
// It stops at the first line starting with "#" (the unlisted syscalls).
func parse(r io.Reader) (map[string][]string, error) {
	raw := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			cur = ""
			goto done
		case strings.HasPrefix(line, "@"):
			cur = strings.TrimSpace(line)
			raw[cur] = nil
		case strings.TrimSpace(line) == "":
			cur = ""
		case cur != "":
			f := strings.TrimSpace(line)
			if strings.HasPrefix(f, "#") {
				continue
			}
			raw[cur] = append(raw[cur], f)
		default:
			return nil, fmt.Errorf("unexpected line %q outside a group", line)
		}
	}
done:
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(raw["@known"]) == 0 || len(raw["@file-system"]) == 0 {
		return nil, fmt.Errorf("systemd-analyze printed no @known or @file-system group")
	}
	// Expand group references.
	out := map[string][]string{}
	var expand func(g string, seen map[string]bool) ([]string, error)
	expand = func(g string, seen map[string]bool) ([]string, error) {
		if seen[g] {
			return nil, fmt.Errorf("group %s includes itself", g)
		}
		seen[g] = true
		defer delete(seen, g)
		members, ok := raw[g]
		if !ok {
			return nil, fmt.Errorf("unknown group %s", g)
		}
		var names []string
		for _, m := range members {
			if strings.HasPrefix(m, "@") {
				sub, err := expand(m, seen)
				if err != nil {
					return nil, err
				}
				names = append(names, sub...)
				continue
			}
			names = append(names, m)
		}
		slices.Sort(names)
		return slices.Compact(names), nil
	}
	for g := range raw {
		names, err := expand(g, map[string]bool{})
		if err != nil {
			return nil, err
		}
		out[g] = names
	}
	return out, nil
}

// assign returns each name's sysrec group key.
func assign(sd map[string][]string) (map[string]string, error) {
	table := map[string]string{}
	functional := map[string]bool{}
	for _, g := range groups {
		for _, s := range g.systemd {
			if slices.Contains(catchAll, s) {
				return nil, fmt.Errorf("group %s takes catch-all %s", g.key, s)
			}
			names, ok := sd[s]
			if !ok {
				return nil, fmt.Errorf("systemd has no group %s (group %s)", s, g.key)
			}
			for _, n := range names {
				functional[n] = true
				if _, done := table[n]; !done {
					table[n] = g.key
				}
			}
		}
	}
	// Every functional systemd group must be mapped, so that a new one
	// is a decision and not "other" by accident.
	mapped := map[string]bool{}
	for _, g := range groups {
		for _, s := range g.systemd {
			mapped[s] = true
		}
	}
	for s := range sd {
		if !mapped[s] && !slices.Contains(catchAll, s) {
			return nil, fmt.Errorf("systemd group %s is not mapped to a sysrec group: add it to groups", s)
		}
	}
	// systemd's names: @known (the kernel's) and any group's (a few,
	// like ARM's set_tls, are in @default only).
	known := map[string]bool{}
	for _, names := range sd {
		for _, n := range names {
			known[n] = true
		}
	}
	for key, names := range extra {
		if !slices.ContainsFunc(groups, func(g group) bool { return g.key == key }) {
			return nil, fmt.Errorf("extra names a group %s that does not exist", key)
		}
		for _, n := range names {
			if functional[n] {
				return nil, fmt.Errorf("extra gives %s group %s, but systemd has it in a functional group (%s): drop it from extra", n, key, table[n])
			}
			if !known[n] {
				return nil, fmt.Errorf("extra names %s, which systemd does not know", n)
			}
			if prev, dup := table[n]; dup {
				return nil, fmt.Errorf("extra gives %s both %s and %s", n, prev, key)
			}
			table[n] = key
		}
	}
	for n := range known {
		if _, ok := table[n]; !ok {
			table[n] = "other"
		}
	}
	return table, nil
}

func render(version string, table map[string]string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by scripts/gengroups from `systemd-analyze syscall-filter` of %s; DO NOT EDIT.\n\n", version)
	b.WriteString("package syscalls\n\n")
	fmt.Fprintf(&b, "// SystemdVersion is the systemd whose syscall groups the group table comes from.\nconst SystemdVersion = %q\n\n", version)
	b.WriteString("// The groups, in the order that a grouped profile writes them.\nconst (\n")
	for i, g := range groups {
		var src []string
		if len(g.systemd) > 0 {
			src = append(src, "systemd's "+strings.Join(g.systemd, " "))
		}
		if len(extra[g.key]) > 0 {
			src = append(src, fmt.Sprintf("%d names systemd has only in catch-all groups", len(extra[g.key])))
		}
		if g.key == "other" {
			src = append(src, "every other name")
		}
		typ := ""
		if i == 0 {
			typ = " Group = iota"
		}
		fmt.Fprintf(&b, "\tGroup%s%s // %s: %s\n", g.ident, typ, g.label, strings.Join(src, "; "))
	}
	b.WriteString("\tnumGroups\n)\n\n")
	b.WriteString("var groupInfo = [numGroups]struct{ key, label string; systemd []string }{\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "\tGroup%s: {%q, %q, %#v},\n", g.ident, g.key, g.label, g.systemd)
	}
	b.WriteString("}\n\n")
	ident := map[string]string{}
	for _, g := range groups {
		ident[g.key] = "Group" + g.ident
	}
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString("// groupOf is every syscall name that systemd knows, with its group.\nvar groupOf = map[string]Group{\n")
	for _, n := range names {
		fmt.Fprintf(&b, "\t%q: %s,\n", n, ident[table[n]])
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting: %w\n%s", err, b.Bytes())
	}
	return src, nil
}
