"""Teams, users and customers in the console: managed through LiteLLM's routes where the gateway
serves them, a clear "not available on this gateway" state where it does not (at every merge step).
"""

from __future__ import annotations

from typing import Any

import httpx

from gatehouse.testing import GatewayProcess

from .conftest import MASTER
from .test_console_browser import Watch, _shot

XSS = '<img src=x onerror="window.__xss=7">'

#: page → (list route, the create form's fields, what the new row shows)
PAGES: dict[str, tuple[str, dict[str, str], str]] = {
    "teams": ("/team/list", {"team_alias": f"{XSS} platform", "models": "mock", "max_budget": "20"}, f"{XSS} platform"),
    "users": ("/user/list", {"user_id": "ada", "user_email": "ada@example.com", "user_alias": f"{XSS} Ada"},
              f"{XSS} Ada"),
    "customers": ("/customer/list", {"user_id": "acme-corp", "alias": f"{XSS} Acme", "max_budget": "3"},
                  f"{XSS} Acme"),
}


def _served(gw: GatewayProcess, path: str) -> bool:
    answer = httpx.get(gw.base_url + path, headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    return not (answer.status_code == 404 and answer.json()["error"]["message"].startswith("No route for"))


def test_principal_pages(console_gw: GatewayProcess, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    watch = Watch(page, console_gw.base_url)
    try:
        page.goto(console_gw.base_url + "/ui/")
        page.fill("#admin-key", MASTER)
        page.click("[data-testid=sign-in]")
        page.wait_for_selector("[data-testid=nav-keys]")
        for name, (route, fields, shown) in PAGES.items():
            page.click(f"[data-testid=nav-{name}]")
            page.wait_for_selector(f"[data-testid=unavailable], [data-testid=new-{name[:-1]}]")
            if not _served(console_gw, route):
                assert route in page.inner_text("[data-testid=unavailable]")
                continue
            page.click(f"[data-testid=new-{name[:-1]}]")
            for field, value in fields.items():
                page.fill(f"#field-{field}", value)
            page.click("[data-testid=submit]")
            page.wait_for_selector(f"[data-testid={name[:-1]}-table] >> text={shown}")
            if name != "users":  # users have no block in LiteLLM's API
                page.click(f"[data-testid={name[:-1]}-table] >> text=Block")
                page.wait_for_selector(f"[data-testid={name[:-1]}-table] >> text=Blocked")
            _shot(page, f"10-{name}-managed")
        assert page.evaluate("window.__xss") is None
        watch.check()
    finally:
        page.close()


def test_rotate_a_key(console_gw: GatewayProcess, browser: Any) -> None:
    """Rotate in the console: a new secret shown once, the old key refused, the new one served
    (or, where the gateway has no ``/key/regenerate``, a clear message and the key unchanged)."""
    import openai

    admin = {"Authorization": f"Bearer {MASTER}"}
    old = httpx.post(console_gw.base_url + "/key/generate", json={"key_alias": "to-rotate"}, headers=admin,
                     timeout=30).json()["key"]
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        page.goto(console_gw.base_url + "/ui/#/keys")
        page.fill("#admin-key", MASTER)
        page.click("[data-testid=sign-in]")
        row = page.locator("[data-testid=keys-table] tbody tr", has_text="to-rotate")
        row.get_by_role("button", name="Rotate").click()
        page.click("[data-testid=confirm]")
        client = lambda key: openai.OpenAI(base_url=console_gw.api_base, api_key=key, max_retries=0, timeout=30)
        if not _served_post(console_gw, "/key/regenerate"):
            page.wait_for_selector("text=not available on this gateway")
            assert client(old).chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
            return
        new = page.input_value("[data-testid=new-key-value]")
        _shot(page, "11-key-rotated")
        assert new.startswith("sk-") and new != old
        try:
            client(old).chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
            raise AssertionError("the old key still works")
        except openai.AuthenticationError:
            pass
        assert client(new).chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    finally:
        page.close()


def _served_post(gw: GatewayProcess, path: str) -> bool:
    answer = httpx.post(gw.base_url + path, json={}, headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    return not (answer.status_code == 404 and answer.json()["error"]["message"].startswith("No route for"))


def test_spend_page(console_gw: GatewayProcess, browser: Any) -> None:
    """Spend per key so far from /key/list always; spend over time as a chart where the gateway
    serves its spend report, else "not available"."""
    import time

    import openai

    admin = {"Authorization": f"Bearer {MASTER}"}
    key = httpx.post(console_gw.base_url + "/key/generate", json={"key_alias": "spender", "max_budget": 50},
                     headers=admin, timeout=30).json()["key"]
    client = openai.OpenAI(base_url=console_gw.api_base, api_key=key, max_retries=0, timeout=30)
    for _ in range(2):
        client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "price me"}])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # spend is written in batches
        info = httpx.get(console_gw.base_url + "/key/info", params={"key": key}, headers=admin, timeout=30).json()
        if info["info"]["spend"] > 0:
            break
        time.sleep(0.2)
    assert info["info"]["spend"] > 0
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    watch = Watch(page, console_gw.base_url)
    try:
        page.goto(console_gw.base_url + "/ui/#/spend")
        page.fill("#admin-key", MASTER)
        page.click("[data-testid=sign-in]")
        page.wait_for_selector(".card:has-text('Spend by key so far') canvas")
        over_time = ".card:has-text('Spend over time')"
        page.wait_for_selector(f"{over_time} canvas, {over_time} [data-testid=unavailable]")
        if _served(console_gw, "/global/spend/report?start_date=2020-01-01&end_date=2020-01-02"):
            for dimension in ("key", "team", "model"):
                page.click(f"[data-testid=by-{dimension}]")
                page.wait_for_selector(f"{over_time} canvas")
        else:
            assert "/global/spend/report" in page.inner_text(f"{over_time} [data-testid=unavailable]")
        page.click("[data-testid=by-key]")
        page.wait_for_timeout(200)  # the chart draws without animation; give it a frame
        _shot(page, "12-spend")
        watch.check()
    finally:
        page.close()
