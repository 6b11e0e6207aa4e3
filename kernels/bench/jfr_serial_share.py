#!/usr/bin/env python3
"""What of a run stays on the engine thread alone: JFR execution samples split into the calling thread's samples
outside any kernel-pool dispatch (serial), its samples inside one, and the pool workers' samples, with the serial
ones named by the part of the step they are in. See docs/benchmarks.md, "Attention on the kernel pool".

  jfr print --events jdk.ExecutionSample --stack-depth 30 rec.jfr > rec.txt
  kernels/bench/jfr_serial_share.py rec.txt [more.txt ...]

Samples of the read-bandwidth probe, model loading and threads other than the caller ("main", or --thread) and the
workers ("nuri-kernel-*") are left out. The serial share s of the samples gives Amdahl's bound 1 / (s + (1 - s) / N)
for N threads (the samples are of a run on N threads, so the pool's parts are counted once whatever N was).
"""
import argparse
import collections
import re

# first match from the top of the stack names the part; the order puts the specific before the general
PARTS = [
    ("Blas1.axpy", "attention over the KV cache"), ("Blas1.dot", "attention over the KV cache"),
    ("Activations.softmax", "attention over the KV cache"), ("GroupedQueryAttention.attend", "attention over the KV cache"),
    ("MultiHeadLatentAttention.attend", "attention over the KV cache"), ("Rope.", "RoPE"), ("Norms.", "RMSNorm"),
    ("Router", "router"), ("GroupedExperts.apply", "experts: sort and combine"), ("runExpert", "experts' products"),
    ("matmul", "products"), ("Gemm", "products"), ("Blas1.add", "residual add"), ("Sampler", "sampling"),
    ("GroupedQueryAttention.forward", "attention over the KV cache"),  # the loops before they moved to attend
    ("MultiHeadLatentAttention.forward", "attention over the KV cache"), ("DecoderLm", "decoder step, other"),
]
SKIP = ("readBandwidth", "DecodeBench.sum", "ModelLoader")


def samples(path):
    thread, frames, in_stack = None, [], False
    for line in open(path):
        s = line.strip()
        m = re.match(r'sampledThread = "([^"]+)"', s)
        if m:
            thread = m.group(1)
        elif s.startswith("stackTrace"):
            in_stack, frames = True, []
        elif in_stack and s == "]":
            in_stack = False
            yield thread, frames
        elif in_stack:
            frames.append(s)


def part(frames):
    for f in frames:
        for key, name in PARTS:
            if key in f:
                return name
    return "other: " + (frames[0].split("(")[0] if frames else "?")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--thread", default="main", help="the calling (engine) thread's name")
    args = p.parse_args()
    for path in args.files:
        kinds, serial = collections.Counter(), collections.Counter()
        for thread, frames in samples(path):
            stack = "\n".join(frames)
            if any(k in stack for k in SKIP):
                continue
            if thread.startswith("nuri-kernel-"):
                kinds["workers"] += 1
            elif thread == args.thread:
                if "KernelPool.run(" in stack:
                    kinds["caller in a dispatch"] += 1
                else:
                    kinds["caller alone (serial)"] += 1
                    serial[part(frames)] += 1
        total = sum(kinds.values()) or 1
        s = kinds["caller alone (serial)"] / total
        print(f"{path}: {total} samples; " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in kinds.items())
              + f"; Amdahl 2 threads {1 / (s + (1 - s) / 2):.2f}x, 16 threads {1 / (s + (1 - s) / 16):.2f}x")
        for name, n in serial.most_common(10):
            print(f"  serial: {name:32s} {100 * n / total:5.1f}%")


if __name__ == "__main__":
    main()
