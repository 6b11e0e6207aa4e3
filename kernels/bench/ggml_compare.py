#!/usr/bin/env python3
"""Nuri's products against llama.cpp's (ggml CPU backend) on the same shapes, from one run of
kernels/bench/ggml_compare.sh: jmh.json (KernelBench gemv / gemmFewTokens / readBandwidth with their CpuTime
secondary results) and one or more test-backend-ops perf logs with the #compute lines of ggml_cputime.c.
Prints a markdown table of microseconds per product by CPU time and Nuri's speed as a multiple of ggml's."""
import json, re, sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RESULT = re.compile(r"^\s*MUL_MAT\((?P<params>.*?)\):\s+(?P<runs>\d+) runs - +(?P<us>[0-9.]+) us/run")
COMPUTE = re.compile(r"^#compute nodes=(\d+) wall_us=([0-9.]+) cpu_us=([0-9.]+)")


def ggml_runs(path):
    """{(type, m, n, k): (cpu µs per product, wall µs per product)}. The first compute call of each case is its warm-up,
    with the product once; the timed calls repeat it (their graphs hold the same other nodes as the warm-up's)."""
    out, calls = {}, []
    for line in open(path, errors="replace"):
        line = ANSI.sub("", line)
        m = COMPUTE.match(line)
        if m:
            calls.append((int(m[1]), float(m[2]), float(m[3])))
            continue
        m = RESULT.match(line)
        if not m:
            continue
        p = dict(re.findall(r"(?:^|,)(type_a|m|n|k)=([^,]+)", m["params"]))
        other = calls[0][0] - 1
        timed = calls[1:]
        runs = int(m["runs"])
        if sum(c[0] - other for c in timed) != runs:
            sys.exit(f"{path}: the timed graphs do not add up to {runs} runs for {m['params']}")
        key = (p["type_a"].upper(), int(p["m"]), int(p["n"]), int(p["k"]))
        out[key] = (sum(c[2] for c in timed) / runs, sum(c[1] for c in timed) / runs)
        calls = []
    return out


def nuri_runs(path):
    """{(type, rows, tokens, cols): (cpu µs per product, wall µs per product)} and the read's GB per CPU-second."""
    out, read = {}, None
    for b in json.load(open(path)):
        name = b["benchmark"].split(".")[-1]
        sec, p = b.get("secondaryMetrics", {}), b.get("params", {})
        cpu, calls = sec.get("cpuNanos", {}).get("score"), sec.get("calls", {}).get("score")
        if name == "readBandwidth":
            read = sec["bytesRead"]["score"] / cpu
            continue
        if name == "gemv":
            key = (p["type"], int(p["size"]), 1, int(p["cols"]) or int(p["size"]))
        elif name == "gemmFewTokens":
            key = (p["type"], int(p["rows"]), int(p["tokens"]), int(p["cols"]))
        else:
            continue
        out[key] = (cpu / calls / 1e3, b["primaryMetric"]["score"])
    return out, read


def main():
    nuri, read = nuri_runs(sys.argv[1])
    ggml = [ggml_runs(p) for p in sys.argv[2:]]
    # bytes per weight as each side stores it: ggml's q8_0 block has an F16 scale, Nuri's Q8_0 an F32 one
    nuri_bytes, ggml_bytes = {"BF16": 2, "F16": 2, "Q8_0": 36 / 32}, {"BF16": 2, "F16": 2, "Q8_0": 34 / 32}
    if read:
        print(f"Streaming read (JMH readBandwidth, same run): {read:.1f} GB per CPU-second\n")
    runs = " / ".join(f"run {i + 1}" for i in range(len(ggml)))
    print(f"| weight | shape (rows × cols) | tokens | Nuri µs (CPU) | ggml µs (CPU), {runs} | Nuri GB per CPU-s "
          f"| ggml GB per CPU-s | Nuri ÷ ggml speed |")
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(nuri, key=lambda k: (k[0], k[1], k[3], k[2])):
        t, rows, n, cols = key
        g = [run.get(key) for run in ggml]
        if not any(g):
            continue
        nu = nuri[key][0]
        gcpu = [x[0] for x in g if x]
        best = min(gcpu)  # ggml's faster run: the ratio does not flatter Nuri
        weights = rows * cols / 1e3  # per µs of CPU: ×1e3 per CPU-second, in GB
        print(f"| {t} | {rows} × {cols} | {n} | {nu:.0f} | {' / '.join(f'{x:.0f}' for x in gcpu)} | "
              f"{weights * nuri_bytes[t] / nu:.1f} | {weights * ggml_bytes[t] / best:.1f} | {best / nu:.2f}× |")


if __name__ == "__main__":
    main()
