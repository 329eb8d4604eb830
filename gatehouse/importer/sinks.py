"""Writing LiteLLM rows into Gatehouse: one sink per kind of row.

A sink maps LiteLLM's columns to Gatehouse's record and stores it, keeping
what already exists unless ``overwrite``. Only fields the Gatehouse record has
are written (:data:`gatehouse.auth.keys.KEY_FIELDS`), so a field Gatehouse
gains later (a key's ``budget_duration``, say) is imported without touching
this mapping. Kinds without a sink (:func:`sinks_for`) are read and reported
as not imported: add a sink when Gatehouse can hold them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Mapping

from ..auth.keys import KEY_FIELDS, DuplicateKeyError, KeyRecord, is_key_hash
from .reader import LiteLLMData

__all__ = ["Outcome", "Sink", "sinks_for", "key_record"]


@dataclass
class Outcome:
    """What happened to one kind of row."""

    imported: int = 0
    updated: int = 0
    kept: int = 0
    """Already in Gatehouse, left as is (no ``overwrite``)."""
    skipped: list[str] = field(default_factory=list)
    """Why rows were not imported, one line each."""


Sink = Callable[[LiteLLMData, bool], Awaitable[Outcome]]


def sinks_for(key_store: Any) -> dict[str, Sink]:
    """The kinds Gatehouse can hold today, and how each is written."""

    async def keys(data: LiteLLMData, overwrite: bool) -> Outcome:
        teams = {t.get("team_id"): t for t in data.of("teams")}
        out = Outcome()
        for row in data.of("keys"):
            record = key_record(row, teams.get(row.get("team_id")))
            if record is None:
                out.skipped.append(f"key {str(row.get('token'))[:12]}...: its token is not a SHA-256 hash")
                continue
            try:
                await key_store.insert(record)
                out.imported += 1
            except DuplicateKeyError:
                if not overwrite:
                    out.kept += 1
                    continue
                fields = {name: getattr(record, name) for name in KEY_FIELDS if name not in ("token", "created_at")}
                await key_store.update(record.token, fields)
                out.updated += 1
        return out

    return {"keys": keys}


def key_record(row: Mapping[str, Any], team: Mapping[str, Any] | None) -> KeyRecord | None:
    """A LiteLLM ``LiteLLM_VerificationToken`` row as a Gatehouse key (``None`` if the token is not a hash)."""
    token = row.get("token")
    if not isinstance(token, str) or not is_key_hash(token):
        return None
    found = row.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    now = datetime.now(timezone.utc)
    values: dict[str, Any] = {
        **{name: row.get(name) for name in KEY_FIELDS if name in row},
        "token": token,
        "models": _strings(row.get("models")),
        "metadata": metadata,
        "tags": _strings(metadata.get("tags")),
        "team_alias": (team or {}).get("team_alias"),
        "spend": float(row.get("spend") or 0.0),
        "blocked": bool(row.get("blocked")),
        "created_at": row.get("created_at") or now,
        "updated_at": row.get("updated_at") or now,
    }
    for name in ("model_max_budget",):  # JSON objects a Gatehouse record may hold
        if name in values and not isinstance(values[name], dict):
            values[name] = {}
    return KeyRecord(**{name: values[name] for name in KEY_FIELDS if name in values})


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
