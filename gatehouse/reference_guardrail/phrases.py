"""Whole-word, case-insensitive phrase matching for banned words and topics.

One :class:`PhraseMatcher` compiles all its phrases into a single regular
expression when it is built (once per policy, or once per distinct per-call
list), so matching costs one regex scan per text whatever the list length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .detectors import Finding

__all__ = ["PhraseMatcher"]


def _normalise(phrase: str) -> str:
    return " ".join(phrase.lower().split())


def _pattern(phrase: str) -> str:
    """``phrase`` as a regex: words escaped, any whitespace between them."""
    return r"\s+".join(re.escape(word) for word in phrase.split())


class PhraseMatcher:
    """Finds whole-word occurrences of phrases; each phrase carries a label.

    ``entries`` are ``(phrase, label)`` pairs: for banned words the label is
    the word itself, for topics the topic name. Matching is case-insensitive,
    any run of whitespace matches the spaces inside a phrase, and a phrase
    only matches between non-word characters ("ass" does not match "class").
    When phrases share a prefix the longest wins.
    """

    def __init__(self, finding_type: str, entries: Iterable[tuple[str, str]]) -> None:
        self.finding_type = finding_type
        self._labels: dict[str, str] = {}
        for phrase, label in entries:
            key = _normalise(phrase)
            if key:
                self._labels.setdefault(key, label)
        phrases = sorted(self._labels, key=len, reverse=True)
        self._regex = re.compile(r"(?:" + "|".join(map(_pattern, phrases)) + r")(?!\w)") if phrases else None

    def __bool__(self) -> bool:
        return self._regex is not None

    def find(self, text: str) -> list[Finding]:
        """Every occurrence in ``text``; ``detail`` is the phrase's label."""
        if self._regex is None:
            return []
        # Phrases are lower case; matching the lower-cased text is much faster
        # than IGNORECASE, and so is checking the word boundary before a match
        # here rather than with a lookbehind. Spans refer to the lower-cased
        # text (the same offsets but for the rare characters whose lower case
        # is longer).
        lowered = text.lower()
        found: list[Finding] = []
        pos = 0
        while (m := self._regex.search(lowered, pos)) is not None:
            if m.start() and (lowered[m.start() - 1].isalnum() or lowered[m.start() - 1] == "_"):
                pos = m.start() + 1
                continue
            found.append(
                Finding(self.finding_type, m.start(), m.end(), self._labels.get(_normalise(m.group()), ""))
            )
            pos = m.end()
        return found
