package syscalls

//go:generate go run ../scripts/gengroups -input systemd-syscall-filter.txt -o zgroups.go

// Group is a functional group of syscalls ("file I/O", "network", ...),
// as a grouped profile splits its names. The table (zgroups.go) is made by
// scripts/gengroups from systemd's syscall groups (SystemdVersion); the
// generator's comments give the mapping rules.
type Group uint8

// Groups returns every group, in the order that a grouped profile writes
// them.
func Groups() []Group {
	out := make([]Group, numGroups)
	for i := range out {
		out[i] = Group(i)
	}
	return out
}

// GroupOf returns the group of syscall name, GroupOther for a name that
// systemd's groups do not know (one newer than SystemdVersion).
func GroupOf(name string) Group {
	if g, ok := groupOf[name]; ok {
		return g
	}
	return GroupOther
}

// GroupByLabel returns the group whose Label is label.
func GroupByLabel(label string) (Group, bool) {
	for i, g := range groupInfo {
		if g.label == label {
			return Group(i), true
		}
	}
	return 0, false
}

// Key is the group's short name: "file", "network", ...
func (g Group) Key() string { return g.info().key }

// Label is the group's human name, as rule comments give it: "file I/O".
func (g Group) Label() string { return g.info().label }

// Systemd lists the systemd groups that the group takes its names from.
func (g Group) Systemd() []string { return g.info().systemd }

func (g Group) String() string { return g.Key() }

func (g Group) info() struct {
	key, label string
	systemd    []string
} {
	if int(g) >= len(groupInfo) {
		return groupInfo[GroupOther]
	}
	return groupInfo[g]
}
