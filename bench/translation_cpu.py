"""CPU spent translating, in process: per request (OpenAI → Anthropic body, Anthropic answer →
chat.completion, both (de)serialisations) and per streamed chunk (SSE decoding + one text delta
→ one chat.completion.chunk). No network: these are the costs a translating provider adds.

Run: ``.venv/bin/python bench/translation_cpu.py`` (from the repository root).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic_upstream  # noqa: E402
from scenarios import request_body  # noqa: E402

from gatehouse.formats.anthropic import (SSEDecoder, StreamTranslator, to_anthropic_request,  # noqa: E402
                                         to_openai_response)


def per_request(rounds: int) -> float:
    body, answer = request_body(False), anthropic_upstream.message_body()
    start = time.process_time()
    for _ in range(rounds):
        request = to_anthropic_request(orjson.loads(body), model="claude-bench")
        orjson.dumps(request.body)
        orjson.dumps(to_openai_response(orjson.loads(answer), model="claude-bench", json_tool=request.json_tool))
    return (time.process_time() - start) / rounds * 1e6


def per_chunk(rounds: int) -> float:
    events = anthropic_upstream.stream_events()
    start = time.process_time()
    for _ in range(rounds):
        decoder, translator = SSEDecoder(), StreamTranslator("claude-bench")
        for piece in events:  # one read per event, as the bench upstream sends them
            for data in decoder.feed(piece):
                translator.feed(data)
        translator.end()
    return (time.process_time() - start) / (rounds * anthropic_upstream.STREAM_CHUNKS) * 1e6


def main() -> None:
    per_request(2000), per_chunk(200)  # warm up
    print(f"translation per request (both directions, with JSON): {per_request(20000):.1f} µs")
    print(f"translation per streamed chunk (whole stream ÷ {anthropic_upstream.STREAM_CHUNKS} deltas): "
          f"{per_chunk(2000):.2f} µs")


if __name__ == "__main__":
    main()
