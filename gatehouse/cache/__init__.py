"""The cache hooks receive: :class:`DualCache` (memory tier + optional Redis tier).

The gateway builds one with :meth:`DualCache.from_settings` and hands it to
every ``async_pre_call_hook`` as ``cache``. The built-in rate limiter and the
response cache use siblings of it (:meth:`DualCache.sibling`: the same Redis,
a memory tier of their own), so one cannot evict the other's entries.
"""

from .dual import DualCache
from .memory import InMemoryCache
from .redis_cache import RedisCache

__all__ = ["DualCache", "InMemoryCache", "RedisCache"]
