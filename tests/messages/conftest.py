"""``/v1/messages`` end to end: the ``anthropic`` SDK against the gateway against the fakes.

- ``fake_anthropic`` (session): the fake Anthropic API (requires its key), reset per test.
- ``messages_gw``: master key; ``claude`` → ``anthropic/claude-sonnet-4-5`` on the fake
  Anthropic (native), ``gpt`` → the fake OpenAI-compatible upstream (translated), and
  ``flaky`` → a native deployment then a translated fallback.
- ``anthropic_client(gw, api_key=None, **kw)`` / ``async_anthropic_client``: SDK clients
  with ``max_retries=0`` on the gateway's base URL (the SDK adds ``/v1/messages``).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Iterator

import anthropic
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess, upstream_model_config
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic, anthropic_model_config

MASTER_KEY = "sk-master-messages-51b9"
TIMEOUT = 30.0
USER = [{"role": "user", "content": "what is up"}]


@pytest.fixture(scope="session")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(require_api_key=FAKE_ANTHROPIC_KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(autouse=True)
def _reset_fake_anthropic(request: pytest.FixtureRequest) -> None:
    if "fake_anthropic" in request.fixturenames:
        request.getfixturevalue("fake_anthropic").reset()


def messages_config(fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    """The base config of the ``/v1/messages`` tests; ``extra`` top-level sections are merged in."""
    config: dict[str, Any] = {
        "general_settings": {"master_key": MASTER_KEY},
        "model_list": [
            anthropic_model_config(fake_anthropic.url),
            upstream_model_config(fake_upstream.url, model_name="gpt"),
        ],
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


@pytest.fixture
def messages_gw(fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream,
                gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    return gateway(messages_config(fake_anthropic, fake_upstream))


@pytest.fixture
def anthropic_client() -> Iterator[Callable[..., anthropic.Anthropic]]:
    clients: list[anthropic.Anthropic] = []

    def make(gw: GatewayProcess, api_key: str | None = MASTER_KEY, **kw: Any) -> anthropic.Anthropic:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=api_key, max_retries=0, timeout=TIMEOUT, **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
async def async_anthropic_client() -> AsyncIterator[Callable[..., anthropic.AsyncAnthropic]]:
    clients: list[anthropic.AsyncAnthropic] = []

    def make(gw: GatewayProcess, api_key: str | None = MASTER_KEY, **kw: Any) -> anthropic.AsyncAnthropic:
        client = anthropic.AsyncAnthropic(base_url=gw.base_url, api_key=api_key, max_retries=0, timeout=TIMEOUT, **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
