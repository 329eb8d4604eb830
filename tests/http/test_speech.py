"""``/v1/audio/speech`` and ``/v1/audio/translations`` through the real gateway.

Speech: the ``openai`` SDK's streaming response reads audio bytes that the
gateway relays as the fake upstream writes them (the fake holds the rest of
the answer until the test has the first piece: a gateway that buffered would
never hand it over). The ``input`` text goes through hooks and guardrails; the
answer's content type follows ``response_format``; spend is priced per input
character. Translations: multipart, like transcriptions. Both reach Azure's
deployment URLs too.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess
from gatehouse.testing.fake_answers import speech_bytes
from gatehouse.testing.fake_azure import FakeAzure
from gatehouse.testing.fake_guardrail import FakeGuardrail, mask

sys.path.insert(0, str(Path(__file__).parents[1] / "providers"))
from translating_support import ISOLATED, guardrail  # noqa: E402

MASTER = "sk-speech-master-0c1d"
AZURE_KEY = "azure-speech-key"
TEXT = "the quick brown fox jumps over the lazy dog"
HOOK = '''
from gatehouse.policy.custom_logger import CustomLogger


class Shout(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        if call_type == "speech" and data.get("input") == "shout":
            data["input"] = "SHOUT"
        if call_type == "speech" and data.get("input") == "refuse me":
            return "no speech for you"
        return data


handler = Shout()
'''


@pytest.fixture(scope="module")
def azure() -> Iterator[FakeAzure]:
    server = FakeAzure(api_keys=(AZURE_KEY,))
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def guard() -> Iterator[FakeGuardrail]:
    server = FakeGuardrail()
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream, azure: FakeAzure,
       guard: FakeGuardrail) -> GatewayProcess:
    azure.reset()
    guard.reset()

    def entry(name: str, model: str, **params: Any) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": model, **params}}
    return gateway({
        "model_list": [
            entry("tts", "openai/tts-1", api_base=fake_upstream.url, api_key="sk-up"),
            entry("whisper", "openai/whisper-1", api_base=fake_upstream.url, api_key="sk-up"),
            entry("azure-tts", "azure/my-tts", api_base=azure.endpoint, api_key=AZURE_KEY, api_version="2025-03-01"),
            entry("azure-whisper", "azure/my-whisper", api_base=azure.endpoint, api_key=AZURE_KEY,
                  api_version="2025-03-01"),
            entry("mock-tts", "mock/tts"),
            entry("claude", "anthropic/claude-sonnet-4-5", api_key="sk-ant", api_base=fake_upstream.url),
        ],
        "general_settings": {"master_key": MASTER},
        "litellm_settings": {"callbacks": ["hooks.handler"]},
        # a post_call guardrail gives every request stream hooks: audio must still be relayed as bytes
        "guardrails": [guardrail("mask-pre", guard.url, "pre_call"), guardrail("mask-post", guard.url, "post_call")],
    }, env=ISOLATED, files={"hooks.py": HOOK})


def client(gw: GatewayProcess, key: str = MASTER) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.api_base, api_key=key, max_retries=0, timeout=30)


def test_audio_is_relayed_piece_by_piece(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(hold_after_chunks=1)
    expected = speech_bytes(TEXT)
    with client(gw).audio.speech.with_streaming_response.create(
            model="tts", voice="alloy", input=TEXT, response_format="mp3") as response:
        assert response.headers["content-type"] == "audio/mpeg"
        assert response.headers["x-litellm-call-id"]
        pieces = response.iter_bytes()
        first = next(pieces)  # the upstream has sent only its first piece and waits: nothing is buffered whole
        assert expected[0].startswith(first) and fake_upstream.completed == 0
        fake_upstream.release.set()
        rest = b"".join(pieces)
    assert first + rest == b"".join(expected)
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/audio/speech"
    assert sent.json == {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "mp3"}


@pytest.mark.parametrize("fmt,kind", [("wav", "audio/wav"), ("opus", "audio/opus"), ("flac", "audio/flac")])
def test_the_content_type_follows_the_response_format(gw: GatewayProcess, fmt: str, kind: str) -> None:
    answer = client(gw).audio.speech.create(model="tts", voice="alloy", input="hi", response_format=fmt)  # type: ignore[arg-type]
    assert answer.response.headers["content-type"] == kind
    assert answer.content == b"".join(speech_bytes("hi"))


def test_the_input_goes_through_hooks_and_guardrails(gw: GatewayProcess, fake_upstream: FakeUpstream,
                                                     guard: FakeGuardrail) -> None:
    guard.default = mask("secret")
    answer = client(gw).audio.speech.create(model="tts", voice="alloy", input="my secret word",
                                            extra_body={"guardrails": ["mask-pre"]})
    assert guard.requests[-1].body["texts"] == ["my secret word"]
    assert fake_upstream.requests[-1].json["input"] == "my [MASKED] word"
    assert answer.response.headers["x-litellm-applied-guardrails"] == "mask-pre"
    client(gw).audio.speech.create(model="tts", voice="alloy", input="shout")
    assert fake_upstream.requests[-1].json["input"] == "SHOUT"


def test_a_blocked_input_never_reaches_the_upstream(gw: GatewayProcess, fake_upstream: FakeUpstream,
                                                    guard: FakeGuardrail) -> None:
    from gatehouse.testing.fake_guardrail import block_on
    guard.default = block_on("forbidden")
    with pytest.raises(openai.BadRequestError) as caught:
        client(gw).audio.speech.create(model="tts", voice="alloy", input="forbidden words",
                                       extra_body={"guardrails": ["mask-pre"]})
    assert "bad word" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as refused:
        client(gw).audio.speech.create(model="tts", voice="alloy", input="refuse me")
    assert refused.value.body["message"] == "no speech for you"
    assert not fake_upstream.requests


@pytest.mark.parametrize("body,param", [
    ({"model": "tts", "voice": "alloy"}, "input"),
    ({"model": "tts", "voice": "alloy", "input": ["a"]}, "input"),
    ({"model": "tts", "voice": 3, "input": "a"}, "voice"),
])
def test_bad_input_is_a_400(gw: GatewayProcess, fake_upstream: FakeUpstream, body: dict[str, Any],
                            param: str) -> None:
    response = httpx.post(gw.api_base + "/audio/speech", json=body, headers={"Authorization": f"Bearer {MASTER}"})
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert response.headers["content-type"].startswith("application/json")
    assert not fake_upstream.requests


def test_an_upstream_error_before_the_audio_is_a_json_error(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(status=400, error={"message": "voice not found", "type": "invalid_request_error",
                                           "param": "voice", "code": None})
    with pytest.raises(openai.BadRequestError) as caught:
        client(gw).audio.speech.create(model="tts", voice="nobody", input="hi")  # type: ignore[arg-type]
    assert caught.value.body["message"] == "voice not found"
    assert caught.value.response.headers["content-type"].startswith("application/json")


def test_an_upstream_that_dies_mid_audio_breaks_the_answer(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(die_after_chunks=2)
    with pytest.raises(httpx.HTTPError):
        with httpx.stream("POST", gw.api_base + "/audio/speech", json={"model": "tts", "voice": "a", "input": TEXT},
                          headers={"Authorization": f"Bearer {MASTER}"}, timeout=30) as response:
            assert response.status_code == 200
            b"".join(response.iter_bytes())  # never a complete-looking answer


def test_other_providers_refuse_speech_cleanly(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError):
        client(gw).audio.speech.create(model="claude", voice="alloy", input="hi")
    assert not fake_upstream.requests


def test_the_mock_provider_speaks_wav(gw: GatewayProcess) -> None:
    answer = client(gw).audio.speech.create(model="mock-tts", voice="alloy", input=TEXT)
    assert answer.response.headers["content-type"] == "audio/wav" and answer.content.startswith(b"RIFF")


def test_azure_speech_and_translation_use_the_deployment_urls(gw: GatewayProcess, azure: FakeAzure) -> None:
    answer = client(gw).audio.speech.create(model="azure-tts", voice="alloy", input="hi")
    assert answer.content == b"".join(speech_bytes("hi"))
    sent = azure.requests[-1]
    assert sent.path == "/openai/deployments/my-tts/audio/speech" and sent.query["api-version"] == "2025-03-01"
    assert sent.headers["api-key"] == AZURE_KEY
    text = client(gw).audio.translations.create(model="azure-whisper", file=("a.wav", io.BytesIO(b"RIFF" * 10)))
    assert text.text == "translated a.wav (40 bytes)"
    assert azure.requests[-1].path == "/openai/deployments/my-whisper/audio/translations"


def test_translations(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    answer = client(gw).audio.translations.create(model="whisper", file=("clip.wav", io.BytesIO(b"RIFF" * 5)))
    assert answer.text == "translated clip.wav (20 bytes)"
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/audio/translations" and sent.form["model"] == "whisper-1"
    plain = client(gw).audio.translations.create(model="whisper", file=("c.wav", io.BytesIO(b"x")),
                                                 response_format="text")
    assert isinstance(plain, str) and "translated c.wav (1 bytes)" in plain  # {"text": ...}, as LiteLLM answers


def test_speech_spend_is_priced_per_character(gw: GatewayProcess) -> None:
    response = httpx.post(f"{gw.base_url}/key/generate", json={}, headers={"Authorization": f"Bearer {MASTER}"})
    key = response.json()["key"]
    client(gw, key).audio.speech.create(model="tts", voice="alloy", input=TEXT)
    expected = len(TEXT) * 1.5e-5  # tts-1
    deadline, spend = time.monotonic() + 8, 0.0
    while time.monotonic() < deadline and spend < expected - 1e-12:
        info = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
        spend = info.json()["info"]["spend"]
        time.sleep(0.1)
    assert spend == pytest.approx(expected)
