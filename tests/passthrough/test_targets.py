"""Pass-through URLs and headers: joining bases and paths, queries, what goes upstream and back, the caller's key."""

from __future__ import annotations

import pytest

from gatehouse.passthrough.headers import client_headers, presented_key, upstream_headers
from gatehouse.passthrough.targets import join, with_query


@pytest.mark.parametrize("base,tail,url", [
    ("https://api.openai.com/v1", "/v1/chat/completions", "https://api.openai.com/v1/chat/completions"),
    ("https://api.openai.com/v1", "/chat/completions", "https://api.openai.com/v1/chat/completions"),
    ("https://api.anthropic.com", "/v1/messages", "https://api.anthropic.com/v1/messages"),
    ("https://g.googleapis.com/v1beta/", "/v1beta/models/x:generateContent", "https://g.googleapis.com/v1beta/models/x:generateContent"),
    ("http://h:1/v1", "/v2/rerank", "http://h:1/v1/v2/rerank"),
    ("https://t.example/model", "", "https://t.example/model"),
])
def test_join_never_doubles_a_version(base: str, tail: str, url: str) -> None:
    assert join(base, tail) == url


def test_queries() -> None:
    assert with_query("https://h/p", "alt=sse&x=%20") == "https://h/p?alt=sse&x=%20"  # as the client wrote it
    assert with_query("https://h/p?v=1", "key=sk-gatehouse&alt=sse", drop=frozenset({"key"})) == "https://h/p?v=1&alt=sse"
    assert with_query("https://h/p", "", {"a": "b"}) == "https://h/p?a=b"


def test_the_callers_key_wherever_its_sdk_puts_it() -> None:
    assert presented_key({"x-litellm-api-key": "Bearer sk-1", "Authorization": "Bearer other"}, {}) == "sk-1"
    assert presented_key({"Authorization": "Bearer sk-2"}, {}) == "sk-2"
    assert presented_key({"x-api-key": "sk-3"}, {}) == "sk-3"
    assert presented_key({"x-goog-api-key": "sk-4"}, {}) == "sk-4"
    assert presented_key({}, {"key": "sk-5"}) == "sk-5"
    assert presented_key({"x-my-key": "sk-6"}, {}, "x-my-key") == "sk-6"
    aws = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=ab"
    assert presented_key({"Authorization": aws}, {}) is None  # an SDK's AWS signature is never a key


def test_no_credential_goes_upstream() -> None:
    sent = [("Authorization", "Bearer sk-gw"), ("x-api-key", "sk-gw"), ("Content-Type", "application/json"),
            ("anthropic-version", "2023-06-01"), ("Host", "gw"), ("Content-Length", "9"), ("Cookie", "c=1"),
            ("X-Amz-Date", "x"), ("x-pass-anthropic-beta", "b1"), ("x-pass-authorization", "Bearer evil"),
            ("x-litellm-api-key", "sk-gw"), ("x-my-key", "sk-gw"), ("Accept-Encoding", "gzip")]
    assert upstream_headers(sent, forward=True, key_header="x-my-key") == {
        "Content-Type": "application/json", "anthropic-version": "2023-06-01", "anthropic-beta": "b1"}
    assert upstream_headers(sent, forward=False) == {"Content-Type": "application/json", "anthropic-beta": "b1"}


def test_what_comes_back() -> None:
    got = client_headers([("content-type", "text/event-stream"), ("request-id", "r1"), ("Set-Cookie", "s"),
                          ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"), ("retry-after", "3")])
    assert got == {"Content-Type": "text/event-stream", "request-id": "r1", "retry-after": "3"}
