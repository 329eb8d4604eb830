"""Test helpers for Gatehouse's suite, its benchmarks and hook authors.

- :class:`FakeUpstream` — a scriptable fake OpenAI API (``fake_upstream``).
- :class:`FakeGuardrail` — a scriptable fake Generic Guardrail API service
  that records every check (``fake_guardrail``; answers: :class:`GuardrailReply`).
- :class:`ServerProcess`, :class:`GatewayProcess`, :func:`free_port` — run
  servers as subprocesses (``processes``).
- :func:`upstream_model_config` — a ``model_list`` entry pointing at a fake
  upstream.
"""

from __future__ import annotations

from typing import Any

from gatehouse.testing.fake_guardrail import FakeGuardrail
from gatehouse.testing.fake_guardrail import Reply as GuardrailReply
from gatehouse.testing.fake_upstream import Behaviour, FakeUpstream, RecordedRequest
from gatehouse.testing.processes import (
    GatewayProcess,
    ServerProcess,
    ServerStartError,
    free_port,
)

__all__ = [
    "Behaviour",
    "FakeGuardrail",
    "FakeUpstream",
    "GuardrailReply",
    "RecordedRequest",
    "GatewayProcess",
    "ServerProcess",
    "ServerStartError",
    "free_port",
    "upstream_model_config",
]

TOP_LEVEL_KEYS = ("model_name", "model_info")


def upstream_model_config(fake_upstream_url: str, **extra: Any) -> dict[str, Any]:
    """A LiteLLM ``model_list`` entry for the fake upstream at ``fake_upstream_url``.

    ``{"model_name": "fake", "litellm_params": {"model": "openai/fake-model",
    "api_base": url, "api_key": "sk-upstream"}}``. ``model_name`` and
    ``model_info`` in ``extra`` set the entry's own keys; every other key is
    added to (or overrides) ``litellm_params``, e.g. ``rpm=10``, ``tags=[...]``.
    """
    params: dict[str, Any] = {"model": "openai/fake-model", "api_base": fake_upstream_url,
                              "api_key": "sk-upstream"}
    entry: dict[str, Any] = {"model_name": "fake"}
    for key, value in extra.items():
        if key in TOP_LEVEL_KEYS:
            entry[key] = value
        else:
            params[key] = value
    entry["litellm_params"] = params
    return entry
