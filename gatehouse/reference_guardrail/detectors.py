"""PII and secret detectors: pure functions from a text to findings.

Every detector takes one string and returns :class:`Finding` objects (type,
span, and for secrets the kind of secret). Nothing here knows about policies,
HTTP or masking; :mod:`.checker` decides what to do with a finding.

Patterns are compiled once, when the module is imported. Validation that a
regex cannot express (Luhn for cards, ISO 7064 mod-97 for IBANs, digit counts
for phone numbers) runs only on candidates, so a check of a few short texts
costs tens of microseconds.

Types (the keys of the ``pii:`` policy section): ``email``, ``phone``,
``credit_card``, ``ssn``, ``iban``, ``secret``. When spans of different types
overlap, the one with the higher :data:`PRIORITY` wins (a card number is not
also reported as a phone number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

__all__ = [
    "Finding",
    "PII_TYPES",
    "PRIORITY",
    "find_pii",
    "find_emails",
    "find_phones",
    "find_credit_cards",
    "find_ssns",
    "find_ibans",
    "find_secrets",
    "luhn_valid",
    "iban_valid",
    "resolve_overlaps",
]

#: PII types in priority order: earlier wins when spans overlap.
PII_TYPES: tuple[str, ...] = ("secret", "iban", "credit_card", "ssn", "email", "phone")
PRIORITY: dict[str, int] = {name: rank for rank, name in enumerate(PII_TYPES)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One match: ``text[start:end]`` is what was found.

    ``detail`` never holds the matched value: it is the secret kind
    (``openai_key``), the banned word or topic name as configured, or the
    injection heuristic name.
    """

    type: str
    start: int
    end: int
    detail: str = ""

    def label(self) -> str:
        """What may be logged: the type, plus the kind for secrets, topics, injection."""
        if self.detail and self.type in ("secret", "banned_topic", "injection"):
            return f"{self.type}:{self.detail}"
        return self.type


# --------------------------------------------------------------------- email

_EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
)


def find_emails(text: str) -> list[Finding]:
    """E-mail addresses (``local@domain.tld``)."""
    return [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]


# --------------------------------------------------------------------- phone

# +CC or 00CC, then 1-6 groups (a group may be "(0)" or "(030)").
_PHONE_INTL = re.compile(r"(?<![\w+])(?:\+|\b00)[1-9]\d{0,2}(?:[ .\-]?(?:\(\d{1,4}\)|\d{1,5})){1,6}(?![\w])")
# North American: (212) 555-0100, 212-555-0100, 212.555.0100, 1-212-555-0100.
_PHONE_US = re.compile(
    r"(?<![\w+.\-])(?:1[ .\-])?(?:\([2-9]\d{2}\)[ .\-]?|[2-9]\d{2}[ .\-])\d{3}[ .\-]\d{4}(?![\w\-])"
)
# European national format with a trunk 0 and at least one separator:
# 030 1234567, 06 12 34 56 78, 020 7946 0958, (030) 12345678.
_PHONE_NATIONAL = re.compile(
    r"(?<![\w+.\-/])(?:\(0[1-9]\d{0,3}\)|0[1-9]\d{0,3})(?:[ /.\-]\d{2,8}){1,4}(?![\w\-/])"
)
_DATE_LIKE = re.compile(r"\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}")


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def find_phones(text: str) -> list[Finding]:
    """Phone numbers: international (+CC / 00CC, 8-15 digits), North American
    (3-3-4 with separators) and European national (leading 0, separators,
    9-12 digits). Plain digit runs and dates are not phone numbers."""
    found: list[Finding] = []
    for pattern, low, high in ((_PHONE_INTL, 8, 15), (_PHONE_US, 10, 11), (_PHONE_NATIONAL, 9, 12)):
        for m in pattern.finditer(text):
            value = m.group()
            if not low <= _digit_count(value) <= high or _DATE_LIKE.fullmatch(value):
                continue
            found.append(Finding("phone", m.start(), m.end()))
    return resolve_overlaps(found)


