"""Hostile bodies: too many form parts, oversized fields, malformed forms, deep JSON, slow uploads.

Each is answered with a clean 4xx in the one error shape, never a 500, a 503
or a frozen worker.
"""

from __future__ import annotations

import socket
import time
from typing import Any, Callable, Iterator

import httpx
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess

from .conftest import UPSTREAM_KEY, Gw

MASTER = "sk-limits-master-20c4"
BOUNDARY = "gh-test-b0undary"


def limits_config(fake_upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "model_list": [
            {"model_name": "mock", "litellm_params": {"model": "mock/anything"}},
            {"model_name": "mock-b", "litellm_params": {"model": "mock/other"}},
            {"model_name": "fake", "litellm_params": {"model": "openai/whisper-1", "api_base": fake_upstream.url,
                                                      "api_key": UPSTREAM_KEY}},
        ],
        "general_settings": {"master_key": MASTER, "max_multipart_parts": 20, "max_form_field_bytes": 1024,
                             "request_body_timeout": 1, "max_request_size_mb": 0.05},
        "router_settings": {"num_retries": 0},
    }


@pytest.fixture
def limits(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> Gw:
    return Gw(gateway(limits_config(fake_upstream)), fake_upstream, MASTER)


@pytest.fixture
def mock_only_key(limits: Gw) -> Iterator[str]:
    created = limits.post("/key/generate", {"models": ["mock"]})
    assert created.status_code == 200, created.text
    yield created.json()["key"]


def form_body(parts: list[tuple[bytes, bytes]]) -> bytes:
    out = b""
    for headers, content in parts:
        out += b"--" + BOUNDARY.encode() + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    return out + b"--" + BOUNDARY.encode() + b"--\r\n"


def field(name: str, value: bytes) -> tuple[bytes, bytes]:
    return f'Content-Disposition: form-data; name="{name}"'.encode(), value


def audio(filename: bytes = b"a.wav", extra: bytes = b"") -> tuple[bytes, bytes]:
    return b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"' + extra, b"RIFFfake"


def post_form(gw: Gw, body: bytes, key: str | None = None) -> httpx.Response:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **gw.auth(key)}
    return httpx.post(gw.base_url + "/v1/audio/transcriptions", content=body, headers=headers, timeout=60)


# -- item 2: a form with thousands of parts --------------------------------------------------------------


def test_twenty_thousand_tiny_fields_are_refused_at_once(open_gw: Gw, expect_error) -> None:
    """About 1 MB of tiny fields: refused past the default 100 parts, not parsed for seconds."""
    parts = [field("model", b"mock"), audio()] + [field(f"f{i}", b"x") for i in range(20_000)]
    error = expect_error(post_form(open_gw, form_body(parts)), 400, param="request_body")
    assert "more than 100 parts" in error["message"]


def test_part_count_limit_is_configurable(limits: Gw, expect_error) -> None:
    parts = [field("model", b"mock"), audio()] + [field(f"f{i}", b"x") for i in range(19)]
    error = expect_error(post_form(limits, form_body(parts)), 400, param="request_body")
    assert "more than 20 parts" in error["message"]
    assert post_form(limits, form_body(parts[:20])).status_code == 200


def test_text_field_over_its_limit_is_413(limits: Gw, expect_error) -> None:
    parts = [field("model", b"mock"), field("prompt", b"p" * 2000), audio()]
    expect_error(post_form(limits, form_body(parts)), 413, param="prompt")


def test_forbidden_model_is_refused_before_the_rest_of_the_form(limits: Gw, mock_only_key: str,
                                                                expect_error) -> None:
    """The model field comes first (as the SDKs send it): the key's access is checked there."""
    parts = [field("model", b"mock-b"), audio(extra=b"\r\nbroken header line")]
    error = expect_error(post_form(limits, form_body(parts), mock_only_key), 403, param="model")
    assert "mock-b" in error["message"]
    allowed = [field("model", b"mock"), audio()]
    assert post_form(limits, form_body(allowed), mock_only_key).status_code == 200


def test_forbidden_model_in_the_path_is_refused_before_the_body(limits: Gw, mock_only_key: str,
                                                               expect_error) -> None:
    response = httpx.post(limits.base_url + "/openai/deployments/mock-b/chat/completions", content=b"{not json",
                          headers={"Content-Type": "application/json", **limits.auth(mock_only_key)}, timeout=30)
    expect_error(response, 403, param="model")


# -- item 16: malformed forms are 400, never 500/503 with internals ---------------------------------------


@pytest.mark.parametrize("parts", [
    pytest.param([field("model", b"fake"), audio(b"a\x00b.wav")], id="nul-in-filename"),
    pytest.param([field("model", b"fake"), audio(b"a\rb.wav")], id="cr-in-filename"),
    pytest.param([field("model", b"fake"), audio(extra=b"\r\ngarbage-without-colon")], id="bad-part-header"),
    pytest.param([field("model", b"fake"), ('Content-Disposition: form-data; name="mod\u00e8l"'.encode(), b"x"),
                  audio()], id="non-ascii-field-name"),
    pytest.param([field("model", b"fake"), audio(extra=b'\r\nContent-Type: au"dio\x01')], id="control-in-content-type"),
    pytest.param([field("model", b"fake"), field("metadata", b'{"a":' + b"[" * 300 + b"]" * 300 + b"}"), audio()],
                 id="deep-json-field"),
])
def test_malformed_form_is_400(limits: Gw, expect_error, parts: list[tuple[bytes, bytes]]) -> None:
    response = post_form(limits, form_body(parts))
    expect_error(response, 400)
    assert "ConnectionKey" not in response.text and "127.0.0.1" not in response.text
    assert limits.fake is not None and not limits.fake.requests, "nothing malformed is sent upstream"


def test_non_ascii_file_name_is_accepted(limits: Gw) -> None:
    response = post_form(limits, form_body([field("model", b"fake"), audio("é.wav".encode())]))
    assert response.status_code == 200, response.text


# -- item 16: JSON nested deeper than orjson can write -------------------------------------------------------


@pytest.mark.parametrize("depth", [255, 300, 1000])
def test_deeply_nested_json_is_400(core: Gw, expect_error, depth: int) -> None:
    body = b'{"model": "fake", "messages": [{"role": "user", "content": "hi"}], "x": ' + b"[" * depth + b"]" * depth + b"}"
    error = expect_error(core.post("/v1/chat/completions", content=body), 400, param="request_body")
    assert "nested" in error["message"] or "depth" in error["message"]


def test_moderately_nested_json_is_accepted(core: Gw, fake_upstream: FakeUpstream) -> None:
    body = b'{"model": "fake", "messages": [{"role": "user", "content": "hi"}], "x": ' + b"[" * 50 + b"]" * 50 + b"}"
    response = core.post("/v1/chat/completions", content=body)
    assert response.status_code == 200, response.text


# -- item 16: a body trickling in is cut off at the deadline ---------------------------------------------------


def test_body_trickling_in_gets_408_at_the_deadline(limits: Gw) -> None:
    """One byte every 0.2 s of a 200-byte body: answered 408 long before the body could be complete."""
    length = 200
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {MASTER}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", limits.process.port), timeout=5) as sock:
        sock.sendall(head)
        sock.settimeout(0.2)
        while sent < length and not answer:
            try:
                sock.sendall(b" ")
            except OSError:  # the gateway closed the connection after answering
                break
            sent += 1
            try:
                answer = sock.recv(65536)
            except socket.timeout:
                continue
        sock.settimeout(5)
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert sent < length, "the answer came only after the whole body"
    assert b'"code":"408"' in answer
