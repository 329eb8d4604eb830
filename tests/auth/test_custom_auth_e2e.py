"""general_settings.custom_auth through the real gateway: a function file beside the config decides."""

from __future__ import annotations

from typing import Any, Callable

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess

MASTER = "sk-master-custom-auth"
CHAT = "/v1/chat/completions"
BODY = {"model": "mock", "messages": [{"role": "user", "content": "hi"}]}

CUSTOM_AUTH = '''
from fastapi import HTTPException, Request        # what LiteLLM's docs import
from gatehouse import UserAPIKeyAuth              # was: from litellm.proxy._types import UserAPIKeyAuth


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if api_key == "sk-check":
        body = await request.json()
        seen = (request.method, request.url.path, request.headers.get("x-team"), body.get("model"),
                str(request.url).startswith("http://127.0.0.1"), request.query_params.get("q"))
        if seen != ("POST", "/v1/chat/completions", "blue", "mock", True, "1"):
            raise Exception(f"unexpected request {seen}")
        return UserAPIKeyAuth(api_key=api_key, user_id="checked")
    if api_key == "sk-good":
        return UserAPIKeyAuth(api_key=api_key, models=["mock"], user_id="good-user")
    if api_key == "sk-limited":
        return UserAPIKeyAuth(api_key=api_key, rpm_limit=1)
    if api_key == "sk-blocked":
        return UserAPIKeyAuth(api_key=api_key, blocked=True)
    if api_key == "sk-broke":
        return {"max_budget": 1.0, "spend": 2.5, "key_alias": "broke"}
    if api_key == "sk-admin":
        return UserAPIKeyAuth(api_key=api_key, user_role="proxy_admin")
    if api_key == "sk-forbidden":
        raise HTTPException(status_code=403, detail="not on my watch")
    if api_key == "sk-none":
        return None
    raise Exception("unknown key")
'''


@pytest.fixture
def custom_gw(gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    config = {
        "model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/anything"}},
                       {"model_name": "other", "litellm_params": {"model": "mock/other"}}],
        "general_settings": {"master_key": MASTER, "custom_auth": "custom_auth.user_api_key_auth"},
    }
    return gateway(config, files={"custom_auth.py": CUSTOM_AUTH})


def post(gw: GatewayProcess, key: str, body: Any = BODY, path: str = CHAT, **headers: str) -> httpx.Response:
    return httpx.post(gw.base_url + path, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}", **headers})


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_the_function_sees_the_request(custom_gw: GatewayProcess) -> None:
    ok = httpx.post(custom_gw.base_url + CHAT + "?q=1", json=BODY, timeout=30,
                    headers={"Authorization": "Bearer sk-check", "x-team": "blue"})
    assert ok.status_code == 200, ok.text


def test_an_accepted_key_is_served_through_the_sdk(custom_gw: GatewayProcess) -> None:
    with openai.OpenAI(base_url=custom_gw.api_base, api_key="sk-good", max_retries=0, timeout=30) as client:
        answer = client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
        with pytest.raises(openai.PermissionDeniedError) as info:  # models=["mock"] is enforced
            client.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])
    assert info.value.body["param"] == "model"  # type: ignore[index]


def test_refusals(custom_gw: GatewayProcess) -> None:
    assert error_of(post(custom_gw, "sk-unknown"), 401) == {
        "message": "Authentication Error, unknown key", "type": "auth_error", "param": None, "code": "401"}
    assert error_of(post(custom_gw, "sk-forbidden"), 403)["message"] == "not on my watch"
    assert error_of(post(custom_gw, "sk-blocked"), 401)["message"] == "Authentication Error, this key is blocked"
    assert "returned no identity" in error_of(post(custom_gw, "sk-none"), 401)["message"]
    no_key = httpx.post(custom_gw.base_url + CHAT, json=BODY, timeout=30)
    assert error_of(no_key, 401)["message"] == "Authentication Error, unknown key"  # the function got ""
    assert "custom_auth custom_auth.user_api_key_auth returned NoneType" in custom_gw.logs()
    assert "sk-forbidden" not in custom_gw.logs() and "sk-unknown" not in custom_gw.logs()


def test_the_identity_is_enforced_like_a_virtual_key(custom_gw: GatewayProcess) -> None:
    assert post(custom_gw, "sk-limited").status_code == 200
    assert error_of(post(custom_gw, "sk-limited"), 429)["type"] == "throttling_error"
    broke = error_of(post(custom_gw, "sk-broke"), 422)
    assert broke["type"] == "budget_exceeded"
    assert broke["message"].startswith("Budget has been exceeded! Key=broke")


def test_admin_role_and_master_key_manage_keys(custom_gw: GatewayProcess) -> None:
    assert post(custom_gw, "sk-admin", {}, "/key/generate").status_code == 200
    assert post(custom_gw, MASTER, {}, "/key/generate").status_code == 200
    assert post(custom_gw, MASTER).status_code == 200
    refused = error_of(post(custom_gw, "sk-good", {}, "/key/generate"), 401)
    assert refused["message"] == "Authentication Error, only the master key may manage keys"


def test_custom_auth_without_master_key_is_not_open(gateway: Callable[..., GatewayProcess]) -> None:
    config = {"model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/anything"}}],
              "general_settings": {"custom_auth": "custom_auth.user_api_key_auth"}}
    gw = gateway(config, files={"custom_auth.py": CUSTOM_AUTH})
    assert error_of(post(gw, "sk-unknown"), 401)["message"] == "Authentication Error, unknown key"
    assert post(gw, "sk-good").status_code == 200
    assert "open mode" not in gw.logs()
