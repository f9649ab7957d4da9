package recorder

import "testing"

func TestKernelBefore(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"5.10.0-28-amd64", true},
		{"4.19.0", true},
		{"5.11.0", false},
		{"5.15.0-91-generic", false},
		{"6.18.44-fc-v769", false},
		{"garbage", true},
	} {
		if got := kernelBefore(tc.release, 5, 11); got != tc.want {
			t.Errorf("kernelBefore(%q, 5, 11): got %v, want %v", tc.release, got, tc.want)
		}
	}
}
