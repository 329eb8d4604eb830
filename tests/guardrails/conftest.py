"""Fixtures of the guardrail plugin's unit tests.

The fake guardrail service is :class:`gatehouse.testing.fake_guardrail.FakeGuardrail`,
started in the test's event loop on a free port. Tests script its answers
(:meth:`FakeGuardrail.reply`: one :class:`Reply` or a function of the request
body per request, FIFO; the default answers NONE) and read what it received
(:attr:`FakeGuardrail.requests`: path, headers, JSON body).
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from gatehouse.auth.identity import UserAPIKeyAuth
from gatehouse.guardrails.config import parse_guardrails
from gatehouse.guardrails.plugin import GenericGuardrail
from gatehouse.metrics import Metrics
from gatehouse.testing.fake_guardrail import PATH, FakeGuardrail, Reply, block_on, mask


@pytest.fixture
async def fake_guardrail() -> AsyncIterator[FakeGuardrail]:
    service = FakeGuardrail()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def make_guardrail(metrics):
    """``await make_guardrail(api_base, mode=..., **litellm_params)`` → a started plugin (default_on unless told)."""
    started: list[GenericGuardrail] = []

    async def make(api_base: str, *, name: str = "g1", mode: Any = "pre_call", **params: Any) -> GenericGuardrail:
        params.setdefault("default_on", True)
        entry = {
            "guardrail_name": name,
            "litellm_params": {"guardrail": "generic_guardrail_api", "mode": mode, "api_base": api_base, **params},
        }
        (config,) = parse_guardrails([entry], source="test.yaml")
        plugin = GenericGuardrail(config, metrics=metrics)
        await plugin.startup()
        started.append(plugin)
        return plugin

    yield make
    for plugin in started:
        await plugin.shutdown()


@pytest.fixture
def user() -> UserAPIKeyAuth:
    return UserAPIKeyAuth(api_key="hash-abc", token="hash-abc", key_alias="k1", user_id="u1", team_id="t1")


def request_data(user: UserAPIKeyAuth, body: dict[str, Any], *, call_type: str = "completion") -> dict[str, Any]:
    """A ``data`` dict as the gateway hands it to hooks (docs/architecture.md)."""
    data = dict(body)
    metadata = dict(data.pop("metadata", None) or {})
    metadata.update(user.logging_fields())
    metadata.update(
        {
            "headers": {
                "host": "gw.local",
                "authorization": "Bearer sk-secret",
                "content-type": "application/json",
                "x-stainless-lang": "python",
                "x-request-id": "r-1",
                "x-litellm-api-key": "sk-other",
                "x-tenant": "acme",
            },
            "endpoint": "/v1/chat/completions",
            "call_type": call_type,
        }
    )
    data["metadata"] = metadata
    data["litellm_call_id"] = "call-123"
    data["litellm_trace_id"] = "trace-456"
    data["proxy_server_request"] = {"url": "http://gw.local/v1/chat/completions", "method": "POST", "headers": metadata["headers"]}
    return data


@pytest.fixture
def gr():
    """Reply, mask, block_on, PATH and request_data for tests (conftest modules are not importable)."""
    from types import SimpleNamespace

    return SimpleNamespace(Reply=Reply, mask=mask, block_on=block_on, request_data=request_data, PATH=PATH)
