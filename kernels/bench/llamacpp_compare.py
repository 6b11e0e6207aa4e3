#!/usr/bin/env python3
"""End to end against llama.cpp (issue 14): Nuri's worker and llama-server on the same checkpoint, over HTTP.

For each dtype, thread count and round, the two engines run in alternating order (A B, B A, ...). Each run starts
the server, waits until it is ready, warms it up, then measures through the OpenAI completions API with token-id
prompts (fresh random ids each time, so no prefix cache helps):

  prefill P      one request of a P-token prompt and max_tokens 1: prompt tokens per second
  decode         one streamed request, 16-token prompt, D tokens (ignore_eos): tokens from the first to the last
  cC            C requests at once, 16-token prompts, N tokens each (ignore_eos): output tokens per second
  rss            VmRSS of the server process after the runs (and its anonymous and file-backed parts)

Every measure is given per wall second and per CPU-second of the server process (utime + stime of
/proc/<pid>/stat, all its threads), with the 1-minute load average at its start: on a shared machine the wall rate
measures the other processes too. Nothing of llama.cpp is here: pass the path of a llama-server built elsewhere and
the GGUF files converted from the same checkpoint (docs/benchmarks.md, "End to end against llama.cpp").

Output: one line per measure as it happens, one JSON object per measure in --out, and a table of
min / median / max per row with Nuri ÷ llama.cpp (ratio of medians) at the end.
"""
import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
VOCAB_FIRST_PLAIN = 3  # ids 0..2 are the special tokens of the tokenizer below


