"""``/docs`` opened in Chromium (Debian's, driven by the playwright package): the operations are listed.

The screenshot is kept as ``test-artifacts/docs.png``. Chromium comes from
``scripts/services.sh`` (apt); ``playwright install`` is never used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_docs_page_renders_the_operations(core) -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/services.sh (it installs Debian's chromium)", pytrace=False)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(core.base_url + "/docs")
            page.wait_for_selector(".opblock-summary-path, .errors-wrapper", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=True)
            body = page.inner_text("body")
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert "Unable to render this definition" not in body
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/models", "/key/generate", "/health/readiness"):
        assert any(p.replace("\u200b", "") == path for p in paths), paths
    assert all(url.startswith(core.base_url) for url in requests), requests  # nothing from the internet
