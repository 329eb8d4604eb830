"""Guardrail outcomes in spend-log rows: a guardrail that passed, and one that blocked (a failure row)."""

from __future__ import annotations

from typing import Any, Iterator

import openai
import pytest

from gatehouse.testing import FakeGuardrail, FakeUpstream, GatewayProcess
from gatehouse.testing.fake_guardrail import block_on

from spend_support import MASTER, by_request, spend_config

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def guarded(fake_upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    guard = FakeGuardrail(block_on("forbidden"))
    guard.start_in_thread()
    config = spend_config(fake_upstream.url)
    config["guardrails"] = [{"guardrail_name": "words", "litellm_params": {
        "guardrail": "generic_guardrail_api", "api_base": guard.base, "mode": "pre_call", "default_on": True}}]
    gw = GatewayProcess(config).start()
    try:
        yield gw
    finally:
        gw.stop()
        guard.stop_thread()


def test_rows_record_what_each_guardrail_decided(guarded: GatewayProcess, openai_client: Any) -> None:
    client = openai_client(guarded, api_key=MASTER)
    passed = client.chat.completions.with_raw_response.create(model="priced", messages=HI)
    row = by_request(guarded, passed.headers["x-litellm-call-id"])
    assert [(g["name"], g["mode"], g["status"]) for g in row["guardrails"]] == [("words", "pre_call", "success")]
    with pytest.raises(openai.BadRequestError) as blocked:
        client.chat.completions.create(model="priced", messages=[{"role": "user", "content": "say forbidden"}])
    row = by_request(guarded, blocked.value.response.headers["x-litellm-call-id"])
    assert row["status"] == "failure" and row["spend"] == 0.0
    assert [(g["name"], g["status"]) for g in row["guardrails"]] == [("words", "blocked")]
