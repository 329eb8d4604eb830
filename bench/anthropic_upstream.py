"""The fake upstream's Anthropic Messages API answers: precomputed bytes, like the OpenAI ones.

``POST .../v1/messages`` answers a small ``message``; with ``"stream": true`` it answers
Anthropic's event sequence with 20 ``text_delta`` events (``message_start``,
``content_block_start``, ``ping``, deltas, ``content_block_stop``, ``message_delta``,
``message_stop``), one HTTP chunk per event as Anthropic sends them.
"""

from __future__ import annotations

import json

from tinyhttp import json_response

__all__ = ["message_body", "stream_events", "plain_response", "stream_response", "STREAM_CHUNKS"]

STREAM_CHUNKS = 20
_ID = "msg_bench000000000000000000"


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def message_body() -> bytes:
    return _dumps({
        "id": _ID, "type": "message", "role": "assistant", "model": "claude-bench",
        "content": [{"type": "text", "text": "Hello! This is the bench upstream answering."}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 9, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0},
    })


def _event(event: dict) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + _dumps(event) + b"\n\n"


def stream_events() -> list[bytes]:
    start = {"id": _ID, "type": "message", "role": "assistant", "model": "claude-bench", "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    events = [{"type": "message_start", "message": start},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              {"type": "ping"}]
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"tok{i} "}}
               for i in range(STREAM_CHUNKS)]
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": STREAM_CHUNKS}},
               {"type": "message_stop"}]
    return [_event(e) for e in events]


def plain_response() -> bytes:
    return json_response(message_body())


def stream_response() -> bytes:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in stream_events())
    return head + chunks + b"0\r\n\r\n"

