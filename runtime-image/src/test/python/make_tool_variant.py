"""Writes the builtin model variant tiny-axk1-tools: the tiny-axk1 tokenizer with twelve tool-call tokens (DeepSeek-V3's,
Hermes' <tool_call> pair, Mistral's [TOOL_CALLS]) and a chat template that renders tools, assistant tool calls and
tool results the DeepSeek-V3 way (the format A.X K1 inherits).

The model has exactly 512 ids, so the tool tokens take the ids of twelve merged tokens that no other merge builds on;
their merges go too, so every text still tokenizes (into shorter pieces). The tool tokens are added tokens that are
not special, as in Qwen3's and DeepSeek-V3's tokenizers: they stay in decoded text, where the tool-call parsers read
them. Plain json, no tokenizers library needed. Run from the repository root:
    python3 runtime-image/src/test/python/make_tool_variant.py
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[4]
BUILTIN = ROOT / "runtime-image/src/main/resources/dev/nuri/worker/builtin"
TOOL_TOKENS = ["<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>",
               "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>",
               "<tool_call>", "</tool_call>", "[TOOL_CALLS]"]

TEMPLATE = (
    "{{ bos_token }}"
    "{% if tools %}<|im_start|>system\nYou can call these functions:\n"
    "{% for tool in tools %}{{ tool['function']['name'] }}: {{ tool['function']['description'] }}\n{% endfor %}<|im_end|>\n{% endif %}"
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['role'] == 'tool' %}"
    "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{{ message['content'] }}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>"
    "{% else %}{{ message['content'] | trim }}"
    "{% if message['tool_calls'] %}<｜tool▁calls▁begin｜>{% for call in message['tool_calls'] %}"
    "<｜tool▁call▁begin｜>{{ call['type'] }}<｜tool▁sep｜>{{ call['function']['name'] }}\n```json\n{{ call['function']['arguments'] }}\n```<｜tool▁call▁end｜>"
    "{% endfor %}<｜tool▁calls▁end｜>{% endif %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def main():
    tok = json.loads((BUILTIN / "tiny-axk1/tokenizer.json").read_text())
    config = json.loads((BUILTIN / "tiny-axk1/tokenizer_config.json").read_text())
    vocab, merges = tok["model"]["vocab"], tok["model"]["merges"]
    pairs = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]
    used = {part for pair in pairs for part in pair}
    leaves = [a + b for a, b in pairs if a + b not in used]
    leaves.sort(key=lambda t: (-len(t), t))  # the longest (rarest) merged tokens go first
    freed = leaves[:len(TOOL_TOKENS)]
    ids = sorted(vocab.pop(t) for t in freed)
    tok["model"]["merges"] = [m for m, p in zip(merges, pairs) if p[0] + p[1] not in freed]
    for token_id, content in zip(ids, TOOL_TOKENS):
        tok["added_tokens"].append({"id": token_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                                    "normalized": False, "special": False})
        vocab[content] = token_id
    out = BUILTIN / "tiny-axk1-tools"
    out.mkdir(exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False, indent=2) + "\n")
    config["chat_template"] = TEMPLATE
    (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n")
    print("tool tokens at ids", ids)


if __name__ == "__main__":
    main()
