"""Log set-up: level from the flag, ``GATEHOUSE_LOG`` or LiteLLM's ``LITELLM_LOG``; text or one JSON object per line."""

from __future__ import annotations

import logging
import os
import time

import orjson

__all__ = ["setup_logging", "JsonFormatter"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if level > logging.DEBUG:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
