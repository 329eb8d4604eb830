"""Reading provider credentials from the environment, as LiteLLM does (``OPENAI_API_KEY``, ``AZURE_API_KEY``, ...).

Read once, in ``Provider.check()`` at start-up. Messages name variables,
never their values.
"""

from __future__ import annotations

from typing import Iterable, Mapping

__all__ = ["from_env", "env_names"]


def from_env(names: Iterable[str], environ: Mapping[str, str]) -> str | None:
    """The value of the first of ``names`` that is set and not blank."""
    for name in names:
        value = environ.get(name)
        if value and value.strip():
            return value.strip()
    return None


def env_names(names: Iterable[str]) -> str:
    """``A`` / ``A or B`` / ``A, B or C`` for a message."""
    listed = list(names)
    if len(listed) <= 1:
        return "".join(listed)
    return ", ".join(listed[:-1]) + " or " + listed[-1]
