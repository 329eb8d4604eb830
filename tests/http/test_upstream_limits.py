"""What an upstream may send back: incomplete streams and oversized answers; who sees deployment addresses."""

from __future__ import annotations

from typing import Any, Callable

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess

from .conftest import MASTER_KEY, Gw, fake_entry

MESSAGES = [{"role": "user", "content": "hi"}]


def stream_text(client: openai.OpenAI, model: str = "fake") -> str:
    return "".join(chunk.choices[0].delta.content or "" for chunk in
                   client.chat.completions.create(model=model, messages=MESSAGES, stream=True) if chunk.choices)


def test_a_stream_cut_without_done_ends_with_an_error_event(core: Gw, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(omit_done=True)
    with pytest.raises(openai.APIError) as failed:
        stream_text(core.client())
    assert "ended before" in str(failed.value.message)


def test_a_stream_cut_without_done_gets_an_error_frame_then_done(core: Gw, fake_upstream: FakeUpstream,
                                                                     parse_sse: Callable[[bytes], list[str]]) -> None:
    fake_upstream.queue(omit_done=True)
    raw = core.post("/v1/chat/completions", {"model": "fake", "messages": MESSAGES, "stream": True})
    frames = parse_sse(raw.content)
    assert frames[-1] == "[DONE]" and '"error"' in frames[-2], frames[-3:]


def test_a_complete_stream_is_unchanged(core: Gw, fake_upstream: FakeUpstream) -> None:
    assert stream_text(core.client()) == "Hello! You said: hi"


def test_an_answer_over_the_default_cap_is_a_clean_502(core: Gw, fake_upstream: FakeUpstream) -> None:
    """A 20 MB answer is neither buffered whole nor relayed (the default cap is 8 MB)."""
    fake_upstream.queue(content="x" * (20 * 1024 * 1024))
    with pytest.raises(openai.APIStatusError) as failed:
        core.client().chat.completions.create(model="fake", messages=MESSAGES)
    assert failed.value.status_code == 502
    assert "max_response_size_mb" in failed.value.message
    assert len(fake_upstream.requests) == 1, "a too-large answer is not retried"


@pytest.fixture
def capped(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> Gw:
    config: dict[str, Any] = {
        "model_list": [fake_entry(fake_upstream, "fake", "fake-model")],
        "general_settings": {"master_key": MASTER_KEY, "max_response_size_mb": 0.5},
        "router_settings": {"num_retries": 0},
    }
    return Gw(gateway(config), fake_upstream, MASTER_KEY)


def test_the_cap_is_configurable_and_applies_to_streams(capped: Gw, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(content="y" * 600_000)
    with pytest.raises(openai.APIStatusError) as failed:
        capped.client().chat.completions.create(model="fake", messages=MESSAGES)
    assert failed.value.status_code == 502
    fake_upstream.queue(chunks=["z" * 600_000])  # one event larger than the cap
    with pytest.raises(openai.APIError) as streamed:
        stream_text(capped.client())
    assert "max_response_size_mb" in str(streamed.value.message)
    fake_upstream.queue(content="w" * 100_000)
    reply = capped.client().chat.completions.create(model="fake", messages=MESSAGES)
    assert reply.choices[0].message.content == "w" * 100_000


def test_model_info_shows_api_base_to_admins_only(core: Gw) -> None:
    created = core.post("/key/generate", {})
    assert created.status_code == 200, created.text
    key = created.json()["key"]
    assert core.fake is not None
    as_key = httpx.get(core.base_url + "/v1/model/info", headers=core.auth(key), timeout=30)
    assert as_key.status_code == 200 and as_key.json()["data"]
    assert "api_base" not in as_key.text and core.fake.url not in as_key.text
    as_admin = core.get("/v1/model/info")
    fake = next(d for d in as_admin.json()["data"] if d["model_name"] == "fake")
    assert fake["litellm_params"]["api_base"] == core.fake.url
