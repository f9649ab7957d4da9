package cri

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkloadName(t *testing.T) {
	tests := []struct {
		name     string
		podName  string
		labels   map[string]string
		wantName string
		wantKind string
	}{
		// Deployment and ReplicaSet.
		{"deployment", "web-7d4b9c8f5-x2k9q", map[string]string{"pod-template-hash": "7d4b9c8f5", "app": "web"}, "web", "Deployment"},
		{"deployment with dashes", "my-api-server-5f6c7d8b9-bcdfg", map[string]string{"pod-template-hash": "5f6c7d8b9"}, "my-api-server", "Deployment"},
		{"deployment hash appears twice", "a-5f6c-b-5f6c-7x8z2", map[string]string{"pod-template-hash": "5f6c"}, "a-5f6c-b", "Deployment"},
		{"replicaset truncated name", "a-very-long-deployment-name-that-was-truncated-by-kube-7d4b-x2k9q", map[string]string{"pod-template-hash": "7d4b9c8f5"}, "a-very-long-deployment-name-that-was-truncated-by-kube-7d4b", "ReplicaSet"},
		{"bare replicaset", "frontend-x2k9q", map[string]string{"pod-template-hash": "7d4b9c8f5"}, "frontend", "ReplicaSet"},
		{"hash label but suffix has vowel", "web-7d4b9c8f5-abcde", map[string]string{"pod-template-hash": "7d4b9c8f5"}, "web-7d4b9c8f5-abcde", "Pod"},
		{"hash label but suffix too short", "web-7d4b9c8f5-x2k9", map[string]string{"pod-template-hash": "7d4b9c8f5"}, "web-7d4b9c8f5-x2k9", "Pod"},
		{"hash label but suffix has 0 and 1", "web-7d4b9c8f5-x2k01", map[string]string{"pod-template-hash": "7d4b9c8f5"}, "web-7d4b9c8f5-x2k01", "Pod"},
		{"hash label but suffix uppercase", "web-7d4b9c8f5-X2K9Q", map[string]string{"pod-template-hash": "7d4b9c8f5"}, "web-7d4b9c8f5-X2K9Q", "Pod"},
		{"empty hash label", "web-7d4b9c8f5-x2k9q", map[string]string{"pod-template-hash": ""}, "web-7d4b9c8f5-x2k9q", "Pod"},
		{"name is only hash and suffix", "7d4b9c8f5-x2k9q", map[string]string{"pod-template-hash": "7d4b9c8f5"}, "7d4b9c8f5", "ReplicaSet"},
		{"name is only a suffix", "-x2k9q", map[string]string{"pod-template-hash": "7d4b9c8f5"}, "-x2k9q", "Pod"},

		// StatefulSet.
		{"statefulset", "db-0", map[string]string{"statefulset.kubernetes.io/pod-name": "db-0", "controller-revision-hash": "db-6b7c8d9f4"}, "db", "StatefulSet"},
		{"statefulset multi-digit ordinal", "kafka-broker-12", map[string]string{"statefulset.kubernetes.io/pod-name": "kafka-broker-12", "controller-revision-hash": "kafka-broker-5d6f7"}, "kafka-broker", "StatefulSet"},
		{"statefulset pod-index", "redis-3", map[string]string{"apps.kubernetes.io/pod-index": "3", "statefulset.kubernetes.io/pod-name": "redis-3"}, "redis", "StatefulSet"},
		{"statefulset pod-index only", "redis-10", map[string]string{"apps.kubernetes.io/pod-index": "10"}, "redis", "StatefulSet"},
		{"statefulset pod-name label differs", "db-0", map[string]string{"statefulset.kubernetes.io/pod-name": "db-1"}, "db-0", "Pod"},
		{"statefulset no ordinal", "db", map[string]string{"statefulset.kubernetes.io/pod-name": "db"}, "db", "Pod"},
		{"statefulset non-digit ordinal", "db-a", map[string]string{"statefulset.kubernetes.io/pod-name": "db-a"}, "db-a", "Pod"},
		{"statefulset name is ordinal", "-0", map[string]string{"statefulset.kubernetes.io/pod-name": "-0"}, "-0", "Pod"},
		{"pod-index not matching name", "redis-3", map[string]string{"apps.kubernetes.io/pod-index": "4"}, "redis-3", "Pod"},
		{"statefulset ordinal looks like daemonset suffix", "web-22222", map[string]string{"statefulset.kubernetes.io/pod-name": "web-22222", "controller-revision-hash": "web-7f8"}, "web", "StatefulSet"},

		// DaemonSet.
		{"daemonset", "fluentd-x2k9q", map[string]string{"controller-revision-hash": "6c9b8d7f5", "pod-template-generation": "1"}, "fluentd", "DaemonSet"},
		{"daemonset with dashes", "kube-proxy-7xz2b", map[string]string{"controller-revision-hash": "6c9b8d7f5"}, "kube-proxy", "DaemonSet"},
		{"daemonset bad suffix", "fluentd-aeiou", map[string]string{"controller-revision-hash": "6c9b8d7f5"}, "fluentd-aeiou", "Pod"},
		{"revision hash with statefulset label", "fluentd-x2k9q", map[string]string{"controller-revision-hash": "6c9b8d7f5", "statefulset.kubernetes.io/pod-name": "other"}, "fluentd-x2k9q", "Pod"},

		// Job and CronJob.
		{"job", "migrate-x2k9q", map[string]string{"job-name": "migrate", "controller-uid": "1234"}, "migrate", "Job"},
		{"job new label", "migrate-x2k9q", map[string]string{"batch.kubernetes.io/job-name": "migrate"}, "migrate", "Job"},
		{"job both labels", "migrate-x2k9q", map[string]string{"batch.kubernetes.io/job-name": "migrate", "job-name": "migrate"}, "migrate", "Job"},
		{"job short numeric suffix", "db-migrate-42-x2k9q", map[string]string{"job-name": "db-migrate-42"}, "db-migrate-42", "Job"},
		{"job 7 digit suffix", "backup-2851234-x2k9q", map[string]string{"job-name": "backup-2851234"}, "backup-2851234", "Job"},
		{"cronjob", "backup-28512345-x2k9q", map[string]string{"job-name": "backup-28512345"}, "backup", "CronJob"},
		{"cronjob new label", "nightly-report-29012345-bcdfg", map[string]string{"batch.kubernetes.io/job-name": "nightly-report-29012345", "job-name": "nightly-report-29012345"}, "nightly-report", "CronJob"},
		{"cronjob 10 digits", "backup-1234567890-x2k9q", map[string]string{"job-name": "backup-1234567890"}, "backup", "CronJob"},
		{"job name is only digits", "28512345-x2k9q", map[string]string{"job-name": "28512345"}, "28512345", "Job"},
		{"job name digits with leading dash", "-28512345-x2k9q", map[string]string{"job-name": "-28512345"}, "-28512345", "Job"},
		{"empty job label", "migrate-x2k9q", map[string]string{"job-name": ""}, "migrate-x2k9q", "Pod"},

		// Bare pods.
		{"bare pod", "debug", nil, "debug", "Pod"},
		{"bare pod with generated-looking name", "debug-x2k9q", nil, "debug-x2k9q", "Pod"},
		{"bare pod with ordinal", "debug-0", map[string]string{"app": "debug"}, "debug-0", "Pod"},
		{"empty pod name", "", nil, "", "Pod"},
		{"empty pod name with labels", "", map[string]string{"job-name": "migrate", "pod-template-hash": "abc"}, "", "Pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, kind := WorkloadName(tt.podName, tt.labels)
			if name != tt.wantName || kind != tt.wantKind {
				t.Errorf("WorkloadName(%q, %v) = (%q, %q), want (%q, %q)",
					tt.podName, tt.labels, name, kind, tt.wantName, tt.wantKind)
			}
		})
	}
}

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "kube-system", "kube-system"},
		{"dots and underscores", "my_app.v2", "my_app.v2"},
		{"mixed case", "MyApp", "MyApp"},
		{"empty", "", "_"},
		{"dot", ".", "_."},
		{"dot dot", "..", "_.."},
		{"hidden", ".hidden", "_.hidden"},
		{"traversal", "../../etc", "_.._.._etc"},
		{"slash", "a/b", "a_b"},
		{"absolute", "/etc/passwd", "_etc_passwd"},
		{"backslash", `a\b`, "a_b"},
		{"NUL", "a\x00b", "a_b"},
		{"space and colon", "a b:c", "a_b_c"},
		{"unicode", "café", "caf_"},
		{"emoji", "app🚀", "app_"},
		{"invalid utf-8", "a\xff\xfeb", "a__b"},
		{"long", long, long[:200]},
		{"long after prefix", "." + long, "_." + long[:198]},
		{"long unicode", strings.Repeat("é", 300), strings.Repeat("_", 200)},
		{"exactly 200", long[:200], long[:200]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SanitizeName(tt.in); got != tt.want {
				t.Errorf("SanitizeName(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSanitizeNameStaysInDir(t *testing.T) {
	inputs := []string{
		"", ".", "..", "...", "../", "../../etc", "..\\..\\etc", "a/b", "/", "//",
		"/etc/passwd", "a/../../b", "\x00", "..\x00", "a\x00/..", "~", "~root",
		"café/../x", "\u202e..", "\xff\xfe", ". .", "./.", strings.Repeat("../", 100),
		strings.Repeat("x", 1000), "-rf", "CON", "name with spaces",
	}
	dir := filepath.Join(t.TempDir(), "profiles")
	for _, in := range inputs {
		got := SanitizeName(in)
		if got == "" || got == "." || got == ".." || strings.HasPrefix(got, ".") {
			t.Errorf("SanitizeName(%q): got %q, want a name that is not empty, '.', '..' or hidden", in, got)
		}
		if len(got) > 200 {
			t.Errorf("SanitizeName(%q): got %d bytes, want at most 200", in, len(got))
		}
		rel, err := filepath.Rel(dir, filepath.Join(dir, got))
		if err != nil {
			t.Errorf("SanitizeName(%q) = %q: filepath.Rel: %v", in, got, err)
			continue
		}
		if rel != got || strings.ContainsRune(rel, filepath.Separator) || strings.ContainsRune(rel, '/') {
			t.Errorf("SanitizeName(%q) = %q: got relative path %q, want %q with no separator", in, got, rel, got)
		}
	}
}
