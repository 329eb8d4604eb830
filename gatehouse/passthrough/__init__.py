"""Pass-through routes: provider-native requests forwarded with the gateway's credential.

    routes.py        the routes: provider prefixes, ``general_settings.pass_through_endpoints``
    targets.py       where a route's requests go, with which credential (keys, query keys)
    cloud_targets.py Vertex AI (a Google token) and Bedrock (SigV4 re-signing)
    providers.py     the provider routes' targets, from ``use_in_pass_through`` deployments or the environment
    headers.py       the caller's key; the headers that go upstream and come back
    flow.py          the request path (authenticate → limits and hooks → forward → relay → spend)
    relay.py         the answer relayed as it arrives, usage read on the side

:class:`PassThrough` is what the composition root builds and the HTTP layer serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from .flow import PassThroughFlow
from .routes import Route

__all__ = ["PassThrough", "PassThroughFlow", "Route"]


@dataclass(slots=True)
class PassThrough:
    flow: PassThroughFlow
    custom: list[Route]
    """``general_settings.pass_through_endpoints`` with their own target."""
    providers: list[Route]
    """``/anthropic``, ``/openai``, ... (their settings from ``pass_through_endpoints`` applied)."""

    def describe(self) -> list[str]:
        """One line per route: where it goes and how it is authenticated (never a credential)."""
        lines = []
        for route in self.custom + self.providers:
            where = getattr(route.target, "base", None) or getattr(route.target, "endpoint", None)
            if where is None and hasattr(route.target, "hint"):
                lines.append(f"{route.prefix}: not configured")
                continue
            guarded = f", guardrails {list(route.guardrails.names)}" if route.guardrails else ""
            lines.append(f"{route.prefix}{'/*' if route.subpath else ''} → {where or 'Vertex AI (Google token)'}"
                         f"{'' if route.auth else ', no key needed'}{guarded}")
        return lines

    async def start(self) -> None:
        for route in self.providers + self.custom:
            await route.target.start()

    async def close(self) -> None:
        for route in self.providers + self.custom:
            await route.target.close()
        await self.flow.close()
