"""Claude Code end to end: headless ``claude -p`` completes a turn through Gatehouse.

The real CLI (npm ``@anthropic-ai/claude-code``, pinned in ``tests/clients/claude-code/``,
installed by ``scripts/clients.sh``) with ``ANTHROPIC_BASE_URL`` pointed at the gateway and
a Gatehouse virtual key, against the fakes: once to an Anthropic-format deployment (the
fake Anthropic API: the CLI's request reaches it natively) and once to an OpenAI-compatible
chat-only deployment (the fake upstream: translated there and back). The CLI asks for its
default model names; the gateway routes them by ``router_settings.model_group_alias``.

Offline by construction: telemetry, auto-update and non-essential traffic are off, HOME is a
fresh directory, and every connection not to 127.0.0.1 goes to a recording proxy that answers
nothing useful, so anything else the CLI tried would fail at once rather than hang (and the
test sees it: the CLI makes no other call); the run is bounded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess, upstream_model_config
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic, anthropic_model_config

CLI = Path(__file__).parent / "claude-code" / "node_modules" / ".bin" / "claude"
MASTER = "sk-claude-code-master-19d2"
#: The model names this Claude Code version asks for by default (main loop, small fast model).
DEFAULT_MODELS = ("claude-opus-5-5", "claude-haiku-5-5", "claude-haiku-4-5")
RUN_TIMEOUT = 180


@pytest.fixture(scope="module")
def fake_anthropic() -> Any:
    server = FakeAnthropic(require_api_key=FAKE_ANTHROPIC_KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


class RecordingProxy:
    """A listener that records what each connection sends first, then closes it (a proxy that says no)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.seen: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True, name="recording-proxy").start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.seen.append(conn.recv(4096)[:200])
                except OSError:
                    self.seen.append(b"")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    yield recorder
    recorder.close()


def config(fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream, target: str) -> dict[str, Any]:
    return {
        "general_settings": {"master_key": MASTER},
        "model_list": [anthropic_model_config(fake_anthropic.url, model_name="claude-native"),
                       upstream_model_config(fake_upstream.url, model_name="chat-only")],
        "router_settings": {"num_retries": 0, "model_group_alias": {name: target for name in DEFAULT_MODELS}},
    }


def virtual_key(gw: GatewayProcess) -> str:
    made = httpx.post(gw.base_url + "/key/generate", json={"key_alias": "claude-code"},
                      headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    assert made.status_code == 200, made.text
    return str(made.json()["key"])


def run_claude(gw: GatewayProcess, prompt: str, credential: dict[str, str],
               proxy: RecordingProxy) -> tuple[dict[str, Any], float]:
    """``claude -p <prompt> --output-format json`` against the gateway; its result and how long it took."""
    if not CLI.exists():
        pytest.fail(f"Claude Code is not installed at {CLI}; run scripts/clients.sh (scripts/test does)", pytrace=False)
    home = tempfile.mkdtemp(prefix="gatehouse-claude-home-")
    closed = proxy.url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update({
        "HOME": home, "ANTHROPIC_BASE_URL": gw.base_url, **credential,
        "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "HTTPS_PROXY": closed, "HTTP_PROXY": closed, "https_proxy": closed, "http_proxy": closed,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    started = time.monotonic()
    done = subprocess.run([str(CLI), "-p", prompt, "--output-format", "json"], env=env, cwd=home,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    took = time.monotonic() - started
    assert done.returncode == 0, f"claude exited {done.returncode}\nstdout: {done.stdout[-2000:]}\n" \
                                 f"stderr: {done.stderr[-2000:]}\ngateway: {gw.tail(20)}"
    assert proxy.seen == [], f"the CLI tried to reach other hosts: {proxy.seen}"
    return json.loads(done.stdout), took


def test_a_turn_to_an_anthropic_format_deployment(fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream,
                                                  gateway: Callable[..., GatewayProcess],
                                                  proxy: RecordingProxy) -> None:
    fake_anthropic.reset()
    gw = gateway(config(fake_anthropic, fake_upstream, "claude-native"))
    fake_anthropic.set_default(text="Hello from the native deployment")
    result, took = run_claude(gw, "Say hello", {"ANTHROPIC_API_KEY": virtual_key(gw)}, proxy)
    assert result["is_error"] is False and result["result"] == "Hello from the native deployment"
    served = [r for r in fake_anthropic.requests if r.path == "/v1/messages" and r.json.get("stream")]
    assert served, "the CLI's request did not reach the Anthropic deployment"
    seen = served[-1]
    assert seen.json["model"] == "claude-sonnet-4-5"  # the alias routed the CLI's default model name
    assert seen.headers["x-api-key"] == FAKE_ANTHROPIC_KEY  # the deployment's key, never the client's
    assert "claude-code-20250219" in seen.headers["anthropic-beta"]  # the CLI's betas, as sent
    assert isinstance(seen.json["tools"], list) and seen.json["system"]  # its tools and system prompt, untranslated
    assert fake_upstream.requests == [] and took < RUN_TIMEOUT


def test_a_turn_to_an_openai_compatible_chat_only_deployment(fake_anthropic: FakeAnthropic,
                                                             fake_upstream: FakeUpstream,
                                                             gateway: Callable[..., GatewayProcess],
                                                             proxy: RecordingProxy) -> None:
    fake_anthropic.reset()
    gw = gateway(config(fake_anthropic, fake_upstream, "chat-only"))
    fake_upstream.set_default(content="Hello from the chat-only deployment")
    result, took = run_claude(gw, "Say hello", {"ANTHROPIC_AUTH_TOKEN": virtual_key(gw)}, proxy)
    assert result["is_error"] is False and result["result"] == "Hello from the chat-only deployment"
    chats = [r for r in fake_upstream.requests if r.path.endswith("/chat/completions")]
    assert chats, "the CLI's request did not reach the chat-only deployment"
    sent = chats[-1].json
    assert sent["model"] == "fake-model" and sent["stream"] is True
    assert sent["messages"][0]["role"] == "system" and any(m["role"] == "user" for m in sent["messages"])
    assert all(t["type"] == "function" for t in sent["tools"])  # Claude Code's tools as OpenAI functions
    assert fake_anthropic.requests == [] and took < RUN_TIMEOUT
