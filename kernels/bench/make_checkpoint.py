#!/usr/bin/env python3
"""Writes a random Qwen3-MoE checkpoint in BF16 (Hugging Face layout: config.json + model.safetensors) for the
decode benchmarks: large enough (about 1.8 GB, 300 MB read per decoded token) that decode is memory-bound, as
in issue 14's comparison. Pure Python (no numpy/torch): weights are random bf16 bit patterns of magnitude
2^-7 .. 2^-3 with a random sign, norms are 1.

usage: kernels/bench/make_checkpoint.py DIR [--layers 8] [--experts 64]
"""
import argparse
import json
import os
import struct

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--layers", type=int, default=8)
p.add_argument("--experts", type=int, default=64)
p.add_argument("--hidden", type=int, default=1024)
p.add_argument("--moe-intermediate", type=int, default=512)
p.add_argument("--vocab", type=int, default=32000)
a = p.parse_args()

H, I, E, L, V = a.hidden, a.moe_intermediate, a.experts, a.layers, a.vocab
HEADS, KV, HD = 16, 4, 64
config = {
    "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "attention_bias": False,
    "bos_token_id": 1, "eos_token_id": 2, "decoder_sparse_step": 1, "mlp_only_layers": [],
    "head_dim": HD, "hidden_act": "silu", "hidden_size": H, "intermediate_size": 4 * I,
    "max_position_embeddings": 4096, "moe_intermediate_size": I, "norm_topk_prob": True,
    "num_attention_heads": HEADS, "num_key_value_heads": KV, "num_experts": E, "num_experts_per_tok": 8,
    "num_hidden_layers": L, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": False,
    "vocab_size": V, "torch_dtype": "bfloat16", "use_sliding_window": False, "sliding_window": None,
}

tensors = [("model.embed_tokens.weight", [V, H]), ("lm_head.weight", [V, H]), ("model.norm.weight", [H])]
for l in range(L):
    x = f"model.layers.{l}."
    tensors += [(x + "input_layernorm.weight", [H]), (x + "post_attention_layernorm.weight", [H]),
                (x + "self_attn.q_proj.weight", [HEADS * HD, H]), (x + "self_attn.k_proj.weight", [KV * HD, H]),
                (x + "self_attn.v_proj.weight", [KV * HD, H]), (x + "self_attn.o_proj.weight", [H, HEADS * HD]),
                (x + "self_attn.q_norm.weight", [HD]), (x + "self_attn.k_norm.weight", [HD]),
                (x + "mlp.gate.weight", [E, H])]
    for e in range(E):
        y = f"{x}mlp.experts.{e}."
        tensors += [(y + "gate_proj.weight", [I, H]), (y + "up_proj.weight", [I, H]), (y + "down_proj.weight", [H, I])]

header, offset = {}, 0
for name, shape in tensors:
    n = 2
    for d in shape:
        n *= d
    header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
    offset += n
hb = json.dumps(header).encode()
hb += b" " * (-len(hb) % 8)

# high byte of a bf16: sign | top 7 exponent bits; exponents 120..123 (the low byte's top bit is the last one)
HIGH = bytes([60, 61, 188, 189][b % 4] for b in range(256))
os.makedirs(a.dir, exist_ok=True)
with open(os.path.join(a.dir, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
with open(os.path.join(a.dir, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(hb)) + hb)
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        if len(shape) == 1:
            f.write(struct.pack("<H", 0x3F80) * n)  # 1.0
            continue
        for start in range(0, n, 1 << 22):
            m = min(1 << 22, n - start)
            buf = bytearray(2 * m)
            buf[0::2] = os.urandom(m)
            buf[1::2] = os.urandom(m).translate(HIGH)
            f.write(buf)
print(f"{a.dir}: {offset / 1e9:.2f} GB of BF16 weights")
