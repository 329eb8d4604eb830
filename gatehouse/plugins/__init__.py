"""Built-in hooks, written with the public hook API (``CustomLogger`` subclasses).

:data:`BUILTIN_HOOKS` maps the bare names usable in
``litellm_settings.callbacks`` to factories. The gateway calls a factory with
keyword arguments; each factory takes what it needs and ignores the rest:

- ``cache``: the gateway's :class:`~gatehouse.cache.DualCache` (the one hooks
  receive as ``cache``).

``bind_builtins(**deps)`` gives the same table as zero-argument factories.

The rate limiter is not in the table: the gateway installs one
:class:`ParallelRequestLimiter` itself, always, first
(``ParallelRequestLimiter(cache)``); listing it again would count every
request twice.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from .rate_limiter import ParallelRequestLimiter
from .task_router import NovaTaskRoutingHook

__all__ = ["BUILTIN_HOOKS", "bind_builtins", "NovaTaskRoutingHook", "ParallelRequestLimiter"]


def _nova_task_router(**_: Any) -> NovaTaskRoutingHook:
    return NovaTaskRoutingHook()


#: Bare callback name → factory taking the gateway's keyword arguments.
BUILTIN_HOOKS: dict[str, Callable[..., object]] = {
    "nova_task_router": _nova_task_router,
}


def bind_builtins(**deps: Any) -> dict[str, Callable[[], object]]:
    """:data:`BUILTIN_HOOKS` with ``deps`` (e.g. ``cache=...``) bound: zero-argument factories."""
    return {name: functools.partial(factory, **deps) for name, factory in BUILTIN_HOOKS.items()}