def write_tokenizer(directory: Path, vocab_size: int) -> None:
    """A byte-level BPE tokenizer with vocab_size ids for a checkpoint that has none (make_checkpoint.py writes no
    tokenizer): 3 special tokens, the 256 byte symbols, then one word per remaining id. Prompts go in as token ids;
    it exists so that both servers can turn the sampled ids into text."""
    directory.mkdir(parents=True, exist_ok=True)
    symbols = []  # GPT-2's printable spelling of each byte, in byte order
    n = 0
    for b in range(256):
        printable = ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
        symbols.append(chr(b) if printable else chr(256 + n))
        if not printable:
            n += 1
    specials = ["<|pad|>", "<|bos|>", "<|eos|>"]
    vocab = {t: i for i, t in enumerate(specials)}
    for s in symbols:
        vocab[s] = len(vocab)
    i = 0
    while len(vocab) < vocab_size:
        vocab["\u0120w%d" % i] = len(vocab)  # "Ġw123": a space then w123
        i += 1
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, t in enumerate(specials)],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [["\u0120", "w"]]},
    }
    vocab["\u0120w"] = vocab.pop("\u0120w0")  # the one merge's result is in the vocabulary
    (directory / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False))
    (directory / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>", "add_bos_token": False,
         "model_max_length": 4096}))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15): every thread's


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def load1() -> float:
    return os.getloadavg()[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, engine, command, env, port, ready_path, log):
        self.engine, self.port, self.ready_path = engine, port, ready_path
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.engine} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", self.ready_path)
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.engine} not ready after {timeout} s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def post(port, body):
    """POST /v1/completions, not streamed: the response's JSON."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:500]!r}")
    out = json.loads(r.read())
    c.close()
    return out


def prompt(rng, n):
    return [rng.randrange(VOCAB_FIRST_PLAIN, args.vocab) for _ in range(n)]


def request(n_prompt, max_tokens, rng, stream=False):
    body = {"prompt": prompt(rng, n_prompt), "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
            "stream": stream}
    if args.served_model:
        body["model"] = args.served_model
    return body


def completion_tokens(resp):
    return resp["usage"]["completion_tokens"]


def measure_prefill(server, n, rng):
    body = request(n, 1, rng)
    load, c0, t0 = load1(), cpu_seconds(server.proc.pid), time.perf_counter()
    post(server.port, body)
    t, c = time.perf_counter() - t0, cpu_seconds(server.proc.pid) - c0
    return {"measure": f"prefill {n}", "wall": n / t, "cpu": n / c if c > 0 else None, "seconds": t,
            "cpu_seconds": c, "load": load}


def measure_decode(server, n, rng):
    body = request(16, n, rng, stream=True)
    load = load1()
    pid = server.proc.pid
    # the CPU time is read when the first token arrives: the prompt's prefill is not counted
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1800)
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:500]!r}")
    arrivals, c_first = [], None
    while True:
        line = r.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        if line[6:] == b"[DONE]":
            break
        chunk = json.loads(line[6:])
        if "error" in chunk:
            raise RuntimeError(f"stream error: {chunk['error']}")
        choices = chunk.get("choices") or []
        if choices and choices[0].get("text") is not None:
            arrivals.append(time.perf_counter())
            if c_first is None:
                c_first = cpu_seconds(pid)
    c_end = cpu_seconds(pid)
    c.close()
    # both servers send one chunk per token; a chunk count below n means tokens were merged or lost
    if len(arrivals) < n:
        print(f"  note: {server.engine} streamed {len(arrivals)} chunks for {n} tokens", flush=True)
    t = arrivals[-1] - arrivals[0]
    cpu = c_end - c_first
    return {"measure": "decode", "wall": (n - 1) / t, "cpu": (n - 1) / cpu if cpu > 0 else None, "seconds": t,
            "cpu_seconds": cpu, "load": load, "chunks": len(arrivals)}


def measure_concurrent(server, conc, n, rng):
    bodies = [request(16, n, rng) for _ in range(conc)]
    results, errors = [None] * conc, []

    def one(i):
        try:
            results[i] = post(server.port, bodies[i])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(conc)]
    load, c0, t0 = load1(), cpu_seconds(server.proc.pid), time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t, c = time.perf_counter() - t0, cpu_seconds(server.proc.pid) - c0
    if errors:
        raise RuntimeError(f"{len(errors)} of {conc} requests failed: {errors[0]}")
    tokens = sum(completion_tokens(r) for r in results)
    if tokens != conc * n:
        raise RuntimeError(f"{server.engine}: {tokens} tokens for {conc} x {n}")
    return {"measure": f"{conc} concurrent x {n}", "wall": tokens / t, "cpu": tokens / c if c > 0 else None,
            "seconds": t, "cpu_seconds": c, "load": load}


def start(engine, dtype, threads, log):
    port = free_port()
    if engine == "nuri":
        env = {k: v for k, v in os.environ.items() if not k.startswith("NURI_")}
        env.update({"NURI_MODEL": str(args.model), "NURI_TOKENIZER": str(args.tokenizer), "NURI_PORT": str(port),
                    "NURI_PEER_PORT": str(free_port()), "NURI_BIND_HOST": "127.0.0.1",
                    "NURI_KERNEL_THREADS": str(threads), "NURI_KV_CACHE_TOKENS": str(args.ctx),
                    "NURI_SERVED_MODEL_NAME": "bench"})
        if dtype == "q8_0":
            env["NURI_QUANTIZATION"] = "q8_0"
            if args.nuri_quantize_lm_head:
                env["NURI_QUANTIZE_LM_HEAD"] = "true"
        java = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java")
        cmd = [java, f"-Xmx{args.heap}", *nuri_jvm_options(java), *args.nuri_jvm_args.split(), "--add-modules", "jdk.incubator.vector",
               "--enable-native-access=ALL-UNNAMED", "-cp", str(args.worker_jar), "dev.nuri.worker.WorkerMain", "shard"]
        return Server(engine, cmd, env, port, "/health/ready", log)
    gguf = args.gguf_bf16 if dtype == "bf16" else args.gguf_q8_0
    cmd = [str(args.llama_server), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port), "-t", str(threads),
           "-tb", str(threads), "-c", str(args.ctx), "--parallel", str(max(args.concurrency_list())),
           "--kv-unified", "-cram", "0", "--no-webui"]
    return Server(engine, cmd, dict(os.environ), port, "/health", log)


def nuri_jvm_options(java):
    """A shard pod's JVM options (dev.nuri.contract.WorkerJvm, read from the worker jar), or the serial collector."""
    if args.nuri_gc == "serial":
        return ["-XX:+UseSerialGC"]
    out = subprocess.run([java, "-cp", str(args.worker_jar), "dev.nuri.contract.WorkerJvm"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def run_one(engine, dtype, threads, rnd, out):
    log = args.logs / f"{engine}-{dtype}-t{threads}-r{rnd}.log"
    rng = random.Random(hash((engine, dtype, threads, rnd)) & 0xFFFFFFFF)
    t0 = time.time()
    server = start(engine, dtype, threads, log)
    rows = []
    try:
        server.wait_ready()
        ready_s = time.time() - t0
        # warm-up: the JIT (Nuri) and the first-touch page faults (both); not measured
        post(server.port, request(max(args.prefill_list()), 1, rng))
        post(server.port, request(16, args.warmup_tokens, rng))
        conc = min(args.concurrency_list())
        ts = [threading.Thread(target=post, args=(server.port, request(16, 4, rng))) for _ in range(conc)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        for p in args.prefill_list():
            rows.append(measure_prefill(server, p, rng))
        rows.append(measure_decode(server, args.decode, rng))
        for conc, n in args.concurrency_pairs():
            rows.append(measure_concurrent(server, conc, n, rng))
        rows.append({"measure": "rss", "wall": status_kb(server.proc.pid, "VmRSS") / 1e6, "cpu": None,
                     "hwm": status_kb(server.proc.pid, "VmHWM") / 1e6, "anon": status_kb(server.proc.pid, "RssAnon") / 1e6,
                     "file": status_kb(server.proc.pid, "RssFile") / 1e6, "load": load1()})
    finally:
        server.stop()
    for r in rows:
        r.update({"engine": engine, "dtype": dtype, "threads": threads, "round": rnd, "ready_s": ready_s})
        out.write(json.dumps(r) + "\n")
        out.flush()
        if r["measure"] == "rss":
            print(f"  {engine:5} {dtype:5} t{threads} r{rnd} rss: {r['wall']:.2f} GB (peak {r['hwm']:.2f}; anonymous {r['anon']:.2f}, "
                  f"file pages {r['file']:.2f})", flush=True)
        else:
            cpu = f"{r['cpu']:.1f}" if r["cpu"] else "-"
            print(f"  {engine:5} {dtype:5} t{threads} r{rnd} {r['measure']:22} {r['wall']:8.1f} tok/s wall "
                  f"{cpu:>8} tok/CPU-s  load {r['load']:.1f}", flush=True)
    print(f"  ({engine} ready in {ready_s:.1f} s, run {time.time() - t0:.0f} s)", flush=True)
    return rows


def fmt3(values, digits=1):
    if not values:
        return "-"
    return " / ".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))


def table(rows):
    """Markdown: per dtype, threads and measure, both engines' min / median / max, wall and per CPU-second."""
    probes = [r for r in rows if r["engine"] == "probe"]
    keys = {(r["dtype"], r["threads"]) for r in probes}  # the probe run before each dtype's runs
    bw = {k: statistics.median(r["wall"] for r in probes if (r["dtype"], r["threads"]) == k) for k in keys}
    bw_cpu = {k: statistics.median(r["cpu"] for r in probes if (r["dtype"], r["threads"]) == k) for k in keys}
    for t, v in args.read_gbps or []:  # given on the command line: wins over the probes
        bw.update({(d, t): v for d in args.bytes_per_token})
    for t, v in args.read_gb_per_cpu_s or []:
        bw_cpu.update({(d, t): v for d in args.bytes_per_token})
    rows = [r for r in rows if r["engine"] != "probe"]
    out = ["| dtype | threads | measure | Nuri wall | llama.cpp wall | ratio | Nuri per CPU-s | llama.cpp per CPU-s | ratio | load |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    keys = []
    for r in rows:
        k = (r["dtype"], r["threads"], r["measure"])
        if k not in keys:
            keys.append(k)
    for dtype, threads, measure in keys:
        sel = lambda e, f: [r[f] for r in rows if (r["engine"], r["dtype"], r["threads"], r["measure"]) == (e, dtype, threads, measure) and r.get(f)]
        nw, lw, nc, lc = sel("nuri", "wall"), sel("llama", "wall"), sel("nuri", "cpu"), sel("llama", "cpu")
        loads = sel("nuri", "load") + sel("llama", "load")
        ratio = lambda a, b: f"{statistics.median(a) / statistics.median(b):.2f}×" if a and b else "-"
        d = 2 if measure == "rss" else 1
        name = measure + (" (GB)" if measure == "rss" else "")
        out.append(f"| {dtype} | {threads} | {name} | {fmt3(nw, d)} | {fmt3(lw, d)} | {ratio(nw, lw)} | {fmt3(nc)} | {fmt3(lc)} | "
                   f"{ratio(nc, lc)} | {min(loads):.1f}–{max(loads):.1f} |" if loads else "")
        if measure == "decode":
            # each engine against the bytes it reads per token: they differ for Q8_0 (llama.cpp's lm_head is Q8_0 too)
            bpts = {"Nuri": args.bytes_per_token.get(dtype), "llama.cpp": args.llama_bytes_per_token.get(dtype)}
            if bpts["Nuri"] and (bw.get((dtype, threads)) or bw_cpu.get((dtype, threads))):
                parts = []
                for label, gbps in (("wall", bw.get((dtype, threads))), ("per CPU-s", bw_cpu.get((dtype, threads)))):
                    if not gbps:
                        continue
                    src = dict(zip(("Nuri", "llama.cpp"), (nw, lw) if label == "wall" else (nc, lc)))
                    shares = []
                    for e, v in src.items():
                        if v and bpts.get(e):
                            limit = gbps * 1e9 / bpts[e]
                            shares.append(f"{e} {bpts[e] / 1e6:.0f} MB/token, limit {limit:.1f} tok/s, {statistics.median(v) / limit:.0%}")
                    parts.append(f"{label} at {gbps:.1f} GB/s: {' · '.join(shares)}")
                out.append(f"| {dtype} | {threads} | roofline of decode | {'; '.join(parts)} | | | | | | |")
    return "\n".join(out)


def read_probe(threads):
    """The machine's read bandwidth now, as Nuri's `bench` measures it (1 GiB vector sum on the kernel pool, best of 3):
    (GB/s wall, GB per CPU-second)."""
    java = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java")
    out = subprocess.run([java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-jar",
                          str(args.kernels_jar), "bench", "--model", str(args.model), "--threads", str(threads), "--prompt", "16",
                          "--steps", "4", "--batch", "1", "--rounds", "3"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"read bandwidth ([0-9.]+) GB/s, ([0-9.]+) GB per CPU-second", out)
    if not m:
        raise RuntimeError("no read bandwidth in bench's output: " + out)
    return float(m.group(1)), float(m.group(2))


def kv_pairs(text, conv):
    return [(conv[0](k), conv[1](v)) for k, v in (p.split("=") for p in text.split(","))] if text else None


def main():
    global args
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path.home() / ".cache/nuri/bench-qwen3moe-bf16", help="HF checkpoint (Nuri)")
    p.add_argument("--tokenizer", type=Path, default=None, help="tokenizer dir for Nuri (default: written next to --out)")
    p.add_argument("--vocab", type=int, default=None, help="vocabulary size (default: the checkpoint's config.json)")
    p.add_argument("--worker-jar", type=Path, default=Path("runtime-image/target/nuri-worker.jar"))
    p.add_argument("--llama-server", type=Path, default=os.environ.get("LLAMA_SERVER"))
    p.add_argument("--gguf-bf16", type=Path, default=os.environ.get("GGUF_BF16"))
    p.add_argument("--gguf-q8_0", type=Path, default=os.environ.get("GGUF_Q8_0"))
    p.add_argument("--engines", default="nuri,llama")
    p.add_argument("--dtypes", default="bf16,q8_0")
    p.add_argument("--threads", default="1")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--prefill", default="256,1024")
    p.add_argument("--decode", type=int, default=64, help="tokens of the single-stream decode")
    p.add_argument("--concurrency", default="16:32,64:16", help="C:N pairs: C requests at once of N tokens each")
    # 32 left Nuri's JIT compiling its decode kernels inside the measured decode (2 threads: 76 against 93 tok/s
    # after 512; docs/benchmarks.md, "Warm-up"); llama.cpp, compiled ahead of time, gets the same warm-up
    p.add_argument("--warmup-tokens", type=int, default=512, help="tokens of one decode before the measures (both engines)")
    p.add_argument("--ctx", type=int, default=4096, help="llama-server -c (one KV pool for all slots, --kv-unified); Nuri's KV cache tokens")
    p.add_argument("--heap", default="2g", help="Nuri's -Xmx")
    p.add_argument("--nuri-gc", choices=("g1", "serial"), default="g1",
                   help="Nuri's collector (g1: the worker's default, WorkerJvm.OPTIONS; serial: before issue 14's memory work)")
    p.add_argument("--served-model", default=None)
    # Nuri's Q8_0: experts and attention at 34 bytes per 32 weights, lm_head (65.5 MB) and routers as stored; llama.cpp's
    # Q8_0 GGUF: lm_head in Q8_0 too (34.8 MB), routers in F32
    p.add_argument("--nuri-quantize-lm-head", action="store_true",
                   help="Nuri's q8_0 with lm_head in Q8_0 too (NURI_QUANTIZE_LM_HEAD), as llama.cpp's Q8_0 GGUF has it")
    p.add_argument("--bytes-per-token", default=None,
                   help="weights Nuri reads per decoded token (roofline); default bf16=310e6,q8_0=196e6 (166e6 with its lm_head in Q8_0)")
    p.add_argument("--llama-bytes-per-token", default="bf16=310e6,q8_0=166e6", help="the same for llama.cpp")
    p.add_argument("--read-gbps", default=None, help="measured read bandwidth, wall GB/s, per thread count: 1=21.8,2=30")
    p.add_argument("--read-gb-per-cpu-s", default=None, help="the same per CPU-second: 1=14.0")
    p.add_argument("--kernels-jar", type=Path, default=Path("kernels/target/nuri-kernels.jar"))
    p.add_argument("--no-read-probe", dest="read_probe", action="store_false",
                   help="skip the read-bandwidth probe (Nuri's `bench`) before each dtype and thread count")
    p.add_argument("--nuri-jvm-args", default="", help="extra JVM options for the worker, e.g. a JFR recording")
    p.add_argument("--out", type=Path, default=Path("target/llamacpp-compare/results.jsonl"))
    p.add_argument("--table-only", action="store_true", help="print the table of an existing --out and exit")
    args = p.parse_args()
    args.prefill_list = lambda: [int(x) for x in args.prefill.split(",") if x]
    args.concurrency_pairs = lambda: [tuple(int(y) for y in x.split(":")) for x in args.concurrency.split(",") if x]
    args.concurrency_list = lambda: [c for c, _ in args.concurrency_pairs()] or [1]
    if args.bytes_per_token is None:
        args.bytes_per_token = "bf16=310e6,q8_0=" + ("166e6" if args.nuri_quantize_lm_head else "196e6")
    args.bytes_per_token = {k: float(v) for k, v in (x.split("=") for x in args.bytes_per_token.split(","))}
    args.llama_bytes_per_token = {k: float(v) for k, v in (x.split("=") for x in args.llama_bytes_per_token.split(","))}
    args.read_gbps = kv_pairs(args.read_gbps, (int, float))
    args.read_gb_per_cpu_s = kv_pairs(args.read_gb_per_cpu_s, (int, float))
    if args.table_only:
        print(table([json.loads(l) for l in args.out.read_text().splitlines() if l.strip()]))
        return
    engines = args.engines.split(",")
    dtypes = args.dtypes.split(",")
    if "llama" in engines:
        for what, path in (("--llama-server", args.llama_server),) + tuple(
                (f"--gguf-{d}", args.gguf_bf16 if d == "bf16" else args.gguf_q8_0) for d in dtypes):
            if not path or not Path(path).exists():
                sys.exit(f"llama.cpp: {what} is missing or does not exist ({path})")
    if "nuri" in engines and not args.worker_jar.exists():
        sys.exit(f"no worker jar at {args.worker_jar}: ./mvnw -pl runtime-image -am package -DskipTests")
    if args.vocab is None:
        args.vocab = json.loads((args.model / "config.json").read_text())["vocab_size"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.logs = args.out.parent / "logs"
    args.logs.mkdir(exist_ok=True)
    if args.tokenizer is None:
        args.tokenizer = args.out.parent / "tokenizer"
        write_tokenizer(args.tokenizer, args.vocab)
    rows = []
    started = time.time()
    with open(args.out, "a") as out:
        for dtype in dtypes:
            for threads in [int(t) for t in args.threads.split(",")]:
                if args.read_probe and "nuri" in engines:
                    load = load1()
                    gbps, cpu = read_probe(threads)
                    r = {"engine": "probe", "dtype": dtype, "threads": threads, "measure": "read GB/s", "wall": gbps,
                         "cpu": cpu, "load": load}
                    rows.append(r)
                    out.write(json.dumps(r) + "\n")
                    print(f"  read bandwidth ({threads} threads): {gbps:.1f} GB/s wall, {cpu:.1f} GB per CPU-second, load {load:.1f}", flush=True)
                for rnd in range(args.rounds):
                    order = engines if rnd % 2 == 0 else engines[::-1]  # A B, B A, A B: alternating
                    for engine in order:
                        print(f"{time.strftime('%H:%M:%S', time.gmtime())} {engine} {dtype} threads {threads} round {rnd + 1}", flush=True)
                        rows += run_one(engine, dtype, threads, rnd, out)
    print(f"\n{len(rows)} measures in {time.time() - started:.0f} s\n")
    print(table(rows))


if __name__ == "__main__":
    main()
