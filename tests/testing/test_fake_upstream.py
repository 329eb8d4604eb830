"""The fake upstream, driven by the official openai SDK (and raw HTTP for the wire format)."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream

USER = [{"role": "user", "content": "what is up"}]
REPLY = "Hello! You said: what is up"


@pytest.fixture
def client(fake_upstream: FakeUpstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake_upstream.url, api_key="sk-x", max_retries=0,
                       timeout=10) as c:
        yield c


@pytest.fixture
async def aclient(fake_upstream: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake_upstream.url, api_key="sk-x", max_retries=0,
                                  timeout=10) as c:
        yield c


def sse_frames(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, checking each frame's framing."""
    frames = text.split("\n\n")
    assert frames[-1] == ""
    assert all(f.startswith("data: ") for f in frames[:-1])
    return [f[len("data: "):] for f in frames[:-1]]


# -- chat ------------------------------------------------------------------
def test_chat_default_answer_and_record(client: openai.OpenAI,
                                        fake_upstream: FakeUpstream) -> None:
    messages = [{"role": "system", "content": "be brief"}, *USER]
    r = client.chat.completions.create(model="m1", messages=messages)
    assert r.object == "chat.completion" and r.model == "m1"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == REPLY
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (5, 6, 11)
    rec = fake_upstream.requests[-1]
    assert rec.path == "/v1/chat/completions" and rec.json["messages"] == messages
    assert rec.headers["Authorization"] == "Bearer sk-x" and rec.form is None
    assert fake_upstream.wait_until(lambda: fake_upstream.completed == 1)
    assert fake_upstream.cancelled == 0


def test_chat_text_parts_are_joined(client: openai.OpenAI) -> None:
    content = [{"type": "text", "text": "one two"},
               {"type": "image_url", "image_url": {"url": "https://x.invalid/a.png"}},
               {"type": "text", "text": "three"}]
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": content}])
    assert r.choices[0].message.content == "Hello! You said: one two three"
    assert r.usage.prompt_tokens == 3


def test_chat_stream_chunks(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="m", messages=USER, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    words = [c.choices[0].delta.content for c in chunks[1:-2]]
    assert words == ["Hello! ", "You ", "said: ", "what ", "is ", "up"]
    assert "".join(words) == REPLY
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-2].choices[0].delta.content is None
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 3 + 6
    assert {c.id for c in chunks} == {chunks[0].id}
    assert {c.object for c in chunks} == {"chat.completion.chunk"}


