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

import http.client
import json
import statistics
import time
import shutil
import string
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Scenario", "SCENARIOS", "REQUESTS", "SHAPES", "MASTER_KEY", "VIRTUAL_KEY", "request_body",
           "stream_timing", "request_headers", "render_config", "verify_response", "make_virtual_key"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
MASTER_KEY = "sk-bench-1234"
#: The virtual key the ``vkey`` scenarios use (run.py makes it with ``/key/generate`` before the load).
VIRTUAL_KEY = "sk-bench-virtual-key-0001"
STREAM_CHUNKS = 20
LONG_STREAM_CHUNKS = 500       # the fake upstream streams this many when max_tokens == LONG_STREAM_CHUNKS
BIG_ANSWER_TOKENS = 1024       # ... and answers ~4 KB of content when max_tokens == BIG_ANSWER_TOKENS
BIG_PROMPT_BYTES = 100 * 1024


@dataclass(frozen=True)
class Request:
    """A request shape: what the client sends and what a good answer looks like."""

    stream: bool = False
    prompt_bytes: int = 0          # 0: the small "Hello, how are you?" prompt
    max_tokens: int = 32           # selects the fake upstream's answer (see bench/upstream.py)
    chunks: int = STREAM_CHUNKS    # content chunks a stream must carry
    min_content: int = 1           # characters a plain answer must carry


REQUESTS: dict[str, Request] = {
    "plain": Request(),
    "stream": Request(stream=True),
    "big": Request(prompt_bytes=BIG_PROMPT_BYTES),
    "big-4k": Request(prompt_bytes=BIG_PROMPT_BYTES, max_tokens=BIG_ANSWER_TOKENS, min_content=4000),
    "long-stream": Request(stream=True, max_tokens=LONG_STREAM_CHUNKS, chunks=LONG_STREAM_CHUNKS),
}


@dataclass(frozen=True)
class Scenario:
    name: str
    template: str                      # file in bench/configs/
    stream: bool = False
    modules: tuple[str, ...] = ()      # python files the config names, copied beside it
    about: str = ""
    virtual_key: bool = False          # the load uses VIRTUAL_KEY (Gatehouse only: LiteLLM needs a database for it)
    spend_logs_off: bool = False       # ${SPEND_LOGS_OFF} in the template
    request: str = ""                  # a key of REQUESTS; "" = "stream" or "plain" by ``stream``
    guarded: bool = False              # the answer check also wants the guardrail service called

    @property
    def shape(self) -> str:
        """The request shape; the baselines run the scenario of this name."""
        return self.request or ("stream" if self.stream else "plain")

    @property
    def spec(self) -> Request:
        return REQUESTS[self.shape]


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("plain", "plain.yaml", about="one model group, master key"),
    Scenario("hooks", "hooks.yaml", modules=("bench_hooks.py",),
             about="a user callback: async_pre_call_hook + async_post_call_success_hook"),
    Scenario("guardrail", "guardrail.yaml", guarded=True,
             about="one Generic Guardrail API guardrail, pre_call, default_on"),
    Scenario("rule", "rule.yaml", modules=("bench_rules.py",), about="one post_call_rules function"),
    Scenario("stream", "plain.yaml", stream=True, about=f"plain config, stream: true ({STREAM_CHUNKS} chunks)"),
    Scenario("anthropic", "anthropic.yaml", about="one anthropic/ deployment: request and answer translated"),
    Scenario("anthropic-stream", "anthropic.yaml", stream=True,
             about=f"anthropic config, stream: true ({STREAM_CHUNKS} Anthropic text deltas translated)"),
    Scenario("vkey", "vkey.yaml", virtual_key=True,
             about="a virtual key (spend tracked), one spend-log row per request (the default)"),
    Scenario("vkey-nolog", "vkey.yaml", virtual_key=True, spend_logs_off=True,
             about="as vkey, with general_settings.disable_spend_logs: true"),
    Scenario("bedrock", "bedrock.yaml", about="a bedrock/ deployment: OpenAI chat → Converse (SigV4) → OpenAI"),
    Scenario("bedrock-stream", "bedrock.yaml", stream=True,
             about=f"a bedrock/ deployment, stream: true (ConverseStream event-stream, {STREAM_CHUNKS} deltas)"),
    Scenario("big", "plain.yaml", request="big", about="plain config, a 100 KB prompt"),
    Scenario("big-hooks", "hooks.yaml", request="big", modules=("bench_hooks.py",),
             about="hooks config, a 100 KB prompt"),
    Scenario("big-guardrail", "guardrail.yaml", request="big", guarded=True,
             about="pre_call guardrail config, a 100 KB prompt"),
    Scenario("big-4k", "plain.yaml", request="big-4k", about="plain config, a 100 KB prompt, a 4 KB answer"),
    Scenario("big-post-guardrail", "post_guardrail.yaml", request="big-4k", guarded=True,
             about="one post_call guardrail, a 100 KB prompt, a 4 KB answer"),
    Scenario("long-stream", "plain.yaml", stream=True, request="long-stream",
             about=f"plain config, a {LONG_STREAM_CHUNKS}-chunk stream"),
    Scenario("long-stream-guarded", "post_guardrail.yaml", stream=True, request="long-stream", guarded=True,
             about=f"one post_call guardrail (streaming, sampling every 5 chunks), a {LONG_STREAM_CHUNKS}-chunk stream"),
)}

