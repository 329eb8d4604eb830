"""``include:``, ``default_litellm_params`` and the warnings for LiteLLM keys Gatehouse does not implement."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

import openai

from gatehouse.testing import FakeUpstream, GatewayProcess, free_port
from gatehouse.testing.processes import _package_root

MESSAGES = [{"role": "user", "content": "hi"}]


def test_include_and_default_litellm_params(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> None:
    included = f"""
model_list:
  - model_name: included
    litellm_params: {{model: openai/included-model, api_base: "{fake_upstream.url}", api_key: sk-up}}
  - model_name: own-temperature
    litellm_params: {{model: openai/own-model, api_base: "{fake_upstream.url}", api_key: sk-up, temperature: 0.9}}
"""
    config = """
include:
  - models/included.yaml
model_list:
  - model_name: main
    litellm_params: {model: mock/main}
router_settings:
  num_retries: 0
  default_litellm_params: {temperature: 0.25, max_tokens: 7}
"""
    gw = gateway(config, files={"models/included.yaml": included})
    with openai.OpenAI(base_url=gw.api_base, api_key="x", max_retries=0, timeout=30) as client:
        assert sorted(m.id for m in client.models.list().data) == ["included", "main", "own-temperature"]
        client.chat.completions.create(model="included", messages=MESSAGES)
        client.chat.completions.create(model="own-temperature", messages=MESSAGES)
    first, second = (r.json for r in fake_upstream.requests)
    assert (first["model"], first["temperature"], first["max_tokens"]) == ("included-model", 0.25, 7)
    assert (second["temperature"], second["max_tokens"]) == (0.9, 7)  # the deployment's own value wins


def _run(tmp_path: Path, files: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    import os

    return subprocess.run([sys.executable, "-m", "gatehouse", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": _package_root()})


def test_include_conflicts_and_cycles_stop_start_up(tmp_path: Path) -> None:
    files = {"a.yaml": "include: b.yaml\ngeneral_settings: {master_key: sk-a}\n",
             "b.yaml": "general_settings: {master_key: sk-b}\n"}
    result = _run(tmp_path, files, "a.yaml", "--port", str(free_port()))
    assert result.returncode == 2
    assert "a.yaml: general_settings.master_key: also set in the included file" in result.stderr
    result = _run(tmp_path, {"a.yaml": "include: [b.yaml]\n", "b.yaml": "include: a.yaml\n"}, "check-config", "a.yaml")
    assert result.returncode == 2 and "include cycle: a.yaml → b.yaml → a.yaml" in result.stderr


def test_known_keys_are_implemented_or_warned_about(tmp_path: Path) -> None:
    config = """
model_list:
  - {model_name: a, litellm_params: {model: mock/a}}
  - {model_name: b, litellm_params: {model: mock/b}}
litellm_settings:
  fallbacks: [{a: [b]}]
  context_window_fallbacks: [{a: [b]}]
  drop_params: true
  cache: true
  cache_params: {type: disk}
general_settings:
  store_model_in_db: true
router_settings:
  model_group_alias: {gpt-4: a}
"""
    result = _run(tmp_path, {"config.yaml": config}, "check-config", "config.yaml")
    assert result.returncode == 0, result.stderr
    warnings = result.stderr
    assert "fallbacks" not in warnings  # they work: no false "ignored" warning
    assert "drop_params" not in warnings  # translating providers drop what they cannot take
    for expected in ("general_settings.store_model_in_db: not implemented by Gatehouse",
                     "router_settings.model_group_alias: not implemented by Gatehouse",
                     "litellm_settings.cache_params.type: 'disk': a disk cache is not implemented"):
        assert expected in warnings, warnings


def test_supported_environments_select_deployments(tmp_path: Path) -> None:
    import os

    config = """
model_list:
  - {model_name: everywhere, litellm_params: {model: mock/a}}
  - {model_name: prod-only, litellm_params: {model: mock/b}, model_info: {supported_environments: [production]}}
  - {model_name: dev-only, litellm_params: {model: mock/c}, model_info: {supported_environments: [development]}}
"""
    (tmp_path / "config.yaml").write_text(config)
    env = {**os.environ, "PYTHONPATH": _package_root(), "LITELLM_ENVIRONMENT": "production"}
    result = subprocess.run([sys.executable, "-m", "gatehouse", "check-config", "config.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "model group prod-only" in result.stdout and "model group everywhere" in result.stdout
    assert "dev-only" not in result.stdout
    env.pop("LITELLM_ENVIRONMENT")
    result = subprocess.run([sys.executable, "-m", "gatehouse", "check-config", "config.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2 and "needs LITELLM_ENVIRONMENT" in result.stderr
