#!/usr/bin/env bash
# Runs the kernel benchmarks (JMH, single thread) and PyTorch on the same shapes in the same session,
# then prints the markdown table that docs/benchmarks.md "## Kernels" holds. Short runs: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
VENV="${NURI_VENV:-$HOME/.cache/nuri/venv}"
OUT=kernels/target/bench
# the bench profile compiles JMH classes into target/classes: leave a clean tree for ./mvnw verify, also on failure
trap './mvnw -q -pl kernels clean' EXIT
./mvnw -q -pl kernels -Pbench clean package -DskipTests dependency:build-classpath -Dmdep.outputFile=target/bench.cp
mkdir -p "$OUT"
CP="kernels/target/classes:$(cat kernels/target/bench.cp)"
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp "$CP" org.openjdk.jmh.Main \
  -f 1 -wi 2 -w 1s -i 3 -r 1s -t 1 -rf json -rff "$OUT/jmh.json" ${JMH_ARGS:-} 2>&1 | tee "$OUT/jmh.log" | grep -E "^(Benchmark|KernelBench)" || true
if [ ! -x "$VENV/bin/python" ]; then kernels/golden/make_golden.sh /dev/null >/dev/null 2>&1 || true; fi
"$VENV/bin/python" kernels/bench/torch_bench.py 1 > "$OUT/torch.json"
python3 kernels/bench/table.py "$OUT/jmh.json" "$OUT/torch.json"
