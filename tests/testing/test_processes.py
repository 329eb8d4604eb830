"""Subprocess helpers, exercised with the fake upstream's command line."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from gatehouse.testing import (
    GatewayProcess,
    ServerProcess,
    ServerStartError,
    free_port,
    processes,
    upstream_model_config,
)


def fake_upstream_command(port: int) -> list[str]:
    return [sys.executable, "-m", "gatehouse.testing.fake_upstream", "--port", str(port)]


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_server_process_start_and_stop(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(fake_upstream_command(port), log_path=tmp_path / "up.log")
    with server.start(f"http://127.0.0.1:{port}/v1/models"):
        assert server.running
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/models") as resp:
            assert b"fake-model" in resp.read()
        assert f"listening on http://127.0.0.1:{port}/v1" in server.logs()
    assert not server.running and server.proc is not None
    assert server.proc.returncode == 0  # SIGTERM is a clean shutdown for the fake upstream


def test_env_is_passed(tmp_path: Path) -> None:
    script = "import os; print('value=' + os.environ['GH_TEST_VALUE'])"
    server = ServerProcess([sys.executable, "-c", script], env={"GH_TEST_VALUE": "42"},
                           cwd=tmp_path)
    with pytest.raises(ServerStartError, match="value=42"):
        server.start(f"http://127.0.0.1:{free_port()}/", timeout=10)
    assert server.logs() == "value=42\n"


def test_start_fails_with_log_tail_when_process_exits() -> None:
    lines = "; ".join(f"print('line {i}')" for i in range(80))
    server = ServerProcess([sys.executable, "-c", f"{lines}; raise SystemExit(3)"])
    with pytest.raises(ServerStartError) as info:
        server.start(f"http://127.0.0.1:{free_port()}/", timeout=10)
    head, tail = str(info.value).split("--- last 50 log lines ---")
    assert "exited with code 3" in head
    assert tail.split() == [w for i in range(30, 80) for w in ("line", str(i))]


def test_start_times_out_and_stops_the_process() -> None:
    server = ServerProcess([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.monotonic()
    with pytest.raises(ServerStartError, match="not ready"):
        server.start(f"http://127.0.0.1:{free_port()}/", timeout=0.5)
    assert time.monotonic() - started < 5
    assert not server.running


def test_stop_kills_a_process_ignoring_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "STOP_GRACE_SECONDS", 0.3)
    script = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "print('ready', flush=True); time.sleep(60)")
    server = ServerProcess([sys.executable, "-c", script])
    with pytest.raises(ServerStartError):
        server.start(f"http://127.0.0.1:{free_port()}/", timeout=0.5)
    assert server.proc is not None and server.proc.returncode == -9


def test_gateway_process_layout() -> None:
    config = {"model_list": [upstream_model_config("http://127.0.0.1:1/v1")]}
    gw = GatewayProcess(config, env={"X_ENV": "1"}, args=["--num_workers", "2"],
                        files={"custom_callbacks.py": "handler = None\n"})
    try:
        assert yaml.safe_load(gw.config_path.read_text()) == config
        assert (gw.dir / "custom_callbacks.py").read_text() == "handler = None\n"
        assert gw.base_url == f"http://127.0.0.1:{gw.port}"
        assert gw.api_base == gw.base_url + "/v1"
        assert gw.args == [sys.executable, "-m", "gatehouse", "--config", str(gw.config_path),
                           "--port", str(gw.port), "--host", "127.0.0.1", "--num_workers", "2"]
        assert gw.env["X_ENV"] == "1" and str(gw.dir) in gw.env["PYTHONPATH"]
        assert gw.cwd == gw.dir
    finally:
        gw.stop()
    assert not gw.dir.exists()


def test_gateway_process_config_text_and_path(tmp_path: Path) -> None:
    text = "model_list: []\n"
    gw = GatewayProcess(text)
    assert gw.config_path.read_text() == text
    gw.stop()
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    gw = GatewayProcess(path)
    assert gw.config_path == path
    gw.stop()
    assert path.exists()


def test_upstream_model_config() -> None:
    assert upstream_model_config("http://u/v1") == {
        "model_name": "fake",
        "litellm_params": {"model": "openai/fake-model", "api_base": "http://u/v1",
                           "api_key": "sk-upstream"}}
    entry = upstream_model_config("http://u/v1", model_name="alias", rpm=5,
                                  model_info={"id": "d1"})
    assert entry["model_name"] == "alias" and entry["model_info"] == {"id": "d1"}
    assert entry["litellm_params"]["rpm"] == 5
