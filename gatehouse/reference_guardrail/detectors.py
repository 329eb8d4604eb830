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

import bisect
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
    "IBAN_COUNTRIES",
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


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _free_before(text: str, start: int, also: str = "") -> bool:
    """No word character (nor one of ``also``) right before ``start``."""
    return start == 0 or not (_is_word(text[start - 1]) or text[start - 1] in also)


def _free_after(text: str, end: int, also: str = "") -> bool:
    """No word character (nor one of ``also``) at ``end``."""
    return end >= len(text) or not (_is_word(text[end]) or text[end] in also)


# Performance note: Python's ``re`` skips quickly to a literal or a character
# class at the start of a pattern, but not past a lookbehind or IGNORECASE.
# So patterns below start with what they must contain, boundaries are checked
# in Python, and rare markers ("@", "sk-") are tested with ``in`` first.

# --------------------------------------------------------------------- email

_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")


def find_emails(text: str) -> list[Finding]:
    """E-mail addresses (``local@domain.tld``)."""
    found: list[Finding] = []
    if "@" not in text:
        return found
    for m in _EMAIL_DOMAIN.finditer(text):
        start = m.start()
        while start > 0 and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        if start < m.start() and _free_before(text, start):
            found.append(Finding("email", start, m.end()))
    return found


# --------------------------------------------------------------------- phone

# Where a phone number can be: 8+ digits with separators. The three format
# patterns only run inside such regions (plus the "+" or "(" just before).
_PHONE_REGION = re.compile(r"\d[\d ().\-/]{5,}\d")
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
_PHONE_FORMATS = ((_PHONE_INTL, 8, 15), (_PHONE_US, 10, 11), (_PHONE_NATIONAL, 9, 12))
_DATE_LIKE = re.compile(r"\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}")


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def find_phones(text: str) -> list[Finding]:
    """Phone numbers: international (+CC / 00CC, 8-15 digits), North American
    (3-3-4 with separators) and European national (leading 0, separators,
    9-12 digits). Plain digit runs and dates are not phone numbers."""
    found: list[Finding] = []
    for region in _PHONE_REGION.finditer(text):
        if _digit_count(region.group()) < 8:
            continue
        pos, endpos = max(0, region.start() - 4), min(len(text), region.end() + 1)
        for pattern, low, high in _PHONE_FORMATS:
            for m in pattern.finditer(text, pos, endpos):
                value = m.group()
                if low <= _digit_count(value) <= high and not _DATE_LIKE.fullmatch(value):
                    found.append(Finding("phone", m.start(), m.end()))
    return resolve_overlaps(found)


# --------------------------------------------------------------- credit card

# Maximal runs of digit groups separated by single spaces or dashes.
_DIGIT_RUN = re.compile(r"\d+(?:[ \-]\d+)*")
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


def _card_end(groups: list[str], i: int) -> int:
    """Index of the last group of the longest card starting at group ``i``, or -1.

    A card is one group, or printed like a card: a first group of 4, then
    groups of 3-6 (4-4-4-4, 4-6-5, 4-4-4-4-3), so "4111111111111111 078-05-1120"
    is a card followed by something else, not one 19-digit card.
    """
    digits = groups[i]
    best = i if _is_card(digits) else -1
    if len(digits) == 4:
        for j in range(i + 1, min(len(groups), i + 6)):
            if not 3 <= len(groups[j]) <= 6 or len(digits) + len(groups[j]) > 19:
                break
            digits += groups[j]
            if _is_card(digits):
                best = j
    return best


def find_credit_cards(text: str) -> list[Finding]:
    """Payment card numbers: 13-19 digits, plain or grouped with spaces or
    dashes, starting with an issuer digit 2-6, and passing the Luhn check."""
    found: list[Finding] = []
    for run in _DIGIT_RUN.finditer(text):
        if (
            run.end() - run.start() < 13
            or not _free_before(text, run.start(), ".")
            or not _free_after(text, run.end())
        ):
            continue
        matches = list(_GROUP.finditer(run.group()))
        groups = [g.group() for g in matches]
        i = 0
        while i < len(groups):
            size = len(groups[i])
            last = _card_end(groups, i) if size == 4 or 13 <= size <= 19 else -1
            if last >= 0:
                found.append(
                    Finding(
                        "credit_card", run.start() + matches[i].start(), run.start() + matches[last].end()
                    )
                )
                i = last
            i += 1
    return found


# ----------------------------------------------------------------------- SSN

_SSN = re.compile(r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}")


def find_ssns(text: str) -> list[Finding]:
    """US social security numbers ``AAA-GG-SSSS``; area 000, 666 and 900-999,
    group 00 and serial 0000 are never issued and are not reported."""
    return [
        Finding("ssn", m.start(), m.end())
        for m in _SSN.finditer(text)
        if _free_before(text, m.start(), "-") and _free_after(text, m.end(), "-")
    ]


