"""Log set-up: level from the flag, ``GATEHOUSE_LOG`` or LiteLLM's ``LITELLM_LOG``; text or one JSON object per line.

Every line is one line: in text logs, control characters in a message (a
client's CR/LF or NUL in a model or guardrail name) are written as escapes
(``\\r``, ``\\n``, ``\\x00``) by :class:`TextFormatter`, and the lines of a
traceback are indented, so nothing a client sends can start a log line of
its own. JSON logs escape by construction.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import orjson

from .untrusted import escape_controls

__all__ = ["setup_logging", "JsonFormatter", "TextFormatter"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Prefix of each line of a traceback in text logs.
TRACEBACK_INDENT = "    | "


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT`` lines with control characters escaped; tracebacks indented under their line."""

    def __init__(self, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join(TRACEBACK_INDENT + escape_controls(line) for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    """``{"timestamp", "level", "logger", "message"[, "exception"]}`` per line (``json_logs``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(debug: bool = False, *, json_logs: bool = False) -> None:
    chosen = os.environ.get("GATEHOUSE_LOG") or os.environ.get("LITELLM_LOG") or "INFO"
    level_name = "DEBUG" if debug else chosen.strip().upper()
    level = getattr(logging, level_name, logging.INFO)
    handler = logging.StreamHandler()
    json_logs = json_logs or os.environ.get("JSON_LOGS", "").lower() in ("1", "true", "yes")
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if level > logging.DEBUG:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
