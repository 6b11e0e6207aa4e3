#!/usr/bin/env bash
# The engine's benchmarks (paged KV cache, prefix caching, chunked prefill): see docs/benchmarks.md.
# Usage: runtime-image/bench/engine.sh prefix|itl|capacity [--rounds N] [...]
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jar=runtime-image/target/nuri-worker.jar
if [[ ! -f $jar ]]; then ./mvnw -q -pl runtime-image -am package -DskipTests; fi
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "$jar" dev.nuri.worker.bench.EngineBench "$@" --logs runtime-image/target/bench-logs
