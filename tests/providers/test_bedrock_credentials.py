"""Which credentials a bedrock/ deployment signs with, and what stops start-up.

Every request is checked by the fake: the signature is recomputed with botocore
from what it received, with the secret of the access key the request names.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bedrock_support import AWS_ENV, MODEL, REGION, bedrock_fake, deployment, fake  # noqa: E402,F401

from gatehouse.testing import GatewayProcess, ServerStartError  # noqa: E402
from gatehouse.testing.fake_bedrock import ACCESS_KEY, SECRET_KEY, FakeBedrock, Reply  # noqa: E402

HELLO = [{"role": "user", "content": "Hello"}]
ROLE = "arn:aws:iam::123456789012:role/gatehouse-bedrock"


def bare(url: str, **params: Any) -> dict[str, Any]:
    """A deployment with no credentials of its own (only endpoint and what is given)."""
    return {"model_name": "claude", "litellm_params": {"model": f"bedrock/{MODEL}",
                                                       "aws_bedrock_runtime_endpoint": url, **params}}


def ask(gw: GatewayProcess, model: str = "claude") -> str:
    with openai.OpenAI(base_url=gw.api_base, api_key="sk-x", max_retries=0, timeout=30) as client:
        return client.chat.completions.create(model=model, messages=HELLO).choices[0].message.content or ""


def start_fails(config: dict[str, Any], env: dict[str, str], files: dict[str, str] | None = None) -> str:
    gw = GatewayProcess(config, env={**AWS_ENV, **env}, files=files)
    with pytest.raises(ServerStartError):
        gw.start(timeout=20)
    gw.stop()
    return gw.logs()


def test_environment_keys_and_region(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> None:
    gw = gateway({"model_list": [bare(fake.url)]},
                 env={**AWS_ENV, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                      "AWS_REGION": "eu-west-1"})
    assert ask(gw).startswith("Hello!")
    assert fake.requests[-1].signer == ACCESS_KEY and fake.requests[-1].region == "eu-west-1"


def test_session_token_is_sent_and_signed(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> None:
    fake.add_key("ASIATEMPKEY", "temp-secret", token="temp-token")
    gw = gateway({"model_list": [bare(fake.url, aws_access_key_id="ASIATEMPKEY", aws_secret_access_key="temp-secret",
                                      aws_session_token="temp-token", aws_region_name=REGION)]}, env=AWS_ENV)
    ask(gw)
    assert fake.requests[-1].signer == "ASIATEMPKEY"
    assert fake.requests[-1].headers["X-Amz-Security-Token"] == "temp-token"
    fake.queue(Reply(status=403, error_type="AccessDeniedException", message="denied for temp-secret temp-token"))
    with pytest.raises(openai.PermissionDeniedError) as caught:
        ask(gw)
    assert "temp-secret" not in caught.value.message and "temp-token" not in caught.value.message
    for path in ("/v1/model/info", "/metrics", "/v1/models"):
        shown = httpx.get(gw.base_url + path, timeout=30).text
        assert "temp-secret" not in shown and "temp-token" not in shown
    assert "temp-secret" not in gw.logs() and "temp-token" not in gw.logs()


def test_profile_from_the_shared_files(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> None:
    files = {"aws/credentials": f"[team]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n",
             "aws/config": "[profile team]\nregion = us-west-2\n"}
    env = {**AWS_ENV, "AWS_SHARED_CREDENTIALS_FILE": "aws/credentials", "AWS_CONFIG_FILE": "aws/config"}
    gw = gateway({"model_list": [bare(fake.url, aws_profile_name="team")]}, env=env, files=files)
    ask(gw)
    assert fake.requests[-1].signer == ACCESS_KEY and fake.requests[-1].region == "us-west-2"


def test_assumed_role_is_refreshed_before_it_expires(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> None:
    fake.sts_lifetime = 3.0  # the gateway refreshes half-way through
    gw = gateway({"model_list": [bare(fake.url, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                      aws_region_name=REGION, aws_role_name=ROLE, aws_session_name="gh-session",
                                      aws_sts_endpoint=fake.url)]}, env=AWS_ENV)
    ask(gw)
    first = fake.requests[-1].signer
    ours = lambda: [c for c in fake.sts_calls if c.body.get("RoleSessionName") == "gh-session"]  # noqa: E731
    call = next(c for c in ours() if c.issued == first)
    assert call.action == "AssumeRole" and call.signer == ACCESS_KEY and call.body["RoleArn"] == ROLE
    assert fake.wait_until(lambda: len(ours()) >= 2, timeout=20)  # refreshed in the background
    assert fake.wait_until(lambda: time.time() > fake.keys[first].expires + 0.1, timeout=20)  # type: ignore[operator]
    ask(gw)  # the first keys have expired: the fake would refuse them
    assert fake.requests[-1].signer in {c.issued for c in ours()} - {first}
    assert "temp-secret" not in gw.logs()


def test_web_identity_role(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> None:
    fake.web_identity_tokens.add("oidc-token-123")
    gw = gateway({"model_list": [bare(fake.url, aws_region_name=REGION, aws_role_name=ROLE,
                                      aws_web_identity_token="oidc-token-123", aws_sts_endpoint=fake.url)]},
                 env=AWS_ENV)
    ask(gw)
    issued = {c.issued for c in fake.sts_calls if c.action == "AssumeRoleWithWebIdentity"}
    assert fake.requests[-1].signer in issued


def test_bedrock_api_key_is_a_bearer_token(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> None:
    fake.bearer_tokens.add("bedrock-api-key-1")
    gw = gateway({"model_list": [bare(fake.url, aws_region_name=REGION, api_key="bedrock-api-key-1")]}, env=AWS_ENV)
    ask(gw)
    assert fake.requests[-1].signer == "bearer"
    assert fake.requests[-1].headers["Authorization"] == "Bearer bedrock-api-key-1"


def test_missing_credentials_stop_start_up_naming_the_variables(fake: FakeBedrock) -> None:
    logs = start_fails({"model_list": [bare(fake.url, aws_region_name=REGION)]}, {})
    assert "deployment 'claude'" in logs and "AWS_ACCESS_KEY_ID" in logs and "Traceback" not in logs


def test_missing_region_stops_start_up(fake: FakeBedrock) -> None:
    logs = start_fails({"model_list": [bare(fake.url, aws_access_key_id=ACCESS_KEY,
                                            aws_secret_access_key=SECRET_KEY)]}, {})
    assert "aws_region_name" in logs and "AWS_REGION" in logs
    assert SECRET_KEY not in logs


def test_a_role_sts_refuses_stops_start_up(fake: FakeBedrock) -> None:
    logs = start_fails({"model_list": [bare(fake.url, aws_access_key_id=ACCESS_KEY, aws_secret_access_key="wrong-secret",
                                            aws_region_name=REGION, aws_role_name=ROLE, aws_sts_endpoint=fake.url)]}, {})
    assert "aws_role_name" in logs and "InvalidSignatureException" in logs
    assert "wrong-secret" not in logs and "Traceback" not in logs


def test_without_botocore_start_up_names_the_extra(fake: FakeBedrock) -> None:
    files = {"botocore/__init__.py": "raise ImportError('No module named botocore')\n"}
    logs = start_fails({"model_list": [deployment("claude", fake.url)]}, {}, files=files)
    assert "pip install 'gatehouse[bedrock]'" in logs and "deployment 'claude'" in logs


def test_a_config_from_litellms_bedrock_docs(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> None:
    config = f"""
