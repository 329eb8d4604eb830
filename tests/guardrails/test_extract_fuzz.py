"""Fuzzing the JSON a client sends: body parsing and guardrail extraction / write-back.

Hypothesis generates arbitrary JSON (and arbitrary bytes). Properties:

- the request path answers every body with a clean error (4xx, the one error
  body) or a result: never a 500, whatever the body holds;
- extraction never raises, for any call type, on either side;
- writing back the texts, images and tool calls just extracted is the
  identity, and writing back changed texts puts them exactly where
  extraction finds them again;
- a guardrail check built from any extraction serialises.

Bounded: derandomised, no example database, a few hundred examples (a few
seconds).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatehouse.errors import BadRequestError
from gatehouse.guardrails.extract import (
    FORWARDED_HEADERS, apply_rewrite, build_body, extract_request, extract_response, rewrite_problem,
)
from gatehouse.guardrails.selection import check_requested, requested
from gatehouse.testing.harness import Harness
from gatehouse.testing import FakeGuardrail
from gatehouse.testing.fake_guardrail import Reply

CALL_TYPES = ("completion", "text_completion", "embeddings", "image_generation", "moderation",
              "audio_transcription", None, "acompletion", "unknown")
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=20)
#: Any JSON value.
json_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=25)
_keys = st.sampled_from(["role", "content", "text", "type", "image_url", "url", "tool_calls", "tools", "messages",
                         "prompt", "input", "choices", "message", "delta", "model", "guardrails", "extra_body"])
#: JSON shaped like what the extractors look for (so the interesting branches are reached).
shaped = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(_keys | st.text(max_size=4), inner, max_size=5), max_leaves=30)
bodies = st.dictionaries(_keys, shaped, max_size=6)


@FUZZ
@given(call_type=st.sampled_from(CALL_TYPES), body=bodies)
def test_extraction_then_write_back_of_the_same_values_is_the_identity(call_type, body):
    before = copy.deepcopy(body)
    for extract in (extract_request, extract_response):
        ex = extract(call_type, body)
        assert rewrite_problem(ex, texts=ex.texts, images=ex.images, tool_calls=ex.tool_calls,
                               guardrail_name="g") is None
        assert apply_rewrite(ex, texts=list(ex.texts), images=list(ex.images),
                             tool_calls=list(ex.tool_calls)) == 0
        assert body == before
        orjson.loads(build_body(ex, data=body, metadata={}, input_type="request", params={},
                                allowed_headers=FORWARDED_HEADERS, version="gatehouse-test"))


@FUZZ
@given(call_type=st.sampled_from(CALL_TYPES), body=bodies)
def test_written_back_texts_are_found_where_extraction_looks(call_type, body):
    ex = extract_request(call_type, body)
    marked = [f"<{i}>" for i in range(len(ex.texts))]
    assert rewrite_problem(ex, texts=marked, images=None, guardrail_name="g") is None
    apply_rewrite(ex, texts=marked, images=None)
    assert extract_request(call_type, body).texts == marked


@FUZZ
@given(body=bodies)
def test_guardrail_selection_raises_only_a_clean_400(body):
    try:
        requested(body)
        check_requested(body, frozenset({"g", "h"}))
    except BadRequestError as error:
        assert error.status == 400 and error.message


# -- through the request path (the hook harness: the server's flow, no sockets) ---------

_FIELDS = st.fixed_dictionaries({}, optional={
    "messages": shaped, "prompt": shaped, "input": shaped, "tools": shaped, "stream": json_values,
    "guardrails": shaped, "metadata": shaped, "user": json_values, "tags": json_values, "n": json_values,
    "include_guardrail_response": json_values, "stream_options": shaped, "temperature": json_values,
})
requests = st.builds(lambda fields, model: {"model": model, **fields}, _FIELDS,
                     st.sampled_from(["mock", "nope", 3, None]))
PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/moderations", "/v1/images/generations")


@pytest.fixture(scope="module")
def harness_loop():
    """A harness whose config has a default_on guardrail echoing every text back as a rewrite."""
    loop = asyncio.new_event_loop()
    guard = FakeGuardrail(default=lambda body: Reply("GUARDRAIL_INTERVENED", texts=(body or {}).get("texts")))
    loop.run_until_complete(guard.start())
    config = {
        "model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/gatehouse-mock"}}],
        "guardrails": [{"guardrail_name": "echo", "litellm_params": {
            "guardrail": "generic_guardrail_api", "api_base": guard.base, "mode": ["pre_call", "post_call"],
            "default_on": True}}],
    }
    harness = Harness(config=config)
    loop.run_until_complete(harness.__aenter__())
    yield harness, loop
    loop.run_until_complete(harness.__aexit__(None, None, None))
    loop.run_until_complete(guard.stop())
    loop.close()


def _clean(reply: Any) -> None:
    assert reply.status != 500 and reply.status < 502, reply.body[:500]
    if reply.status >= 400:
        error = orjson.loads(reply.body)["error"]
        assert set(error) >= {"message", "type", "param", "code"} and error["message"]


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), body=requests)
def test_any_json_body_gets_a_clean_error_or_an_answer(harness_loop, path, body):
    harness, loop = harness_loop
    _clean(loop.run_until_complete(harness.request(body, path=path)))


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_any_bytes_get_a_clean_error_or_an_answer(harness_loop, raw):
    harness, loop = harness_loop
    _clean(loop.run_until_complete(harness.request(raw)))