# --------------------------------------------------------------- credit card

# Maximal runs of digit groups separated by single spaces or dashes.
_DIGIT_RUN = re.compile(r"(?<![\w.])\d{1,19}(?:[ \-]\d{1,19})*(?![\w])")
_GROUP = re.compile(r"\d+")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment card numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def _card_grouping(groups: list[re.Match[str]]) -> bool:
    """One group, or printed like a card: a first group of 4, then groups of 3-6
    (4-4-4-4, 4-6-5, 4-4-4-4-3), so "4111111111111111 078-05-1120" is a card
    followed by something else, not one 19-digit card."""
    if len(groups) == 1:
        return True
    return len(groups[0].group()) == 4 and all(3 <= len(g.group()) <= 6 for g in groups[1:])


def _cards_in_run(groups: list[re.Match[str]], offset: int) -> list[Finding]:
    """Left to right, the longest run of whole groups that is a valid card.

    A window never spans more than 19 groups (19 digits), so this is linear
    in the number of groups.
    """
    found: list[Finding] = []
    i = 0
    while i < len(groups):
        best = -1
        digits = ""
        for j in range(i, min(len(groups), i + 19)):
            digits += groups[j].group()
            if len(digits) > 19:
                break
            if _is_card(digits) and _card_grouping(groups[i : j + 1]):
                best = j
        if best >= 0:
            found.append(Finding("credit_card", offset + groups[i].start(), offset + groups[best].end()))
            i = best
        i += 1
    return found


def find_credit_cards(text: str) -> list[Finding]:
    """Payment card numbers: 13-19 digits, optionally grouped with spaces or
    dashes, starting with an issuer digit 2-6, and passing the Luhn check."""
    found: list[Finding] = []
    for m in _DIGIT_RUN.finditer(text):
        run = m.group()
        if len(run) < 13:
            continue
        found.extend(_cards_in_run(list(_GROUP.finditer(run)), m.start()))
    return found


# ----------------------------------------------------------------------- SSN

_SSN = re.compile(r"(?<![\w\-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w\-])")


def find_ssns(text: str) -> list[Finding]:
    """US social security numbers ``AAA-GG-SSSS``; area 000, 666 and 900-999,
    group 00 and serial 0000 are never issued and are not reported."""
    return [Finding("ssn", m.start(), m.end()) for m in _SSN.finditer(text)]


# ---------------------------------------------------------------------- IBAN

_IBAN = re.compile(r"\b[A-Z]{2}\d{2} ?(?:[A-Z0-9]{4} ?){2,7}[A-Z0-9]{1,4}\b")


