// Package v1alpha1 is sysrec's Kubernetes API: the SyscallRecording
// custom resource, which selects the workloads that sysrec's node agents
// record, and whose status the agents and the controller fill in.
//
// +kubebuilder:object:generate=true
// +groupName=sysrec.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API's group and version.
	GroupVersion = schema.GroupVersion{Group: "sysrec.dev", Version: "v1alpha1"}
	// SchemeBuilder registers the API's types.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the API's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&SyscallRecording{}, &SyscallRecordingList{})
}
