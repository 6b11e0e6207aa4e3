"""The official openai client, unmodified, through the Files and Batch API of a running Nuri worker (builtin:tiny-axk1,
NURI_BATCH_DIR set): files.create, batches.create, batches.retrieve until the batch ends, files.content of the output
and error files, batches.list, batches.cancel. Run by BatchApiTest; by hand:
    python batch_client_check.py http://127.0.0.1:8000/v1
Exits non-zero (with the assertion) on the first check that fails."""
import io
import json
import sys
import time

import openai
from openai import OpenAI

MODEL = "tiny-axk1"


def request(custom_id, url, body):
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def wait_until_ended(client, batch_id, limit_s=240):
    deadline = time.time() + limit_s
    seen = []
    while time.time() < deadline:
        b = client.batches.retrieve(batch_id)
        if not seen or seen[-1] != b.status:
            seen.append(b.status)
        if b.status in ("completed", "failed", "cancelled", "expired"):
            return b, seen
        time.sleep(0.2)  # polling, as a client of the Batch API does
    raise AssertionError(f"batch {batch_id} still {seen[-1]} after {limit_s} s")


def main(base_url):
    client = OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    lines = [request(f"chat-{i}", "/v1/chat/completions",
                     {"model": MODEL, "messages": [{"role": "user", "content": f"Say {i}"}], "max_tokens": 4, "temperature": 0})
             for i in range(4)]
    lines.append(request("bad-max-tokens", "/v1/chat/completions",
                         {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}))
    uploaded = client.files.create(file=("requests.jsonl", io.BytesIO("\n".join(lines).encode())), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len("\n".join(lines).encode()), uploaded
    assert client.files.retrieve(uploaded.id).filename == "requests.jsonl"

    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h",
                                  metadata={"job": "client-check"})
    assert batch.status in ("validating", "in_progress"), batch.status
    assert batch.request_counts.total == 5, batch.request_counts
    done, statuses = wait_until_ended(client, batch.id)
    assert done.status == "completed", (done.status, done.errors)
    assert done.request_counts.completed == 4 and done.request_counts.failed == 1, done.request_counts
    assert done.metadata == {"job": "client-check"}, done.metadata
    assert done.completed_at and done.in_progress_at and done.finalizing_at, done

    output = [json.loads(l) for l in client.files.content(done.output_file_id).text.splitlines() if l]
    assert sorted(o["custom_id"] for o in output) == [f"chat-{i}" for i in range(4)], output
    for o in output:
        assert o["error"] is None and o["response"]["status_code"] == 200, o
        body = o["response"]["body"]
        assert body["object"] == "chat.completion" and body["choices"][0]["message"]["role"] == "assistant", body
        assert body["usage"]["completion_tokens"] <= 4, body
    errors = [json.loads(l) for l in client.files.content(done.error_file_id).text.splitlines() if l]
    assert [e["custom_id"] for e in errors] == ["bad-max-tokens"], errors
    assert errors[0]["response"]["status_code"] == 400, errors
    assert errors[0]["response"]["body"]["error"]["param"] == "max_tokens", errors
    assert "max_tokens" in errors[0]["error"]["message"], errors

    assert batch.id in [b.id for b in client.batches.list(limit=10).data]

    # a file that is not a batch input is refused whole, naming its bad line
    try:
        client.files.create(file=("bad.jsonl", io.BytesIO((lines[0] + "\n{not json\n").encode())), purpose="batch")
        raise AssertionError("a file with a line that is not JSON was accepted")
    except openai.BadRequestError as e:
        assert "line 2" in e.message, e.message

    # cancelling: a long batch goes cancelling -> cancelled, keeping what was answered
    long_lines = [request(f"long-{i}", "/v1/completions", {"model": MODEL, "prompt": f"Count {i}", "max_tokens": 64,
                                                            "ignore_eos": True}) for i in range(40)]
    f = client.files.create(file=("long.jsonl", io.BytesIO("\n".join(long_lines).encode())), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/completions", completion_window="24h")
    cancelling = client.batches.cancel(b.id)
    assert cancelling.status in ("cancelling", "cancelled"), cancelling.status
    ended, _ = wait_until_ended(client, b.id)
    assert ended.status == "cancelled", ended.status
    assert ended.request_counts.completed < 40, ended.request_counts
    client.files.delete(f.id)
    try:
        client.files.retrieve(f.id)
        raise AssertionError("a deleted file is still there")
    except openai.NotFoundError:
        pass
    print("statuses seen:", " -> ".join(statuses))
    print("all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
