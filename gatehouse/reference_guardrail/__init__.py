"""The reference guardrail service: a standalone Generic Guardrail API server.

Implements ``POST /beta/litellm_basic_guardrail_api`` (the contract LiteLLM
and Gatehouse call) with local checks: PII masking/blocking (email, phone,
credit card, SSN, IBAN, secrets), banned words and topics, and prompt-injection
heuristics, driven by a YAML policy. It is also the template a guardrail
provider starts from: :mod:`.protocol` is the wire format, :mod:`.checker`
the decision, :mod:`.app` the HTTP plumbing. See ``docs/guardrail-service.md``.

Run: ``python -m gatehouse.reference_guardrail --port 8099 [--policy FILE]``
(or ``gatehouse guardrail-service``). Only aiohttp, pydantic, pyyaml and orjson
are needed.

Modules: :mod:`.detectors` (PII and secrets), :mod:`.phrases` (banned words /
topics), :mod:`.injection` (injection score), :mod:`.policy` (YAML policy and
per-call overrides), :mod:`.checker`, :mod:`.protocol`, :mod:`.app`.
"""

from __future__ import annotations

from .app import ENDPOINT, GuardrailService, build_app, main
from .checker import Checker, Verdict
from .policy import CallOverrides, Policy, PolicyError, load_policy, parse_overrides, policy_from_dict

__all__ = [
    "ENDPOINT",
    "GuardrailService",
    "build_app",
    "main",
    "Checker",
    "Verdict",
    "CallOverrides",
    "Policy",
    "PolicyError",
    "load_policy",
    "parse_overrides",
    "policy_from_dict",
]
