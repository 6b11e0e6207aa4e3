# The real node of `hack/cluster up --real-node` (sourced by hack/cluster; uses its helpers).
#
# One kubelet on Debian's containerd + runc, CNI bridge networking, CoreDNS for cluster DNS and
# kube-proxy (iptables mode) for Services, as checked by hand on this machine kind
# (design/REFERENCE.md §8). The node network is global to the host (a bridge, iptables rules,
# containerd's socket), so one real node runs per machine: `up --real-node` waits for a
# machine-wide lock that the node's lock holder process keeps until `down`.
#
# Addresses: the pod bridge nuri0 is 10.244.0.1/24 (the pod subnet). The API server, the kubelet's
# cluster DNS (CoreDNS) and nothing else bind to it; everything else binds to 127.0.0.1.

REAL_NODE_NAME=nuri-node
BRIDGE=nuri0
BRIDGE_IP=10.244.0.1
POD_SUBNET=10.244.0.0/24
CLUSTER_DOMAIN=cluster.local
NODE_LOCK=/run/lock/nuri-real-node.lock
# Sockets and runtime state; short fixed paths (unix socket paths are limited to 108 bytes).
NODE_RUN=/run/nuri-node
CONTAINERD_SOCK=$NODE_RUN/containerd.sock
# Imported images stay in containerd's root between runs (a warm run imports only what changed).
CONTAINERD_ROOT="${NURI_CACHE:-$HOME/.cache/nuri}/containerd"
NODE_IMAGE_CACHE="${NURI_CACHE:-$HOME/.cache/nuri}/images"
NODE_PACKAGES=(containerd runc containernetworking-plugins iptables podman gcc libc6-dev)

node_ctr() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# Installs the Debian packages the node needs (CI machines start without them).
node_packages() {
  local missing=() p
  for p in "${NODE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "the real node needs root (to install ${missing[*]} and to run containerd)"
  log "installing ${missing[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >"$STATE/logs/apt.log" 2>&1 \
    || { apt-get -o DPkg::Lock::Timeout=600 update -q >>"$STATE/logs/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >>"$STATE/logs/apt.log" 2>&1; } \
    || { tail -n 20 "$STATE/logs/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
}

# Takes the machine-wide node lock (waiting for another real node to go down) and hands it to a
# holder process listed in pids, so that the lock lives exactly as long as this cluster.
node_lock() {
  exec 8>"$NODE_LOCK"
  if ! flock -n 8; then
    log "another real node runs on this machine ($(cat "$NODE_RUN/owner" 2>/dev/null || echo unknown)); waiting up to 30 min for it to stop"
    flock -w 1800 8 || die "the real node lock $NODE_LOCK stayed taken"
  fi
  PREV_NODE_STATE="$(cat "$NODE_RUN/owner" 2>/dev/null || true)"
  : > "$STATE/node.lock-holder"
  setsid tail -f "$STATE/node.lock-holder" </dev/null >/dev/null 2>&1 &
  echo "node-lock $!" >> "$STATE/pids"
  exec 8>&-
  mkdir -p "$NODE_RUN"
  echo "$STATE" > "$NODE_RUN/owner"
}

# Removes what a real node that was killed (not brought down) may have left: containers,
# mounts, the bridge, kube-proxy's rules. Safe when there is nothing to clean.
node_cleanup() {
  runc_cleanup
  pkill_shims
  if [ -n "${PREV_NODE_STATE:-}" ]; then unmount_under "$PREV_NODE_STATE/node"; fi
  unmount_under "$STATE/node"
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE"; fi
  if [ -x "$BIN/kube-proxy" ]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  kubelet_iptables_cleanup
  rm -rf "$NODE_RUN/containerd-state" "$CONTAINERD_SOCK" "$CONTAINERD_SOCK.ttrpc"
}

# Containers are runc's (under its own root): kill and delete any that are left.
RUNC_ROOT=$NODE_RUN/runc
runc_cleanup() {
  local id
  [ -d "$RUNC_ROOT/k8s.io" ] || return 0
  for id in $(runc --root "$RUNC_ROOT/k8s.io" list -q 2>/dev/null); do
    runc --root "$RUNC_ROOT/k8s.io" delete -f "$id" >/dev/null 2>&1 || true
  done
}

