#!/usr/bin/env bash
# Builds the real Kubernetes control-plane binaries (and etcd, kwok, helm) from
# Go modules, each from its own small module under hack/tools/<tool>/ with a
# committed go.mod/go.sum. Binaries are cached outside the repo, keyed by
# version, and only rebuilt when missing:
#
#   ${NURI_CACHE:-~/.cache/nuri}/bin/kubernetes-<v>/  kube-apiserver kube-controller-manager kube-scheduler kubectl
#   ${NURI_CACHE:-~/.cache/nuri}/bin/etcd-<v>/        etcd
#   ${NURI_CACHE:-~/.cache/nuri}/bin/kwok-<v>/        kwok kwok-stages.yaml
#   ${NURI_CACHE:-~/.cache/nuri}/bin/helm-<v>/        helm
#   ${NURI_CACHE:-~/.cache/nuri}/bin/kubernetes-node-<v>/  kubelet kube-proxy (the real node, hack/cluster up --real-node)
#   ${NURI_CACHE:-~/.cache/nuri}/bin/coredns-<v>/     coredns (cluster DNS of the real node; few plugins)
#   ${NURI_CACHE:-~/.cache/nuri}/bin/prometheus-adapter-<v>/  adapter (only with --prometheus-adapter)
#   ${NURI_CACHE:-~/.cache/nuri}/bin/set-kubernetes-<v>_etcd-<v>_kwok-<v>_helm-<v>_coredns-<v>/   symlinks to all of the above
#
# Usage:
#   hack/build-tools.sh              build what is missing, print the folders
#   hack/build-tools.sh --print-bin  build what is missing (progress on stderr),
#                                    print only the symlink folder on stdout
#   hack/build-tools.sh --prometheus-adapter
#                                    build only prometheus-adapter (the HPA test of the
#                                    real-node suite) if missing, print its folder
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS_DIR="$HACK_DIR/tools"
NURI_CACHE="${NURI_CACHE:-$HOME/.cache/nuri}"
BIN_ROOT="$NURI_CACHE/bin"
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

PRINT_BIN=false
ADAPTER_ONLY=false
case "${1:-}" in
  --print-bin) PRINT_BIN=true ;;
  --prometheus-adapter) ADAPTER_ONLY=true ;;
  "") ;;
  -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
  *) echo "unknown argument: $1" >&2; exit 2 ;;
esac

START=$SECONDS
log() { echo "[build-tools] +$((SECONDS - START))s $*" >&2; }

# Version of a required module, read from the committed go.mod of a tool module.
modver() { awk -v p="$2" '($1 == p && $2 ~ /^v/) { print $2 } ($1 == "require" && $2 == p) { print $3 }' "$TOOLS_DIR/$1/go.mod"; }
# Source folder of a module in the module cache (downloads it if needed).
moddir() { (cd "$TOOLS_DIR/$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2"); }

K8S_VERSION="$(modver kubernetes k8s.io/kubernetes)"
ETCD_VERSION="$(modver etcd go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(modver kwok sigs.k8s.io/kwok)"
HELM_VERSION="$(modver helm helm.sh/helm/v3)"
COREDNS_VERSION="$(modver coredns github.com/coredns/coredns)"

K8S_DIR="$BIN_ROOT/kubernetes-$K8S_VERSION"
ETCD_DIR="$BIN_ROOT/etcd-$ETCD_VERSION"
KWOK_DIR="$BIN_ROOT/kwok-$KWOK_VERSION"
HELM_DIR="$BIN_ROOT/helm-$HELM_VERSION"
NODE_DIR="$BIN_ROOT/kubernetes-node-$K8S_VERSION"
COREDNS_DIR="$BIN_ROOT/coredns-$COREDNS_VERSION"
SET_DIR="$BIN_ROOT/set-kubernetes-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}_coredns-${COREDNS_VERSION}"

mkdir -p "$BIN_ROOT"
# Serialise concurrent callers (e.g. two test JVMs starting clusters).
exec 9>"$BIN_ROOT/.lock"
flock 9

