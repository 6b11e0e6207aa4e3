#!/usr/bin/env python3
"""GEMV against the streaming read of the same JMH run (jmh.json from kernels/bench/run.sh), by wall time and
per CPU-second of the benchmark thread (the CpuTime secondary results): on a shared machine the wall time also
measures the other processes, the CPU-time rate does not."""
import json, sys

rows = []
for b in json.load(open(sys.argv[1])):
    name = b["benchmark"].split(".")[-1]
    if name not in ("readBandwidth", "gemv"):
        continue
    sec = b.get("secondaryMetrics", {})
    cpu, read = sec.get("cpuNanos", {}).get("score"), sec.get("bytesRead", {}).get("score")
    us = b["primaryMetric"]["score"]  # µs per call
    p = b.get("params", {})
    label = name + (" " + " ".join(f"{k}={v}" for k, v in p.items()) if p else "")
    rows.append((label, read, cpu, us))

base = next((r for r in rows if r[0].startswith("readBandwidth")), None)
def rates(r):
    label, read, cpu, us = r
    return read / cpu * 1e9 if cpu else None  # bytes per CPU-second
b_cpu = rates(base) if base else None
print("| benchmark | µs per call (wall, mean) | GB per CPU-second | share of the read's GB per CPU-second |")
print("|---|---|---|---|")
for r in rows:
    c = rates(r)
    share = f"{100 * c / b_cpu:.0f}%" if c and b_cpu else "—"
    print(f"| {r[0]} | {r[3]:.0f} | {c / 1e9:.1f} | {share} |" if c else f"| {r[0]} | {r[3]:.0f} | — | — |")
