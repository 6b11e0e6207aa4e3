#!/usr/bin/env bash
# Makes sure Prometheus and promtool are on this machine (Debian's `prometheus` package, 2.42 on
# bookworm) and prints the folder that holds them. The tests use them for the chart's alert rules
# (promtool check/test rules) and as a real Prometheus scraping real workers. Needs root for apt-get
# the first time; idempotent.
set -euo pipefail
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "error: Prometheus is not installed and installing it needs root (apt-get install prometheus)" >&2; exit 1; }
  echo "[prometheus] installing Debian's prometheus package (apt-get)" >&2
  log=$(mktemp)
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends prometheus >"$log" 2>&1 \
    || { apt-get -o DPkg::Lock::Timeout=600 update -q >>"$log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends prometheus >>"$log" 2>&1; } \
    || { tail -n 20 "$log" >&2; exit 1; }
  # the package starts its own server where an init system runs; the tests start theirs
  { command -v systemctl >/dev/null && systemctl disable --now prometheus >/dev/null 2>&1; } || true
fi
dirname "$(command -v promtool)"
