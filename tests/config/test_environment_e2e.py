"""The environment settings LiteLLM deployments rely on, read by the real gateway, and where they came from."""

from __future__ import annotations

from typing import Callable

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess

CONFIG = {"model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/anything"}}]}
ENV_MASTER = "sk-from-the-environment-7d1c"


def test_litellm_master_key_closes_the_gateway(gateway: Callable[..., GatewayProcess], redis_url: str) -> None:
    """A container started with LITELLM_MASTER_KEY and no master_key in the config is not open."""
    env = {"LITELLM_MASTER_KEY": ENV_MASTER, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379",
           "LITELLM_SALT_KEY": "sk-salt-never-logged", "STORE_MODEL_IN_DB": "True"}
    gw = gateway(CONFIG, env=env)
    with openai.OpenAI(base_url=gw.api_base, api_key="sk-anything", max_retries=0, timeout=30) as client:
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    with openai.OpenAI(base_url=gw.api_base, api_key=ENV_MASTER, max_retries=0, timeout=30) as client:
        assert client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}]).choices
    logs = gw.logs()
    assert "setting general_settings.master_key: from the environment variable LITELLM_MASTER_KEY" in logs
    assert "setting router_settings.redis_host: from the environment variable REDIS_HOST" in logs
    assert "setting (credential encryption): from the environment variable LITELLM_SALT_KEY" in logs
    assert "STORE_MODEL_IN_DB (environment): not implemented by Gatehouse" in logs
    assert "open mode" not in logs
    assert ENV_MASTER not in logs and "sk-salt-never-logged" not in logs
    assert httpx.get(gw.base_url + "/health/readiness", timeout=30).json()["cache"] == "redis"


def test_the_config_file_wins_and_says_so(gateway: Callable[..., GatewayProcess]) -> None:
    config = {**CONFIG, "general_settings": {"master_key": "os.environ/E2E_FILE_MASTER"}}
    gw = gateway(config, env={"LITELLM_MASTER_KEY": ENV_MASTER, "E2E_FILE_MASTER": "sk-file-master-0001"})
    denied = httpx.post(gw.base_url + "/v1/chat/completions", timeout=30, json={"model": "mock", "messages": []},
                        headers={"Authorization": f"Bearer {ENV_MASTER}"})
    assert denied.status_code == 401
    assert ("setting general_settings.master_key: from the config file, from the environment variable "
            "E2E_FILE_MASTER") in gw.logs()


def test_litellm_log_sets_the_level(gateway: Callable[..., GatewayProcess]) -> None:
    gw = gateway(CONFIG, env={"LITELLM_LOG": "DEBUG", "GATEHOUSE_LOG": ""})
    httpx.post(gw.base_url + "/v1/chat/completions", timeout=30,
               json={"model": "mock", "messages": [{"role": "user", "content": "hi"}]})
    assert " DEBUG " in gw.logs()
