// Package e2e tests sysrec's node agent and controller on a real
// Kubernetes cluster: scripts/cluster.sh starts one (two kubelets on this
// machine, the agent deployed from its image), and SYSREC_KUBECONFIG
// points the tests at it. make test does both.
package e2e
