"""The scenarios: which config a gateway runs, what the client sends, what a good answer is.

Configs are LiteLLM ``config.yaml`` templates in ``bench/configs/``; ports are
only known at run time, so :func:`render_config` fills them in and writes the
file (and the hook/rule modules it names) into a fresh directory per run.

A scenario's *shape* is the request it sends (``plain`` or ``stream``). The
baselines (direct, passthrough) have no hooks, guardrails or rules, so they run
one cell per shape, and every scenario is compared with the baseline of its
shape.
"""

from __future__ import annotations

import json
import shutil
import string
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Scenario", "SCENARIOS", "MASTER_KEY", "request_body", "request_headers",
           "render_config", "verify_response"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
MASTER_KEY = "sk-bench-1234"
STREAM_CHUNKS = 20


@dataclass(frozen=True)
class Scenario:
    name: str
    template: str                      # file in bench/configs/
    stream: bool = False
    modules: tuple[str, ...] = ()      # python files the config names, copied beside it
    about: str = ""
    api: str = "chat"                  # what the client calls: "chat" (/v1/chat/completions) or "messages"

    @property
    def shape(self) -> str:
        return "stream" if self.stream else "plain"

    @property
    def path(self) -> str:
        return "/v1/messages" if self.api == "messages" else "/v1/chat/completions"


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("plain", "plain.yaml", about="one model group, master key"),
    Scenario("hooks", "hooks.yaml", modules=("bench_hooks.py",),
             about="a user callback: async_pre_call_hook + async_post_call_success_hook"),
    Scenario("guardrail", "guardrail.yaml",
             about="one Generic Guardrail API guardrail, pre_call, default_on"),
    Scenario("rule", "rule.yaml", modules=("bench_rules.py",), about="one post_call_rules function"),
    Scenario("stream", "plain.yaml", stream=True, about=f"plain config, stream: true ({STREAM_CHUNKS} chunks)"),
    Scenario("anthropic", "anthropic.yaml", about="one anthropic/ deployment: request and answer translated"),
    Scenario("anthropic-stream", "anthropic.yaml", stream=True,
             about=f"anthropic config, stream: true ({STREAM_CHUNKS} Anthropic text deltas translated)"),
    Scenario("bedrock", "bedrock.yaml", about="a bedrock/ deployment: OpenAI chat → Converse (SigV4) → OpenAI"),
    Scenario("bedrock-stream", "bedrock.yaml", stream=True,
             about=f"a bedrock/ deployment, stream: true (ConverseStream event-stream, {STREAM_CHUNKS} deltas)"),
    Scenario("messages", "anthropic.yaml", api="messages",
             about="/v1/messages to an anthropic/ deployment: native, the body relayed as sent"),
    Scenario("messages-stream", "anthropic.yaml", stream=True, api="messages",
             about=f"/v1/messages, stream: true, native ({STREAM_CHUNKS} Anthropic text deltas relayed)"),
    Scenario("messages-translated", "plain.yaml", api="messages",
             about="/v1/messages to an OpenAI-compatible deployment: translated to chat and back"),
    Scenario("messages-translated-stream", "plain.yaml", stream=True, api="messages",
             about=f"/v1/messages, stream: true, translated ({STREAM_CHUNKS} chunks into Anthropic events)"),
)}


def request_body(stream: bool, api: str = "chat") -> bytes:
    """The request body (the same for chat completions and /v1/messages: model, messages, max_tokens)."""
    body = {"model": "bench-model", "messages": [{"role": "user", "content": "Hello, how are you?"}],
            "max_tokens": 32}
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def request_headers(api: str = "chat") -> dict[str, str]:
    if api == "messages":  # as the anthropic SDK sends them
        return {"Content-Type": "application/json", "x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}
    return {"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"}


def render_config(scenario: Scenario, dest: Path, upstream_base: str, guardrail_base: str) -> Path:
    """Write the scenario's config (ports filled in) and its modules into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    text = (CONFIG_DIR / scenario.template).read_text()
    text = string.Template(text).substitute(UPSTREAM_BASE=upstream_base, GUARDRAIL_BASE=guardrail_base)
    path = dest / "config.yaml"
    path.write_text(text)
    for module in scenario.modules:
        shutil.copy(CONFIG_DIR / module, dest / module)
    return path


def _post(url: str, body: bytes, timeout: float, api: str = "chat") -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=request_headers(api), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:  # noqa: S310 - loopback URL we built
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _check_stream(raw: bytes) -> str | None:
    events = [line[6:] for line in raw.decode(errors="replace").splitlines() if line.startswith("data: ")]
    if not events or events[-1].strip() != "[DONE]":
        return "stream did not end with data: [DONE]"
    contents = [c for e in events[:-1] for c in _deltas(json.loads(e))]
    if len(contents) != STREAM_CHUNKS:
        return f"stream had {len(contents)} content chunks, expected {STREAM_CHUNKS}"
    return None


def _deltas(event: dict) -> list[str]:
    return [c["delta"]["content"] for c in event.get("choices", []) if c.get("delta", {}).get("content")]


def _check_messages_stream(raw: bytes) -> str | None:
    frames = [block.split("\n", 1) for block in raw.decode(errors="replace").split("\n\n") if block.strip()]
    kinds = [head[7:] for head, *_ in frames if head.startswith("event: ")]
    if len(kinds) != len(frames) or not kinds or kinds[0] != "message_start" or kinds[-1] != "message_stop":
        return f"not an Anthropic event stream from message_start to message_stop: {kinds[:3]}…{kinds[-2:]}"
    deltas = sum(1 for data in frames if '"text_delta"' in data[-1])
    return None if deltas == STREAM_CHUNKS else f"stream had {deltas} text deltas, expected {STREAM_CHUNKS}"


def verify_response(url: str, scenario: Scenario, timeout: float = 30.0) -> str | None:
    """Send one request; None if the answer is right, else what is wrong with it."""
    try:
        status, raw = _post(url, request_body(scenario.stream, scenario.api), timeout, scenario.api)
    except OSError as e:
        return f"request failed: {e}"
    if status != 200:
        return f"HTTP {status}: {raw[:300]!r}"
    try:
        if scenario.stream:
            return _check_messages_stream(raw) if scenario.api == "messages" else _check_stream(raw)
        if scenario.api == "messages":
            content = json.loads(raw)["content"][0]["text"]
        else:
            content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        return f"malformed answer ({e!r}): {raw[:300]!r}"
    return None if content else "empty content"
