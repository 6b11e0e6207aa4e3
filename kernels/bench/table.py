"""Turns JMH + torch results into the markdown table of docs/benchmarks.md (## Kernels)."""
import json, sys

jmh = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
r = {}
for b in jmh:
    name = b["benchmark"].split(".")[-1]
    # 1 thread and the 4096 GEMV: the plain key
    p = {k: v for k, v in b.get("params", {}).items() if not (k == "threads" and v == "1") and not (k == "size" and v == "4096")}
    key = name + ("_" + "_".join(p.values()) if p else "")
    unit = b["primaryMetric"]["scoreUnit"]
    score = b["primaryMetric"]["score"]
    r[key] = score / 1000.0 if unit.startswith("us") else score  # -> ms
copy_gbs = 2 * (1 << 29) / (r["copyBandwidth"] / 1e3) / 1e9
read_gbs = (1 << 29) / (r["readBandwidth"] / 1e3) / 1e9 if "readBandwidth" in r else None
lanes = 16
fma_gflops = 2 * lanes * 12 * 1e6 / (r["fmaPeak"] / 1e3) / 1e9
bytes_per = {"F32": 4, "BF16": 2, "F8_E4M3": 1, "Q8_0": 1 + 4 / 32}
print(f"Machine (same run): copy bandwidth {copy_gbs:.1f} GB/s (read+write), "
      + (f"streaming read {read_gbs:.1f} GB/s, " if read_gbs else "")
      + f"FMA peak {fma_gflops:.1f} GFLOP/s (1 thread, {lanes} float lanes assumed: AVX-512)\n")
print("| kernel | shape | Java ms | Java rate | vs ceiling | PyTorch ms (1 thread) |")
print("|---|---|---|---|---|---|")
for t in ["F32", "BF16", "F8_E4M3", "Q8_0"]:
    ms = r[f"gemv_{t}"]
    gbs = 4096 * 4096 * bytes_per[t] / (ms / 1e3) / 1e9
    tm = torch.get(f"gemv_{t}")
    ceiling = f"{100 * gbs / read_gbs:.0f}% of read" if read_gbs else f"{100 * gbs / copy_gbs:.0f}% of copy"
    print(f"| GEMV {t} | 4096×4096 · 1 | {ms:.3f} | {gbs:.1f} GB/s | {ceiling} | "
          f"{'%.3f' % tm if tm else '—'} |")
for t in ["F32", "BF16", "F8_E4M3", "Q8_0"]:
    ms = r[f"gemm_{t}"]
    gf = 2 * 2048 * 2048 * 64 / (ms / 1e3) / 1e9
    tm = torch.get(f"gemm_{t}")
    print(f"| GEMM {t} | 2048×2048 · 64 | {ms:.3f} | {gf:.1f} GFLOP/s | {100 * gf / fma_gflops:.0f}% of FMA peak | "
          f"{'%.3f' % tm if tm else '—'} |")
for b in [1, 8, 64, 256]:
    ms = r[f"moeLayer_{b}"]
    flops = b * 8 * 3 * 2 * 7168 * 2048
    tm = torch[f"moe_{b}"]
    print(f"| MoE layer BF16, 16 experts, top-8 | H 7168, FFN 2048, batch {b} | {ms:.2f} | {flops / (ms / 1e3) / 1e9:.1f} GFLOP/s | "
          f"{tm / ms:.2f}× PyTorch speed | {tm:.2f} |")
for b in [8, 64]:
    key = f"moeLayerAfterBatch1_{b}"
    if key not in r:
        continue
    ms = r[key]
    flops = b * 8 * 3 * 2 * 7168 * 2048
    tm = torch[f"moe_{b}"]
    print(f"| MoE layer BF16, same JVM after batch 1 | H 7168, FFN 2048, batch {b} | {ms:.2f} | "
          f"{flops / (ms / 1e3) / 1e9:.1f} GFLOP/s | {tm / ms:.2f}× PyTorch speed "
          f"({ms / r[f'moeLayer_{b}']:.2f}× the fresh-JVM time) | {tm:.2f} |")
print(f"| decode step, builtin tiny-axk1 | batch 1, 32 tokens context | {r['decodeStepTinyAxk1']:.3f} | — | — | — |")
