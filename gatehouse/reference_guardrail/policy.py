"""The policy: what each check does, for which input types; loaded from YAML.

File shape (every key optional; see ``default_policy.yaml`` for the defaults
and ``docs/guardrail-service.md`` for the reference)::

    api_key: os.environ/GUARDRAIL_API_KEY   # or a literal, or null (no auth)
    allow_overrides: false                  # true: honour additional_provider_specific_params
    pii:
      mask_format: "[{TYPE}_REDACTED]"
      email: mask                           # shorthand for {action: mask}
      secret: {action: block, input_types: [request, response]}
    banned_words: {action: block, input_types: both, words: [badword]}
    banned_topics: {action: block, topics: [{name: weapons, keywords: [pipe bomb]}]}
    injection: {action: block, input_types: [request], threshold: 1.0}

Unknown keys are errors (a typo must not silently disable a check).
:func:`load_policy` raises :class:`PolicyError` naming the file and key.

Per-call overrides come from the request's ``additional_provider_specific_params``
and are parsed by :func:`parse_overrides` (honoured keys: see :class:`CallOverrides`).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .detectors import PII_TYPES
from .injection import HEURISTICS

__all__ = [
    "InputType",
    "PiiAction",
    "BlockAction",
    "PiiRule",
    "PiiPolicy",
    "Topic",
    "WordsPolicy",
    "TopicsPolicy",
    "InjectionPolicy",
    "Policy",
    "CallOverrides",
    "PolicyError",
    "load_policy",
    "policy_from_dict",
    "parse_overrides",
]


def _yaml_off(value: Any) -> Any:
    """YAML 1.1 reads an unquoted ``off`` as ``false``: accept it as "off"."""
    return "off" if value is False else value


InputType = Literal["request", "response"]
PiiAction = Annotated[Literal["block", "mask", "off"], BeforeValidator(_yaml_off)]
BlockAction = Annotated[Literal["block", "off"], BeforeValidator(_yaml_off)]
BOTH: tuple[InputType, ...] = ("request", "response")
_PII_ORDER = ("email", "phone", "credit_card", "ssn", "iban", "secret")


class PolicyError(ValueError):
    """A bad policy file or bad per-call override: ``"<source>: <key>: <problem>"``."""


def _input_types(value: Any) -> Any:
    """Accept ``both``, a single type, or a list of types."""
    if value == "both":
        return BOTH
    if isinstance(value, str):
        return (value,)
    return value


InputTypes = Annotated[tuple[InputType, ...], BeforeValidator(_input_types)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiiRule(_Strict):
    """One PII type: ``action`` (block | mask | off), where it applies, the mask text."""

    action: PiiAction
    input_types: InputTypes = BOTH
    mask: str | None = Field(default=None, description="literal replacement; default from mask_format")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"action": value} if isinstance(value, str) or value is False else value


class PiiPolicy(_Strict):
    """Per-type rules; ``mask_format`` replaces ``{TYPE}``/``{type}`` with the type name."""

    mask_format: str = Field(default="[{TYPE}_REDACTED]", min_length=1)
    email: PiiRule = PiiRule(action="mask")
    phone: PiiRule = PiiRule(action="mask")
    credit_card: PiiRule = PiiRule(action="mask")
    ssn: PiiRule = PiiRule(action="mask")
    iban: PiiRule = PiiRule(action="mask")
    secret: PiiRule = PiiRule(action="block")

    def rule(self, pii_type: str) -> PiiRule:
        rule: PiiRule = getattr(self, pii_type)
        return rule

    def mask_for(self, pii_type: str) -> str:
        """The replacement text for one finding of ``pii_type``."""
        rule = self.rule(pii_type)
        if rule.mask is not None:
            return rule.mask
        return self.mask_format.replace("{TYPE}", pii_type.upper()).replace("{type}", pii_type)


class Topic(_Strict):
    """A banned topic: a name (used in the block reason) and its keywords/phrases."""

    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)


class WordsPolicy(_Strict):
    action: BlockAction = "block"
    input_types: InputTypes = BOTH
    words: list[str] = []


class TopicsPolicy(_Strict):
    action: BlockAction = "block"
    input_types: InputTypes = BOTH
    topics: list[Topic] = []


class InjectionPolicy(_Strict):
    """``threshold``: block when the heuristic score reaches it; ``weights``
    overrides per heuristic (names in :data:`.injection.HEURISTICS`)."""

    action: BlockAction = "block"
    input_types: InputTypes = ("request",)
    threshold: float = Field(default=1.0, gt=0)
    weights: dict[str, float] = {}

    @field_validator("weights")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(HEURISTICS))
        if unknown:
            raise ValueError(f"unknown heuristic {unknown[0]!r}; known: {', '.join(HEURISTICS)}")
        return value


class Policy(_Strict):
    """The whole policy. Frozen: the service builds its checker from it once."""

    name: str = "gatehouse-reference-guardrail"
    api_key: str | None = None
    allow_overrides: bool = False
    """Honour per-call overrides; off by default: the policy file is the only source of truth."""
    pii: PiiPolicy = PiiPolicy()
    banned_words: WordsPolicy = WordsPolicy()
    banned_topics: TopicsPolicy = TopicsPolicy()
    injection: InjectionPolicy = InjectionPolicy()

    @field_validator("api_key")
    @classmethod
    def _resolve_env(cls, value: str | None) -> str | None:
        if value and value.startswith("os.environ/"):
            name = value.removeprefix("os.environ/")
            if name not in os.environ:
                raise ValueError(f"environment variable {name} is not set")
            return os.environ[name]
        return value or None

    def summary(self) -> dict[str, Any]:
        """What ``GET /`` shows: actions and scopes, never the key or word lists."""

        def scope(action: str, input_types: tuple[str, ...], **extra: Any) -> dict[str, Any]:
            return {"action": action, "input_types": list(input_types), **extra}

        words, topics, injection = self.banned_words, self.banned_topics, self.injection
        return {
            "auth": "x-api-key" if self.api_key else "none",
            "allow_overrides": self.allow_overrides,
            "pii": {t: scope(self.pii.rule(t).action, self.pii.rule(t).input_types) for t in _PII_ORDER},
            "banned_words": scope(words.action, words.input_types, count=len(words.words)),
            "banned_topics": scope(topics.action, topics.input_types, topics=[t.name for t in topics.topics]),
            "injection": scope(injection.action, injection.input_types, threshold=injection.threshold),
        }


class CallOverrides(BaseModel):
    """Keys honoured in ``additional_provider_specific_params`` (others are ignored).

    * ``pii_action``: block | mask | off, for every PII type (scopes unchanged)
    * ``pii_actions``: ``{type: action}`` for some types (wins over ``pii_action``)
    * ``banned_words``: extra words, checked with action block
    * ``banned_topics``: extra topics ``[{name, keywords}]``, checked with action block
    * ``injection_threshold``: a number > 0
    * ``injection_action``: block | off
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    pii_action: PiiAction | None = None
    pii_actions: dict[str, PiiAction] = {}
    banned_words: tuple[str, ...] = ()
    banned_topics: tuple[Topic, ...] = ()
    injection_threshold: float | None = Field(default=None, gt=0)
    injection_action: BlockAction | None = None

    @field_validator("pii_actions")
    @classmethod
    def _pii_types(cls, value: dict[str, PiiAction]) -> dict[str, PiiAction]:
        unknown = sorted(set(value) - set(PII_TYPES))
        if unknown:
            raise ValueError(f"unknown PII type {unknown[0]!r}; known: {', '.join(PII_TYPES)}")
        return value


