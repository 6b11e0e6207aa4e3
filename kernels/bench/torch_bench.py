"""PyTorch (CPU, same thread count) on the shapes of KernelBench; prints one JSON object of milliseconds."""
import json, sys, time
import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)


def timeit(fn, min_time=1.0):
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        fn()
        n += 1
    return (time.perf_counter() - start) / n * 1e3


res = {"threads": threads, "torch": torch.__version__}
with torch.no_grad():
    for dt, name in [(torch.float32, "F32"), (torch.bfloat16, "BF16")]:
        w = torch.randn(4096, 4096).to(dt)
        x = torch.randn(1, 4096).to(dt)
        res[f"gemv_{name}"] = timeit(lambda: torch.nn.functional.linear(x, w))
        w2 = torch.randn(2048, 2048).to(dt)
        x2 = torch.randn(64, 2048).to(dt)
        res[f"gemm_{name}"] = timeit(lambda: torch.nn.functional.linear(x2, w2))
    # one MoE layer, A.X K1 expert shape, 16 BF16 experts, top-8, transformers' per-expert loop (DeepseekV3Experts)
    H, I, E, K = 7168, 2048, 16, 8
    gate_up = torch.randn(E, 2 * I, H, dtype=torch.bfloat16) / H ** 0.5
    down = torch.randn(E, H, I, dtype=torch.bfloat16) / I ** 0.5
    for batch in (1, 8, 64, 256):
        hs = torch.randn(batch, H, dtype=torch.bfloat16)
        idx = torch.stack([torch.randperm(E)[:K] for _ in range(batch)])
        wts = torch.full((batch, K), 1.0 / K, dtype=torch.bfloat16)

        def moe():
            out = torch.zeros_like(hs)
            mask = torch.nn.functional.one_hot(idx, E).permute(2, 1, 0)
            for e in range(E):
                pos, tok = torch.where(mask[e])
                if tok.numel() == 0:
                    continue
                g, u = torch.nn.functional.linear(hs[tok], gate_up[e]).chunk(2, dim=-1)
                y = torch.nn.functional.linear(torch.nn.functional.silu(g) * u, down[e]) * wts[tok, pos, None]
                out.index_add_(0, tok, y)
            return out
        res[f"moe_{batch}"] = timeit(moe, 2.0)
print(json.dumps(res))
