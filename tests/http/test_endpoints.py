"""Every LLM endpoint, with and without ``/v1``, against the fake upstream and the mock provider."""

from __future__ import annotations

import base64
import struct

import pytest

from gatehouse.testing import FakeUpstream
from gatehouse.testing.fake_answers import IMAGE_URL, _vector

WAV = b"RIFF" + b"\x00" * 60


@pytest.fixture(params=["/v1", ""], ids=["v1", "no-v1"])
def prefix(request: pytest.FixtureRequest) -> str:
    return request.param


def test_completions(core, fake_upstream: FakeUpstream, prefix: str) -> None:
    with core.client(base_url=core.base_url + prefix) as client:
        response = client.completions.create(model="fake", prompt="say something", max_tokens=5)
    assert response.object == "text_completion"
    assert response.choices[0].text == "Hello! You said: say something"
    assert response.model == "fake"
    sent = fake_upstream.requests[0]
    assert sent.path == "/v1/completions" and sent.json["max_tokens"] == 5 and sent.json["model"] == "fake-model"


def test_completions_streaming(core, fake_upstream: FakeUpstream, prefix: str) -> None:
    with core.client(base_url=core.base_url + prefix) as client:
        stream = client.completions.create(model="fake", prompt="one two", stream=True)
        chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Hello! You said: one two"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.model for c in chunks} == {"fake"}
    assert fake_upstream.requests[0].json["stream"] is True


def test_embeddings(core, fake_upstream: FakeUpstream, prefix: str) -> None:
    with core.client(base_url=core.base_url + prefix) as client:
        response = client.embeddings.create(model="fake", input=["alpha", "beta gamma"], dimensions=6)
    assert [d.index for d in response.data] == [0, 1]
    for item, text in zip(response.data, ["alpha", "beta gamma"]):
        assert item.embedding == pytest.approx(_vector(text, 6), abs=1e-6)
    assert response.usage.prompt_tokens == 3
    sent = fake_upstream.requests[0].json
    assert sent["input"] == ["alpha", "beta gamma"] and sent["dimensions"] == 6


def test_embeddings_float_format_raw(core, fake_upstream: FakeUpstream) -> None:
    body = {"model": "fake", "input": "alpha", "encoding_format": "base64", "dimensions": 4}
    response = core.post("/embeddings", body)
    assert response.status_code == 200
    packed = base64.b64decode(response.json()["data"][0]["embedding"])
    assert list(struct.unpack("<4f", packed)) == pytest.approx(_vector("alpha", 4), abs=1e-6)


def test_images(core, fake_upstream: FakeUpstream, prefix: str) -> None:
    with core.client(base_url=core.base_url + prefix) as client:
        response = client.images.generate(model="fake", prompt="a lighthouse", n=2, size="256x256")
    assert [d.url for d in response.data] == [IMAGE_URL, IMAGE_URL]
    sent = fake_upstream.requests[0]
    assert sent.path == "/v1/images/generations"
    assert sent.json["size"] == "256x256" and sent.json["n"] == 2 and sent.json["prompt"] == "a lighthouse"


def test_moderations(core, fake_upstream: FakeUpstream, prefix: str) -> None:
    with core.client(base_url=core.base_url + prefix) as client:
        response = client.moderations.create(model="fake", input=["fine text", "please flag this"])
    assert [r.flagged for r in response.results] == [False, True]
    assert response.results[1].categories.harassment is True
    assert fake_upstream.requests[0].path == "/v1/moderations"


def test_audio_transcription_multipart(core, fake_upstream: FakeUpstream, prefix: str) -> None:
    with core.client(base_url=core.base_url + prefix) as client:
        response = client.audio.transcriptions.create(
            model="fake", file=("speech.wav", WAV, "audio/wav"), language="en",
            extra_body={"custom_form_field": "kept"})
    assert response.text == f"transcribed speech.wav ({len(WAV)} bytes)"
    sent = fake_upstream.requests[0]
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.form is not None
    assert sent.form["file"] == {"filename": "speech.wav", "size": len(WAV)}
    assert sent.form["model"] == "fake-model" and sent.form["language"] == "en"
    assert sent.form["custom_form_field"] == "kept"
    assert sent.headers["Authorization"].startswith("Bearer sk-upstream-")


