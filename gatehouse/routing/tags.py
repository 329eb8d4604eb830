"""Tag routing: which deployments of a model group a request's tags allow.

LiteLLM's rules (``router_strategy/tag_based_routing.py``), decided once per
group at start-up and applied per request with a few integer operations:

* Active when ``router_settings.enable_tag_filtering`` is true, or when a
  deployment of the group sets ``model_info.enable_tag_filtering`` (the first
  one that sets it decides for the group, true or false).
* Request tags are what the caller passes (top-level ``tags`` or
  ``metadata.tags``). ``!tag`` drops deployments carrying ``tag``; ``&tag``
  keeps only deployments carrying ``tag``; other tags are matching tags.
* With matching tags: the deployments that match (sharing **any** tag, or
  carrying **all** of them when ``tag_filtering_match_any`` is false); if none
  match, the ``default``-tagged ones; if none either, :class:`TagRoutingError`.
* With only ``&tags``: every deployment carrying them. With no tags (or only
  ``!tags``): the ``default``-tagged deployments if any, else all of them.
* ``!``/``&`` constraints apply before everything else; when nothing is left,
  :class:`TagRoutingError` (HTTP 401, as LiteLLM).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..errors import GatewayError
from .deployment import Deployment

__all__ = ["TagRoutingError", "TagFilter", "split_tags", "group_tag_filtering"]

_CACHE_LIMIT = 256


class TagRoutingError(GatewayError):
    """No deployment of the group may serve these tags (LiteLLM answers 401)."""

    status = 401
    type = "auth_error"

    def __init__(self, model: str, tags: Sequence[str]) -> None:
        shown = json.dumps([t for t in tags if isinstance(t, str)])
        super().__init__(
            f"Not allowed to access model due to tags configuration. Passed model={model} and tags={shown}"
        )
        self.model = model
        self.tags = tuple(tags)


def split_tags(tags: Sequence[Any]) -> tuple[list[str], list[str], list[str]]:
    """(matching, required ``&``, excluded ``!``); non-strings and lone markers are ignored."""
    positive: list[str] = []
    required: list[str] = []
    excluded: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            continue
        if tag[0] == "&":
            if len(tag) > 1:
                required.append(tag[1:])
        elif tag[0] == "!":
            if len(tag) > 1:
                excluded.append(tag[1:])
        else:
            positive.append(tag)
    return positive, required, excluded


def group_tag_filtering(deployments: Sequence[Deployment], router_wide: bool) -> bool:
    """The group's ``model_info.enable_tag_filtering`` if a deployment sets it, else ``router_wide``."""
    for deployment in deployments:
        value = deployment.model_info.get("enable_tag_filtering")
        if value is not None:
            return value is True or str(value).strip().lower() in ("true", "1", "yes")
    return router_wide


class TagFilter:
    """Tag routing for one model group. Deployment sets are bit masks over its deployments."""

    __slots__ = ("deployments", "enabled", "_match_any", "_all", "_index", "_default", "_untagged", "_cache")

    def __init__(self, deployments: Sequence[Deployment], *, enabled: bool, match_any: bool = True) -> None:
        self.deployments: tuple[Deployment, ...] = tuple(deployments)
        self.enabled = enabled
        self._match_any = match_any
        self._all = (1 << len(self.deployments)) - 1
        index: dict[str, int] = {}
        for position, deployment in enumerate(self.deployments):
            for tag in deployment.tags:
                index[tag] = index.get(tag, 0) | (1 << position)
        self._index = index
        self._default = index.get("default", 0)
        self._cache: dict[int, tuple[Deployment, ...]] = {self._all: self.deployments}
        self._untagged = self._take(self._default or self._all)

    def select(self, model: str, tags: Sequence[str] | None) -> tuple[Deployment, ...]:
        """The deployments these request tags allow (never empty); raise TagRoutingError if none."""
        if not self.enabled:
            return self.deployments
        if not tags:
            return self._untagged
        if isinstance(tags, str):
            tags = (tags,)
        positive, required, excluded = split_tags(tags)
        allowed = self._constrain(required, excluded)
        if positive:
            found = (self._matching(positive) & allowed) or (self._default & allowed)
        elif required:
            found = allowed
        else:
            found = (self._default & allowed) or allowed
        if not found:
            raise TagRoutingError(model, tags)
        return self._take(found)

    def _constrain(self, required: list[str], excluded: list[str]) -> int:
        mask = self._all
        for tag in excluded:
            mask &= ~self._index.get(tag, 0)
        for tag in required:
            mask &= self._index.get(tag, 0)
        return mask

    def _matching(self, positive: list[str]) -> int:
        index = self._index
        if self._match_any:
            mask = 0
            for tag in positive:
                mask |= index.get(tag, 0)
            return mask
        mask = self._all
        for tag in positive:
            mask &= index.get(tag, 0)
        return mask

    def _take(self, mask: int) -> tuple[Deployment, ...]:
        chosen = self._cache.get(mask)
        if chosen is None:
            chosen = tuple(d for i, d in enumerate(self.deployments) if mask >> i & 1)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[mask] = chosen
        return chosen
