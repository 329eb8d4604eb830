"""The hook examples of the seed documents, and the one change a Gatehouse user makes to them.

``examples(seed_text)`` extracts every Python block of a seed that defines a
callback instance at module level; the files ``seed_002_<n>.py`` beside this
module are those blocks, verbatim, so the tests run without the seeds at hand
(a test checks they still match the seeds when ``../shared/seeds`` exists).
``for_gatehouse(code)`` is the documented change (docs/writing-hooks.md):
only import lines change.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
INSTANCE = re.compile(r"^(\w+) = \w+\(\)\s*$", re.MULTILINE)
_FROM_LITELLM = re.compile(r"^(\s*)from litellm(?:\.[\w.]+)? import (.+)$", re.MULTILINE)
_IMPORT_LITELLM = re.compile(r"^import litellm\s*$\n?", re.MULTILINE)
#: The names the seeds' examples use without importing them (they fail in LiteLLM too, see the docs).
HEADER = ("from __future__ import annotations\n"
          "from typing import Any, AsyncGenerator, Literal, Optional\n"
          "from gatehouse import CustomLogger, DualCache, UserAPIKeyAuth\n")


def examples(seed_text: str) -> list[str]:
    """The seed's Python blocks that define a callback instance, in order."""
    blocks = re.findall(r"```python\n(.*?)```", seed_text, re.DOTALL)
    return [block for block in blocks if INSTANCE.search(block)]


def instance_name(code: str) -> str:
    found = INSTANCE.search(code)
    assert found is not None
    return found.group(1)


def for_gatehouse(code: str) -> str:
    """``from litellm… import X`` → ``from gatehouse import X``; ``import litellm`` dropped; the header added."""
    code = _FROM_LITELLM.sub(lambda m: f"{m.group(1)}from gatehouse import {m.group(2)}", code)
    return HEADER + _IMPORT_LITELLM.sub("", code)


def copies() -> dict[str, str]:
    """The committed copies: file name → code."""
    return {p.name: p.read_text() for p in sorted(HERE.glob("seed_*.py"))}
