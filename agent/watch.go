package agent

import (
	"k8s.io/apimachinery/pkg/api/equality"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/sysrec/sysrec/api/v1alpha1"
)

// Informer is the part of a SyscallRecording informer that PokeOnChange
// uses (controller-runtime's cache and client-go's informers have it).
type Informer interface {
	AddEventHandler(toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error)
}

// PokeOnChange brings the agent's entries up to date as soon as a
// recording is created or deleted, or its spec or published profiles
// change; not when another node's entry changes, which every agent's
// write would otherwise make every agent do.
func (a *Agent) PokeOnChange(recordings Informer) error {
	_, err := recordings.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { a.Poke() },
		UpdateFunc: func(o, n any) {
			x, ok1 := o.(*v1alpha1.SyscallRecording)
			y, ok2 := n.(*v1alpha1.SyscallRecording)
			if !ok1 || !ok2 || x.Generation != y.Generation || !equality.Semantic.DeepEqual(x.Status.Profiles, y.Status.Profiles) {
				a.Poke()
			}
		},
		DeleteFunc: func(any) { a.Poke() },
	})
	return err
}
