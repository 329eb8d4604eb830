"""Translation CPU of the bedrock provider, per request and per streamed chunk (no network).

    python bench/translation.py [--n 20000]

Per request: OpenAI body → Converse body (orjson), SigV4 signature (botocore), Converse
answer → chat.completion. Per chunk: one event-stream frame decoded by botocore and
translated into a chunk payload. Prints microseconds of CPU per operation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import ReadOnlyCredentials  # noqa: E402
from botocore.eventstream import EventStreamBuffer  # noqa: E402

from gatehouse.formats.bedrock_converse import ConverseOptions, chat_answer, chat_request  # noqa: E402
from gatehouse.formats.bedrock_converse_stream import StreamTranslator  # noqa: E402
from gatehouse.testing.aws_wire import event  # noqa: E402

BODY = {"model": "anthropic.claude-3-5-sonnet-20240620-v1:0", "max_tokens": 32,
        "messages": [{"role": "user", "content": "Hello, how are you?"}]}
ANSWER = orjson.dumps({"output": {"message": {"role": "assistant", "content": [{"text": "Hello! This is it."}]}},
                       "stopReason": "end_turn", "usage": {"inputTokens": 12, "outputTokens": 9, "totalTokens": 21}})
URL = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
KEYS = ReadOnlyCredentials("AKIDBENCH", "secret", None)


def _cpu(fn, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n * 1e6


def request() -> None:
    native, json_tool = chat_request(dict(BODY), ConverseOptions())
    data = orjson.dumps(native)
    req = AWSRequest(method="POST", url=URL, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(KEYS, "bedrock", "us-east-1").add_auth(req)
    dict(req.headers.items())
    chat_answer(orjson.loads(ANSWER), BODY["model"], json_tool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    n = parser.parse_args().n
    frames = b"".join(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"tok{i} "}, "p": "abcd"})
                      for i in range(20))
    translator = StreamTranslator("m", include_usage=False)

    def chunks() -> None:
        buffer = EventStreamBuffer()
        buffer.add_data(frames)
        for message in buffer:
            translator.event(message.headers[":event-type"], orjson.loads(message.payload))

    print(f"per request (translate + sign + translate back): {_cpu(request, n):.1f} µs CPU")
    print(f"  of which SigV4 signing: {_cpu(lambda: SigV4Auth(KEYS, 'bedrock', 'us-east-1').add_auth(AWSRequest(method='POST', url=URL, data=b'{}', headers={'Content-Type': 'application/json'})), n):.1f} µs")
    print(f"per streamed chunk (decode frame + translate): {_cpu(chunks, n // 20) / 20:.1f} µs CPU")


if __name__ == "__main__":
    main()
