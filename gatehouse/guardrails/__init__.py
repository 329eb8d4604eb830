"""The Generic Guardrail API: configuration, client, extraction, stream windows, plugin.

What the gateway calls:

* start-up: ``configs = parse_guardrails(entries, source=path)`` then
  ``plugins = build_guardrails(configs, metrics=metrics)``; register the plugins
  as callbacks after ``litellm_settings.callbacks`` (config order), and await
  each plugin's ``startup()`` / ``shutdown()``.
* per request, before any hook: ``check_requested(data, {c.name for c in configs})``.

See ``docs/guardrails.md`` for the behaviour.
"""

from gatehouse.guardrails.config import GuardrailConfig, parse_guardrails
from gatehouse.guardrails.plugin import GenericGuardrail, build_guardrails
from gatehouse.guardrails.selection import check_requested, requested

__all__ = [
    "GuardrailConfig",
    "parse_guardrails",
    "GenericGuardrail",
    "build_guardrails",
    "check_requested",
    "requested",
]
