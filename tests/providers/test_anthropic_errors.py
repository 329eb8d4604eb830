"""``anthropic/`` deployments: Anthropic's errors and bad answers reach the openai SDK as the right class,
and request fields Anthropic cannot take are refused (or dropped with ``drop_params``)."""

from __future__ import annotations

from typing import Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic, anthropic_model_config

USER = [{"role": "user", "content": "what is up"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(require_api_key=FAKE_ANTHROPIC_KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def gw(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    fake.reset()
    return gateway({
        "model_list": [anthropic_model_config(fake.url),
                       anthropic_model_config(fake.url, model_name="claude-lenient", drop_params=True),
                       anthropic_model_config(fake.url, model_name="claude-wrong-key", api_key="sk-ant-wrong"),
                       anthropic_model_config(fake.url, model_name="claude-impatient", timeout=0.3)],
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
    })


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def ask(client: openai.OpenAI, model: str = "claude", **kwargs: object) -> str | None:
    answer = client.chat.completions.create(model=model, messages=USER, **kwargs)  # type: ignore[call-overload]
    return answer.choices[0].message.content  # type: ignore[no-any-return]


@pytest.mark.parametrize(("status", "kind", "error_class"), [
    (400, "invalid_request_error", openai.BadRequestError),
    (403, "permission_error", openai.PermissionDeniedError),
    (404, "not_found_error", openai.NotFoundError),
    (413, "request_too_large", openai.BadRequestError),
    (500, "api_error", openai.InternalServerError),
])
def test_error_statuses_map_to_sdk_classes(client: openai.OpenAI, fake: FakeAnthropic, status: int, kind: str,
                                           error_class: type[openai.APIStatusError]) -> None:
    fake.queue(status=status, error_type=kind, error_message=f"anthropic says {kind}")
    with pytest.raises(error_class, match=f"anthropic says {kind}") as caught:
        ask(client)
    assert caught.value.status_code == (400 if status == 413 else status)


def test_wrong_key_is_a_401(client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError, match="invalid x-api-key") as caught:
        ask(client, "claude-wrong-key")
    assert caught.value.status_code == 401 and "sk-ant-wrong" not in str(caught.value.body)


def test_rate_limit_keeps_retry_after(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(status=429, error_type="rate_limit_error", error_message="Number of requests has exceeded your limit",
               headers={"retry-after": "17"})
    with pytest.raises(openai.RateLimitError, match="exceeded your limit") as caught:
        ask(client)
    assert caught.value.response.headers["retry-after"] == "17"
    assert caught.value.body["type"] == "rate_limit_error"  # type: ignore[index]


def test_prompt_too_long_is_a_context_window_error(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(status=400, error_type="invalid_request_error", error_message="prompt is too long: 210000 tokens > 200000 maximum")
    with pytest.raises(openai.BadRequestError, match="prompt is too long"):
        ask(client)


def test_the_key_never_leaks_in_an_error(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(status=400, error_type="invalid_request_error", error_message=f"bad key {FAKE_ANTHROPIC_KEY} here")
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client)
    assert FAKE_ANTHROPIC_KEY not in str(caught.value.body) and "[REDACTED]" in str(caught.value.body)


def test_overloaded_is_retried_then_a_503(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess],
                                          openai_client: Callable[..., openai.OpenAI]) -> None:
    fake.reset()
    retrying = openai_client(gateway({"model_list": [anthropic_model_config(fake.url)],
                                      "router_settings": {"num_retries": 2, "disable_cooldowns": True,
                                                          "backoff_base": 0.001}}))
    fake.set_default(status=529, error_type="overloaded_error", error_message="Overloaded")
    with pytest.raises(openai.InternalServerError, match="Overloaded") as caught:
        ask(retrying)
    assert caught.value.status_code == 503 and len(fake.requests) == 3
    fake.reset()
    fake.queue(status=529, error_type="overloaded_error", error_message="Overloaded")
    assert ask(retrying) == "Hello! You said: what is up" and len(fake.requests) == 2


@pytest.mark.parametrize(("raw", "content_type", "problem"), [
    ("<html><body>Bad gateway</body></html>", "text/html", "not JSON"),
    ('{"id": "msg_1", "type": "mess', "application/json", "not JSON"),
    ('{"unexpected": true}', "application/json", "not a message"),
])
def test_bad_answers_are_a_502_naming_the_deployment(client: openai.OpenAI, fake: FakeAnthropic, raw: str,
                                                     content_type: str, problem: str) -> None:
    fake.queue(raw=raw, content_type=content_type)
    with pytest.raises(openai.APIStatusError, match=f"anthropic deployment 'claude' .*{problem}") as caught:
        ask(client)
    assert caught.value.status_code == 502


def test_an_html_error_page_keeps_its_status(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(status=503, raw="<html><body>Service Unavailable</body></html>", content_type="text/html")
    with pytest.raises(openai.InternalServerError, match="Anthropic answered HTTP 503") as caught:
        ask(client)
    assert caught.value.status_code == 503


def test_unsupported_field_is_a_400_naming_field_and_provider(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError, match=r"anthropic does not support parameters: \['presence_penalty'\]"):
        ask(client, presence_penalty=0.5)
    with pytest.raises(openai.BadRequestError, match=r"\['logit_bias', 'n'\]"):
        ask(client, logit_bias={"1": 1}, n=2)
    assert fake.requests == []
    assert ask(client, n=1, logprobs=False) == "Hello! You said: what is up"


def test_drop_params_drops_what_anthropic_cannot_take(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    assert ask(client, "claude-lenient", presence_penalty=0.5, seed=7, temperature=0.5) == "Hello! You said: what is up"
    body = fake.requests[-1].json
    assert "presence_penalty" not in body and "seed" not in body and body["temperature"] == 0.5


def test_drop_params_in_litellm_settings(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess],
                                         openai_client: Callable[..., openai.OpenAI]) -> None:
    fake.reset()
    client = openai_client(gateway({"model_list": [anthropic_model_config(fake.url)],
                                    "litellm_settings": {"drop_params": True}}))
    assert ask(client, frequency_penalty=1.0) == "Hello! You said: what is up"
    assert "frequency_penalty" not in fake.requests[-1].json


def test_malformed_requests_are_400s(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\].content\[0\].image_url"):
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://nope"}}]}])
    with pytest.raises(openai.BadRequestError, match="arguments is not valid JSON"):
        client.chat.completions.create(model="claude", messages=[*USER, {"role": "assistant", "tool_calls": [  # type: ignore[list-item]
            {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}])
    with pytest.raises(openai.BadRequestError, match="reasoning_effort"):
        ask(client, reasoning_effort="enormous")
    assert fake.requests == []


def test_other_endpoints_are_refused(gw: GatewayProcess) -> None:
    response = httpx.post(gw.api_base + "/embeddings", json={"model": "claude", "input": "hi"}, timeout=30)
    assert response.status_code == 400
    assert "chat completions only" in response.json()["error"]["message"]


def test_a_slow_answer_is_a_504(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(delay=2)
    with pytest.raises(openai.APIStatusError, match="timed out") as caught:
        ask(client, "claude-impatient")
    assert caught.value.status_code == 504
