"""Writes the config.json that each transformers config class produces with every key left to its default
(kernels/src/test/resources/config-defaults/<model_type>.json). ModelConfigTest parses each of them and a
config.json holding only model_type, and expects the same model: Nuri's missing-key defaults are transformers'."""
import json
import sys
from pathlib import Path

from transformers import AXK1Config, DeepseekV3Config, MixtralConfig, Qwen3MoeConfig

out = Path(sys.argv[1] if len(sys.argv) > 1 else "../src/test/resources/config-defaults")
out.mkdir(parents=True, exist_ok=True)
for cls in (AXK1Config, DeepseekV3Config, Qwen3MoeConfig, MixtralConfig):
    config = cls()
    path = out / f"{config.model_type}.json"
    path.write_text(config.to_json_string(use_diff=False))
    print("wrote", path)
