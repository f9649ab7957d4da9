package enforce

import "testing"

func TestKernelVersion(t *testing.T) {
	for release, want := range map[string]string{
		"6.18.0-1-cloud-amd64": "6.18",
		"6.8.0-49-generic":     "6.8",
		"5.10.0":               "5.10",
		"4.19-rc1":             "4.19",
		"6":                    "6",
	} {
		if got := kernelVersion(release); got != want {
			t.Errorf("kernelVersion(%q): got %q, want %q", release, got, want)
		}
	}
}
