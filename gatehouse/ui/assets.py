"""The admin console's built files (``gatehouse/ui/static``), served from memory.

``scripts/build-ui`` builds ``ui/`` (Vite) into ``static/``; the build is
committed and shipped as package data, so serving needs no Node. The files
are read once, at start-up: a request names a file in a fixed table, never a
path, so nothing outside ``static/`` can be reached.

Every answer carries the console's security headers: a strict
Content-Security-Policy (scripts and styles from this origin only, no inline
code, no ``eval``, Trusted Types for every DOM sink, no framing), ``nosniff``
and no referrer.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Assets", "Asset", "STATIC_DIR", "CONTENT_SECURITY_POLICY", "SECURITY_HEADERS"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html",
          ".json": "application/json", ".woff2": "font/woff2", ".png": "image/png"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    immutable: bool
    """Content-hashed file name (``assets/*``): cached for a year; others are revalidated."""


class Assets:
    """Every file of the build, by its path under ``/ui/``."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root
        self.files: dict[str, Asset] = {}
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    name = path.relative_to(root).as_posix()
                    ctype = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    self.files[name] = Asset(path.read_bytes(), ctype, name.startswith("assets/"))

    @property
    def built(self) -> bool:
        return "index.html" in self.files

    def get(self, name: str) -> Asset | None:
        return self.files.get(name)
