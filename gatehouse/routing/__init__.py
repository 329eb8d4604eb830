"""Routing: deployments, model groups, strategies, tags, retries, fallbacks, cooldown.

Build once at start-up::

    deployments = deployments_from_config(config.model_list, source=config.source)
    settings = RouterSettings.from_config(config.router_settings, config.litellm_settings, source=config.source)
    router = Router(deployments, settings)

then, per request, ``await router.run(model, attempt, tags=tags)`` where
``attempt(deployment)`` calls one deployment (see :mod:`.router`).
"""

from .deployment import Deployment, RouterSettings, deployments_from_config
from .router import Router, is_retryable
from .tags import TagRoutingError

__all__ = ["Deployment", "RouterSettings", "deployments_from_config", "Router", "TagRoutingError", "is_retryable"]
