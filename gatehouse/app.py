"""The composition root: one place that builds a gateway from its config.

Config, stores, clients, router, plugins and the flow are built here and
passed through constructors; nothing is global. Tests and the hook harness
build their own :class:`Gateway`.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from . import __version__
from .auth.configure import build_authenticator
from .auth.management import KeyManager
from .auth.routes import key_routes
from .auth.store import KeyStore, open_key_store
from .background import Background
from .cache import DualCache
from .config import ConfigError, GatewayConfig
from .config.provider_defaults import with_global_params
from .flow import Flow, FlowSettings
from .guardrails import build_guardrails, check_requested, parse_guardrails
from .limits import Limits
from .metrics import Metrics
from .passthrough import PassThrough, PassThroughFlow
from .passthrough.providers import provider_routes
from .passthrough.routes import custom_routes
from .plugins import ParallelRequestLimiter, bind_builtins
from .plugins.spend import SpendTracker
from .plugins.spend_logs import SpendLogs
from .plugins.request_log import RequestLog
from .config.errors import ConfigError
from .pricing import PriceFileError, PriceMap
from .pricing.prices import PRICE_FILE_ENV
from .pricing.served import served_table
from .policy.loading import Loader
from .policy.variants import PolicySet
from .policy.rules import PostCallRules
from .providers import Providers
from .response_cache import CacheSettings, ResponseCache
from .routing.deployment import RouterSettings, deployments_from_config
from .routing.names import ModelNames, aliases_from_config
from .routing.router import Router
from .ui.settings import UISettings
from .upstream import Upstream

__all__ = ["Gateway"]

log = logging.getLogger("gatehouse")

#: Memory-tier size of the rate limiter's own cache (a few entries per active key and window).
LIMITER_MEMORY_ENTRIES = 200_000


class Gateway:
    """Everything one gateway process needs, built from a :class:`GatewayConfig`.

    Construction validates and loads (config errors surface here, before any
    socket is opened); :meth:`start` opens connections and :meth:`close`
    closes them.
    """

    def __init__(self, config: GatewayConfig, *, callbacks: list[object] | None = None) -> None:
        """``callbacks``: extra callback objects, after the config's (the harness and tests use this)."""
        self.config = config
        self._extra = list(callbacks or [])
        self._cache_store: DualCache | None = None
        source = config.source
        self.metrics = Metrics()
        self.background = Background()
        self.limits = Limits.from_config(config.general_settings, max_request_bytes=config.max_request_bytes,
                                         source=source)
        deployments = deployments_from_config(with_global_params(config.model_list, config.litellm_settings), source=source)
        try:
            price_map = PriceMap.load()
        except PriceFileError as exc:
            raise ConfigError(str(exc), key=PRICE_FILE_ENV, source=source) from None
        self.prices = {d.id: price_map.for_deployment(d) for d in deployments}
        self.price_map = price_map
        self.served = served_table(deployments, self.prices)
        self.router = Router(deployments, RouterSettings.from_config(config.router_settings, config.litellm_settings, source=source))
        self.providers = Providers(deployments, source=source, max_response_bytes=self.limits.max_response_bytes)
        groups = self.router.group_names()
        self.names = ModelNames(groups, aliases_from_config(
            (config.router_settings or {}).get("model_group_alias"), groups, source=source))
        redis = config.redis
        self.cache = DualCache.from_settings(
            redis_url=redis.url, redis_host=redis.host, redis_port=redis.port, redis_password=redis.password
        )
        # Rate-limit counters and cached answers each get a memory tier of their own (same Redis):
        # a flood of cacheable requests, or a hook filling its cache, can never evict a limiter's counts.
        self.limiter_cache = self.cache.sibling(max_size=LIMITER_MEMORY_ENTRIES)
        self.store: KeyStore = open_key_store(
            config.database_url, config.data_dir, pool_max_size=config.database_pool_size,
            connect_timeout=self.limits.database_connect_timeout, query_timeout=self.limits.database_query_timeout)
        loader = Loader(config.base_dir, source=source)
        self.auth = build_authenticator(config.general_settings, master_key=config.master_key, store=self.store,
                                        cache_ttl=config.key_cache_ttl, loader=loader, source=source)
        self.spend_logs = SpendLogs(config.general_settings, database_url=config.database_url,
                                    data_dir=config.data_dir, source=source)
        self.keys = KeyManager(self.store, on_change=self.auth.forget)
        self.key_routes = key_routes(self.keys, self._authorize_admin)
        self.guardrail_configs = parse_guardrails(config.guardrails, source=source) + parse_guardrails(
            config.settings_guardrails, source=source, key_prefix="litellm_settings.guardrails"
        )
        self.guardrails = build_guardrails(self.guardrail_configs, metrics=self.metrics)
        self.ui_settings = UISettings.from_config(config.general_settings, source=source)
        self.request_log = (RequestLog(size=self.ui_settings.request_log_size,
                                       include_content=self.ui_settings.request_log_content,
                                       always=self.ui_settings.request_log_always)
                            if self.ui_settings.request_log else None)
        self.callbacks = self._callbacks(loader)
        self.policies = PolicySet(
            self.callbacks, cache=self.cache, hook_timeout=config.hook_timeout, metrics=self.metrics,
            background=self.background, always_decorate=bool(self.guardrail_configs),
        )
        self.pipeline, self.logging_hooks = self.policies.full.pipeline, self.policies.full.logging
        self.rules = PostCallRules(loader.rules(config.post_call_rules))
        self.response_cache = self._response_cache()
        self.upstream = Upstream(
            router=self.router, providers=self.providers, rules=self.rules, metrics=self.metrics,
            responses=self.response_cache, hold_stream_for_rules=config.post_call_rules_streaming == "hold",
            names=self.names,
        )
        self.flow = Flow(
            auth=self.auth, upstream=self.upstream, policies=self.policies,
            guardrail_names=frozenset(c.name for c in self.guardrail_configs),
            check_guardrails=functools.partial(check_requested, configs={c.name: c for c in self.guardrail_configs}),
            metrics=self.metrics, served=self.served,
            settings=FlowSettings(
                enforce_user_param=config.enforce_user_param,
                include_call_id_in_error_body=config.include_call_id_in_error_body,
                moderation_model=config.moderation_model,
            ),
        )
        self.key_routes = self.key_routes + self.spend_logs.routes(
            authenticate=self._identify, keys=self.store, forget=self.auth.forget)
        self.passthrough = self._passthrough(deployments)

    def _passthrough(self, deployments: list[Any]) -> PassThrough:
        """The pass-through routes: the provider routes and ``general_settings.pass_through_endpoints``."""
        names = frozenset(c.name for c in self.guardrail_configs)
        custom, settings = custom_routes(self.config.general_settings.get("pass_through_endpoints"),
                                         guardrail_names=names, source=self.config.source)
        providers = provider_routes(deployments, environ=os.environ, default_vertex_config=self.config.default_vertex_config,
                                    settings=settings, source=self.config.source)
        flow = PassThroughFlow(
            auth=self.auth, policies=self.policies, endings=self.flow.endings, prices=self.price_map,
            deployment_prices=self.prices, guardrail_names=names,
            check_guardrails=functools.partial(check_requested, configs={c.name: c for c in self.guardrail_configs}),
            post_call_guardrails=frozenset(c.name for c in self.guardrail_configs if "post_call" in c.modes),
            max_response_bytes=self.limits.max_response_bytes,
        )
        return PassThrough(flow, custom, providers)

    async def _identify(self, request: Any) -> Any:
        return await self.auth.authenticate(request.headers, route=request.path, request=request)

    async def _authorize_admin(self, request: Any) -> None:
        await self.auth.require_admin(request)

    def _response_cache(self) -> ResponseCache | None:
        """``litellm_settings.cache``: in the gateway's cache, or in the Redis ``cache_params`` names."""
        settings = CacheSettings.from_config(self.config.litellm_settings, source=self.config.source)
        if not settings.enabled:
            return None
        params = self.config.litellm_settings.get("cache_params") or {}
        if params.get("type") == "redis" and params.get("host") and self.cache.redis_cache is None:
            self._cache_store = DualCache.from_settings(
                redis_host=params.get("host"), redis_port=params.get("port"), redis_password=params.get("password"))
            return ResponseCache(settings, self._cache_store)
        return ResponseCache(settings, self.cache.sibling())

    def _callbacks(self, loader: Loader) -> list[tuple[str, object]]:
        """In order: the rate limiter (virtual keys only), the config's callbacks, the guardrails, the request log."""
        ordered: list[tuple[str, object]] = []
        if not self.auth.open:  # keys (virtual, custom auth) exist: their limits and budgets
            ordered.append(("parallel_request_limiter", ParallelRequestLimiter(self.limiter_cache)))
            ordered.append(("spend_tracker", SpendTracker(prices=self.prices, store=self.store,
                                                           on_flush=self.auth.forget,
                                                           flush_interval=self._spend_interval())))
        ordered += loader.callbacks(self.config.callbacks, bind_builtins(cache=self.cache))
        ordered += loader.event_functions(self.config.success_callbacks, "success")
        ordered += loader.event_functions(self.config.failure_callbacks, "failure")
        ordered += [(type(obj).__name__, obj) for obj in self._extra]
        ordered += [(f"guardrail:{g.guardrail_name}", g) for g in self.guardrails]
        if self.request_log is not None:  # the admin console's live log (logging hooks only)
            ordered.append(("request_log", self.request_log))
        ordered += self.spend_logs.callbacks()  # one row per request (logging stage, in the background)
        return ordered

    def _spend_interval(self) -> float:
        """``general_settings.proxy_batch_write_at``: seconds between spend writes (default 2)."""
        value = self.config.general_settings.get("proxy_batch_write_at")
        try:
            seconds = float(value) if value is not None else 2.0
        except (TypeError, ValueError):
            raise ConfigError(f"must be a number of seconds, not {value!r}", key="general_settings.proxy_batch_write_at",
                              source=self.config.source) from None
        if seconds <= 0:
            raise ConfigError("must be more than 0 seconds", key="general_settings.proxy_batch_write_at",
                              source=self.config.source)
        return seconds

    async def start(self) -> None:
        await self.store.open()
        await self.providers.start()
        await self.passthrough.start()
        await self.spend_logs.start()
        for _, plugin in self.callbacks:
            startup = getattr(plugin, "startup", None)
            if callable(startup):
                await startup()

    async def close(self) -> None:
        await self.background.drain()
        for _, plugin in self.callbacks:
            shutdown = getattr(plugin, "shutdown", None)
            if callable(shutdown):
                try:
                    await shutdown()
                except Exception as exc:  # shutting down: log and go on
                    log.warning("shutdown of a plugin failed: %s", exc)
        await self.providers.close()
        await self.passthrough.close()
        await self.auth.close()
        await self.cache.close()
        if self._cache_store is not None:
            await self._cache_store.close()
        await self.store.close()
        await self.spend_logs.close()

    async def readiness(self) -> dict[str, Any]:
        """Whether this replica can serve: unhealthy only when something it cannot serve without is down.

        That is the key database, when virtual keys are on (a master key is
        set). Redis is reported but never makes a replica unready: without it
        the cache and the rate limits fall back to this replica's memory, and
        every replica would be pulled at once by a load balancer.
        """
        db = await self.store.ping()
        cache = "redis" if self.cache.redis_cache is not None else "in-memory"
        cache_ok = await self.cache.ping() if self.cache.redis_cache is not None else True
        needs_db = bool(self.config.master_key)
        return {
            "status": "healthy" if db or not needs_db else "unhealthy",
            "db": "connected" if db else "unreachable",
            "cache": cache if cache_ok else f"{cache} (unreachable)",
            "gatehouse_version": __version__,
            "model_groups": len(self.router.group_names()),
        }

    def describe_pipeline(self) -> list[tuple[str, list[str]]]:
        """Every hook and guardrail, per phase, in the order it will run."""
        p = self.pipeline
        stages = [
            ("pre_call", p.pre_call), ("during_call", p.moderation), ("post_call", p.success),
            ("stream (iterator)", p.stream_iterators), ("stream (per chunk)", p.stream_chunks),
            ("failure", p.failure), ("response headers", p.response_headers),
        ]
        described = [(stage, [f"{h.label}.{h.name}" for h in hooks]) for stage, hooks in stages]
        rules = [label for label, _ in self.rules.rules]
        described.insert(3, ("post_call rules (inside retries)", rules))
        lh = self.logging_hooks
        logging_hooks = [f"{h.label}.{h.name}" for h in lh.pre_api_call + lh.on_success + lh.on_failure + lh.on_stream]
        described.append(("logging (background)", logging_hooks))
        return described
