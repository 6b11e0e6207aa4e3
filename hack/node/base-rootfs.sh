#!/usr/bin/env bash
# A minimal base image made on this machine, without a registry: the glibc, libgcc_s and
# libstdc++ of the host (what the jlink'd JRE and the tokenizer's native library load), a
# loader cache, /etc/passwd with the images' user 10001, and /tmp. Like distroless/cc: no
# shell, no package manager. hack/images --local-base builds the worker and operator on it.
#
#   hack/node/base-rootfs.sh --image    build it with podman if missing; print its name
#
# The tag is a hash of the libraries and of this script, so a host upgrade makes a new base.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "${1:-}" = --image ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

arch_dir=/usr/lib/x86_64-linux-gnu
libs=(/lib64/ld-linux-x86-64.so.2
      $arch_dir/{libc.so.6,libdl.so.2,libpthread.so.0,libm.so.6,librt.so.1,libz.so.1,libgcc_s.so.1,libstdc++.so.6})
for l in "${libs[@]}"; do [ -e "$l" ] || { echo "base-rootfs: $l missing on this host" >&2; exit 1; }; done

hash=$( { sha256sum "$0"; for l in "${libs[@]}"; do sha256sum "$(readlink -f "$l")"; done; } | sha256sum | cut -c1-12)
image="localhost/nuri/base:$hash"
podman_() { podman --cgroup-manager=cgroupfs --runtime runc --events-backend=file "$@"; }

if ! podman_ image exists "$image"; then
  echo "[base-rootfs] building $image from this host's libraries" >&2
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  root=$ctx/rootfs
  mkdir -p "$root$arch_dir" "$root/usr/lib64" "$root/etc" "$root/tmp"
  ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  for l in "${libs[@]}"; do
    case "$l" in
      /lib64/*) cp -L "$l" "$root/usr/lib64/" ;;
      *) cp -L "$l" "$root$arch_dir/" ;;
    esac
  done
  echo "$arch_dir" > "$root/etc/ld.so.conf"
  ldconfig -r "$root"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:10001:10001:nonroot:/tmp:/sbin/nologin\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:10001:\n' > "$root/etc/group"
  printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
  chmod 1777 "$root/tmp"
  printf 'FROM scratch\nCOPY rootfs/ /\nUSER 10001:10001\n' > "$ctx/Containerfile"
  podman_ build -q -t "$image" "$ctx" >/dev/null
fi
echo "$image"
