"""Streaming post_call: checked windows, cadence, blocks and rewrites mid-stream, never a leak."""

from __future__ import annotations

from typing import Any

import pytest

from gatehouse.errors import GuardrailBlockedError, GuardrailFailedError
from gatehouse.views import ModelResponseStream, unwrap

BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o"}


def chat_chunks(words: list[str], *, role: bool = False, finish: bool = False, usage: bool = False) -> list[dict]:
    chunks: list[dict[str, Any]] = []
    if role:
        chunks.append({**BASE, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
    for word in words:
        chunks.append({**BASE, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
    if finish:
        chunks.append({**BASE, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:
        chunks.append({**BASE, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": len(words), "total_tokens": 9}})
    return chunks


class Upstream:
    """An async iterator of chunk views that logs what it produced and whether it was closed."""

    def __init__(self, chunks: list[dict], events: list[tuple[str, Any]]) -> None:
        self.chunks = chunks
        self.events = events
        self.closed = False
        self._gen = self._run()

    async def _run(self):
        try:
            for i, chunk in enumerate(self.chunks):
                self.events.append(("upstream", i))
                yield ModelResponseStream(chunk)
        finally:
            self.closed = True

    def __aiter__(self):
        return self

    async def __anext__(self):
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()


def text_of(chunk: Any) -> str:
    data = unwrap(chunk)
    out = ""
    for choice in data.get("choices", []):
        delta = choice.get("delta")
        out += (delta.get("content") if delta else choice.get("text")) or ""
    return out


async def consume(plugin, user, data, upstream, events):
    released = []
    async for chunk in plugin.async_post_call_streaming_iterator_hook(user, upstream, data):
        events.append(("client", text_of(chunk)))
        released.append(chunk)
    return released


@pytest.fixture
def stream_env(fake_guardrail, make_guardrail, user, gr):
    async def make(**params):
        params.setdefault("mode", "post_call")
        plugin = await make_guardrail(fake_guardrail.base, **params)
        data = gr.request_data(user, {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        return plugin, data

    return make


def install_recorder(fake_guardrail, gr, events, answer=None):
    def respond(body):
        events.append(("check", "".join(body["texts"])))
        return answer(body) if answer else gr.Reply("NONE")

    fake_guardrail.default = respond


async def test_no_chunk_is_released_before_a_check(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env()
    events: list[tuple[str, Any]] = []
    install_recorder(fake_guardrail, gr, events)
    words = [f"w{i} " for i in range(12)]
    released = await consume(plugin, user, data, Upstream(chat_chunks(words, role=True, finish=True), events), events)
    assert "".join(text_of(c) for c in released) == "".join(words)
    last_checked = None
    shown = ""
    for kind, value in events:
        if kind == "check":
            last_checked = value
        elif kind == "client":
            shown += value
            assert last_checked is not None and last_checked.startswith(shown)
    first_client = next(i for i, e in enumerate(events) if e[0] == "client")
    assert ("upstream", 4) in events[:first_client]  # the first window is 5 chunks


@pytest.mark.parametrize(
    ("n_chunks", "rate", "expected_calls"),
    [(10, 5, 2), (6, 2, 3), (11, 5, 3), (3, 5, 1), (1, 1, 1)],
)
async def test_sampling_rate_call_counts(stream_env, fake_guardrail, user, n_chunks, rate, expected_calls):
    plugin, data = await stream_env(streaming_sampling_rate=rate)
    events: list = []
    chunks = chat_chunks([f"t{i}" for i in range(n_chunks)])
    released = await consume(plugin, user, data, Upstream(chunks, events), events)
    assert len(released) == n_chunks
    assert len(fake_guardrail.requests) == expected_calls
    assert all(b["input_type"] == "response" for b in fake_guardrail.bodies)
    assert fake_guardrail.bodies[-1]["texts"] == ["".join(f"t{i}" for i in range(n_chunks))]
    assert fake_guardrail.bodies[-1]["model"] == "gpt-4o"


async def test_a_window_without_new_text_is_released_without_a_call(stream_env, fake_guardrail, user):
    plugin, data = await stream_env(streaming_sampling_rate=2)
    chunks = chat_chunks(["a", "b"], finish=True, usage=True)  # checks at 2; chunks 3-4 carry no text
    released = await consume(plugin, user, data, Upstream(chunks, []), [])
    assert len(released) == 4 and len(fake_guardrail.requests) == 1


async def test_end_of_stream_only_holds_everything(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env(streaming_end_of_stream_only=True, streaming_sampling_rate=1)
    events: list = []
    install_recorder(fake_guardrail, gr, events)
    chunks = chat_chunks([f"x{i}" for i in range(8)], role=True, finish=True, usage=True)
    released = await consume(plugin, user, data, Upstream(chunks, events), events)
    assert len(fake_guardrail.requests) == 1
    first_client = next(i for i, e in enumerate(events) if e[0] == "client")
    assert events[first_client - 1][0] == "check"
    assert ("upstream", len(chunks) - 1) in events[:first_client]
    assert [unwrap(c) for c in released] == chunks  # in order, untouched


async def test_blocked_mid_stream_raises_after_the_released_ones(stream_env, fake_guardrail, user, gr, metrics):
    plugin, data = await stream_env(streaming_sampling_rate=3)
    fake_guardrail.reply(gr.Reply("NONE"), gr.Reply("BLOCKED", blocked_reason="unsafe output"))
    upstream = Upstream(chat_chunks([f"c{i}" for i in range(9)]), [])
    released: list = []
    with pytest.raises(GuardrailBlockedError, match="unsafe output") as info:
        async for chunk in plugin.async_post_call_streaming_iterator_hook(user, upstream, data):
            released.append(chunk)
    assert info.value.status == 400
    assert "".join(text_of(c) for c in released) == "c0c1c2"  # the second window never left
    assert upstream.closed
    (record,) = data["metadata"]["standard_logging_guardrail_information"]
    assert record["guardrail_status"] == "blocked" and record["guardrail_mode"] == "post_call"
    assert data["metadata"]["applied_guardrails"] == ["g1"]


async def test_intervened_rewrite_is_delivered(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env(streaming_sampling_rate=3)
    fake_guardrail.default = gr.mask("secret", "[X]")
    words = ["my ", "name ", "is ", "sec", "ret ", "ok ", "bye"]
    chunks = chat_chunks(words, role=True, finish=True, usage=True)
    released = await consume(plugin, user, data, Upstream(chunks, []), [])
    text = "".join(text_of(c) for c in released)
    assert text == "my name is [X] ok bye"
    assert "secret" not in text and "sec" not in text.replace("[X]", "")
    roles = [i for i, c in enumerate(released) if (unwrap(c)["choices"] or [{}])[0].get("delta", {}).get("role")]
    assert roles == [0]
    assert unwrap(released[-2])["choices"][0]["finish_reason"] == "stop"
    assert "usage" in unwrap(released[-1])
    synthetic = [unwrap(c) for c in released if text_of(c) and "[X]" in text_of(c)]
    assert synthetic and {k: synthetic[0][k] for k in BASE} == BASE
    (record,) = data["metadata"]["standard_logging_guardrail_information"]
    assert record["guardrail_status"] == "guardrail_intervened" and record["masked_entity_count"] >= 1


async def test_rewrite_of_released_text_stops_the_stream(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env(streaming_sampling_rate=2)
    fake_guardrail.default = gr.mask("hello world", "[GREETING]")
    chunks = chat_chunks(["hello ", "wor", "ld", "!"])  # window 1 "hello wor" passes, window 2 rewrites it
    released: list = []
    with pytest.raises(GuardrailBlockedError, match="already streamed"):
        async for chunk in plugin.async_post_call_streaming_iterator_hook(user, Upstream(chunks, []), data):
            released.append(chunk)
    assert "".join(text_of(c) for c in released) == "hello wor"


async def test_end_of_stream_only_rewrite_of_whole_text(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env(streaming_end_of_stream_only=True)
    fake_guardrail.default = gr.mask("hello world", "[GREETING]")
    chunks = chat_chunks(["hello ", "wor", "ld", "!"], role=True, finish=True)
    released = await consume(plugin, user, data, Upstream(chunks, []), [])
    assert "".join(text_of(c) for c in released) == "[GREETING]!"
    assert unwrap(released[0])["choices"][0]["delta"]["role"] == "assistant"
    assert unwrap(released[-1])["choices"][0]["finish_reason"] == "stop"


async def test_completion_chunks(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env(streaming_sampling_rate=2)
    data["metadata"]["call_type"] = "text_completion"  # the endpoint's format says where the text is
    fake_guardrail.default = gr.mask("pii")
    base = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m"}
    chunks = [{**base, "choices": [{"index": 0, "text": t, "finish_reason": None, "logprobs": None}]}
              for t in ["a ", "b ", "pii ", "c"]]
    released = await consume(plugin, user, data, Upstream(chunks, []), [])
    assert "".join(text_of(c) for c in released) == "a b [MASKED] c"
    assert all(unwrap(c)["object"] == "text_completion" for c in released)


async def test_multiple_choices_are_checked_and_rewritten_separately(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env(streaming_end_of_stream_only=True)
    fake_guardrail.default = gr.mask("pii")
    chunks = []
    for i, (a, b) in enumerate([("x ", "y "), ("pii", "z")]):
        chunks.append({**BASE, "choices": [{"index": 0, "delta": {"content": a}, "finish_reason": None}]})
        chunks.append({**BASE, "choices": [{"index": 1, "delta": {"content": b}, "finish_reason": None}]})
    released = await consume(plugin, user, data, Upstream(chunks, []), [])
    assert fake_guardrail.bodies[0]["texts"] == ["x pii", "y z"]
    per_choice: dict[int, str] = {}
    for chunk in released:
        for choice in unwrap(chunk)["choices"]:
            per_choice[choice["index"]] = per_choice.get(choice["index"], "") + (choice["delta"].get("content") or "")
    assert per_choice == {0: "x [MASKED]", 1: "y z"}


async def test_fail_open_keeps_streaming_and_fail_closed_stops(stream_env, fake_guardrail, user, gr, metrics):
    plugin, data = await stream_env(streaming_sampling_rate=2, unreachable_fallback="fail_open")
    fake_guardrail.reply(gr.Reply("NONE"), gr.Reply(status=503))
    released = await consume(plugin, user, data, Upstream(chat_chunks(["a", "b", "c", "d"]), []), [])
    assert len(released) == 4
    labels = {"guardrail": "g1", "reason": "http_503"}
    assert metrics.registry.get_sample_value("gatehouse_guardrail_fail_open_total", labels) == 1

    closed, data = await stream_env(name="g2", streaming_sampling_rate=2)
    fake_guardrail.reply(gr.Reply("NONE"), gr.Reply(status=500))
    got: list = []
    with pytest.raises(GuardrailFailedError):
        async for chunk in closed.async_post_call_streaming_iterator_hook(user, Upstream(chat_chunks(["a", "b", "c", "d"]), []), data):
            got.append(chunk)
    assert "".join(text_of(c) for c in got) == "ab"


async def test_not_selected_passes_through_untouched(stream_env, fake_guardrail, user):
    plugin, data = await stream_env(default_on=False)
    chunks = chat_chunks(["a", "b"])
    released = await consume(plugin, user, data, Upstream(chunks, []), [])
    assert [unwrap(c) for c in released] == chunks and fake_guardrail.requests == []
    assert "standard_logging_guardrail_information" not in data["metadata"]


async def test_stream_without_text_records_not_run(stream_env, fake_guardrail, user):
    plugin, data = await stream_env()
    released = await consume(plugin, user, data, Upstream(chat_chunks([], role=True, finish=True), []), [])
    assert len(released) == 2 and fake_guardrail.requests == []
    (record,) = data["metadata"]["standard_logging_guardrail_information"]
    assert record["guardrail_status"] == "not_run"


async def test_upstream_is_closed_when_the_client_leaves(stream_env, fake_guardrail, user):
    plugin, data = await stream_env(streaming_sampling_rate=1)
    upstream = Upstream(chat_chunks(["a", "b", "c"]), [])
    stream = plugin.async_post_call_streaming_iterator_hook(user, upstream, data)
    first = await stream.__anext__()
    assert text_of(first) == "a"
    await stream.aclose()
    assert upstream.closed
    assert len(data["metadata"]["standard_logging_guardrail_information"]) == 1


async def test_single_chunk_stream_rewrite_keeps_role_first(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env()
    fake_guardrail.default = gr.mask("pii")
    only = {**BASE, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "a pii"}, "finish_reason": "stop"}]}
    released = await consume(plugin, user, data, Upstream([only], []), [])
    assert [unwrap(c)["choices"][0]["delta"] for c in released] == [{"role": "assistant", "content": "a [MASKED]"}]
    assert unwrap(released[0])["choices"][0]["finish_reason"] == "stop"


async def test_rewrite_text_goes_before_the_finish_chunk(stream_env, fake_guardrail, user, gr):
    plugin, data = await stream_env(streaming_sampling_rate=2)
    # window 1: "ab" passes; window 2: only a finish chunk + usage, the end check appends text to choice 0
    fake_guardrail.reply(gr.Reply("NONE"))
    chunks = chat_chunks(["a", "b"], finish=True)
    chunks.insert(2, {**BASE, "choices": [{"index": 1, "delta": {"content": "other"}, "finish_reason": None}]})
    fake_guardrail.reply(gr.Reply("GUARDRAIL_INTERVENED", texts=["ab [note]", "other"]))
    released = await consume(plugin, user, data, Upstream(chunks, []), [])
    texts = [(unwrap(c)["choices"][0]["index"], text_of(c), unwrap(c)["choices"][0]["finish_reason"]) for c in released]
    assert texts == [(0, "a", None), (0, "b", None), (1, "other", None), (0, " [note]", None), (0, "", "stop")]


async def test_a_long_stream_sends_each_text_once_plus_a_bounded_context(stream_env, fake_guardrail, user):
    """500 chunks: the bytes sent to the guardrail grow with the answer, not with its square."""
    from gatehouse.guardrails.windows import CONTEXT_CHARS

    plugin, data = await stream_env(streaming_sampling_rate=5)
    words = [f"word{i:05d} " for i in range(500)]  # 10 characters each, 5,000 in all
    released = await consume(plugin, user, data, Upstream(chat_chunks(words, finish=True), []), [])
    whole = "".join(words)
    assert "".join(text_of(c) for c in released) == whole
    checked = [body["texts"][0] for body in fake_guardrail.bodies]
    assert len(checked) == 100
    assert sum(map(len, checked)) <= len(whole) + len(checked) * CONTEXT_CHARS  # re-sending it all: ~250,000
    for i, text in enumerate(checked):  # each check: the last CONTEXT_CHARS checked, then the next window
        end = (i + 1) * 50
        assert text == whole[max(0, end - 50 - CONTEXT_CHARS):end]


async def test_a_mask_across_the_context_of_a_long_stream(stream_env, fake_guardrail, user, gr):
    """A value split by a window boundary late in a long stream is still seen whole and masked."""
    plugin, data = await stream_env(streaming_sampling_rate=5)
    fake_guardrail.default = gr.mask("secret", "[X]")
    words = [f"w{i:03d} " for i in range(200)] + ["sec", "ret ", "after ", "that ", "end"]
    # 200 chunks pass in 40 windows; "sec" closes no window, "ret " lands in the last one with it
    released = await consume(plugin, user, data, Upstream(chat_chunks(words), []), [])
    text = "".join(text_of(c) for c in released)
    assert text == "".join(words).replace("secret", "[X]")
