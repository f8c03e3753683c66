//go:build tools

// Package realkube pins the Kubernetes control-plane commands that
// acceptance-tests/scripts/real-kube.sh builds from the Go module proxy. It is never compiled
// on its own: the build tag keeps it out, and `go mod tidy` keeps go.mod and go.sum complete
// for `go build k8s.io/kubernetes/cmd/...`.
package realkube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