# build_tool <name> <version> <dest> <module dir> -- <go build args...>
# Builds into a temp folder next to <dest> and renames it on success, so an
# interrupted build never leaves a half-filled cache entry.
build_tool() {
  local name="$1" version="$2" dest="$3" module="$4"; shift 5
  if [ -f "$dest/.complete" ]; then
    log "$name $version cached in $dest"
    return 0
  fi
  log "building $name $version ..."
  local t0=$SECONDS tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$TOOLS_DIR/$module" && go build -trimpath -o "$tmp/" "$@")
  if declare -F "post_$module" >/dev/null; then "post_$module" "$tmp"; fi
  printf 'tool=%s\nversion=%s\nbuild_seconds=%s\nbuilt=%s\n%s\n' \
    "$name" "$version" "$((SECONDS - t0))" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(go version)" > "$tmp/.complete"
  rm -rf "$dest"; mv "$tmp" "$dest"
  log "built $name $version in $((SECONDS - t0))s -> $dest"
}

# --- prometheus-adapter: the HPA's external metrics from Prometheus; its own k8s libraries (v0.30),
# so it shares little compilation with the rest and is built only when asked for
if $ADAPTER_ONLY; then
  ADAPTER_VERSION="$(modver prometheus-adapter sigs.k8s.io/prometheus-adapter)"
  ADAPTER_DIR="$BIN_ROOT/prometheus-adapter-$ADAPTER_VERSION"
  build_tool prometheus-adapter "$ADAPTER_VERSION" "$ADAPTER_DIR" prometheus-adapter -- -ldflags "-s -w" \
    sigs.k8s.io/prometheus-adapter/cmd/adapter
  echo "$ADAPTER_DIR"
  exit 0
fi

# --- kubernetes: apiserver, controller-manager, scheduler, kubectl (one go build shares compilation)
k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
K8S_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
done
build_tool kubernetes "$K8S_VERSION" "$K8S_DIR" kubernetes -- -ldflags "$K8S_LDFLAGS" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl

# --- kubelet and kube-proxy of the real node, from the same module (own folder, so adding them
# did not invalidate the control plane's cache entry)
build_tool kubernetes-node "$K8S_VERSION" "$NODE_DIR" kubernetes -- -ldflags "$K8S_LDFLAGS" \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy

# --- etcd (version.Version is a constant of the api module; only the git SHA is a variable)
build_tool etcd "$ETCD_VERSION" "$ETCD_DIR" etcd -- \
  -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" .

# --- kwok, plus its stage definitions (the standalone binary needs them via --config)
post_kwok() {
  local src out="$1/kwok-stages.yaml"
  src="$(moddir kwok sigs.k8s.io/kwok)/kustomize/stage"
  : > "$out"
  for f in "$src"/node/fast/*.yaml "$src"/node/heartbeat-with-lease/*.yaml "$src"/pod/fast/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] && continue
    { echo "# from sigs.k8s.io/kwok@$KWOK_VERSION ${f#"$src"/}"; cat "$f"; echo "---"; } >> "$out"
  done
}
build_tool kwok "$KWOK_VERSION" "$KWOK_DIR" kwok -- \
  -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" sigs.k8s.io/kwok/cmd/kwok

# --- helm: stamp its version and, as helm's Makefile does, the default kube
# version from the client-go it is built with (otherwise it reports 1.20).
helm_cg="$(modver helm k8s.io/client-go)"; helm_cg="${helm_cg#v}"
helm_kmaj=$(( ${helm_cg%%.*} + 1 )); helm_kmin="${helm_cg#*.}"; helm_kmin="${helm_kmin%%.*}"
HELM_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  HELM_LDFLAGS+=" -X $pkg.k8sVersionMajor=$helm_kmaj -X $pkg.k8sVersionMinor=$helm_kmin"
done
build_tool helm "$HELM_VERSION" "$HELM_DIR" helm -- -ldflags "$HELM_LDFLAGS" helm.sh/helm/v3/cmd/helm

# --- coredns: the real node's cluster DNS (hack/tools/coredns/main.go picks the plugins)
build_tool coredns "$COREDNS_VERSION" "$COREDNS_DIR" coredns -- \
  -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" .

# --- one folder of symlinks to everything
if [ ! -f "$SET_DIR/.complete" ]; then
  rm -rf "$SET_DIR"; mkdir -p "$SET_DIR"
  for d in "$K8S_DIR" "$ETCD_DIR" "$KWOK_DIR" "$HELM_DIR" "$NODE_DIR" "$COREDNS_DIR"; do
    for f in "$d"/*; do ln -s "$f" "$SET_DIR/$(basename "$f")"; done
  done
  touch "$SET_DIR/.complete"
fi
log "done"

if $PRINT_BIN; then
  echo "$SET_DIR"
else
  printf '%s\n' "$K8S_DIR" "$ETCD_DIR" "$KWOK_DIR" "$HELM_DIR" "$NODE_DIR" "$COREDNS_DIR" "$SET_DIR"
fi
