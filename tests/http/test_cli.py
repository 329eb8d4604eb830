"""The ``gatehouse`` command: config files, broken configs, environment, logging, workers, no config."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import openai
import pytest
import yaml

from gatehouse.testing import FakeUpstream, GatewayProcess, ServerProcess, free_port
from gatehouse.testing.processes import _package_root

PYTHON = [sys.executable, "-m", "gatehouse"]
ENV = {"PYTHONPATH": _package_root()}
MESSAGES = [{"role": "user", "content": "hi"}]


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([*PYTHON, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **ENV, **(env or {})}, stdin=subprocess.DEVNULL)


# -- a config using os.environ/, environment_variables and unknown keys, run as `gatehouse FILE` --

ENV_CONFIG = """
environment_variables:
  E2E_UPSTREAM_KEY: sk-exported-by-environment-variables
model_list:
  - model_name: env-model
    litellm_params:
      model: openai/env-upstream
      api_base: os.environ/E2E_FAKE_BASE
      api_key: os.environ/E2E_UPSTREAM_KEY
general_settings:
  master_key: os.environ/E2E_MASTER
  totally_unknown_setting: 1
litellm_settings:
  request_timeout: os.environ/E2E_NEVER_SET
router_settings:
  num_retries: 0
surprise_top_level: true
"""


@pytest.fixture(scope="module")
def env_gateway(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("cli-env")
    (directory / "my-config.yaml").write_text(ENV_CONFIG)
    port = free_port()
    server = ServerProcess(
        [*PYTHON, "my-config.yaml", "--port", str(port), "--host", "127.0.0.1"],  # FILE positional, relative
        env={**ENV, "E2E_FAKE_BASE": fake_upstream.url, "E2E_MASTER": "sk-master-from-env",
             "GATEHOUSE_LOG": "DEBUG"},
        cwd=directory, log_path=directory / "gateway.log")
    server.start(f"http://127.0.0.1:{port}/health/readiness")
    server.base_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_positional_file_and_os_environ_values(env_gateway: ServerProcess, fake_upstream: FakeUpstream) -> None:
    base = env_gateway.base_url  # type: ignore[attr-defined]
    with openai.OpenAI(base_url=base + "/v1", api_key="sk-master-from-env", max_retries=0) as client:
        response = client.chat.completions.create(model="env-model", messages=MESSAGES)
        with pytest.raises(openai.AuthenticationError):  # the master key really came from the environment
            client.with_options(api_key="os.environ/E2E_MASTER").models.list()
    assert response.choices[0].message.content == "Hello! You said: hi"
    [sent] = fake_upstream.requests
    assert sent.json["model"] == "env-upstream"
    assert sent.headers["Authorization"] == "Bearer sk-exported-by-environment-variables"


def test_unknown_keys_are_warned_about_by_name(env_gateway: ServerProcess) -> None:
    logs = env_gateway.logs()
    warnings = [line for line in logs.splitlines() if " WARNING " in line]
    unknown = [w for w in warnings if "general_settings.totally_unknown_setting" in w]
    assert len(unknown) == 1, logs  # warned once, not once per load
    assert "my-config.yaml" in unknown[0] and "ignored" in unknown[0]
    assert any("surprise_top_level" in w for w in warnings), logs
    assert any("litellm_settings.request_timeout" in w and "E2E_NEVER_SET" in w for w in warnings), logs


def test_debug_logging_and_no_secrets_in_the_log(env_gateway: ServerProcess, fake_upstream: FakeUpstream) -> None:
    base = env_gateway.base_url  # type: ignore[attr-defined]
    fake_upstream.queue(status=500, error={"message": "upstream exploded", "type": "server_error"})
    response = httpx.post(base + "/v1/chat/completions", json={"model": "env-model", "messages": MESSAGES},
                          headers={"Authorization": "Bearer sk-master-from-env"}, timeout=30)
    assert response.status_code == 500
    logs = env_gateway.logs()
    assert " DEBUG " in logs
    assert "upstream exploded" in logs  # the failure is logged...
    assert "sk-exported-by-environment-variables" not in logs  # ...without the provider key
    assert "sk-master-from-env" not in logs


def test_default_log_level_hides_debug(core) -> None:
    assert " DEBUG " not in core.process.logs()
    assert " INFO gatehouse: Gatehouse listening on" in core.process.logs()


# -- broken configs: exit 2, one message naming the file and the key, no traceback --

BROKEN = {
    "yaml-syntax": ("model_list:\n  - model_name: x\n    litellm_params: {model: [\n", "invalid YAML at line"),
    "model-list-not-a-list": ("model_list: {a: 1}\n", "model_list: must be a list"),
    "entry-without-model": ("model_list:\n  - model_name: x\n    litellm_params: {api_key: k}\n",
                            "model_list[0].litellm_params.model: is required"),
    "unknown-provider": ("model_list:\n  - model_name: x\n    litellm_params: {model: nosuchprovider/claude}\n",
                         "model_list[0].litellm_params.model: provider 'nosuchprovider' is not supported"),
    "bad-setting-type": ("general_settings:\n  max_request_size_mb: lots\n",
                         "general_settings.max_request_size_mb: must be a number"),
    "top-level-list": ("- a\n- b\n", "the top level must be a mapping"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_config_exits_2_with_one_message(tmp_path: Path, case: str) -> None:
    text, expected = BROKEN[case]
    (tmp_path / "broken.yaml").write_text(text)
    result = run_cli(["broken.yaml", "--port", str(free_port())], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gatehouse: config error: broken.yaml: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli(["--config", "nowhere.yaml"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "gatehouse: config error: nowhere.yaml: file not found"


def test_broken_config_with_workers_exits_2_once(tmp_path: Path) -> None:
    text, expected = BROKEN["unknown-provider"]
    (tmp_path / "broken.yaml").write_text(text)
    result = run_cli(["broken.yaml", "--port", str(free_port()), "--workers", "2"], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("config error") == 1, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr


# -- check-config ------------------------------------------------------------------------------

def test_check_config_prints_groups_and_pipeline(tmp_path: Path) -> None:
    config = {
        "model_list": [
            {"model_name": "fast", "litellm_params": {"model": "mock/fast-1", "tags": ["teamA"]}},
            {"model_name": "fast", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-never-printed"}},
            {"model_name": "other", "litellm_params": {"model": "mock/other"}},
        ],
        "general_settings": {"master_key": "sk-check-config-master"},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_cli(["check-config", "config.yaml"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "config: config.yaml" in out
    assert "model group fast: mock/fast-1 tags=['teamA'], openai/gpt-4o" in out
    assert "model group other: mock/other" in out
    assert "auth: master key + virtual keys" in out
    assert "pipeline, in the order it runs:" in out
    assert "pre_call: parallel_request_limiter." in out
    assert "sk-never-printed" not in out + result.stderr and "sk-check-config-master" not in out


def test_check_config_on_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("model_list: 3\n")
    result = run_cli(["check-config", "config.yaml"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "gatehouse: config error: config.yaml: model_list: must be a list, not int"


# -- workers and no config -------------------------------------------------------------------

def test_workers_serve_and_stop_on_sigterm(fake_upstream: FakeUpstream) -> None:
    config: dict[str, Any] = {"model_list": [{"model_name": "fake", "litellm_params": {
        "model": "openai/fake-model", "api_base": fake_upstream.url, "api_key": "sk-up"}}]}
    gw = GatewayProcess(config, args=["--workers", "2"]).start(timeout=30)
    try:
        with openai.OpenAI(base_url=gw.api_base, api_key="x", max_retries=0, timeout=30) as client:
            for _ in range(8):
                assert client.chat.completions.create(model="fake", messages=MESSAGES).choices
        assert len(fake_upstream.requests) == 8
        assert fake_upstream.wait_until(lambda: "Gatehouse listening" in gw.logs(), timeout=15), gw.logs()
        assert gw.proc is not None
        gw.proc.send_signal(signal.SIGTERM)
        assert gw.proc.wait(timeout=15) == 0
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", gw.port)) != 0  # nothing listens any more
    finally:
        gw.stop()
    assert "supervising 2 workers" in gw.logs()
    assert "Traceback" not in gw.logs()


def test_no_config_runs_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess([*PYTHON, "--port", str(port), "--host", "127.0.0.1"], env=ENV, cwd=tmp_path)
    with server:
        server.start(f"http://127.0.0.1:{port}/health/readiness")
        response = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                              json={"model": "mock", "messages": MESSAGES}, timeout=30)
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == \
            "Hello from the Gatehouse mock model! You said: hi"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").json()["data"][0]["id"] == "mock"
    assert "<embedded default>" in server.logs()
    assert "open mode" in server.logs()
    assert (tmp_path / ".gatehouse").is_dir()  # the SQLite key store lives in the working directory


def test_json_logs_writes_one_json_object_per_line(gateway) -> None:
    import json as _json

    gw = gateway({"model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/x"}}],
                  "litellm_settings": {"json_logs": True}})
    import httpx

    httpx.post(f"{gw.base_url}/v1/chat/completions", json={"model": "nope", "messages": []})
    lines = [line for line in gw.logs().splitlines() if line.strip()]
    records = [_json.loads(line) for line in lines]
    assert any(r["logger"] == "gatehouse" and "listening" in r["message"] for r in records)
    assert any(r["logger"] == "gatehouse.flow" and "→ 400" in r["message"] for r in records)
    assert all({"timestamp", "level", "logger", "message"} <= set(r) for r in records)


def test_a_port_in_use_is_one_line_and_exit_3(tmp_path: Path) -> None:
    """The README's second server while the first still runs: one line, exit 3, no traceback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(["--port", str(port), "--host", "127.0.0.1"], cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"gatehouse: port {port} on 127.0.0.1 is already in use (is another gateway still running?): "
                     "stop it, or start this one with --port <another port>"], result.stderr


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    result = run_cli(["--help"], cwd=tmp_path)
    assert result.returncode == 0
    for command in ("gatehouse [serve]", "gatehouse check-config", "gatehouse guardrail-service", "--port",
                    "3 port already in use"):
        assert command in result.stdout, result.stdout
