"""Run hooks without a server: one hook directly, or the whole pipeline.

For hook authors (the seed's "test hook directly" tip) and for tests::

    from gatehouse.testing.harness import Harness

    async with Harness(callbacks=[MyHandler()]) as h:
        reply = await h.request({"model": "mock", "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status == 200 and reply.json()["choices"][0]["message"]["content"]

The harness builds a real :class:`gatehouse.app.Gateway` (on the embedded
default unless given a config: the ``mock`` model, an in-memory key store)
and sends requests through the same flow the server uses.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import orjson
from multidict import CIMultiDict

from ..app import Gateway
from ..auth.identity import UserAPIKeyAuth
from ..config import config_from_mapping, load_config
from ..config.default import embedded_default
from ..endpoints import ENDPOINTS
from ..errors import PayloadTooLargeError
from ..replies import JsonReply, StreamReply

__all__ = ["Harness", "HarnessReply", "run_pre_call_hook"]


@dataclass
class HarnessReply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    events: list[Any] = field(default_factory=list)
    """For streams: each ``data:`` payload, parsed (``"[DONE]"`` kept as a string)."""

    def json(self) -> Any:
        return orjson.loads(self.body)


class _Inbound:
    def __init__(self, route: str, headers: Mapping[str, str], body: bytes, form: dict[str, Any] | None, limit: int) -> None:
        self.route, self._body, self._form, self._limit = route, body, form, limit
        self.headers: Mapping[str, str] = CIMultiDict(headers)
        self.path_model: str | None = None

    async def body(self) -> bytes:
        if len(self._body) > self._limit:
            raise PayloadTooLargeError(f"Request body too large: the limit is {self._limit} bytes")
        return self._body

    async def form(self, check: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
        fields = dict(self._form or {})
        if check is not None:
            for name, value in fields.items():
                check(name, value)
        return fields


class Harness:
    def __init__(self, *, callbacks: list[object] | None = None, config: Mapping[str, Any] | str | Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="gatehouse-harness-")
        if config is None or isinstance(config, Mapping):
            raw = dict(config) if config is not None else embedded_default()
            general = dict(raw.get("general_settings") or {})
            general.setdefault("database_url", "sqlite:///:memory:")
            general.setdefault("data_dir", self._tmp.name)
            raw["general_settings"] = general
            loaded = config_from_mapping(raw, source="<harness>", base_dir=Path.cwd())
        else:
            loaded = load_config(config)
            chosen = loaded.database_url or loaded.general_settings.get("data_dir") or os.environ.get("GATEHOUSE_DATA_DIR")
            if not chosen:  # keys in a throw-away SQLite file, not in ./.gatehouse
                loaded = dataclasses.replace(loaded, data_dir=Path(self._tmp.name))
        self.gateway = Gateway(loaded, callbacks=callbacks)

    async def __aenter__(self) -> "Harness":
        await self.gateway.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.gateway.close()
        self._tmp.cleanup()

    async def request(
        self, body: dict[str, Any] | bytes, *, path: str = "/v1/chat/completions",
        headers: Mapping[str, str] | None = None, form: dict[str, Any] | None = None,
    ) -> HarnessReply:
        route = path if path.startswith("/v1") else "/v1" + path
        endpoint = next((e for e in ENDPOINTS if "/v1" + e.path == route), None)
        if endpoint is None:
            raise ValueError(f"no LLM endpoint at {path}")
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        all_headers = {"Content-Type": "application/json"}
        if self.gateway.config.master_key:
            all_headers["Authorization"] = f"Bearer {self.gateway.config.master_key}"
        all_headers.update(headers or {})
        inbound = _Inbound(route, all_headers, raw, form, self.gateway.config.max_request_bytes)
        reply = await self.gateway.flow.handle(endpoint, inbound)
        if isinstance(reply, JsonReply):
            return HarnessReply(reply.status, reply.headers, reply.body)
        return await _collect(reply)


async def _collect(reply: StreamReply) -> HarnessReply:
    frames = [frame async for frame in reply.frames]
    events: list[Any] = []
    for frame in frames:
        payload = frame.decode()[len("data: "):].strip()
        events.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return HarnessReply(reply.status, reply.headers, b"".join(frames), events)


async def run_pre_call_hook(
    callback: object, data: dict[str, Any], call_type: str = "completion",
    user_api_key_dict: UserAPIKeyAuth | None = None, cache: Any = None,
) -> Any:
    """Call one callback's ``async_pre_call_hook`` as the gateway would (the seed's direct test)."""
    from ..cache import DualCache

    identity = user_api_key_dict or UserAPIKeyAuth(api_key="test-key-hash", user_id="test-user")
    return await callback.async_pre_call_hook(identity, cache or DualCache(), data, call_type)  # type: ignore[attr-defined]
