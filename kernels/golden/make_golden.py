"""Builds tiny random models of each architecture Nuri serves, runs transformers on them and saves
config.json + safetensors + golden.json (prompt, greedy continuation, routing margins) + logits.f32
(float32 little-endian [positions, vocab]) per fixture. Java tests (GoldenModelTest) load the same files.

Variants: <arch>-f32 for all four architectures, axk1-bf16 / axk1-f16 (weights rounded to bfloat16 /
IEEE float16), axk1-fp8 (linear weights in FP8 e4m3 with DeepSeek's 128x128 block scales, per-expert
layout as released) and axk1-q8_0. For BF16/F16/FP8 the reference runs transformers in float32 on exactly
the stored (rounded) weights, so the comparison checks the Java dequantisation and kernels rather than
torch's reduced-precision arithmetic. axk1-q8_0 holds no weights: its golden.json points at axk1-f32
("weights"), which the Java test loads with LoadOptions(quantizeQ8_0=true); the reference runs on the
axk1-f32 weights put through a bit-exact copy of the Java Q8_0 quantizer (ops/Q8Matrix.quantize).
"""
import json, math, os, shutil, sys
import numpy as np
import torch
from safetensors.torch import save_file, load_file
import transformers
from transformers import (AXK1Config, AXK1ForCausalLM, DeepseekV3Config, DeepseekV3ForCausalLM,
                          Qwen3MoeConfig, Qwen3MoeForCausalLM, MixtralConfig, MixtralForCausalLM)

OUT = sys.argv[1] if len(sys.argv) > 1 else "../src/test/resources/golden"
PROMPT_LEN, NEW_TOKENS = 12, 32
ROUTE_MARGIN, GREEDY_MARGIN = 1e-3, 1e-2
torch.set_num_threads(2)

