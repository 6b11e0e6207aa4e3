#!/usr/bin/env python3
"""Where a worker's resident memory goes (issue 14 item 4): starts one worker (`WorkerMain shard`, WorkerJvm's
options, 1 kernel thread, NURI_KV_CACHE_TOKENS 4096) on the benchmark checkpoint, BF16 or Q8_0, sends what
llamacpp_compare.py's runs send (a 1,024-token prompt, then 16 x 32 and 64 x 16 concurrent completions of random
token ids), then prints:

  - VmRSS / RssAnon / RssFile after loading and after the requests (GB);
  - Native Memory Tracking's committed bytes per category (the Java heap, "Other" = the Q8_0 copies);
  - the checkpoint mapping's resident bytes per tensor group (/proc/PID/pagemap, each page's present bit);
  - the live heap's float[] and short[] arrays by length (a heap dump, read here), the largest groups first.

usage: kernels/bench/shard_memory.py [--quantization q8_0] [--model DIR] [--worker-jar JAR]
"""
import argparse
import collections
import http.client
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from llamacpp_compare import write_tokenizer  # noqa: E402  (the driver's tokenizer for a checkpoint without one)


def status(pid):
    d = {}
    for line in open(f"/proc/{pid}/status"):
        k, v = line.split(":", 1)
        if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            d[k] = round(int(v.split()[0]) / 1e6, 3)
    return d