model_list:
  - model_name: bedrock-claude-v1
    litellm_params:
      model: bedrock/anthropic.claude-instant-v1
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: {fake.url}
"""
    env = {**AWS_ENV, "CUSTOM_AWS_ACCESS_KEY_ID": ACCESS_KEY, "CUSTOM_AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "CUSTOM_AWS_REGION_NAME": REGION}
    gw = gateway(config, env=env)
    assert ask(gw, "bedrock-claude-v1") == "Hello! You said: Hello"
    assert fake.requests[-1].model_id == "anthropic.claude-instant-v1"


def test_global_drop_and_modify_params(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> None:
    gw = gateway({"model_list": [deployment("claude", fake.url)],
                  "litellm_settings": {"drop_params": True, "modify_params": True}}, env=AWS_ENV)
    with openai.OpenAI(base_url=gw.api_base, api_key="sk-x", max_retries=0, timeout=30) as client:
        client.chat.completions.create(model="claude", seed=1, messages=[
            {"role": "assistant", "content": "Welcome!"}, {"role": "user", "content": "Hi"}])
    assert fake.requests[-1].body["messages"] == [
        {"role": "user", "content": [{"text": "."}]}, {"role": "assistant", "content": [{"text": "Welcome!"}]},
        {"role": "user", "content": [{"text": "Hi"}]}]
