#!/usr/bin/env bash
# End to end against llama.cpp (issue 14): Nuri's worker and a llama-server built elsewhere, on the same checkpoint,
# alternating runs, over HTTP. See docs/benchmarks.md, "End to end against llama.cpp (issue 14)".
# Usage: LLAMA_SERVER=.../build/bin/llama-server GGUF_BF16=...bf16.gguf GGUF_Q8_0=...q8_0.gguf \
#          kernels/bench/llamacpp_compare.sh [--dtypes bf16,q8_0] [--threads 1,2] [--rounds 3] [--prefill 256,1024]
#          [--decode 64] [--concurrency 16:32,64:16] [--engines nuri,llama] [--out FILE] [...; --help]
# Nothing of llama.cpp is in this repository: it only takes the paths of its server and of the GGUF files.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
if [[ ! -f runtime-image/target/nuri-worker.jar || ! -f kernels/target/nuri-kernels.jar ]]; then
  ./mvnw -B -ntp -q -pl runtime-image -am package -DskipTests
fi
exec python3 kernels/bench/llamacpp_compare.py "$@"
