package v1alpha1

// The deep copies (zz_generated.deepcopy.go) and the CRD
// (deploy/crd/sysrec.dev_syscallrecordings.yaml) come from controller-gen.
//go:generate go tool controller-gen object paths=.
//go:generate go tool controller-gen crd paths=. output:crd:artifacts:config=../../deploy/crd