def resident_tensors(pid, path):
    """Resident bytes of each tensor group (layer and expert numbers folded) of the safetensors file mapped by pid."""
    raw = open(path, "rb").read(8)
    n = struct.unpack("<Q", raw)[0]
    header = json.loads(open(path, "rb").read(8 + n)[8:])
    for line in open(f"/proc/{pid}/maps"):
        if line.rstrip().endswith(os.path.basename(path)):
            a, b = (int(x, 16) for x in line.split()[0].split("-"))
            off = int(line.split()[2], 16)
            break
    else:
        return {}
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        pm.seek((a // 4096) * 8)
        data = pm.read(((b - a) // 4096) * 8)
    present = [(struct.unpack_from("<Q", data, i * 8)[0] >> 63) & 1 for i in range((b - a) // 4096)]
    resident, size = collections.Counter(), collections.Counter()
    for name, t in header.items():
        if name == "__metadata__":
            continue
        s, e = (x + 8 + n - off for x in t["data_offsets"])
        group = re.sub(r"\d+", "N", name)
        resident[group] += 4096 * sum(present[p] for p in range(s // 4096, (e + 4095) // 4096) if p < len(present))
        size[group] += e - s
    return {g: (resident[g], size[g]) for g in resident}


def arrays_by_length(hprof):
    """{(type, length): count} of the float[] and short[] arrays in an HPROF heap dump."""
    d = open(hprof, "rb").read()
    i = d.index(b"\0") + 1
    idsz = struct.unpack_from(">I", d, i)[0]
    i += 12
    sizes = {2: idsz, 4: 1, 5: 2, 6: 4, 7: 8, 8: 1, 9: 2, 10: 4, 11: 8}
    hist = collections.Counter()
    while i < len(d):
        tag, ln = d[i], struct.unpack_from(">I", d, i + 5)[0]
        p, end = i + 9, i + 9 + ln
        i = end
        if tag not in (0x0C, 0x1C):  # heap dump (segment)
            continue
        while p < end:
            st = d[p]
            p += 1
            if st == 0xFF or st in (0x05, 0x07):
                p += idsz
            elif st == 0x01:
                p += 2 * idsz
            elif st in (0x02, 0x03, 0x08):
                p += idsz + 8
            elif st in (0x04, 0x06):
                p += idsz + 4
            elif st == 0x20:  # class dump
                p += 7 * idsz + 8  # class, stack serial, super, loader, signers, domain, 2 reserved, instance size
                n = struct.unpack_from(">H", d, p)[0]
                p += 2
                for _ in range(n):
                    p += 3 + sizes[d[p + 2]]
                n = struct.unpack_from(">H", d, p)[0]
                p += 2
                for _ in range(n):
                    p += idsz + 1 + sizes[d[p + idsz]]
                n = struct.unpack_from(">H", d, p)[0]
                p += 2 + n * (idsz + 1)
            elif st == 0x21:  # instance
                p += 2 * idsz + 8 + struct.unpack_from(">I", d, p + 2 * idsz + 4)[0]
            elif st == 0x22:  # object array
                p += 2 * idsz + 8 + struct.unpack_from(">I", d, p + idsz + 4)[0] * idsz
            elif st == 0x23:  # primitive array
                n, t = struct.unpack_from(">I", d, p + idsz + 4)[0], d[p + idsz + 8]
                p += idsz + 9 + n * sizes[t]
                if t in (6, 9):
                    hist[("float" if t == 6 else "short", n)] += 1
            else:
                raise SystemExit(f"unknown heap dump record {st:#x}")
    return hist


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", type=Path, default=Path.home() / ".cache/nuri/bench-qwen3moe-bf16")
    p.add_argument("--quantization", choices=("bf16", "q8_0"), default="q8_0")
    p.add_argument("--worker-jar", type=Path, default=Path("runtime-image/target/nuri-worker.jar"))
    p.add_argument("--port", type=int, default=18080)
    a = p.parse_args()
    java_home = os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64")
    java, jcmd, jmap = (os.path.join(java_home, "bin", x) for x in ("java", "jcmd", "jmap"))
    work = Path(tempfile.mkdtemp(prefix="shard-memory-"))
    vocab = json.load(open(a.model / "config.json"))["vocab_size"]
    write_tokenizer(work / "tokenizer", vocab)
    opts = subprocess.run([java, "-cp", str(a.worker_jar), "dev.nuri.contract.WorkerJvm"], capture_output=True, text=True,
                          check=True).stdout.split()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURI_")}
    env.update(NURI_MODEL=str(a.model), NURI_TOKENIZER=str(work / "tokenizer"), NURI_PORT=str(a.port),
               NURI_PEER_PORT=str(a.port + 1), NURI_BIND_HOST="127.0.0.1", NURI_KERNEL_THREADS="1",
               NURI_KV_CACHE_TOKENS="4096", NURI_SERVED_MODEL_NAME="bench", NURI_QUANTIZATION=a.quantization)
    cmd = [java, "-Xmx2g", *opts, "-XX:NativeMemoryTracking=summary", "--add-modules", "jdk.incubator.vector",
           "--enable-native-access=ALL-UNNAMED", "-cp", str(a.worker_jar), "dev.nuri.worker.WorkerMain", "shard"]
    worker = subprocess.Popen(cmd, env=env, stdout=open(work / "worker.log", "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 600
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
                c.request("GET", "/health/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if worker.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the worker did not get ready; see {work / 'worker.log'}")
            time.sleep(0.5)
        print("after loading", status(worker.pid), flush=True)

        def complete(prompt_tokens, max_tokens):
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=600)
            body = {"model": "bench", "prompt": [random.randrange(3, vocab) for _ in range(prompt_tokens)],
                    "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True}
            c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"completion answered {r.status}")

        complete(1024, 4)
        for concurrent, tokens in ((16, 32), (64, 16)):
            ts = [threading.Thread(target=complete, args=(16, tokens)) for _ in range(concurrent)]
            [t.start() for t in ts]
            [t.join() for t in ts]
        print("after the requests", status(worker.pid), flush=True)
        nmt = subprocess.run([jcmd, str(worker.pid), "VM.native_memory", "summary"], capture_output=True, text=True).stdout
        print("native memory tracking, committed MB:", ", ".join(
            f"{m.group(1).strip()} {int(m.group(2)) / 1024:.0f}" for m in re.finditer(r"-\s+([A-Za-z ]+) \(reserved=\d+KB, committed=(\d+)KB", nmt)
            if int(m.group(2)) >= 4096))
        print("checkpoint pages resident (MB of MB):")
        for g, (r, s) in sorted(resident_tensors(worker.pid, str(a.model / "model.safetensors")).items(), key=lambda kv: -kv[1][0])[:8]:
            print(f"  {r / 1e6:8.1f} of {s / 1e6:8.1f}  {g}")
        dump = work / "heap.hprof"
        subprocess.run([jmap, f"-dump:live,format=b,file={dump}", str(worker.pid)], capture_output=True, check=True)
        hist = arrays_by_length(dump)
        dump.unlink()
        width = {"float": 4, "short": 2}
        total = collections.Counter()
        for (t, n), c in hist.items():
            total[t] += c * n * width[t]
        print("live heap arrays:", ", ".join(f"{t}[] {b / 1e6:.1f} MB" for t, b in total.items()))
        for (t, n), c in sorted(hist.items(), key=lambda kv: -kv[0][1] * kv[1] * width[kv[0][0]])[:6]:
            print(f"  {c:6d} x {t}[{n}] = {c * n * width[t] / 1e6:.1f} MB")
    finally:
        worker.terminate()
        worker.wait()


if __name__ == "__main__":
    main()
