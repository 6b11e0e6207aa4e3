"""Regenerates the tokenizer and chat-template fixtures the Java tests compare against.

Run from the repository root with a virtualenv that has `tokenizers` and `jinja2`:
    ~/.cache/nuri/venv/bin/python runtime-image/src/test/python/make_fixtures.py
The outputs are committed so that CI needs no Python.
"""
import json
import pathlib

from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

ROOT = pathlib.Path(__file__).resolve().parents[4]
BUILTIN = ROOT / "runtime-image/src/main/resources/dev/nuri/worker/builtin/tiny-axk1"
FIXTURES = ROOT / "runtime-image/src/test/resources/fixtures"

# The builtin model (kernels' "tiny-axk1": vocab 512, bos 1, eos 2) gets a byte-level BPE of exactly 512 ids:
# 8 special tokens first (so that ids 1 and 2 are BOS and EOS), the 256 bytes, then 248 merges learnt from CORPUS.
SPECIALS = ["<|pad|>", "<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>",
            "<|reserved_0|>", "<|reserved_1|>", "<|reserved_2|>"]
# Qwen2's pre-tokenizer split, used for the second (larger) fixture tokenizer.
QWEN_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.  Twice!\n",
    "안녕하세요, 세계! 오늘 날씨가 참 좋네요.",
    "한국어와 English가 섞인 문장입니다: 서울 2025년 3월.",
    "  leading spaces and\ttabs\n\nnewlines ",
    "이모지 🙂 와 한자 漢字, ünïcödé",
    "<|im_start|>user\n안녕<|im_end|>\n",
    "",
]

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Mixture-of-Experts models route each token to a few experts.",
    "Expert parallelism sends hidden states to the shards that own the experts.",
    "Kubernetes operators reconcile the desired state of the cluster.",
    "안녕하세요. 오늘은 날씨가 좋습니다.",
    "대한민국의 수도는 서울입니다. 서울에는 많은 사람이 살고 있습니다.",
    "전문가 혼합 모델은 각 토큰을 몇몇 전문가에게 보냅니다.",
    "한국어 문장과 영어 문장을 함께 학습합니다. English and Korean together.",
    "The worker serves an OpenAI-compatible API: completions, chat completions, streaming and logprobs.",
    "Each shard holds the attention weights and a slice of the routed experts; peers exchange hidden vectors.",
    "오늘 회의는 오후 세 시에 시작합니다. 자료를 미리 읽어 주세요.",
    "인공지능 모델이 질문에 답하고, 사용자는 결과를 확인합니다.",
    "봄에는 꽃이 피고, 여름에는 비가 많이 옵니다. 가을 하늘은 맑고 겨울은 춥습니다.",
    "Numbers like 2025, 3.14 and 1,000,000 appear in text; so do URLs such as https://example.com/a?b=c.",
] * 20


def builtin_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    assert tok.get_vocab_size() == 512, tok.get_vocab_size()
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    return tok


def trained_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def encodings(tok):
    out = []
    for t in TEXTS:
        ids = tok.encode(t, add_special_tokens=False).ids
        out.append({"text": t, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                    "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
    return out


CONVERSATIONS = [
    {"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": "서울의 날씨는 어때요?"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
                  {"role": "user", "content": "Tell me a joke.\nA short one."}], "add_generation_prompt": False},
    {"messages": [{"role": "tool", "content": "{\"temp\": 21}"}], "add_generation_prompt": True},
]


def render(template, conv, bos, eos):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    return env.from_string(template).render(messages=conv["messages"], add_generation_prompt=conv["add_generation_prompt"],
                                            bos_token=bos, eos_token=eos)


def main():
    BUILTIN.mkdir(parents=True, exist_ok=True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    builtin = builtin_tokenizer()
    builtin.save(str(BUILTIN / "tokenizer.json"))
    config = json.loads((BUILTIN / "tokenizer_config.json").read_text())
    trained = trained_tokenizer()
    trained.save(str(FIXTURES / "qwen-style.tokenizer.json"))
    (FIXTURES / "tokenizer-expected.json").write_text(json.dumps(
        {"builtin": encodings(builtin), "qwen-style": encodings(trained)}, ensure_ascii=False, indent=1) + "\n")
    rendered = [dict(conv, rendered=render(config["chat_template"], conv, config["bos_token"], config["eos_token"]))
                for conv in CONVERSATIONS]
    (FIXTURES / "chat-template-expected.json").write_text(json.dumps(
        {"builtin": rendered}, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
