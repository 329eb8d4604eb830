"""Prices per token and the map that finds them (see the package docstring)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import orjson

from ..routing.deployment import Deployment

__all__ = ["Price", "PriceMap", "PriceFileError", "PRICE_FILE_ENV"]

PRICE_FILE_ENV = "GATEHOUSE_PRICE_MAP_FILE"
_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.")
_SEPARATORS = ("-", ":", "@")
#: Gatehouse's field names → LiteLLM's, for files in either format and deployment overrides.
_FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cached_input": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "per_query": "input_cost_per_query",
    "per_character": "input_cost_per_character",
}


class PriceFileError(ValueError):
    """A price file that cannot be read; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Price:
    """USD per token. ``cached_input`` / ``cache_write`` default to ``input`` when unknown."""

    input: float = 0.0
    output: float = 0.0
    cached_input: float | None = None
    cache_write: float | None = None
    source: str = "unpriced"
    per_query: float = 0.0
    """USD per search unit (rerank: Cohere's ``meta.billed_units.search_units``)."""
    per_character: float = 0.0
    """USD per input character (text to speech)."""

    @property
    def priced(self) -> bool:
        return self.input > 0 or self.output > 0 or self.per_query > 0 or self.per_character > 0

    def cost(self, usage: Mapping[str, Any] | None) -> float:
        """The cost of an OpenAI-format ``usage`` (cached prompt tokens at the cached price)."""
        if not usage:
            return 0.0
        prompt = _int(usage.get("prompt_tokens"))
        completion = _int(usage.get("completion_tokens"))
        details = usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
        written = _int(usage.get("cache_creation_input_tokens"))
        cached, written = min(cached, prompt), min(written, max(prompt - cached, 0))
        plain = prompt - cached - written
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        units = plain * self.input + cached * cached_price + written * write_price + completion * self.output
        return units + _int(usage.get("search_units")) * self.per_query + _int(usage.get("characters")) * self.per_character


class PriceMap:
    """Model id → :class:`Price`, from the built-in map and an optional user file."""

    def __init__(self, prices: Mapping[str, Price], updated: str = "") -> None:
        self._prices = dict(prices)
        self._by_length = sorted(self._prices, key=len, reverse=True)
        self.updated = updated

    @classmethod
    def builtin(cls) -> PriceMap:
        raw = orjson.loads(resources.files(__package__).joinpath("prices.json").read_bytes())
        updated = str(raw.get("_updated", ""))
        source = f"price map {updated}"
        return cls({model: _price(entry, source, "prices.json", model) for model, entry in raw["models"].items()}, updated)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> PriceMap:
        """The built-in map, overlaid by ``GATEHOUSE_PRICE_MAP_FILE`` when set."""
        prices = cls.builtin()
        path = (os.environ if environ is None else environ).get(PRICE_FILE_ENV)
        if path:
            prices = prices.overlaid(cls.from_file(Path(path)))
        return prices

    @classmethod
    def from_file(cls, path: Path) -> PriceMap:
        try:
            raw = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise PriceFileError(f"{path}: cannot read the price file: {exc}") from None
        entries = raw.get("models", raw) if isinstance(raw, dict) else None
        if not isinstance(entries, dict):
            raise PriceFileError(f"{path}: expected a JSON object of model id → prices")
        source = f"price file {path.name}"
        return cls({model: _price(entry, source, str(path), model) for model, entry in entries.items()
                    if not model.startswith("_") and model != "sample_spec"})

    def overlaid(self, other: PriceMap) -> PriceMap:
        return PriceMap({**self._prices, **other._prices}, self.updated)

    def lookup(self, model: str) -> Price | None:
        """The price of ``model`` (``provider/`` part and region prefix ignored), or ``None``."""
        for candidate in _candidates(model):
            found = self._prices.get(candidate)
            if found is not None:
                return found
            for known in self._by_length:
                if candidate.startswith(known) and candidate[len(known)] in _SEPARATORS:
                    return self._prices[known]
        return None

    def for_deployment(self, deployment: Deployment) -> Price:
        """The deployment's price: its own keys first, then this map, field by field."""
        base = self.lookup(f"{deployment.provider}/{deployment.upstream_model}") or Price()
        own = {name: _own(deployment, litellm) for name, litellm in _FIELDS.items()}
        if not any(v is not None for v in own.values()):
            return base
        return Price(
            input=own["input"] if own["input"] is not None else base.input,
            output=own["output"] if own["output"] is not None else base.output,
            cached_input=own["cached_input"] if own["cached_input"] is not None else base.cached_input,
            cache_write=own["cache_write"] if own["cache_write"] is not None else base.cache_write,
            source="deployment" if base.source == "unpriced" else f"deployment, then {base.source}",
            per_query=own["per_query"] if own["per_query"] is not None else base.per_query,
            per_character=own["per_character"] if own["per_character"] is not None else base.per_character,
        )


def _candidates(model: str) -> list[str]:
    out = [model]
    _, slash, bare = model.partition("/")
    if slash:
        out.append(bare)
        if "/" in bare:  # bedrock/converse/<id>, vertex_ai/publishers/...
            out.append(bare.rsplit("/", 1)[1])
    for name in list(out):
        for prefix in _REGION_PREFIXES:
            if name.startswith(prefix):
                out.append(name[len(prefix):])
    out += [name[len("anthropic."):] for name in out if name.startswith("anthropic.")]  # Claude on Bedrock
    return [c for c in out if c]


def _own(deployment: Deployment, key: str) -> float | None:
    for source in (deployment.litellm_params, deployment.model_info):
        value = source.get(key)
        if value is not None:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def _price(entry: Any, source: str, where: str, model: str) -> Price:
    if not isinstance(entry, dict):
        raise PriceFileError(f"{where}: '{model}' must be an object of prices")
    values: dict[str, float | None] = {}
    for name, litellm in _FIELDS.items():
        value = entry.get(name, entry.get(litellm))
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise PriceFileError(f"{where}: '{model}'.{name}: must be a non-negative number, not {value!r}")
        values[name] = None if value is None else float(value)
    return Price(input=values["input"] or 0.0, output=values["output"] or 0.0,
                 cached_input=values["cached_input"], cache_write=values["cache_write"], source=source,
                 per_query=values["per_query"] or 0.0, per_character=values["per_character"] or 0.0)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
