"""The built-in ``nova_task_router`` hook (LiteLLM's ``NovaTaskRoutingHook``).

Turns the ``task`` field of an embeddings request for a Nova embeddings model
(model name containing ``nova-embeddings``) into a request tag, so that tag
routing (``router_settings.enable_tag_filtering``) can pick the deployment
serving that task, e.g. ``{"model": "nova-embeddings-v1", "task":
"retrieval.query"}`` goes to the deployment tagged ``retrieval.query``.

Enable with ``litellm_settings.callbacks: ["nova_task_router"]``. Other call
types, other models and requests without ``task`` pass unchanged; ``task``
itself stays in the body (Nova reads it).
"""

from __future__ import annotations

import logging
from typing import Any

from ..policy.custom_logger import CustomLogger

__all__ = ["NovaTaskRoutingHook"]

logger = logging.getLogger("gatehouse.plugins.task_router")


class NovaTaskRoutingHook(CustomLogger):
    """Converts Nova Embeddings' ``task`` parameter into ``metadata.tags``."""

    def __init__(self) -> None:
        super().__init__()
        logger.debug("NovaTaskRoutingHook initialized")

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> dict:
        """Append ``data["task"]`` to ``data["metadata"]["tags"]`` (once); return ``data``."""
        if call_type != "embeddings":
            return data
        model = data.get("model")
        if not isinstance(model, str) or "nova-embeddings" not in model:
            return data
        task = data.get("task")
        if not task:
            return data
        logger.debug("NovaTaskRoutingHook: Converting task '%s' to tag", task)
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = data["metadata"] = {}
        tags = metadata["tags"] = _as_list(metadata.get("tags"))
        if task not in tags:
            tags.append(task)
        logger.debug("Updated metadata tags: %s", tags)
        return data


def _as_list(tags: Any) -> list[Any]:
    """The existing tags as a list (the same list when it already is one)."""
    if isinstance(tags, list):
        return tags
    if tags is None:
        return []
    return list(tags) if isinstance(tags, (tuple, set)) else [tags]
