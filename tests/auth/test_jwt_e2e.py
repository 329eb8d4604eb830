"""JWT auth through the real gateway: a fake identity provider started here, tokens signed with its key.

The config is LiteLLM's ``okta_jwt_auth_config.yaml`` example pointed at the fake provider; before
JWT auth existed, that config started the gateway open and ``Bearer not-a-jwt-at-all`` was served.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gatehouse.testing import GatewayProcess, free_port
from gatehouse.testing.fake_idp import FakeIdP
from gatehouse.testing.processes import _package_root

MASTER = "sk-master-jwt-e2e-1"
CHAT = "/v1/chat/completions"
BODY = {"model": "mock", "messages": [{"role": "user", "content": "hi"}]}
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdP]:
    provider = FakeIdP(issuer="https://your-okta-domain.okta.com/oauth2/default", audience="your-okta-client-id")
    provider.start_in_thread()
    yield provider
    provider.stop_thread()


def okta_config(idp: FakeIdP, **general: Any) -> dict[str, Any]:
    """LiteLLM's okta_jwt_auth_config.yaml, with the fake provider's discovery URL."""
    return {
        "model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/anything"}},
                       {"model_name": "other", "litellm_params": {"model": "mock/other"}}],
        "general_settings": {
            "enable_jwt_auth": True,
            "litellm_jwtauth": {
                "public_key_url": idp.discovery_url,
                "user_id_jwt_field": "sub",
                "user_email_jwt_field": "email",
                "team_ids_jwt_field": "groups",
                "audience": "your-okta-client-id",
                "issuer": "https://your-okta-domain.okta.com/oauth2/default",
                "roles_jwt_field": "groups",
                "role_mappings": [{"role": "litellm-admins", "internal_role": "proxy_admin"},
                                  {"role": "litellm-users", "internal_role": "internal_user"}],
                "user_id_upsert": True,
                "team_id_upsert": True,
                "enforce_rbac": False,
            },
            **general,
        },
    }


@pytest.fixture(scope="module")
def okta_gw(idp: FakeIdP) -> Iterator[GatewayProcess]:
    with GatewayProcess(okta_config(idp, master_key=MASTER)) as gw:
        yield gw


def post(gw: GatewayProcess, token: str | None, path: str = CHAT, body: Any = BODY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(gw.base_url + path, json=body, headers=headers, timeout=TIMEOUT)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == str(status)
    return error


def test_a_valid_token_is_served_through_the_sdk(okta_gw: GatewayProcess, idp: FakeIdP) -> None:
    token = idp.token(sub="alice", email="alice@example.com", groups=["engineering"])
    with openai.OpenAI(base_url=okta_gw.api_base, api_key=token, max_retries=0, timeout=TIMEOUT) as client:
        answer = client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content


def test_the_example_config_without_master_key_is_not_open(idp: FakeIdP, gateway: Callable[..., GatewayProcess]) -> None:
    gw = gateway(okta_config(idp))  # as LiteLLM ships it: no master_key
    error = error_of(post(gw, "not-a-jwt-at-all"), 401)
    assert error["message"] == "Authentication Error, Invalid proxy server token passed"
    assert error_of(post(gw, None), 401)["message"] == "Authentication Error, No api key passed in."
    assert "open mode" not in gw.logs() and "auth: JWT + virtual keys" in gw.logs()


def test_bad_tokens_are_refused(okta_gw: GatewayProcess, idp: FakeIdP) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "expired": (idp.token(sub="alice", expires_in=-120), "Token Expired"),
        "wrong audience": (idp.token(sub="alice", audience="someone-else"), "Validation fails: Audience"),
        "wrong issuer": (idp.token(sub="alice", issuer="https://evil.example"), "Validation fails: Invalid issuer"),
        "wrong key": (idp.token(sub="alice", key=other_key), "Validation fails: Signature verification failed"),
        "garbage": ("abc.def.ghi", "Validation fails"),
        "unsigned": (idp.token(sub="alice", key="", algorithm="none"), "is not accepted"),
    }
    for name, (token, expected) in cases.items():
        with openai.OpenAI(base_url=okta_gw.api_base, api_key=token, max_retries=0, timeout=TIMEOUT) as client:
            with pytest.raises(openai.AuthenticationError) as info:
                client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
        assert expected in info.value.body["message"], (name, info.value.body)  # type: ignore[index]
    assert all(token not in okta_gw.logs() for token, _ in cases.values() if len(token) > 20)


def test_a_token_without_a_role_is_refused(okta_gw: GatewayProcess, idp: FakeIdP) -> None:
    token = idp.token(email="nobody@example.com")  # no sub, no groups
    assert "no role" in error_of(post(okta_gw, token), 401)["message"]


def test_roles_decide_the_routes(okta_gw: GatewayProcess, idp: FakeIdP) -> None:
    user = idp.token(sub="alice", groups=["litellm-users"])
    admin = idp.token(groups=["litellm-admins"])
    scoped_admin = idp.token(sub="root", scope="openid litellm_proxy_admin")
    refused = error_of(post(okta_gw, user, "/key/generate", {}), 403)
    assert refused["message"].startswith("Role=internal_user not allowed to call route=/key/generate")
    for token in (admin, scoped_admin):
        made = post(okta_gw, token, "/key/generate", {"models": ["mock"]})
        assert made.status_code == 200, made.text
    key = made.json()["key"]
    assert post(okta_gw, key).status_code == 200  # the key an IdP admin made works
    assert error_of(post(okta_gw, admin), 403)["message"].startswith("Role=proxy_admin not allowed to call route=")


def test_the_master_key_keeps_working(okta_gw: GatewayProcess) -> None:
    assert post(okta_gw, MASTER).status_code == 200
    assert post(okta_gw, MASTER, "/key/generate", {}).status_code == 200


def test_signing_keys_are_cached_and_refetched_on_rotation(idp: FakeIdP, gateway: Callable[..., GatewayProcess]) -> None:
    gw = gateway(okta_config(idp, master_key="sk-rotation-test"))
    before = idp.fetches
    for _ in range(3):
        assert post(gw, idp.token(sub="alice")).status_code == 200
    assert idp.fetches - before <= 1  # fetched once, then served from the cache
    idp.rotate()
    try:  # an unknown kid makes the gateway fetch again (at most once a second, so poll)
        token = idp.token(sub="alice")
        deadline = time.monotonic() + 10
        while (status := post(gw, token).status_code) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200
    finally:
        idp.rotate()


def test_provider_unreachable_fails_closed(idp: FakeIdP) -> None:
    config = okta_config(idp)
    config["general_settings"]["litellm_jwtauth"]["public_key_url"] = f"http://127.0.0.1:{free_port()}/jwks.json"
    with GatewayProcess(config) as gw:
        error = error_of(post(gw, idp.token(sub="alice")), 503)
        assert "signing keys could not be fetched" in error["message"]


def test_environment_provides_url_and_audience(idp: FakeIdP) -> None:
    config = {"model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/anything"}}],
              "general_settings": {"enable_jwt_auth": True, "litellm_jwtauth": {"user_id_jwt_field": "sub"}}}
    env = {"JWT_PUBLIC_KEY_URL": idp.jwks_url, "JWT_AUDIENCE": idp.audience, "JWT_ISSUER": idp.issuer}
    with GatewayProcess(config, env=env) as gw:
        assert post(gw, idp.token(sub="alice")).status_code == 200
        assert error_of(post(gw, idp.token(sub="alice", audience="x")), 401)
        assert "litellm_jwtauth.public_key_url: from the environment variable JWT_PUBLIC_KEY_URL" in gw.logs()


def test_scope_mappings_limit_models(idp: FakeIdP) -> None:
    config = okta_config(idp)
    config["general_settings"]["litellm_jwtauth"].update(
        enforce_scope_based_access=True, scope_mappings=[{"scope": "mock.read", "models": ["mock"]}])
    with GatewayProcess(config) as gw:
        assert post(gw, idp.token(sub="alice", scope="mock.read")).status_code == 200
        other = post(gw, idp.token(sub="alice", scope="mock.read"), body={**BODY, "model": "other"})
        assert error_of(other, 403)["param"] == "model"
        assert error_of(post(gw, idp.token(sub="alice")), 403)["type"] == "key_model_access_denied"


def _check(config_text: str, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "config.yaml").write_text(config_text)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    return subprocess.run([sys.executable, "-m", "gatehouse", "config.yaml", "--port", str(free_port())],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**clean, "PYTHONPATH": _package_root(), **(env or {})})


@pytest.mark.parametrize("settings, expected", [
    ("enable_jwt_auth: true", "general_settings.litellm_jwtauth.public_key_url: enable_jwt_auth needs"),
    ("enable_jwt_auth: true\n  litellm_jwtauth: {public_key_url: 'http://x/jwks', enforce_team_based_model_access: "
     "true}", "litellm_jwtauth.enforce_team_based_model_access: is not implemented"),
    ("allowed_ips: ['10.0.0.1']", "general_settings.allowed_ips: cannot be enforced by Gatehouse"),
])
def test_unenforceable_auth_settings_stop_start_up(tmp_path: Path, settings: str, expected: str) -> None:
    result = _check(f"general_settings:\n  {settings}\n", tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr
