"""The checker: runs the detectors a policy asks for and decides the action.

Built once from a :class:`.policy.Policy` (phrase lists compiled here), then
:meth:`Checker.check` is called per request with the texts, the input type
and the per-call overrides. It is synchronous and pure apart from a small
cache of compiled per-call phrase lists; a check of a few short texts takes
tens of microseconds, so the HTTP handler calls it inline.

Decision, in order:

1. any finding whose effective action is ``block`` -> ``BLOCKED`` with a short
   reason naming what was found (types, secret kinds, topic names, the banned
   word), never the matched value;
2. else any finding whose action is ``mask`` -> ``GUARDRAIL_INTERVENED`` with
   every text returned, masked ones replaced, same count and order;
3. else ``NONE``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .detectors import PII_TYPES, Finding, find_pii
from .injection import DEFAULT_WEIGHTS, score_injection
from .phrases import PhraseMatcher
from .policy import NO_OVERRIDES, CallOverrides, InputType, Policy

__all__ = ["Checker", "Verdict", "Action"]

Action = Literal["BLOCKED", "NONE", "GUARDRAIL_INTERVENED"]
_EXTRA_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one check. ``texts`` is set only for ``GUARDRAIL_INTERVENED``."""

    action: Action
    blocked_reason: str | None
    texts: list[str] | None
    findings: tuple[Finding, ...]

    def labels(self) -> list[str]:
        """Distinct loggable finding labels (types, never values), sorted."""
        return sorted({finding.label() for finding in self.findings})


@dataclass(frozen=True, slots=True)
class _Plan:
    """What to run for one input type and set of overrides."""

    pii: dict[str, str]  # PII type -> "block" | "mask" (types that are off are absent)
    phrases: tuple[PhraseMatcher, ...]  # banned words / topics matchers; a hit blocks
    injection_threshold: float | None  # None = injection check off


def _reason(blocked: Sequence[Finding]) -> str:
    """``"Secret detected: openai_key; PII detected: ssn; Banned topic: weapons"``."""

    def distinct(values: list[str]) -> str:
        return ", ".join(dict.fromkeys(values))

    secrets = sorted({f.detail for f in blocked if f.type == "secret"})
    pii = [t for t in PII_TYPES if t != "secret" and any(f.type == t for f in blocked)]
    topics = [f.detail for f in blocked if f.type == "banned_topic"]
    words = [f.detail for f in blocked if f.type == "banned_word"]
    parts = [
        f"Secret detected: {', '.join(secrets)}" if secrets else "",
        f"PII detected: {', '.join(pii)}" if pii else "",
        f"Banned topic: {distinct(topics)}" if topics else "",
        f"Banned word: {distinct(words)}" if words else "",
        "Possible prompt injection" if any(f.type == "injection" for f in blocked) else "",
    ]
    return "; ".join(part for part in parts if part) or "Content violates policy"


class Checker:
    """Applies one policy. Thread-compatible, not thread-safe (one event loop)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._words = PhraseMatcher("banned_word", ((w, w) for w in policy.banned_words.words))
        self._topics = PhraseMatcher(
            "banned_topic", ((k, t.name) for t in policy.banned_topics.topics for k in t.keywords)
        )
        self._weights = {**DEFAULT_WEIGHTS, **policy.injection.weights}
        self._extra: OrderedDict[tuple[object, ...], PhraseMatcher] = OrderedDict()
        self._plans: dict[str, _Plan] = {t: self._plan(t, NO_OVERRIDES) for t in ("request", "response")}

    def check(
        self, texts: Sequence[str], input_type: InputType, overrides: CallOverrides = NO_OVERRIDES
    ) -> Verdict:
        """Check ``texts`` as ``input_type`` ("request" or "response")."""
        plan = self._plans[input_type] if overrides is NO_OVERRIDES else self._plan(input_type, overrides)
        findings: list[Finding] = []
        blocked: list[Finding] = []
        out = list(texts)
        masked = False
        for index, text in enumerate(texts):
            pii = find_pii(text, plan.pii) if plan.pii else []
            masks = [f for f in pii if plan.pii[f.type] == "mask"]
            blocked.extend(f for f in pii if plan.pii[f.type] == "block")
            for matcher in plan.phrases:
                blocked.extend(matcher.find(text))
            findings.extend(pii)
            if masks:
                out[index] = self._mask(text, masks)
                masked = True
        if plan.injection_threshold is not None:
            result = score_injection(texts, self._weights)
            findings.extend(result.findings)
            if result.findings and result.score >= plan.injection_threshold:
                blocked.extend(result.findings)
        findings.extend(f for f in blocked if f.type in ("banned_word", "banned_topic"))
        if blocked:
            return Verdict("BLOCKED", _reason(blocked), None, tuple(findings))
        if masked:
            return Verdict("GUARDRAIL_INTERVENED", None, out, tuple(findings))
        return Verdict("NONE", None, None, tuple(findings))

    def _mask(self, text: str, findings: Sequence[Finding]) -> str:
        """``text`` with each (non-overlapping) finding replaced by its mask."""
        pieces: list[str] = []
        cursor = 0
        for finding in sorted(findings, key=lambda f: f.start):
            pieces.append(text[cursor : finding.start])
            pieces.append(self.policy.pii.mask_for(finding.type))
            cursor = finding.end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def _plan(self, input_type: str, overrides: CallOverrides) -> _Plan:
        """Resolve policy + overrides into what runs for this input type."""
        policy = self.policy
        pii: dict[str, str] = {}
        for pii_type in PII_TYPES:
            rule = policy.pii.rule(pii_type)
            action = overrides.pii_actions.get(pii_type) or overrides.pii_action or rule.action
            if input_type in rule.input_types and action != "off":
                pii[pii_type] = action
        phrases: list[PhraseMatcher] = []
        if input_type in policy.banned_words.input_types:
            if policy.banned_words.action == "block" and self._words:
                phrases.append(self._words)
            if overrides.banned_words:
                phrases.append(
                    self._extra_matcher("banned_word", tuple((w, w) for w in overrides.banned_words))
                )
        if input_type in policy.banned_topics.input_types:
            if policy.banned_topics.action == "block" and self._topics:
                phrases.append(self._topics)
            if overrides.banned_topics:
                entries = tuple((k, t.name) for t in overrides.banned_topics for k in t.keywords)
                phrases.append(self._extra_matcher("banned_topic", entries))
        injection_on = (overrides.injection_action or policy.injection.action) == "block"
        threshold = overrides.injection_threshold or policy.injection.threshold
        run_injection = injection_on and input_type in policy.injection.input_types
        return _Plan(pii, tuple(phrases), threshold if run_injection else None)

    def _extra_matcher(self, finding_type: str, entries: tuple[tuple[str, str], ...]) -> PhraseMatcher:
        """A compiled matcher for a per-call list, from a small LRU cache."""
        key = (finding_type, entries)
        matcher = self._extra.get(key)
        if matcher is None:
            matcher = PhraseMatcher(finding_type, entries)
            self._extra[key] = matcher
            if len(self._extra) > _EXTRA_CACHE_SIZE:
                self._extra.popitem(last=False)
        else:
            self._extra.move_to_end(key)
        return matcher
