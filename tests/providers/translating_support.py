"""Helpers of the Azure, Cohere, Ollama and OpenAI-compatible provider tests (imported by those modules)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import yaml

from gatehouse.testing.processes import _package_root

#: Every provider variable these tests touch, blank: the developer's own environment never leaks in.
ISOLATED = {name: "" for name in (
    "AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_API_BASE", "AZURE_API_VERSION", "AZURE_AD_TOKEN",
    "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AI_API_KEY", "AZURE_AI_API_BASE",
    "COHERE_API_KEY", "CO_API_KEY", "COHERE_API_BASE", "OLLAMA_API_BASE", "OLLAMA_API_KEY", "OPENAI_API_KEY",
    "OPENAI_BASE_URL", "OPENAI_API_BASE", "GROQ_API_KEY", "GROQ_API_BASE", "MISTRAL_API_KEY", "MISTRAL_API_BASE",
    "HOSTED_VLLM_API_BASE", "HOSTED_VLLM_API_KEY", "DEEPSEEK_API_KEY", "TOGETHER_API_KEY",
)}
HELLO = [{"role": "user", "content": "hi"}]


def check_config(config: Mapping[str, Any], tmp: Path, env: Mapping[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    """``gatehouse check-config`` on ``config``: what start-up says about it (exit 2 = refused)."""
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(dict(config)))
    return subprocess.run(
        [sys.executable, "-m", "gatehouse", "check-config", str(path)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": _package_root(), **ISOLATED, **(env or {})}, stdin=subprocess.DEVNULL)


def guardrail(name: str, url: str, mode: str, **params: Any) -> dict[str, Any]:
    """A Generic Guardrail API entry for ``guardrails:``."""
    return {"guardrail_name": name,
            "litellm_params": {"guardrail": "generic_guardrail_api", "api_base": url, "mode": mode, **params}}
