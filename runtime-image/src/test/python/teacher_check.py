"""Reads a run-batch teacher file with Python's safetensors package and checks it against the JSONL output it came
with: one entry per answered custom_id, rows = prompt tokens - 1 + completion tokens, top-k sorted, and the completion
rows' token log-probabilities equal to the JSON's. Run by RunBatchTest:
    python teacher_check.py teacher.safetensors out.jsonl K"""
import json
import sys

import numpy as np
from safetensors import safe_open


def main(path, output, k):
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
        ids, logprobs = f.get_tensor("ids"), f.get_tensor("logprobs")
        tokens, token_logprobs = f.get_tensor("tokens"), f.get_tensor("token_logprobs")
    assert meta["format"] == "nuri-teacher-v1" and meta["model"] == "tiny-axk1" and int(meta["k"]) == k, meta
    assert ids.dtype == np.int32 and logprobs.dtype == np.float32 and tokens.dtype == np.int32, (ids.dtype, logprobs.dtype)
    custom_ids, offsets = json.loads(meta["custom_ids"]), json.loads(meta["offsets"])
    assert ids.shape == logprobs.shape == (len(tokens), k), (ids.shape, logprobs.shape, tokens.shape)
    assert np.all(np.diff(logprobs, axis=1) <= 0), "top-k not sorted most likely first"
    assert np.all(logprobs <= 0) and np.all(ids >= 0), "log-probabilities must be <= 0 and ids valid"
    answers = {}
    for line in open(output):
        if line.strip():
            o = json.loads(line)
            answers[o["custom_id"]] = o
    ok = [c for c, o in answers.items() if o["error"] is None]
    assert sorted(custom_ids) == sorted(ok), (sorted(custom_ids), sorted(ok))
    for cid, (start, prompt_rows, completion_rows) in zip(custom_ids, offsets):
        body = answers[cid]["response"]["body"]
        choice = body["choices"][0]
        assert prompt_rows == body["usage"]["prompt_tokens"] - 1, (cid, prompt_rows, body["usage"])
        assert completion_rows == body["usage"]["completion_tokens"], (cid, completion_rows, body["usage"])
        lp = choice["logprobs"]
        chat = "content" in lp
        expected = np.array([t["logprob"] for t in lp["content"]] if chat else lp["token_logprobs"], dtype=np.float32)
        got = token_logprobs[start + prompt_rows:start + prompt_rows + completion_rows]
        assert np.allclose(got, expected, atol=1e-6), (cid, got, expected)
        # the top-1 of each completion row is at least as likely as the sampled token
        assert np.all(logprobs[start + prompt_rows:start + prompt_rows + completion_rows, 0] >= got - 1e-6)
    print(f"teacher file: {len(custom_ids)} requests, {len(tokens)} positions, top-{k}")
    print("all checks passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
