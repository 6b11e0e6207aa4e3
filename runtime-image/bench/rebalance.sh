#!/usr/bin/env bash
# Skewed-load benchmark: a local group serving tiny-axk1-skewed at steady load, before and after one live rebalance
# (per-shard share of the (token, expert) pairs, balancedness per layer, decode step time). docs/benchmarks.md.
# Usage: runtime-image/bench/rebalance.sh [--shards 4] [--redundant 4] [--seconds 30] [--concurrency 8]
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jar=runtime-image/target/nuri-worker.jar
if [[ ! -f $jar ]]; then ./mvnw -q -pl runtime-image -am package -DskipTests; fi
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "$jar" dev.nuri.worker.bench.RebalanceBench --logs runtime-image/target/bench-logs "$@"
