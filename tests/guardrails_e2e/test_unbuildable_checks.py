"""A check the gateway cannot build never fails open (issue 8, item 5).

A byte that is not UTF-8 in ``User-Agent`` or a forwarded ``x-litellm-*``
header made the guardrail request unserialisable: with ``fail_on_error: false``
the guardrail was skipped, otherwise every such request was a 500. Header
values are now sent with such bytes as ``\\xNN``; and whatever else makes a
check unbuildable fails closed, whatever the failure policy says.
"""

from __future__ import annotations

from typing import Any, Callable

import httpx
import pytest

from gatehouse.testing import FakeGuardrail, FakeUpstream, GatewayProcess, upstream_model_config

MASTER_KEY = "sk-guard-e2e-master-4c1f"  # the guardrails_e2e gateways' master key
TIMEOUT = 30.0

BAD_HEADERS = {"User-Agent": b"agent\xff/1.0", "x-litellm-tags": b"tag\xfe", "x-stainless-lang": b"py\xc3"}

POISON_PY = r'''
"""A user hook that leaves a value in the request no JSON can hold."""
from gatehouse import CustomLogger


class Poison(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        if "poison" in str(data.get("messages")):
            data["messages"][0]["attachment"] = object()
        return data


poison = Poison()
'''


def _post(gw: Any, text: str = "hello", guardrails: list[str] | None = None,
          headers: dict[str, Any] | None = None) -> httpx.Response:
    body = {"model": "fake", "messages": [{"role": "user", "content": text}], "guardrails": guardrails or []}
    return httpx.post(gw.base_url + "/v1/chat/completions", json=body, timeout=TIMEOUT,
                      headers={"Authorization": f"Bearer {MASTER_KEY}", **(headers or {})})


@pytest.mark.parametrize("name", ["lenient", "pre2"])  # fail_on_error: false, and the default policy
def test_a_non_utf8_header_is_forwarded_escaped_and_the_check_runs(main, name):
    response = _post(main, guardrails=[name], headers=BAD_HEADERS)
    assert response.status_code == 200, response.text
    (check,) = main.guards[name].bodies
    headers = check["request_headers"]
    assert headers["user-agent"] == "agent\\xff/1.0"
    assert headers["x-litellm-tags"] == "tag\\xfe"
    assert headers["x-stainless-lang"] == "py\\xc3"
    assert check["texts"] == ["hello"]


@pytest.fixture
def poisoned(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream,
             guards: dict[str, FakeGuardrail]) -> Any:
    config = {
        "model_list": [upstream_model_config(fake_upstream.url)],
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "litellm_settings": {"callbacks": "poison_hook.poison"},
        "guardrails": [{"guardrail_name": "lenient", "litellm_params": {
            "guardrail": "generic_guardrail_api", "api_base": guards["lenient"].base, "mode": "pre_call",
            "default_on": True, "fail_on_error": False, "unreachable_fallback": "fail_open"}}],
    }
    process = gateway(config, files={"poison_hook.py": POISON_PY})
    process.upstream = fake_upstream
    return process


def test_an_unbuildable_check_fails_closed_even_when_the_guardrail_fails_open(poisoned, guards):
    response = _post(poisoned, "poison me")
    assert response.status_code == 500, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("Guardrail 'lenient' could not be checked: could not build the guardrail request")
    assert guards["lenient"].count == 0
    assert poisoned.upstream.requests == []
    assert _post(poisoned, "clean").status_code == 200  # other requests are checked and pass
    assert guards["lenient"].count == 1
