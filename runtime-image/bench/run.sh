#!/usr/bin/env bash
# End-to-end worker benchmark: tokens/s, TTFT and the dispatch+combine share for 1, 2 and 4 shard processes.
# Usage: runtime-image/bench/run.sh [--shards 1,2,4] [--concurrency 1,16,64] [--max-tokens 32] [--wire-dtype bf16|f32]
#        [--two-batch-overlap 0,16] [--pin-cores true] [--rounds N] [--jars a.jar,b.jar --names before,after]
# --jars: shard processes started from each jar in turn within every round (before/after in the same minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jar=runtime-image/target/nuri-worker.jar
if [[ ! -f $jar ]]; then ./mvnw -q -pl runtime-image -am package -DskipTests; fi
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -jar "$jar" bench --logs runtime-image/target/bench-logs "$@"
