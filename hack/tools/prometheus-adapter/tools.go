//go:build tools

// Package tools pins sigs.k8s.io/prometheus-adapter/cmd/adapter (the HPA's custom/external metrics
// API served from Prometheus), built by hack/build-tools.sh --prometheus-adapter.
package tools

import _ "sigs.k8s.io/prometheus-adapter/cmd/adapter"