# ---------------------------------------------------------------------- IBAN

_IBAN = re.compile(r"[A-Z]{2}\d{2} ?(?:[A-Z0-9]{4} ?){2,7}[A-Z0-9]{1,4}\b")
#: Countries that issue IBANs (SWIFT IBAN registry, plus partial adopters).
IBAN_COUNTRIES = frozenset(
    "AD AE AL AO AT AZ BA BE BF BG BH BI BJ BR BY CF CG CH CI CM CR CV CY CZ DE DJ DK DO DZ EE EG ES FI FK FO "
    "FR GA GB GE GI GL GQ GR GT GW HN HR HU IE IL IQ IR IS IT JO KM KW KZ LB LC LI LT LU LV LY MA MC MD ME MG "
    "MK ML MN MR MT MU MZ NE NI NL NO OM PK PL PS PT QA RO RS RU SA SC SD SE SI SK SM SN SO ST SV TD TG TL TN "
    "TR UA VA VG XK YE".split()
)


def iban_valid(candidate: str) -> bool:
    """ISO 13616 shape (IBAN country, 2 digits, 15-34 characters) and the ISO 7064 mod-97 check."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isascii() or not compact.isalnum():
        return False
    if compact[:2] not in IBAN_COUNTRIES or not compact[2:4].isdigit():
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
        ok = m.group()[:2] in IBAN_COUNTRIES and _free_before(text, m.start())
        length = _valid_iban_span(m.group()) if ok else 0
        if length:
            found.append(Finding("iban", m.start(), m.start() + length))
    return found


# ------------------------------------------------------------------- secrets

# (kind, marker that must be in the text, pattern starting with that marker's
# text). Token patterns end greedily, so they never stop inside a token.
_SECRET_KINDS: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (kind, marker, re.compile(pattern))
    for kind, marker, pattern in (
        (
            "private_key",
            "PRIVATE KEY-----",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
        ),
        ("anthropic_key", "sk-ant-", r"sk-ant-[A-Za-z0-9_\-]{20,}"),
        ("openai_key", "sk-", r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
        ("aws_access_key_id", "A", r"A(?:KIA|SIA)[0-9A-Z]{16}(?![0-9A-Za-z])"),
        ("github_token", "gh", r"gh[pousr]_[A-Za-z0-9]{36,}"),
        ("github_token", "github_pat_", r"github_pat_[A-Za-z0-9_]{22,}"),
        ("slack_token", "xox", r"xox[baprs]-[A-Za-z0-9\-]{10,}"),
        ("google_api_key", "AIza", r"AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),
        ("jwt", "eyJ", r"eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),
    )
)
# api_key=..., "password": "...", OPENAI_API_KEY="..."; group 1 is the value.
# Run on the lower-cased text (same length for almost all texts; else _ANYCASE).
_ASSIGNMENT = (
    r"(?<![a-z0-9])(?:api[_\-]?key|apikey|secret(?:[_\-]?key)?|client[_\-]?secret|password|passwd|pwd"
    r"|(?:access|auth|bearer|refresh)[_\-]?token|token|private[_\-]?key)[\"']?\s*[:=]\s*[\"']?([^\s\"'`,;]+)"
)
_ASSIGNMENT_LOWER = re.compile(_ASSIGNMENT)
_ASSIGNMENT_ANYCASE = re.compile(_ASSIGNMENT, re.IGNORECASE)
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
    found = [
        Finding("secret", m.start(), m.end(), kind)
        for kind, marker, pattern in _SECRET_KINDS
        if marker in text
        for m in pattern.finditer(text)
        if kind == "private_key" or _free_before(text, m.start(), "-")
    ]
    if "=" in text or ":" in text:
        lowered = text.lower()
        scan = (_ASSIGNMENT_LOWER, lowered) if len(lowered) == len(text) else (_ASSIGNMENT_ANYCASE, text)
        for m in scan[0].finditer(scan[1]):
            value = text[m.start(1) : m.end(1)]
            if _looks_secret(value):
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
    ranked = sorted(findings, key=lambda f: (PRIORITY.get(f.type, len(PRIORITY)), f.start - f.end, f.start))
    kept: list[Finding] = []  # non-overlapping, by start
    starts: list[int] = []
    for finding in ranked:
        i = bisect.bisect_right(starts, finding.start)
        if (i and kept[i - 1].end > finding.start) or (i < len(kept) and kept[i].start < finding.end):
            continue
        kept.insert(i, finding)
        starts.insert(i, finding.start)
    return kept


def find_pii(text: str, types: Collection[str] = PII_TYPES) -> list[Finding]:
    """All PII of the given ``types`` in ``text``, overlaps resolved, by position."""
    found: list[Finding] = []
    for name in PII_TYPES:
        if name in types:
            found.extend(_DETECTORS[name](text))
    return resolve_overlaps(found)
