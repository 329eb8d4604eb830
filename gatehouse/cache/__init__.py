"""The cache hooks receive: :class:`DualCache` (memory tier + optional Redis tier).

The gateway builds one with :meth:`DualCache.from_settings` and hands it to
every ``async_pre_call_hook`` as ``cache``; the built-in rate limiter keeps its
counters in it.
"""

from .dual import DualCache
from .memory import InMemoryCache
from .redis_cache import RedisCache

__all__ = ["DualCache", "InMemoryCache", "RedisCache"]