COMMON = dict(vocab_size=256, hidden_size=128, num_hidden_layers=4, num_attention_heads=4, rms_norm_eps=1e-6,
              max_position_embeddings=512, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
MLA = dict(intermediate_size=128, moe_intermediate_size=16, num_key_value_heads=4, kv_lora_rank=32,
           qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32, n_routed_experts=16, n_shared_experts=1,
           num_experts_per_tok=4, n_group=4, topk_group=2, routed_scaling_factor=2.5, norm_topk_prob=True)
YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 128,
        "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 1.0}


def make(arch):
    if arch == "axk1":
        cfg = AXK1Config(**COMMON, **MLA, q_lora_rank=64, first_k_dense_replace=1, rope_parameters=YARN)
        return AXK1ForCausalLM(cfg)
    if arch == "deepseek_v3":  # q_lora_rank None: exercises the plain q_proj path; 2 dense layers
        cfg = DeepseekV3Config(**COMMON, **MLA, q_lora_rank=None, first_k_dense_replace=2,
                               rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        return DeepseekV3ForCausalLM(cfg)
    if arch == "qwen3_moe":
        cfg = Qwen3MoeConfig(**COMMON, intermediate_size=128, moe_intermediate_size=16, num_key_value_heads=2,
                             head_dim=32, num_experts=16, num_experts_per_tok=4, norm_topk_prob=False,
                             decoder_sparse_step=1, mlp_only_layers=[0],
                             rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
        return Qwen3MoeForCausalLM(cfg)
    if arch == "mixtral":
        cfg = MixtralConfig(**COMMON, intermediate_size=16, num_key_value_heads=2, num_local_experts=16,
                            num_experts_per_tok=4, rope_parameters={"rope_type": "default", "rope_theta": 1e6})
        return MixtralForCausalLM(cfg)
    raise ValueError(arch)


def randomize(model, seed):
    """Weights ~ N(0, 1/fan_in) so signals keep their size (HF's 0.02 init makes near-uniform logits)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                b.copy_(0.05 * torch.randn(b.shape, generator=g))
    model.eval()


def route_margins(model, arch, ids):
    """Smallest gap, over every token and MoE layer, between the last chosen and first rejected candidate."""
    cfg = model.config
    captured = []
    hooks = []
    for layer in model.model.layers:
        gate = getattr(layer.mlp, "gate", None)
        if gate is not None and hasattr(layer.mlp, "experts"):
            hooks.append(gate.register_forward_hook(lambda m, i, o: captured.append(
                (i[0].reshape(-1, i[0].shape[-1]).double() @ m.weight.double().T, m))))
    with torch.no_grad():
        model(torch.tensor([ids]))
    for h in hooks:
        h.remove()
    worst = float("inf")
    for logits, m in captured:
        if arch in ("axk1", "deepseek_v3"):
            s = torch.sigmoid(logits)
            choice = s + m.e_score_correction_bias.double()
            ng, tg, k = cfg.n_group, cfg.topk_group, cfg.num_experts_per_tok
            grp = choice.view(len(ids), ng, -1).topk(2, dim=-1)[0].sum(-1)
            gs = grp.sort(dim=-1, descending=True)[0]
            worst = min(worst, (gs[:, tg - 1] - gs[:, tg]).min().item())
            keep = torch.zeros_like(grp).scatter_(1, grp.topk(tg, dim=-1)[1], 1).bool()
            masked = choice.masked_fill(~keep.repeat_interleave(choice.shape[1] // ng, dim=1), -1e9)
            cs = masked.sort(dim=-1, descending=True)[0]
            worst = min(worst, (cs[:, k - 1] - cs[:, k]).min().item())
        else:
            # softmax is monotonic: the gap in logits is what float error must not bridge
            k = cfg.num_experts_per_tok
            ps = logits.sort(dim=-1, descending=True)[0]
            worst = min(worst, (ps[:, k - 1] - ps[:, k]).min().item())
    return worst


def greedy(model, prompt):
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            logits = model(torch.tensor([ids])).logits[0, -1]
            top = logits.topk(2)
            if (top.values[0] - top.values[1]).item() < GREEDY_MARGIN:
                return None, None
            ids.append(int(top.indices[0]))
    return ids[len(prompt):], ids


def quantize_fp8(w):
    """DeepSeek-style e4m3 with one scale per 128x128 block: w ≈ q * scale_inv[block]."""
    rows, cols = w.shape
    br, bc = (rows + 127) // 128, (cols + 127) // 128
    scale = torch.zeros(br, bc)
    q = torch.zeros(rows, cols, dtype=torch.float8_e4m3fn)
    for i in range(br):
        for j in range(bc):
            blk = w[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128]
            s = max(blk.abs().max().item(), 1e-12) / 448.0
            scale[i, j] = s
            q[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128] = (blk / s).to(torch.float8_e4m3fn)
    deq = q.float() * scale.repeat_interleave(128, 0)[:rows].repeat_interleave(128, 1)[:, :cols]
    return q, scale, deq


def is_quantized_linear(name, t):
    # as in DeepSeek's FP8 release: embeddings, lm_head, router and norms stay in higher precision
    return t.dim() == 2 and not name.endswith("embed_tokens.weight") and name != "lm_head.weight" \
        and not name.endswith("mlp.gate.weight")


def build(arch, variant, seed, out_root):
    torch.manual_seed(seed)
    model = make(arch).float()
    randomize(model, seed)
    name = f"{arch.replace('_', '')}-{variant}"
    d = os.path.join(out_root, name)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d)
    path = os.path.join(d, "model.safetensors")
    sd = load_file(path)
    if variant in ("bf16", "f16"):
        low = torch.bfloat16 if variant == "bf16" else torch.float16
        sd = {k: (v.to(low) if v.dtype == torch.float32 and "gate.e_score" not in k
                  and not k.endswith("mlp.gate.weight") else v) for k, v in sd.items()}
        save_file(sd, path, metadata={"format": "pt"})
        ref = {k: v.float() for k, v in sd.items()}
    elif variant == "fp8":
        out, ref = {}, {}
        for k, v in sd.items():
            if is_quantized_linear(k, v):
                q, s, deq = quantize_fp8(v)
                out[k], out[k + "_scale_inv"], ref[k] = q, s, deq
            else:
                out[k], ref[k] = v, v
        save_file(out, path, metadata={"format": "pt"})
    else:
        ref = sd
    # the reference model runs on exactly the stored weights (reloaded through transformers' own loader
    # for the F32 file; for BF16/F16/FP8 the dequantised values are loaded into a float32 model)
    if variant == "f32":
        model = type(model).from_pretrained(d, dtype=torch.float32)
    else:
        _load_ref(model, ref)
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["eos_token_id"] = 2
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    write_golden(model, arch, name, d, seed, cfg["vocab_size"])


def _load_ref(model, ref):
    missing, unexpected = model.load_state_dict(_to_model_keys(model, ref), strict=False)
    assert not [m for m in missing if "inv_freq" not in m], missing
    model.eval()


def quantize_q8_0(w):
    """Bit-exact copy of the Java loader's Q8Matrix.quantize, returned dequantised: blocks of 32 along the
    last axis, d = fp16(amax / 127f) (float32 quotient rounded to fp16, to nearest even, as Float.floatToFloat16),
    q = clamp(Math.round(x * (1 / d)), -127, 127) (float32 product, ties towards +inf), weight = (float) q * d."""
    x = w.detach().float().numpy().astype(np.float32).reshape(-1, 32)
    amax = np.abs(x).max(axis=1, keepdims=True)
    d = (amax / np.float32(127)).astype(np.float32).astype(np.float16).astype(np.float32)
    inv = np.where(d == 0, np.float32(0), np.float32(1) / np.where(d == 0, np.float32(1), d)).astype(np.float32)
    q = np.clip(np.floor((x * inv).astype(np.float32).astype(np.float64) + 0.5), -127, 127)
    deq = (q.astype(np.float32) * d).astype(np.float32)
    return torch.from_numpy(deq.reshape(w.shape))


def is_q8_linear(name, t, tied=False):
    # ModelLoader: every matrix except lm_head and the router, and the embeddings where tied to lm_head, when cols % 32 == 0
    return t.dim() == 2 and t.shape[-1] % 32 == 0 and not (tied and name.endswith("embed_tokens.weight")) \
        and name != "lm_head.weight" and not name.endswith(".gate.weight")


def build_q8(arch, source, seed, out_root):
    """Reference for the Java loader's load-time Q8_0 re-quantisation of the <source> fixture's weights."""
    name = f"{arch.replace('_', '')}-q8_0"
    src = os.path.join(out_root, source)
    d = os.path.join(out_root, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    sd = load_file(os.path.join(src, "model.safetensors"))
    tied = "lm_head.weight" not in sd
    ref = {k: (quantize_q8_0(v) if is_q8_linear(k, v, tied) else v.float()) for k, v in sd.items()}
    torch.manual_seed(seed)
    model = make(arch).float()
    _load_ref(model, ref)
    cfg = json.load(open(os.path.join(src, "config.json")))
    write_golden(model, arch, name, d, seed, cfg["vocab_size"], {"weights": source, "quantize": "Q8_0"})


def write_golden(model, arch, name, d, seed, vocab, extra=None):
    rng = np.random.default_rng(seed)
    for attempt in range(200):
        prompt = [1] + [int(x) for x in rng.integers(3, vocab, PROMPT_LEN - 1)]
        gen, full = greedy(model, prompt)
        if gen is None or 2 in gen:
            continue
        margin = route_margins(model, arch, full)
        if margin >= ROUTE_MARGIN:
            break
    else:
        raise RuntimeError(f"{name}: no tie-free prompt found")
    with torch.no_grad():
        logits = model(torch.tensor([prompt])).logits[0].float().numpy()
    logits.astype("<f4").tofile(os.path.join(d, "logits.f32"))
    json.dump({"model": name, **(extra or {}), "transformers": transformers.__version__, "torch": torch.__version__,
               "prompt": prompt, "greedy": gen, "logits_shape": list(logits.shape),
               "min_route_margin": margin, "attempts": attempt + 1}, open(os.path.join(d, "golden.json"), "w"), indent=1)
    print(f"{name}: prompt tries {attempt + 1}, route margin {margin:.2e}, "
          f"{sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) / 1e6:.2f} MB")


def _to_model_keys(model, ref):
    """Checkpoint (per-expert) keys back to the model's fused parameters, as transformers' loader does."""
    sd = dict(ref)
    out = {}
    params = dict(model.state_dict())
    for k in params:
        if k in sd:
            out[k] = sd[k]
        elif k.endswith("experts.gate_up_proj"):
            p = k[: -len("gate_up_proj")]
            E = params[k].shape[0]
            g = "w1" if f"{p}0.w1.weight" in sd else "gate_proj"
            u = "w3" if g == "w1" else "up_proj"
            out[k] = torch.stack([torch.cat([sd[f"{p}{e}.{g}.weight"], sd[f"{p}{e}.{u}.weight"]]) for e in range(E)])
        elif k.endswith("experts.down_proj"):
            p = k[: -len("down_proj")]
            E = params[k].shape[0]
            dn = "w2" if f"{p}0.w2.weight" in sd else "down_proj"
            out[k] = torch.stack([sd[f"{p}{e}.{dn}.weight"] for e in range(E)])
        elif k.endswith("mlp.post_mlp_layernorm.weight"):
            out[k] = sd[k.replace("mlp.post_mlp_layernorm", "post_mlp_layernorm")]
    return out


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    only = sys.argv[2:] or None
    for i, (arch, variant) in enumerate([("axk1", "f32"), ("deepseek_v3", "f32"), ("qwen3_moe", "f32"),
                                         ("mixtral", "f32"), ("axk1", "bf16"), ("axk1", "fp8"),
                                         ("axk1", "f16"), ("axk1", "q8_0")]):
        if only is None or f"{arch}-{variant}" in only:
            if variant == "q8_0":
                build_q8(arch, "axk1-f32", 1000 + i, OUT)  # reads axk1-f32, so runs after it
            else:
                build(arch, variant, 1000 + i, OUT)
