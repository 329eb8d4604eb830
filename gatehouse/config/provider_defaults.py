"""``litellm_settings`` that LiteLLM applies to every deployment, copied into each one.

``litellm_settings.drop_params: true`` makes every provider drop the request
fields it cannot take instead of answering 400; a deployment's own
``litellm_params.drop_params`` wins. Providers then read one place:
``deployment.litellm_params``.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["with_global_params", "GLOBAL_PARAMS"]

GLOBAL_PARAMS = ("drop_params", "modify_params")


def with_global_params(model_list: Any, litellm_settings: Mapping[str, Any]) -> Any:
    """``model_list`` with the global params set in every entry that does not set its own."""
    given = {key: litellm_settings[key] for key in GLOBAL_PARAMS if litellm_settings.get(key) is not None}
    if not given or not isinstance(model_list, list):
        return model_list
    out = []
    for entry in model_list:
        params = entry.get("litellm_params") if isinstance(entry, dict) else None
        if isinstance(params, dict) and any(key not in params for key in given):
            entry = {**entry, "litellm_params": {**given, **params}}
        out.append(entry)
    return out