NO_OVERRIDES = CallOverrides()


def _format_errors(error: ValidationError, source: str) -> PolicyError:
    """One line per problem: ``source: dotted.key: message``."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
        problem = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{source}: {key or '(top level)'}: {problem}")
    return PolicyError("\n".join(lines))


def policy_from_dict(data: Any, source: str = "policy") -> Policy:
    """Validate a parsed policy document (``None`` = all defaults)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: (top level): must be a mapping, got {type(data).__name__}")
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise _format_errors(error, source) from None


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a YAML policy file; ``None`` loads the packaged default."""
    if path is None:
        text = resources.files(__package__).joinpath("default_policy.yaml").read_text("utf-8")
        source = "default_policy.yaml"
    else:
        source = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as error:
            raise PolicyError(f"{source}: cannot read: {error.strerror or error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"{source}: not valid YAML: {error}") from None
    return policy_from_dict(data, source)


def parse_overrides(params: Any) -> CallOverrides:
    """Validate the honoured keys of ``additional_provider_specific_params``."""
    if not params:
        return NO_OVERRIDES
    if not isinstance(params, dict):
        raise PolicyError("additional_provider_specific_params: must be an object")
    try:
        return CallOverrides.model_validate(params)
    except ValidationError as error:
        raise _format_errors(error, "additional_provider_specific_params") from None