# containerd's shims outlive containerd; ours name our socket on their command line.
pkill_shims() {
  local pid
  for pid in $(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}

unmount_under() {
  local dir="$1" m
  [ -d "$dir" ] || return 0
  # deepest first
  for m in $(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

# The pod bridge exists before the API server starts (the API server binds to its address).
node_bridge() {
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_IP/${POD_SUBNET#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # ClusterIPs from the host leave through the bridge (kube-proxy's DNAT picks the pod), also on
  # a host without a default route
  ip route add "$SERVICE_CIDR" dev "$BRIDGE" src "$BRIDGE_IP"
  log "bridge $BRIDGE $BRIDGE_IP/${POD_SUBNET#*/}, route to Services $SERVICE_CIDR"
}

node_certs() {
  local client="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
  cert kubelet "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" "$client"
  cert kube-proxy "/CN=system:kube-proxy" "$client"
  cert coredns "/CN=nuri:coredns" "$client"
}

# pause image: a static five-line C program in an image FROM scratch, cached by the source's hash.
# Sets PAUSE_IMAGE and PAUSE_TAR (a `podman save` archive, imported once containerd runs).
node_pause_image() {
  local src="$HACK_DIR/node/pause.c" hash tar
  hash="$(sha256sum "$src" | cut -c1-12)"
  PAUSE_IMAGE="localhost/nuri/pause:$hash"
  tar="$NODE_IMAGE_CACHE/pause-$hash.tar"
  PAUSE_TAR=$tar
  if [ ! -f "$tar" ]; then
    log "building pause image $PAUSE_IMAGE"
    local ctx; ctx="$(mktemp -d)"
    gcc -static -Os -s -o "$ctx/pause" "$src"
    printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$ctx/Containerfile"
    mkdir -p "$NODE_IMAGE_CACHE"
    podman_quiet build -q -t "$PAUSE_IMAGE" "$ctx" >/dev/null
    podman_quiet save --format docker-archive -o "$tar.tmp" "$PAUSE_IMAGE" 2>/dev/null
    mv "$tar.tmp" "$tar"
    rm -rf "$ctx"
  fi
}

# podman as this machine kind needs it (REFERENCE.md §8): runc, cgroupfs, no journald.
podman_quiet() { podman --cgroup-manager=cgroupfs --runtime runc --events-backend=file "$@"; }

# node_import <image tar>: imports a `podman save` archive into the node's containerd.
node_import() {
  node_ctr images import "$1" >>"$STATE/logs/ctr-import.log" 2>&1 \
    || { tail -n 5 "$STATE/logs/ctr-import.log" >&2; die "ctr images import $1 failed"; }
}

node_containerd() {
  local dir="$STATE/node"
  mkdir -p "$dir/cni" "$CONTAINERD_ROOT" "$NODE_RUN"
  cat > "$dir/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$NODE_RUN/containerd-state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # the sandbox cannot lower its oom_score_adj here; without this every sandbox fails with
  # "can't get final child's PID from pipe"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = false
    Root = "$RUNC_ROOT"
EOF
  # host-local keeps its leases in our state dir, so a new run starts with a free subnet
  cat > "$dir/cni/10-nuri.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "nuri",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$dir/cni-ipam", "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$BRIDGE_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  start containerd containerd --config "$dir/containerd.toml"
  wait_for "containerd $CONTAINERD_SOCK" 30 containerd node_ctr version
}

node_coredns() {
  local p_health="$1" p_ready="$2"
  kubeconfig "$STATE/coredns.kubeconfig" coredns "$API_URL"
  # read-only access to what cluster DNS serves
  kubectl apply -f - >/dev/null <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "nuri:coredns"}
rules:
- {apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "nuri:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "nuri:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "nuri:coredns"}
EOF
  # Short TTLs: a recreated shard pod has a new address, and its peers look it up again.
  cat > "$STATE/node/Corefile" <<EOF
.:53 {
    bind $BRIDGE_IP
    errors
    health 127.0.0.1:$p_health
    ready 127.0.0.1:$p_ready
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $STATE/coredns.kubeconfig nuri
        pods insecure
        ttl 5
    }
    cache 5
}
EOF
  start coredns "$BIN/coredns" -conf "$STATE/node/Corefile"
}

node_kubelet() {
  local p_kubelet="$1" p_healthz="$2" dir="$STATE/node"
  kubeconfig "$STATE/kubelet.kubeconfig" kubelet "$API_URL"
  printf 'nameserver %s\n' "$BRIDGE_IP" > "$dir/resolv.conf"
  cat > "$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
port: $p_kubelet
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $p_healthz
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# cgroup v1 hybrid host without systemd as init
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
evictionHard: {}
clusterDNS: [$BRIDGE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $dir/resolv.conf
podLogsDir: $dir/pod-logs
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
syncFrequency: 10s
EOF
  # Labels of the cpu profile (hack/profiles.tsv) and a zone, as the KWOK nodes have: a group's
  # shards require one zone (the default spec.scheduling.groupTopologyKey).
  start kubelet "$BIN/kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
    --root-dir="$dir/kubelet" --cert-dir="$dir/kubelet-pki" --hostname-override="$REAL_NODE_NAME" \
    --node-ip="$BRIDGE_IP" \
    --node-labels="nuri.io/accelerator-profile=cpu,topology.kubernetes.io/zone=zone-real,nuri.io/real-node=true"
}

node_kube_proxy() {
  local p_healthz="$1" p_metrics="$2"
  kubeconfig "$STATE/kube-proxy.kubeconfig" kube-proxy "$API_URL"
  cat > "$STATE/node/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
hostnameOverride: $REAL_NODE_NAME
mode: iptables
clusterCIDR: $POD_SUBNET
healthzBindAddress: 127.0.0.1:$p_healthz
metricsBindAddress: 127.0.0.1:$p_metrics
# NodePorts only on the bridge: no route_localnet, nothing on the host's other addresses
nodePortAddresses: [$BRIDGE_IP/32]
iptables: {localhostNodePorts: false}
# leave the host's conntrack settings alone
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start kube-proxy "$BIN/kube-proxy" --config="$STATE/node/kube-proxy.yaml"
}

node_ready() {
  [ "$(kubectl get node "$REAL_NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# Starts the node once the control plane answers (API_URL, BIN set by cmd_up).
node_up() {
  local p_kubelet p_khealth p_dns_health p_dns_ready p_kp_health p_kp_metrics
  read -r p_kubelet p_khealth p_dns_health p_dns_ready p_kp_health p_kp_metrics <<< "$(free_ports 6)"
  printf 'kubelet=%s\nkubelet-healthz=%s\ncoredns-health=%s\ncoredns-ready=%s\nkube-proxy-healthz=%s\nkube-proxy-metrics=%s\n' \
    "$p_kubelet" "$p_khealth" "$p_dns_health" "$p_dns_ready" "$p_kp_health" "$p_kp_metrics" >> "$STATE/ports"
  node_pause_image
  node_containerd
  node_import "$PAUSE_TAR"
  node_coredns "$p_dns_health" "$p_dns_ready"
  node_kube_proxy "$p_kp_health" "$p_kp_metrics"
  node_kubelet "$p_kubelet" "$p_khealth"
  wait_for "node $REAL_NODE_NAME Ready" 120 kubelet node_ready
  wait_for "coredns ready" 60 coredns component_plain "http://127.0.0.1:$p_dns_ready/ready"
  wait_for "kube-proxy healthz" 60 kube-proxy component_plain "http://127.0.0.1:$p_kp_health/healthz"
}

component_plain() { curl -sf --max-time 2 "$1" >/dev/null; }

# Stops the node in the order that leaves nothing behind: pods (while the kubelet runs, so that
# it tears down their sandboxes and CNI), then the kubelet and the other node processes, then
# containerd's leftovers and mounts; node_network_down removes the bridge and kube-proxy's rules
# once the API server is stopped. Controllers are stopped before, so nothing recreates the pods.
node_down() {
  if our_pids | grep -q '^kubelet ' && [ -f "$STATE/kubeconfig" ]; then
    log "deleting the real node's pods"
    kubectl delete pods --all-namespaces --field-selector "spec.nodeName=$REAL_NODE_NAME" \
      --grace-period=3 --wait=false >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 60))
    while [ -n "$(kubectl get pods --all-namespaces --field-selector "spec.nodeName=$REAL_NODE_NAME" -o name 2>/dev/null)" ] \
        && [ "$SECONDS" -lt "$deadline" ]; do
      sleep 0.5
    done
  fi
  stop '^(kubelet|kube-proxy|coredns)$'
  if our_pids | grep -q '^containerd '; then
    local c
    for c in $(node_ctr tasks ls -q 2>/dev/null); do node_ctr tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true; done
    for c in $(node_ctr containers ls -q 2>/dev/null); do
      node_ctr tasks delete -f "$c" >/dev/null 2>&1 || true
      node_ctr containers delete "$c" >/dev/null 2>&1 || true
    done
  fi
  stop '^containerd$'
  runc_cleanup
  pkill_shims
  unmount_under "$STATE/node"
  unmount_under "$NODE_RUN/containerd-state"
}

# The chains the kubelet adds (kube-proxy --cleanup leaves them).
kubelet_iptables_cleanup() {
  local ipt t c
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    while "$ipt" -D INPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
    while "$ipt" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
    for t in filter nat mangle; do
      for c in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$ipt" -t "$t" -F "$c" 2>/dev/null || true
        "$ipt" -t "$t" -X "$c" 2>/dev/null || true
      done
    done
  done
}

# After the API server stopped (it listens on the bridge's address until then).
node_network_down() {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE"; fi
  if [ -n "${BIN:-}" ] && [ -x "$BIN/kube-proxy" ]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  kubelet_iptables_cleanup
  if [ -f "$NODE_RUN/owner" ] && [ "$(cat "$NODE_RUN/owner")" = "$STATE" ]; then
    mv "$NODE_RUN/owner" "$NODE_RUN/owner.last"
  fi
}
