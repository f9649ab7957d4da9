package cri

import (
	"strings"
)

// Workload kinds that WorkloadName returns.
const (
	KindDeployment  = "Deployment"
	KindReplicaSet  = "ReplicaSet"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
	KindJob         = "Job"
	KindCronJob     = "CronJob"
	KindPod         = "Pod"
)

// Labels that controllers put on the pods they create.
const (
	labelPodTemplateHash   = "pod-template-hash"
	labelStatefulSetPod    = "statefulset.kubernetes.io/pod-name"
	labelPodIndex          = "apps.kubernetes.io/pod-index"
	labelControllerHash    = "controller-revision-hash"
	labelJobName           = "batch.kubernetes.io/job-name"
	labelJobNameLegacy     = "job-name"
	cronJobSuffixMinDigits = 8
)

// suffixAlphabet is the alphabet of the random suffixes that Kubernetes
// appends to generated names: no vowels and no easily confused characters.
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// suffixLen is the length of a generated name's random suffix.
const suffixLen = 5

// WorkloadName derives, from a pod's name and labels, the name and kind of
// the workload that owns the pod, so that all replicas of one workload
// share one profile. kind is one of the Kind constants; when no controller
// can be recognised, the pod itself is the workload and the result is
// (podName, KindPod).
//
// Only names and labels are used, since that is all a CRI runtime reports
// about a pod; owner references would need the Kubernetes API.
func WorkloadName(podName string, labels map[string]string) (name string, kind string) {
	if podName == "" {
		return "", KindPod
	}
	if name, kind, ok := jobWorkload(labels); ok {
		return name, kind
	}
	if name, ok := statefulSetWorkload(podName, labels); ok {
		return name, KindStatefulSet
	}
	if hash := labels[labelPodTemplateHash]; hash != "" {
		if rs, ok := trimGeneratedSuffix(podName); ok {
			if deploy, found := strings.CutSuffix(rs, "-"+hash); found && deploy != "" {
				return deploy, KindDeployment
			}
			// The ReplicaSet's name was truncated to fit the pod's name,
			// or the ReplicaSet is not a Deployment's.
			return rs, KindReplicaSet
		}
	}
	if _, ok := labels[labelControllerHash]; ok && !hasStatefulSetLabel(labels) {
		if ds, ok := trimGeneratedSuffix(podName); ok {
			return ds, KindDaemonSet
		}
	}
	return podName, KindPod
}

// jobWorkload returns the Job, or the CronJob that created the Job, that a
// pod belongs to according to its labels.
func jobWorkload(labels map[string]string) (name, kind string, ok bool) {
	job := labels[labelJobName]
	if job == "" {
		job = labels[labelJobNameLegacy]
	}
	if job == "" {
		return "", "", false
	}
	// A CronJob names its Jobs "<cronjob>-<scheduled time in minutes>".
	if i := strings.LastIndexByte(job, '-'); i > 0 {
		if ts := job[i+1:]; len(ts) >= cronJobSuffixMinDigits && allDigits(ts) {
			return job[:i], KindCronJob, true
		}
	}
	return job, KindJob, true
}

// statefulSetWorkload returns the StatefulSet that a pod belongs to: the
// pod's name less its "-<ordinal>" suffix.
func statefulSetWorkload(podName string, labels map[string]string) (string, bool) {
	if idx := labels[labelPodIndex]; idx != "" && allDigits(idx) {
		if sts, found := strings.CutSuffix(podName, "-"+idx); found && sts != "" {
			return sts, true
		}
	}
	if labels[labelStatefulSetPod] == podName {
		if i := strings.LastIndexByte(podName, '-'); i > 0 && allDigits(podName[i+1:]) {
			return podName[:i], true
		}
	}
	return "", false
}

// hasStatefulSetLabel reports whether labels mark a StatefulSet's pod.
func hasStatefulSetLabel(labels map[string]string) bool {
	_, sts := labels[labelStatefulSetPod]
	_, idx := labels[labelPodIndex]
	return sts || idx
}

// trimGeneratedSuffix removes a generated "-xxxxx" suffix from name. ok is
// false when name does not end in one or nothing would be left.
func trimGeneratedSuffix(name string) (string, bool) {
	i := len(name) - suffixLen - 1
	if i <= 0 || name[i] != '-' {
		return "", false
	}
	for _, c := range name[i+1:] {
		if !strings.ContainsRune(suffixAlphabet, c) {
			return "", false
		}
	}
	return name[:i], true
}

// allDigits reports whether s is a non-empty string of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maxNameLen caps SanitizeName's result, well below the usual 255-byte
// limit of a file name, leaving room for an extension.
const maxNameLen = 200

// SanitizeName turns a namespace, workload or container name into a single
// path element that is safe to join below an output directory, as in
// DIR/<namespace>/<workload>/<container>.json. Letters, digits, '.', '_'
// and '-' are kept and every other rune, including '/', NUL and invalid
// UTF-8, becomes '_'. The result is never empty, never "." or "..", never
// starts with '.', and is at most 200 bytes long.
//
// Kubernetes names are DNS labels and subdomains, which pass unchanged, so
// distinct valid names cannot collide.
func SanitizeName(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), maxNameLen) + 1)
	if s == "" || s[0] == '.' {
		b.WriteByte('_')
	}
	for _, r := range s {
		if b.Len() >= maxNameLen {
			break
		}
		if isSafeRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// isSafeRune reports whether r may appear unchanged in a sanitized name.
func isSafeRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '.' || r == '_' || r == '-'
}
