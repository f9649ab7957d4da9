package syscalls

import "testing"

func TestGroups(t *testing.T) {
	if SystemdVersion == "" {
		t.Error("no systemd version")
	}
	seen := map[string]bool{}
	for i, g := range Groups() {
		if int(g) != i {
			t.Errorf("group %d is %d", i, g)
		}
		if seen[g.Label()] || seen[g.Key()] {
			t.Errorf("group %s: label %q or key reused", g, g.Label())
		}
		seen[g.Label()], seen[g.Key()] = true, true
		if back, ok := GroupByLabel(g.Label()); !ok || back != g {
			t.Errorf("GroupByLabel(%q) = %v, %v", g.Label(), back, ok)
		}
	}
	if Groups()[len(Groups())-1] != GroupOther {
		t.Error("other is not the last group")
	}
	// Most of each table's names have a functional group.
	for _, a := range []Arch{X86_64, X86, AArch64} {
		other := 0
		names := Names(a)
		for _, n := range names {
			if GroupOf(n) == GroupOther {
				other++
			}
		}
		if other*4 > len(names) {
			t.Errorf("%s: %d of %d names are other", a, other, len(names))
		}
	}
}
