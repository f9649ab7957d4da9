package containers

import (
	"regexp"
	"slices"

	"github.com/sysrec/sysrec/cri"
)

// Filter selects containers; its zero value selects all of them.
type Filter struct {
	// Namespaces, when not empty, are the Kubernetes (or containerd)
	// namespaces to select.
	Namespaces []string
	// Pod, when set, matches the names of the pods to select.
	Pod *regexp.Regexp
	// Container, when set, is the name of the containers to select.
	Container string
}

// Set reports whether f selects anything less than every container.
func (f Filter) Set() bool {
	return len(f.Namespaces) > 0 || f.Pod != nil || f.Container != ""
}

// Match reports whether f selects c.
func (f Filter) Match(c *cri.Container) bool {
	if len(f.Namespaces) > 0 && !slices.Contains(f.Namespaces, c.PodNamespace) {
		return false
	}
	if f.Pod != nil && !f.Pod.MatchString(c.PodName) {
		return false
	}
	return f.Container == "" || f.Container == c.Name
}
