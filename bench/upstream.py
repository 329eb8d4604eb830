"""The fake OpenAI-compatible upstream: fixed answers, precomputed bytes.

``POST .../chat/completions`` answers a small ``chat.completion``; with
``"stream": true`` in the body it answers 20 content chunks, a finish chunk
and ``[DONE]`` as server-sent events (chunked transfer encoding, one HTTP
chunk per event, as real providers send them). ``"max_tokens": 1024`` selects a
~4 KB answer instead, and ``"max_tokens": 500`` with ``"stream": true`` a
500-chunk stream, and ``"max_tokens": 50`` with ``"stream": true`` a slow stream
(20 content chunks 50 ms apart: ``bench/slowstreams.py``). The selector is
``max_tokens`` because every gateway forwards it as is. ``POST .../v1/messages``
answers in Anthropic's format (``anthropic_upstream.py``). ``GET /stats`` gives
the request counts; ``GET /health`` answers 200. ``POST /model/<id>/converse`` and
``…/converse-stream`` answer as AWS Bedrock does (``bench/bedrock_wire.py``).

Run: ``python bench/upstream.py --port 8001``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tinyhttp import Paced, Request, Router, json_response, serve  # noqa: E402
import anthropic_upstream  # noqa: E402

STREAM_CHUNKS = 20
_CREATED = 1700000000
_ID = "chatcmpl-bench0000000000000000000000"
_STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')
_MAX_TOKENS = re.compile(rb'"max_tokens"\s*:\s*(\d+)')
BIG_ANSWER_TOKENS = 1024
LONG_STREAM_CHUNKS = 500
SLOW_STREAM_TOKENS = 50
SLOW_STREAM_INTERVAL = 0.05


def big_answer() -> str:
    """~4 KB of answer text: numbered sentences."""
    return "".join(f"Sentence {i} of the long bench answer, with some words. " for i in range(74))


def completion_body(content: str = "Hello! This is the bench upstream answering.") -> bytes:
    return json.dumps({
        "id": _ID,
        "object": "chat.completion",
        "created": _CREATED,
        "model": "bench-model",
        "system_fingerprint": "fp_bench",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
    }, separators=(",", ":")).encode()


def _chunk(delta: dict, finish: str | None) -> bytes:
    event = {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": "bench-model",
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


def stream_events(chunks: int = STREAM_CHUNKS) -> list[bytes]:
    events = [_chunk({"role": "assistant", "content": "tok0 "}, None)]
    events += [_chunk({"content": f"tok{i} "}, None) for i in range(1, chunks)]
    events.append(_chunk({}, "stop"))
    events.append(b"data: [DONE]\n\n")
    return events


def stream_response(events: int = STREAM_CHUNKS) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in stream_events(events))
    return head + chunks + b"0\r\n\r\n"


def slow_stream() -> Paced:
    """The 20-chunk stream with ``SLOW_STREAM_INTERVAL`` seconds between events (the head goes with the first)."""
    events = stream_events()
    pieces = [b"%x\r\n%s\r\n" % (len(e), e) for e in events]
    head = stream_response(0).split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    pieces[0] = head + pieces[0]
    pieces[-1] += b"0\r\n\r\n"
    return Paced(tuple(pieces), SLOW_STREAM_INTERVAL)


def build_router() -> Router:
    router = Router()
    plain, stream = json_response(completion_body()), stream_response()
    big, long_stream = json_response(completion_body(big_answer())), stream_response(LONG_STREAM_CHUNKS)
    slow = slow_stream()

    def chat(request: Request) -> bytes | Paced:
        tokens = _MAX_TOKENS.search(request.body)
        wanted = int(tokens.group(1)) if tokens else 0
        if _STREAM_TRUE.search(request.body):
            if wanted == SLOW_STREAM_TOKENS:
                return slow
            return long_stream if wanted == LONG_STREAM_CHUNKS else stream
        return big if wanted == BIG_ANSWER_TOKENS else plain

    def stats(_: Request) -> bytes:
        return json_response(json.dumps(router.count).encode())

    router.add(b"POST", lambda p: p.endswith(b"/chat/completions"), "chat", chat)
    messages_plain, messages_stream = anthropic_upstream.plain_response(), anthropic_upstream.stream_response()

    def messages(request: Request) -> bytes:
        return messages_stream if _STREAM_TRUE.search(request.body) else messages_plain

    router.add(b"POST", lambda p: p.endswith(b"/v1/messages"), "messages", messages)
    _add_bedrock(router)
    router.add(b"GET", lambda p: p == b"/stats", "stats", stats)
    router.add(b"GET", lambda p: p == b"/health", "health", lambda _: json_response(b'{"status":"ok"}'))
    return router


def _add_bedrock(router: Router) -> None:
    """Bedrock Converse routes (``/model/<id>/converse``, ``…/converse-stream``), counted as ``chat``."""
    from bedrock_wire import converse_response, converse_stream_response

    converse, stream = converse_response(), converse_stream_response()
    router.add(b"POST", lambda p: p.startswith(b"/model/") and p.endswith(b"/converse"), "chat", lambda _: converse)
    router.add(b"POST", lambda p: p.startswith(b"/model/") and p.endswith(b"/converse-stream"), "chat",
               lambda _: stream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(build_router(), args.host, args.port)


if __name__ == "__main__":
    main()