def test_transcription_text_format(core, fake_upstream: FakeUpstream) -> None:
    """A plain-text upstream answer (response_format text/srt/vtt) comes back as {"text": ...}, as LiteLLM."""
    with core.client() as client:
        text = client.audio.transcriptions.create(model="fake", file=("t.wav", WAV, "audio/wav"),
                                                  response_format="text")
    assert isinstance(text, str) and f"transcribed t.wav ({len(WAV)} bytes)" in text
    assert len(fake_upstream.requests) == 1
    assert fake_upstream.requests[0].form["response_format"] == "text"


def test_transcription_needs_a_file(core, expect_error) -> None:
    response = core.post("/v1/audio/transcriptions", content=b'{"model": "fake"}')
    expect_error(response, 400, param="request_body")


def test_models_with_and_without_v1(core, prefix: str) -> None:
    with core.client(base_url=core.base_url + prefix) as client:
        models = client.models.list()
    assert [m.id for m in models.data] == ["fake", "fake-slow", "mock"]
    assert {m.object for m in models.data} == {"model"}


def test_models_needs_a_key(core, expect_error) -> None:
    response = core.get("/v1/models", auth=False)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Authentication Error, No api key passed in."


# -- the built-in mock provider: every endpoint, no network, deterministic ------

def test_mock_chat_is_deterministic(open_gw) -> None:
    with open_gw.client() as client:
        first = client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "ping"}])
        second = client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "ping"}])
    assert first.choices[0].message.content == "Hello from the Gatehouse mock model! You said: ping"
    assert first.id == second.id and first.choices[0].message.content == second.choices[0].message.content
    assert first.model == "mock"
    assert first.usage is not None and first.usage.prompt_tokens == 1


def test_mock_chat_and_completion_streams(open_gw) -> None:
    with open_gw.client() as client:
        chat = list(client.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "a b"}], stream=True,
            stream_options={"include_usage": True}))
        text = list(client.completions.create(model="mock", prompt="c d", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chat if c.choices) == \
        "Hello from the Gatehouse mock model! You said: a b"
    assert chat[-1].usage is not None and chat[-1].usage.prompt_tokens == 2
    assert "".join(c.choices[0].text for c in text) == "Hello from the Gatehouse mock model! You said: c d"
    assert text[-1].choices[0].finish_reason == "stop"


def test_mock_other_endpoints(open_gw) -> None:
    with open_gw.client(base_url=open_gw.base_url) as client:  # without /v1
        completion = client.completions.create(model="mock", prompt="hi")
        emb1 = client.embeddings.create(model="mock", input=["x", "y"], encoding_format="float")
        emb2 = client.embeddings.create(model="mock", input=["x", "y"], encoding_format="float")
        image = client.images.generate(model="mock", prompt="p")
        moderation = client.moderations.create(model="mock", input=["ok", "flag me"])
        transcript = client.audio.transcriptions.create(model="mock", file=("a.wav", WAV, "audio/wav"))
    assert completion.choices[0].text == "Hello from the Gatehouse mock model! You said: hi"
    assert len(emb1.data) == 2 and len(emb1.data[0].embedding) == 8
    assert [d.embedding for d in emb1.data] == [d.embedding for d in emb2.data]
    assert emb1.data[0].embedding != emb1.data[1].embedding
    assert image.data[0].b64_json and base64.b64decode(image.data[0].b64_json).startswith(b"\x89PNG")
    assert [r.flagged for r in moderation.results] == [False, True]
    assert transcript.text == f"Mock transcription of a.wav ({len(WAV)} bytes)."
