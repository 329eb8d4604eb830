"""One error body everywhere, the right status, and the SDK exception it becomes."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]


# -- the request body --------------------------------------------------------

def test_malformed_json(core, expect_error) -> None:
    error = expect_error(core.post(CHAT, content=b'{"model": "fake", '), 400,
                         type="invalid_request_error", param="request_body")
    assert error["message"].startswith("Invalid JSON payload: ")
    assert len(error["message"]) > len("Invalid JSON payload: ")


@pytest.mark.parametrize("body", [b"", b"   \n"], ids=["empty", "blank"])
def test_empty_body(core, expect_error, body: bytes) -> None:
    error = expect_error(core.post(CHAT, content=body), 400, param="request_body")
    assert error["message"].startswith("Invalid JSON payload: ")


def test_json_array_body(core, expect_error) -> None:
    expect_error(core.post(CHAT, content=b'[{"model": "fake"}]'), 400,
                 message="Invalid JSON payload: expected an object", param="request_body")


def test_model_must_be_a_string(core, expect_error) -> None:
    expect_error(core.post(CHAT, {"model": 123, "messages": MESSAGES}), 400,
                 message="'model' must be a string.", param="model", type="invalid_request_error")


@pytest.mark.parametrize(("field", "value"), [
    ("messages", "hello"), ("messages", {"role": "user"}), ("stream", "yes"), ("stream", 1),
])
def test_wrong_field_types_name_the_field(core, expect_error, field: str, value: object) -> None:
    body = {"model": "fake", "messages": MESSAGES, field: value}
    error = expect_error(core.post(CHAT, body), 400, param=field)
    assert f"'{field}'" in error["message"]


def test_missing_messages(core, expect_error, fake_upstream: FakeUpstream) -> None:
    expect_error(core.post(CHAT, {"model": "fake"}), 400,
                 message="/chat/completions: Missing required parameter: 'messages'.", param="messages")
    assert fake_upstream.requests == []


@pytest.mark.parametrize(("path", "field"), [
    ("/v1/completions", "prompt"), ("/v1/embeddings", "input"), ("/images/generations", "prompt"),
])
def test_missing_required_field_on_other_endpoints(core, expect_error, path: str, field: str) -> None:
    error = expect_error(core.post(path, {"model": "fake"}), 400, param=field)
    assert f"'{field}'" in error["message"]


def test_unknown_model(core, expect_error, fake_upstream: FakeUpstream) -> None:
    message = ("/chat/completions: Invalid model name passed in model=no-such-model. "
               "Call `/v1/models` to view available models for your key.")
    error = expect_error(core.post(CHAT, {"model": "no-such-model", "messages": MESSAGES}), 400,
                         message=message, type="invalid_request_error")
    assert error["provider_specific_fields"] == {"error": message}  # as LiteLLM answers it
    assert fake_upstream.requests == []
    with core.client() as client, pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert info.value.status_code == 400 and "no-such-model" in info.value.message


def test_missing_model(core, expect_error) -> None:
    expect_error(core.post(CHAT, {"messages": MESSAGES}), 400, message=(
        "/chat/completions: Invalid model name passed in model=None. "
        "Call `/v1/models` to view available models for your key."))


def test_body_that_is_not_utf8(core, expect_error) -> None:
    error = expect_error(core.post(CHAT, content=b'{"model": "\xff\xfe"}'), 400, param="request_body")
    assert error["message"].startswith("Invalid JSON payload: ")


def test_body_over_the_limit_is_413(core, expect_error, fake_upstream: FakeUpstream) -> None:
    limit = int(0.01 * 1024 * 1024)
    small = "x" * (limit - 200)
    assert core.post(CHAT, {"model": "fake", "messages": [{"role": "user", "content": small}]}).status_code == 200
    big = "x" * (limit + 10)
    expect_error(core.post(CHAT, {"model": "fake", "messages": [{"role": "user", "content": big}]}), 413)
    with core.client() as client, pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="fake", messages=[{"role": "user", "content": big}])
    assert type(info.value) is openai.APIStatusError and info.value.status_code == 413
    assert len(fake_upstream.requests) == 1  # only the small one went through


def test_chunked_body_over_the_limit_is_413(core, expect_error) -> None:
    def chunks():
        yield b'{"model": "fake", "messages": [{"role": "user", "content": "'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"}]}'

    response = httpx.post(core.base_url + CHAT, content=chunks(), timeout=30,
                          headers={**core.auth(), "Content-Type": "application/json"})
    expect_error(response, 413)


def test_body_limit_applies_to_multipart(core, expect_error, fake_upstream: FakeUpstream) -> None:
    with core.client() as client, pytest.raises(openai.APIStatusError) as info:
        client.audio.transcriptions.create(model="fake", file=("big.wav", b"\0" * 20_000, "audio/wav"))
    assert info.value.status_code == 413
    assert fake_upstream.requests == []


# -- upstream errors -------------------------------------------------------------

def test_upstream_429_keeps_retry_after(core, expect_error, fake_upstream: FakeUpstream) -> None:
    limited = {"message": "Rate limit reached for requests", "type": "rate_limit_error", "param": None,
               "code": "rate_limit_exceeded"}
    fake_upstream.queue(status=429, error=limited, headers={"retry-after": "7"})
    response = core.post(CHAT, {"model": "fake", "messages": MESSAGES})
    expect_error(response, 429, message="Rate limit reached for requests")
    assert response.headers["retry-after"] == "7"
    fake_upstream.queue(status=429, error=limited, headers={"retry-after": "7"})
    with core.client() as client, pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="fake", messages=MESSAGES)
    assert info.value.response.headers["retry-after"] == "7"
    assert len(fake_upstream.requests) == 2  # num_retries: 0 — one try each


def test_upstream_400_is_400(core, expect_error, fake_upstream: FakeUpstream) -> None:
    bad = {"message": "max_tokens is too large", "type": "invalid_request_error", "param": "max_tokens",
           "code": None}
    fake_upstream.queue(status=400, error=bad)
    expect_error(core.post(CHAT, {"model": "fake", "messages": MESSAGES}), 400,
                 message="max_tokens is too large", param="max_tokens", type="invalid_request_error")
    fake_upstream.queue(status=400, error=bad)
    with core.client() as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fake", messages=MESSAGES)


def test_upstream_500_without_retries(core, expect_error, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(status=500)
    expect_error(core.post(CHAT, {"model": "fake", "messages": MESSAGES}), 500,
                 message="fake upstream error")
    assert len(fake_upstream.requests) == 1
    fake_upstream.queue(status=503)
    with core.client() as client, pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="fake", messages=MESSAGES)
    assert info.value.status_code == 503


def test_upstream_timeout_is_504(core, expect_error, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(delay=3)
    started = time.monotonic()
    error = expect_error(core.post(CHAT, {"model": "fake-slow", "messages": MESSAGES}), 504)
    assert time.monotonic() - started < 2.0
    assert "timed out" in error["message"]
    assert fake_upstream.wait_until(lambda: fake_upstream.cancelled == 1, timeout=5)


def test_upstream_key_never_in_error_bodies(core, expect_error, fake_upstream: FakeUpstream,
                                            upstream_key: str) -> None:
    leaky = {"message": f"Incorrect API key provided: {upstream_key}.", "type": "invalid_request_error",
             "param": None, "code": "invalid_api_key"}
    fake_upstream.queue(status=401, error=leaky)
    response = core.post(CHAT, {"model": "fake", "messages": MESSAGES})
    error = expect_error(response, 401)
    assert upstream_key not in response.text
    assert error["message"].startswith("Incorrect API key provided: ")
    assert upstream_key not in core.process.logs()


@pytest.mark.parametrize("field", ["type", "param", "message"])
def test_upstream_key_echoed_in_any_error_field_is_scrubbed(core, expect_error, fake_upstream: FakeUpstream,
                                                            upstream_key: str, field: str) -> None:
    """Issue 8 item 6: an upstream echoing the key in error.type / error.param leaked it to the client and the log."""
    leaky = {"message": "bad request", "type": "invalid_request_error", "param": "model", "code": None,
             field: f"key={upstream_key}"}
    fake_upstream.queue(status=400, error=leaky)
    response = core.post(CHAT, {"model": "fake", "messages": MESSAGES})
    error = expect_error(response, 400)
    assert upstream_key not in response.text
    assert error[field] == "key=[REDACTED]"
    assert _log_lines(core, response.headers["x-litellm-call-id"])  # the request's INFO line is written
    assert upstream_key not in core.process.logs()


def _log_lines(gw, needle: str, timeout: float = 3.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in gw.process.logs().splitlines() if needle in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


# -- the call id ------------------------------------------------------------------

@pytest.mark.parametrize("case", ["no-key", "bad-json", "unknown-model", "upstream-500", "too-large"])
def test_errors_carry_a_call_id_of_their_own(core, fake_upstream: FakeUpstream, case: str) -> None:
    headers = {"x-litellm-call-id": f"call-{case}"}
    body: dict[str, object] = {"model": "fake", "messages": MESSAGES}
    if case == "no-key":
        response = core.post(CHAT, body, headers=headers, auth=False)
    elif case == "bad-json":
        response = core.post(CHAT, content=b"{nope", headers=headers)
    elif case == "unknown-model":
        response = core.post(CHAT, {**body, "model": "nope"}, headers=headers)
    elif case == "upstream-500":
        fake_upstream.queue(status=500)
        response = core.post(CHAT, body, headers=headers)
    else:
        response = core.post(CHAT, {**body, "pad": "x" * 20_000}, headers=headers)
    assert response.status_code >= 400
    assert len(response.headers["x-litellm-call-id"]) == 36  # the gateway's, not the client's
    assert response.headers["x-litellm-call-id"] != f"call-{case}"


def test_an_overlong_call_id_is_replaced(core) -> None:
    response = core.post(CHAT, {"model": "fake", "messages": MESSAGES}, headers={"x-litellm-call-id": "x" * 500})
    assert response.status_code == 200
    assert len(response.headers["x-litellm-call-id"]) == 36


def test_wrong_method_is_a_json_405(core) -> None:
    response = core.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "405"
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_route_is_a_json_404(core) -> None:
    response = core.post("/v1/no/such/route", {"model": "fake"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "404" and error["type"] == "invalid_request_error"
