"""Precomputed Bedrock answers for the bench upstream: a Converse JSON answer and a 20-delta ConverseStream.

The stream is real AWS event-stream framing (encoded by ``gatehouse.testing.aws_wire``,
which botocore's decoder reads), one HTTP chunk per frame, as Bedrock sends it.
"""

from __future__ import annotations

import json

from tinyhttp import json_response

STREAM_CHUNKS = 20


def converse_response() -> bytes:
    return json_response(json.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello! This is the bench upstream answering."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 12, "outputTokens": 9, "totalTokens": 21},
        "metrics": {"latencyMs": 10},
    }, separators=(",", ":")).encode())


def converse_stream_response() -> bytes:
    from gatehouse.testing.aws_wire import event  # needs botocore: only loaded when a bedrock route is built

    frames = [event("messageStart", {"role": "assistant", "p": "abcdefgh"})]
    frames += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"tok{i} "}, "p": "abcd"})
               for i in range(STREAM_CHUNKS)]
    frames.append(event("contentBlockStop", {"contentBlockIndex": 0, "p": "ab"}))
    frames.append(event("messageStop", {"stopReason": "end_turn", "p": "abc"}))
    frames.append(event("metadata", {"usage": {"inputTokens": 12, "outputTokens": 20, "totalTokens": 32},
                                     "metrics": {"latencyMs": 10}, "p": "a"}))
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    return head + b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames) + b"0\r\n\r\n"