#: The request shapes, in order; each is also a scenario of that name on the plain config, which the baselines run.
SHAPES = tuple(REQUESTS)


def request_body(stream: bool, shape: str = "") -> bytes:
    spec = REQUESTS[shape or ("stream" if stream else "plain")]
    messages = [{"role": "user", "content": "Hello, how are you?"}]
    if spec.prompt_bytes:
        messages = [{"role": "system", "content": _filler(spec.prompt_bytes // 2, "system")},
                    {"role": "user", "content": _filler(spec.prompt_bytes // 2, "user")}]
    body: dict = {"model": "bench-model", "messages": messages, "max_tokens": spec.max_tokens}
    if spec.stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def _filler(size: int, who: str) -> str:
    """``size`` characters of prose-like text (words, punctuation, newlines), the same every run."""
    words = ["the", "gateway", "routes", "each", "request", "to", "a", "deployment", "and", "checks",
             "policy", "before", "calling", "upstream;", "tools", "return", "JSON", "results.\n"]
    out, i = [f"[{who}] "], 0
    total = len(out[0])
    while total < size:
        word = words[(i * 7 + i // 5) % len(words)] + " "
        out.append(word)
        total += len(word)
        i += 1
    return "".join(out)[:size]


def request_headers(scenario: Scenario | None = None) -> dict[str, str]:
    key = VIRTUAL_KEY if scenario is not None and scenario.virtual_key else MASTER_KEY
    return {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}


def make_virtual_key(base_url: str, timeout: float = 30.0) -> None:
    """``POST /key/generate`` for :data:`VIRTUAL_KEY` (already there is fine)."""
    request = urllib.request.Request(f"{base_url}/key/generate", data=json.dumps({"key": VIRTUAL_KEY}).encode(),
                                     headers=request_headers(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - loopback URL we built
            return
    except urllib.error.HTTPError as e:
        if e.code != 400:  # 400: the key exists
            raise


def render_config(scenario: Scenario, dest: Path, upstream_base: str, guardrail_base: str) -> Path:
    """Write the scenario's config (ports filled in) and its modules into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    text = (CONFIG_DIR / scenario.template).read_text()
    text = string.Template(text).substitute(UPSTREAM_BASE=upstream_base, GUARDRAIL_BASE=guardrail_base,
                                            SPEND_LOGS_OFF="true" if scenario.spend_logs_off else "false")
    path = dest / "config.yaml"
    path.write_text(text)
    for module in scenario.modules:
        shutil.copy(CONFIG_DIR / module, dest / module)
    return path


def _post(url: str, body: bytes, timeout: float, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers or request_headers(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:  # noqa: S310 - loopback URL we built
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _check_stream(raw: bytes, chunks: int = STREAM_CHUNKS) -> str | None:
    events = [line[6:] for line in raw.decode(errors="replace").splitlines() if line.startswith("data: ")]
    if not events or events[-1].strip() != "[DONE]":
        return "stream did not end with data: [DONE]"
    contents = [c for e in events[:-1] for c in _deltas(json.loads(e))]
    if len(contents) != chunks:
        return f"stream had {len(contents)} content chunks, expected {chunks}"
    return None


def _deltas(event: dict) -> list[str]:
    return [c["delta"]["content"] for c in event.get("choices", []) if c.get("delta", {}).get("content")]


def verify_response(url: str, scenario: Scenario, timeout: float = 30.0) -> str | None:
    """Send one request; None if the answer is right, else what is wrong with it."""
    try:
        status, raw = _post(url, request_body(scenario.stream, scenario.shape), timeout, request_headers(scenario))
    except OSError as e:
        return f"request failed: {e}"
    if status != 200:
        return f"HTTP {status}: {raw[:300]!r}"
    try:
        if scenario.stream:
            return _check_stream(raw, scenario.spec.chunks)
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        return f"malformed answer ({e!r}): {raw[:300]!r}"
    if len(content or "") < scenario.spec.min_content:
        return f"content of {len(content or '')} characters, expected at least {scenario.spec.min_content}"
    return None


def stream_timing(url: str, scenario: Scenario, requests: int = 5, timeout: float = 30.0) -> dict[str, float | None]:
    """Median time to the first content chunk and to ``[DONE]`` over ``requests`` sequential streams (ms).

    Measured on an otherwise idle system, after the load cell: what one client
    sees, without the queueing of the load's concurrency.
    """
    ttfts, totals = [], []
    for _ in range(requests):
        timing = _one_stream(url, request_body(True, scenario.shape), timeout)
        if timing is not None:
            ttfts.append(timing[0])
            totals.append(timing[1])
    if not ttfts:
        return {"ttft_ms": None, "stream_total_ms": None}
    return {"ttft_ms": round(statistics.median(ttfts), 2), "stream_total_ms": round(statistics.median(totals), 2)}


def _one_stream(url: str, body: bytes, timeout: float) -> tuple[float, float] | None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        start = time.perf_counter()
        conn.request("POST", parts.path, body=body, headers=request_headers())
        response = conn.getresponse()
        if response.status != 200:
            return None
        first = None
        for line in response:
            if first is None and line.startswith(b"data: {") and b'"content"' in line:
                first = time.perf_counter()
            if line.startswith(b"data: [DONE]"):
                break
        end = time.perf_counter()
    except OSError:
        return None
    finally:
        conn.close()
    return None if first is None else ((first - start) * 1000, (end - start) * 1000)