def iban_valid(candidate: str) -> bool:
    """ISO 13616 shape (15-34 characters) and the ISO 7064 mod-97 check."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _valid_iban_span(candidate: str) -> int:
    """Length of the longest valid IBAN at the start of ``candidate``
    (dropping trailing space-separated groups), 0 if none."""
    end = len(candidate)
    while end >= 15:
        if iban_valid(candidate[:end]):
            return end
        end = candidate.rfind(" ", 0, end)
    return 0


def find_ibans(text: str) -> list[Finding]:
    """IBANs (country code, 2 check digits, BBAN; upper case, spaces allowed)
    whose mod-97 check gives 1."""
    found: list[Finding] = []
    for m in _IBAN.finditer(text):
        length = _valid_iban_span(m.group().rstrip())
        if length:
            found.append(Finding("iban", m.start(), m.start() + length))
    return found


# ------------------------------------------------------------------- secrets

_TOKEN_END = r"(?![A-Za-z0-9_\-])"
# One alternation, one scan; the group name is the kind. Order matters where
# prefixes overlap (anthropic's "sk-ant-" before openai's "sk-").
_SECRET_KINDS: tuple[tuple[str, str], ...] = (
    (
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
    ),
    ("anthropic_key", r"(?<![\w\-])sk-ant-[A-Za-z0-9_\-]{20,}" + _TOKEN_END),
    ("openai_key", r"(?<![\w\-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}" + _TOKEN_END),
    ("aws_access_key_id", r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])"),
    ("github_token", r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
    ("slack_token", r"(?<!\w)xox[baprs]-[A-Za-z0-9\-]{10,}" + _TOKEN_END),
    ("google_api_key", r"(?<!\w)AIza[0-9A-Za-z_\-]{35}" + _TOKEN_END),
    ("jwt", r"(?<![\w\-])eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*" + _TOKEN_END),
)
_SECRETS = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _SECRET_KINDS))
# Substrings every token above contains: a cheap test before the regex scan.
_SECRET_MARKERS = ("PRIVATE KEY", "sk-", "AKIA", "ASIA", "gh", "xox", "AIza", "eyJ")
# api_key=..., "password": "...", OPENAI_API_KEY="..."; group 1 is the value.
_ASSIGNMENT = re.compile(
    r"(?<![a-z0-9])(?:api[_\-]?key|apikey|secret(?:[_\-]?key)?|client[_\-]?secret|password|passwd|pwd"
    r"|(?:access|auth|bearer|refresh)[_\-]?token|token|private[_\-]?key)[\"']?\s*[:=]\s*[\"']?([^\s\"'`,;]+)",
    re.IGNORECASE,
)
_PLACEHOLDER_PREFIXES = ("os.environ/", "$", "<", "{", "%", "***", "xxx", "...")


def _looks_secret(value: str) -> bool:
    """A "long value": 8+ characters mixing two character classes, or 20+."""
    if len(value) < 8 or value.lower().startswith(_PLACEHOLDER_PREFIXES):
        return False
    classes = (
        any(c.islower() for c in value),
        any(c.isupper() for c in value),
        any(c.isdigit() for c in value),
        any(not c.isalnum() for c in value),
    )
    return sum(classes) >= 2 or len(value) >= 20


def find_secrets(text: str) -> list[Finding]:
    """API keys and credentials; ``detail`` names the kind (``openai_key``,
    ``aws_access_key_id``, ``github_token``, ``slack_token``,
    ``google_api_key``, ``private_key``, ``jwt``, ``anthropic_key``,
    ``generic_secret``). For ``password=...``-style assignments only the
    value is the span, so masking keeps the key name readable."""
    found: list[Finding] = []
    if any(marker in text for marker in _SECRET_MARKERS):
        found = [Finding("secret", m.start(), m.end(), m.lastgroup or "") for m in _SECRETS.finditer(text)]
    if "=" in text or ":" in text:
        for m in _ASSIGNMENT.finditer(text):
            if _looks_secret(m.group(1)):
                found.append(Finding("secret", m.start(1), m.end(1), "generic_secret"))
    return resolve_overlaps(found) if len(found) > 1 else found


# ------------------------------------------------------------------ combined

_DETECTORS: dict[str, Callable[[str], list[Finding]]] = {
    "secret": find_secrets,
    "iban": find_ibans,
    "credit_card": find_credit_cards,
    "ssn": find_ssns,
    "email": find_emails,
    "phone": find_phones,
}


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Drop findings that overlap a better one, sorted by position.

    Better = higher type priority, then longer span, then earlier start.
    Types outside :data:`PRIORITY` rank last.
    """
    ranked = sorted(
        findings,
        key=lambda f: (PRIORITY.get(f.type, len(PRIORITY)), f.start - f.end, f.start),
    )
    kept: list[Finding] = []
    for finding in ranked:
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


def find_pii(text: str, types: Collection[str] = PII_TYPES) -> list[Finding]:
    """All PII of the given ``types`` in ``text``, overlaps resolved, by position."""
    found: list[Finding] = []
    for name in PII_TYPES:
        if name in types:
            found.extend(_DETECTORS[name](text))
    return resolve_overlaps(found)
