"""Post-call rules (seed 000): functions that fail a response by its text.

A rule gets the answer's text as the endpoint's format reads it
(:meth:`gatehouse.formats.base.Format.answer_text`; for chat completions the
first choice's message content). ``False`` or
``{"decision": False, "message": m}`` fails the response with
:class:`PostCallRuleError`, which the router retries like a 5xx. Where the
text is ``None`` (tool calls only) rules do not run. A rule that raises fails
the response with the exception's message.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Sequence

from ..errors import PostCallRuleError

__all__ = ["PostCallRules"]

log = logging.getLogger("gatehouse.policy")

DEFAULT_MESSAGE = "LLM Response failed post-call-rule check"


class PostCallRules:
    def __init__(self, rules: Sequence[tuple[str, Callable[[str], Any]]]) -> None:
        self.rules = tuple(rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    async def check_text(self, text: str | None) -> None:
        """Raise :class:`PostCallRuleError` if a rule fails ``text``."""
        if text is None:
            return
        for label, rule in self.rules:
            try:
                result = rule(text)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                log.warning("post-call rule %s raised %s: %s", label, type(exc).__name__, exc)
                raise PostCallRuleError(str(exc) or DEFAULT_MESSAGE) from exc
            if result is False:
                raise PostCallRuleError(DEFAULT_MESSAGE)
            if isinstance(result, dict) and result.get("decision", True) is False:
                message = result.get("message")
                raise PostCallRuleError(message if isinstance(message, str) and message else DEFAULT_MESSAGE)