def test_stream_wire_format(fake_upstream: FakeUpstream) -> None:
    body = {"model": "m", "messages": USER, "stream": True}
    r = httpx.post(fake_upstream.url + "/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(r.text)
    assert frames[-1] == "[DONE]"
    parsed = [json.loads(f) for f in frames[:-1]]
    assert frames[0] == json.dumps(parsed[0], separators=(",", ":"))
    assert parsed[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                        "finish_reason": "stop"}
    assert all("usage" not in p for p in parsed)


async def test_async_chat_and_stream(aclient: openai.AsyncOpenAI) -> None:
    r = await aclient.chat.completions.create(model="m", messages=USER)
    assert r.choices[0].message.content == REPLY
    stream = await aclient.chat.completions.create(model="m", messages=USER, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == REPLY


def test_tool_calls(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": "{\"q\": 1}"}}
    fake_upstream.queue(tool_calls=[call])
    r = client.chat.completions.create(model="m", messages=USER)
    assert r.choices[0].message.content is None
    assert r.choices[0].message.tool_calls[0].function.name == "lookup"
    assert r.choices[0].finish_reason == "tool_calls"
    fake_upstream.queue(tool_calls=[call])
    chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert chunks[1].choices[0].delta.tool_calls[0].id == "call_1"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


# -- behaviour control -------------------------------------------------------
def test_content_chunks_and_model_overrides(client: openai.OpenAI,
                                            fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(content="custom reply", model="other")
    r = client.chat.completions.create(model="m", messages=USER)
    assert (r.choices[0].message.content, r.model) == ("custom reply", "other")
    fake_upstream.queue(chunks=["ab", "c d", ""])
    deltas = [c.choices[0].delta.content
              for c in client.chat.completions.create(model="m", messages=USER, stream=True)]
    assert deltas == ["", "ab", "c d", "", None]


def test_body_directive_and_queue_precedence(client: openai.OpenAI,
                                             fake_upstream: FakeUpstream) -> None:
    directive = {"fake_upstream": {"content": "from body", "model": "body-model"}}
    r = client.chat.completions.create(model="m", messages=USER, extra_body=directive)
    assert (r.choices[0].message.content, r.model) == ("from body", "body-model")
    fake_upstream.queue(content="from queue")
    r = client.chat.completions.create(model="m", messages=USER, extra_body=directive)
    assert (r.choices[0].message.content, r.model) == ("from queue", "body-model")
    assert fake_upstream.requests[-1].json["fake_upstream"] == directive["fake_upstream"]


def test_queue_is_fifo_default_and_reset(client: openai.OpenAI,
                                         fake_upstream: FakeUpstream) -> None:
    fake_upstream.set_default(content="default")
    fake_upstream.queue(content="first")
    fake_upstream.queue(content="second")
    replies = [client.chat.completions.create(model="m", messages=USER)
               .choices[0].message.content for _ in range(3)]
    assert replies == ["first", "second", "default"]
    assert fake_upstream.wait_until(lambda: fake_upstream.completed == 3)
    fake_upstream.reset()
    assert fake_upstream.requests == [] and fake_upstream.completed == 0
    r = client.chat.completions.create(model="m", messages=USER)
    assert r.choices[0].message.content == REPLY


def test_unknown_behaviour_keys_are_rejected(client: openai.OpenAI,
                                             fake_upstream: FakeUpstream) -> None:
    with pytest.raises(ValueError, match="stauts"):
        fake_upstream.queue(stauts=500)
    with pytest.raises(openai.BadRequestError, match="stauts"):
        client.chat.completions.create(model="m", messages=USER,
                                       extra_body={"fake_upstream": {"stauts": 500}})


def test_error_status_with_headers(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(status=429, headers={"retry-after": "7"})
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.body == {"message": "fake upstream error", "type": "server_error",
                               "param": None, "code": None}
    error = {"message": "boom", "type": "server_error", "param": None, "code": "x"}
    fake_upstream.queue(status=500, error=error)
    with pytest.raises(openai.InternalServerError, match="boom"):
        client.chat.completions.create(model="m", messages=USER, stream=True)


def test_die_after_chunks_breaks_the_stream(client: openai.OpenAI,
                                            fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(die_after_chunks=2)
    received: list[str | None] = []
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for chunk in client.chat.completions.create(model="m", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "Hello! ", "You "]
    assert fake_upstream.completed == 0


async def test_delay(aclient: openai.AsyncOpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(delay=0.3)
    start = asyncio.get_running_loop().time()
    await aclient.chat.completions.create(model="m", messages=USER)
    assert asyncio.get_running_loop().time() - start >= 0.3


def test_cancelled_when_client_closes_stream(client: openai.OpenAI,
                                             fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(chunk_delay=0.1)
    stream = client.chat.completions.create(model="m", messages=USER, stream=True)
    iterator = iter(stream)
    next(iterator), next(iterator)
    stream.close()
    assert fake_upstream.wait_until(lambda: fake_upstream.cancelled == 1)
    assert fake_upstream.completed == 0


async def test_cancelled_when_client_times_out(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(delay=2)
    async with openai.AsyncOpenAI(base_url=fake_upstream.url, api_key="k", max_retries=0,
                                  timeout=0.2) as short:
        with pytest.raises(openai.APITimeoutError):
            await short.chat.completions.create(model="m", messages=USER)
    assert await fake_upstream.until(lambda: fake_upstream.cancelled == 1)
    assert fake_upstream.completed == 0


# -- other endpoints ----------------------------------------------------------
def test_completions(client: openai.OpenAI) -> None:
    r = client.completions.create(model="m", prompt="say hi")
    assert r.object == "text_completion" and r.choices[0].text == "Hello! You said: say hi"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (2, 5)
    r = client.completions.create(model="m", prompt=["first one", "second"])
    assert r.choices[0].text == "Hello! You said: first one"


def test_completions_stream(client: openai.OpenAI) -> None:
    chunks = list(client.completions.create(model="m", prompt="x y", stream=True,
                                            stream_options={"include_usage": True}))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == "Hello! You said: x y"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.prompt_tokens == 2


def test_embeddings(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    one = client.embeddings.create(model="e", input="alpha")
    two = client.embeddings.create(model="e", input=["alpha", "beta"], dimensions=5)
    assert len(one.data[0].embedding) == 8 and len(two.data[0].embedding) == 5
    assert two.data[0].embedding == pytest.approx(one.data[0].embedding[:5], abs=1e-6)
    assert two.data[1].embedding != two.data[0].embedding
    assert [d.index for d in two.data] == [0, 1] and two.usage.prompt_tokens == 2
    raw = httpx.post(fake_upstream.url + "/embeddings", json={"model": "e", "input": "alpha"})
    assert raw.json()["data"][0]["embedding"] == pytest.approx(one.data[0].embedding, abs=1e-6)


def test_images(client: openai.OpenAI) -> None:
    r = client.images.generate(model="dall-e", prompt="a cat")
    assert r.data[0].url == "https://fake-upstream.invalid/image.png"
    assert r.data[0].revised_prompt == "a cat" and r.created > 0


def test_moderations(client: openai.OpenAI) -> None:
    r = client.moderations.create(input=["please FLAG this", "fine"])
    assert [x.flagged for x in r.results] == [True, False]
    assert r.results[0].categories.harassment is True
    assert r.results[1].category_scores.violence == 0.0


def test_transcription_upload(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    r = client.audio.transcriptions.create(model="whisper-1", file=("clip.wav", b"x" * 42),
                                           language="en")
    assert r.text == "transcribed clip.wav (42 bytes)"
    form = fake_upstream.requests[-1].form
    assert form["file"] == {"filename": "clip.wav", "size": 42}
    assert form["model"] == "whisper-1" and form["language"] == "en"


def test_models_and_unprefixed_routes(client: openai.OpenAI,
                                      fake_upstream: FakeUpstream) -> None:
    assert [m.id for m in client.models.list()] == ["fake-model"]
    root = fake_upstream.url.removesuffix("/v1")
    assert httpx.get(root + "/models").json()["data"][0]["id"] == "fake-model"
    r = httpx.post(root + "/chat/completions", json={"model": "m", "messages": USER})
    assert r.json()["choices"][0]["message"]["content"] == REPLY
    assert fake_upstream.requests[-1].path == "/chat/completions"
    assert httpx.post(root + "/chat/completions", content=b"nope").status_code == 400


# -- construction ---------------------------------------------------------------
async def test_require_api_key_and_async_lifecycle() -> None:
    async with FakeUpstream(require_api_key="sk-right") as upstream:
        async with openai.AsyncOpenAI(base_url=upstream.url, api_key="sk-wrong",
                                      max_retries=0) as wrong:
            with pytest.raises(openai.AuthenticationError) as info:
                await wrong.models.list()
        assert info.value.code == "invalid_api_key"
        async with openai.AsyncOpenAI(base_url=upstream.url, api_key="sk-right",
                                      max_retries=0) as right:
            r = await right.chat.completions.create(model="m", messages=USER)
        assert r.choices[0].message.content == REPLY
        assert len(upstream.requests) == 2
