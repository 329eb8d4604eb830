"""LiteLLM's route classes (``openai_routes``, ``info_routes``, ``management_routes``, ...).

Role-based permissions (JWT roles, scope mappings) name routes by class or by
path; :func:`route_allowed` answers whether a request path falls in one of
them. Paths are compared without the ``/v1`` prefix, and the Azure-style
``/openai/deployments/{model}/...`` and ``/engines/{model}/...`` forms count
as the endpoint they serve.
"""

from __future__ import annotations

from typing import Iterable

from ..endpoints import ENDPOINTS

__all__ = ["ROUTE_CLASSES", "route_allowed", "normalize"]

ROUTE_CLASSES: dict[str, frozenset[str]] = {
    "openai_routes": frozenset({e.path for e in ENDPOINTS} | {"/models"}),
    "info_routes": frozenset({"/key/info", "/model/info"}),
    "management_routes": frozenset({"/key/generate", "/key/update", "/key/delete", "/key/block", "/key/unblock",
                                    "/key/list", "/key/info"}),
    "spend_tracking_routes": frozenset(),
    "global_spend_tracking_routes": frozenset(),
    "public_routes": frozenset({"/", "/health", "/health/liveliness", "/health/liveness", "/health/readiness",
                                "/metrics", "/docs", "/openapi.json"}),
}

_MODEL_PREFIXES = ("/openai/deployments/", "/engines/")


def normalize(path: str) -> str:
    """``path`` without ``/v1`` and without an Azure-style model segment."""
    if path.startswith("/v1/"):
        path = path[3:]
    for prefix in _MODEL_PREFIXES:
        if path.startswith(prefix):
            _, _, rest = path[len(prefix):].partition("/")
            return "/" + rest
    return path


def route_allowed(path: str, allowed: Iterable[str]) -> bool:
    """Whether ``path`` is in one of the ``allowed`` classes or equals one of its paths."""
    route = normalize(path)
    for entry in allowed:
        members = ROUTE_CLASSES.get(entry)
        if members is not None:
            if route in members:
                return True
        elif normalize(entry) == route:
            return True
    return False
