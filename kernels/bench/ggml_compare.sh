#!/usr/bin/env bash
# Nuri's products against llama.cpp's CPU kernels (ggml, its test-backend-ops perf mode) on llama.cpp's own
# perf shape, 4096 x 14336 (a 7-8B model's FFN), BF16 / F16 / Q8_0 weights, 1-8 tokens; run back to back in one
# session: ggml, Nuri (JMH, one thread), ggml again. The machine is shared, so both sides are timed in CPU
# time: ggml_cputime.c wraps ggml's graph compute, KernelBench's CpuTime counts the benchmark thread.
# test-backend-ops is built from llama.cpp's source outside this repository (docs/benchmarks.md says how);
# its CPU backend runs on hardware_concurrency / 2 threads: 1 on this 2-vCPU machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
TBO="${GGML_TEST_BACKEND_OPS:-$HOME/.cache/nuri/llama-cpp-python-0.3.36/build/bin/test-backend-ops}"
[ -x "$TBO" ] || { echo "no test-backend-ops at $TBO: build it first (docs/benchmarks.md, llama.cpp's kernels)" >&2; exit 2; }
OUT="${OUT:-$(mktemp -d /tmp/nuri-ggml-compare.XXXXXX)}"
mkdir -p "$OUT"
cc -O2 -shared -fPIC -o "$OUT/ggml_cputime.so" kernels/bench/ggml_cputime.c -ldl
TYPES="${TYPES:-BF16,F16,Q8_0}"
TOKENS="${TOKENS:-2,3,4,5,8}" # beside 1 (the GEMV)

ggml() {
  echo "ggml run $1, $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
  LD_PRELOAD="$OUT/ggml_cputime.so" "$TBO" perf -b CPU -o MUL_MAT \
    -p "type_a=($(tr 'A-Z,' 'a-z|' <<< "$TYPES")),type_b=f32,m=4096,n=(1|$(tr , '|' <<< "$TOKENS")),k=14336," \
    > "$OUT/ggml-$1.txt" 2>&1
}

# the bench profile compiles JMH classes into target/classes: leave a clean tree for ./mvnw verify, also on failure
trap './mvnw -q -pl kernels clean' EXIT
./mvnw -q -pl kernels -Pbench clean package -DskipTests dependency:build-classpath -Dmdep.outputFile=target/bench.cp
CP="kernels/target/classes:$(cat kernels/target/bench.cp)"

ggml 1
echo "nuri run, $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp "$CP" org.openjdk.jmh.Main \
  -f 1 -wi 2 -w 1s -i 3 -r 1s -t 1 -rf json -rff "$OUT/jmh.json" \
  -p type="$TYPES" -p threads=1 -p size=4096 -p rows=4096 -p cols=14336 -p tokens="$TOKENS" \
  'KernelBench.(readBandwidth|gemv|gemmFewTokens)$' > "$OUT/jmh.log" 2>&1
ggml 2
python3 kernels/bench/ggml_compare.py "$OUT/jmh.json" "$OUT/ggml-1.txt" "$OUT/ggml-2.txt"
echo "(logs in $OUT)"
