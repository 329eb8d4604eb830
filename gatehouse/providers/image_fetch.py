"""Fetching ``image_url`` URLs for providers that only take image bytes (Bedrock Converse).

LiteLLM downloads image URLs for these providers, so Gatehouse does too, with
limits: ``http``/``https`` only, at most :data:`MAX_IMAGE_BYTES`, a timeout, and only
PNG, JPEG, GIF or WebP (by ``Content-Type``, else by the file's first bytes). A URL
that cannot be fetched is the client's problem: a 400 that does not repeat the
URL (it may be a signed one).
"""

from __future__ import annotations

import asyncio
from typing import Sequence

import aiohttp

from ..errors import BadRequestError

__all__ = ["fetch_images", "MAX_IMAGE_BYTES", "sniff_format"]

MAX_IMAGE_BYTES = 3_932_160  # 3.75 MiB: Bedrock's limit for one image
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10.0, connect=5.0)
_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


def sniff_format(data: bytes) -> str | None:
    """``png``/``jpeg``/``gif``/``webp`` from the first bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


async def _fetch(session: aiohttp.ClientSession, url: str, number: int) -> tuple[str, bytes]:
    try:
        async with session.get(url, timeout=FETCH_TIMEOUT, max_redirects=3) as resp:
            if resp.status >= 400:
                raise BadRequestError(f"image_url #{number} could not be fetched (HTTP {resp.status})",
                                      param="messages")
            data = await resp.content.read(MAX_IMAGE_BYTES + 1)
            media = resp.content_type.lower()
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise BadRequestError(f"image_url #{number} could not be fetched ({type(exc).__name__})",
                              param="messages") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise BadRequestError(f"image_url #{number} is larger than {MAX_IMAGE_BYTES} bytes", param="messages")
    fmt = _TYPES.get(media) or sniff_format(data)
    if fmt is None:
        raise BadRequestError(f"image_url #{number} is not a PNG, JPEG, GIF or WebP image", param="messages")
    return fmt, data


async def fetch_images(session: aiohttp.ClientSession, urls: Sequence[str]) -> dict[str, tuple[str, bytes]]:
    """URL → (format, bytes) for every URL, fetched concurrently."""
    found = await asyncio.gather(*(_fetch(session, url, i + 1) for i, url in enumerate(urls)))
    return dict(zip(urls, found))
