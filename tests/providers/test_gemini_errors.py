"""``gemini/`` deployments when things go wrong: provider errors, bad answers, broken streams,
fields Gemini cannot take, missing keys."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess, ServerStartError
from gatehouse.testing.fake_gemini import FakeGemini, error_body, studio_model

KEY = "AIza-errors-test-key-0042"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini(api_key=KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture(scope="module")
def gw(gateway: Callable[..., GatewayProcess], fake: FakeGemini) -> GatewayProcess:
    return gateway({
        "model_list": [
            studio_model(fake.url, name="gem", api_key=KEY),
            studio_model(fake.url, name="gem-drop", api_key=KEY, drop_params=True),
            studio_model(fake.url, name="gem-badkey", api_key="AIza-wrong"),
            studio_model(fake.url, name="gem-env", api_key=None),
        ],
        "router_settings": {"num_retries": 2, "retry_after": 0},
    }, env={"GEMINI_API_KEY": KEY})


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def chat(client: openai.OpenAI, model: str = "gem", **extra: Any) -> Any:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], **extra)


def stream_lines(gw: GatewayProcess, model: str = "gem") -> list[str]:
    response = httpx.post(gw.api_base + "/chat/completions", timeout=30, json={
        "model": model, "stream": True, "messages": [{"role": "user", "content": "one two three"}]})
    assert response.status_code == 200
    return [line for line in response.text.split("\n") if line.startswith("data:")]


def test_env_key_fallback(client: openai.OpenAI, fake: FakeGemini) -> None:
    assert chat(client, "gem-env").choices[0].message.content == "Hello! You said: hi"
    assert fake.calls()[-1].headers["x-goog-api-key"] == KEY


def test_invalid_key_is_401_without_the_key(client: openai.OpenAI, fake: FakeGemini) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(client, "gem-badkey")
    assert "API key not valid" in caught.value.message and "AIza-wrong" not in caught.value.message
    assert len(fake.calls()) == 1  # not retried


def test_permission_denied_is_403(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.queue(status=403, error=error_body(403, "Permission denied on resource project p.", "PERMISSION_DENIED")["error"])
    with pytest.raises(openai.PermissionDeniedError):
        chat(client)


def test_invalid_argument_is_400(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.queue(status=400, error=error_body(400, "Invalid value at 'contents'", "INVALID_ARGUMENT")["error"])
    with pytest.raises(openai.BadRequestError) as caught:
        chat(client)
    assert caught.value.body["message"] == "gemini: Invalid value at 'contents'"


def test_rate_limit_keeps_retry_after(client: openai.OpenAI, fake: FakeGemini) -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.2s"}]
    error = error_body(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED", details)["error"]
    fake.set_default(status=429, error=error)
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client)
    assert caught.value.response.headers["retry-after"] == "1"  # from RetryInfo: whole seconds
    assert len(fake.calls()) == 3  # retried (num_retries 2) before giving up
    fake.set_default(status=429, error=error, headers={"Retry-After": "2"})
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client)
    assert caught.value.response.headers["retry-after"] == "2"  # the provider's header wins


def test_overloaded_is_retried_then_503(client: openai.OpenAI, fake: FakeGemini) -> None:
    overloaded = error_body(503, "The model is overloaded. Please try again later.", "UNAVAILABLE")["error"]
    fake.queue(status=503, error=overloaded)
    assert chat(client).choices[0].message.content == "Hello! You said: hi"  # the retry succeeded
    fake.set_default(status=503, error=overloaded)
    with pytest.raises(openai.InternalServerError) as caught:
        chat(client)
    assert caught.value.status_code == 503 and "overloaded" in caught.value.message


@pytest.mark.parametrize(("raw", "content_type"), [
    ("<html><body>502 Bad Gateway</body></html>", "text/html"),
    ('{"candidates": [{"content": {"parts": [{"text": "trunc', "application/json"),
    ('{"something": "else"}', "application/json"),
])
def test_bad_answers_are_502_naming_the_deployment(client: openai.OpenAI, fake: FakeGemini, raw: str,
                                                   content_type: str) -> None:
    fake.set_default(raw=raw, content_type=content_type)
    with pytest.raises(openai.APIStatusError) as caught:
        chat(client)
    assert caught.value.status_code == 502
    assert "deployment 'gem' (gemini/gemini-2.5-flash)" in caught.value.message
    assert "<html>" not in caught.value.message


def test_stream_that_dies_ends_with_one_error_event(gw: GatewayProcess, fake: FakeGemini) -> None:
    fake.queue(die_after=2)
    lines = stream_lines(gw)
    assert '"content"' in lines[0] and '"error"' in lines[-2] and lines[-1] == "data: [DONE]"
    assert sum('"error"' in line for line in lines) == 1


@pytest.mark.parametrize(("behaviour", "needle"), [
    ({"raw_events": ['data: {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}\n\n', "data: {trunc\n\n"]},
     "not JSON"),
    ({"raw_events": ['data: {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}\n\n',
                     'event: ping\ndata: {"x": 1}\n\n']}, "unknown stream event 'ping'"),
    ({"raw_events": ['data: {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}\n\n',
                     'data: {"weird": true}\n\n']}, "does not document"),
    ({"no_finish": True}, "ended before its last event"),
])
def test_bad_streams_end_with_one_error_event(gw: GatewayProcess, fake: FakeGemini, behaviour: dict[str, Any],
                                              needle: str) -> None:
    fake.queue(**behaviour)
    lines = stream_lines(gw)
    errors = [line for line in lines if '"error"' in line]
    assert len(errors) == 1 and needle in errors[0] and "deployment 'gem'" in errors[0]
    assert '"code":"502"' in errors[0] and lines[-1] == "data: [DONE]"


def test_error_event_inside_a_stream_keeps_its_status(gw: GatewayProcess, fake: FakeGemini) -> None:
    fake.queue(error_after=1, error=error_body(429, "Quota exceeded", "RESOURCE_EXHAUSTED")["error"])
    lines = stream_lines(gw)
    assert '"content"' in lines[0] and '"code":"429"' in lines[-2] and "Quota exceeded" in lines[-2]


def test_bad_first_event_is_a_json_error_after_retries(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.set_default(raw_events=["data: <html>\n\n"])
    with pytest.raises(openai.APIStatusError) as caught:
        list(chat(client, stream=True))
    assert caught.value.status_code == 502 and "not JSON" in caught.value.message
    assert len(fake.calls("streamGenerateContent")) == 3  # read before the answer started: still retryable


def test_unsupported_field_is_400_naming_it(client: openai.OpenAI, fake: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        chat(client, logit_bias={"50256": -100})
    assert "gemini does not support parameters: ['logit_bias']" in caught.value.message
    assert caught.value.body["param"] == "logit_bias" and fake.calls() == []


def test_drop_params_drops_it(client: openai.OpenAI, fake: FakeGemini) -> None:
    assert chat(client, "gem-drop", logit_bias={"1": 1}, user="u-1").choices[0].message.content
    assert chat(client, logit_bias={"1": 1}, extra_body={"drop_params": True}).choices[0].message.content
    assert all("logit_bias" not in str(c.json) and "drop_params" not in str(c.json) for c in fake.calls())


def test_bad_tool_call_arguments_are_400(client: openai.OpenAI, fake: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gem", messages=[
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                  "function": {"name": "f", "arguments": "{not json"}}]}])
    assert "arguments are not valid JSON" in caught.value.message


def test_unsupported_operation(gw: GatewayProcess) -> None:
    response = httpx.post(gw.api_base + "/images/generations", json={"model": "gem", "prompt": "a cat"}, timeout=30)
    assert response.status_code == 400 and "not 'image'" in response.json()["error"]["message"]


def test_missing_key_stops_start_up(fake: FakeGemini) -> None:
    config = {"model_list": [studio_model(fake.url, name="nokey", api_key=None)]}
    env = {"GEMINI_API_KEY": "", "GOOGLE_API_KEY": ""}
    with pytest.raises(ServerStartError) as caught:
        GatewayProcess(config, env=env).start()
    text = str(caught.value)
    assert "deployment 'nokey'" in text and "GEMINI_API_KEY" in text and "GOOGLE_API_KEY" in text
