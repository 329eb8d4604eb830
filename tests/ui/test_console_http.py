"""The console's routes over HTTP: headers, admin-only JSON, what the live log keeps and never keeps."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable

import httpx
import openai
import pytest

from gatehouse.testing import FakeGuardrail, GatewayProcess

from .conftest import HOOKS_PY, MASTER, console_config

PROMPT_MARK = "the-secret-prompt-text-5521"


def _admin(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {MASTER}", **(extra or {})}


def _key(gw: GatewayProcess, **body: Any) -> str:
    answer = httpx.post(gw.base_url + "/key/generate", json=body, headers=_admin(), timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["key"])


def _chat(gw: GatewayProcess, key: str, text: str = "hi") -> None:
    client = openai.OpenAI(base_url=gw.api_base, api_key=key, max_retries=0, timeout=30)
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": text}])


def _log(gw: GatewayProcess, after: int = 0, wait_for: int = 0) -> dict[str, Any]:
    """The log; polls until it holds ``wait_for`` entries after ``after`` (logging runs in the background)."""
    deadline = time.monotonic() + 10
    while True:
        answer = httpx.get(gw.base_url + "/ui/api/requests", params={"after": after}, headers=_admin(), timeout=30)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if len(body["requests"]) >= wait_for or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


@pytest.fixture
def plain_gw(gateway: Callable[..., GatewayProcess], blocking_guard: FakeGuardrail) -> GatewayProcess:
    """Like ``console_gw`` but with the defaults: no prompt text kept, and a log of 3 entries."""
    config = console_config(blocking_guard, ui_request_log_content=False, ui_request_log_size=3)
    return gateway(config, files={"console_hooks.py": HOOKS_PY})


def test_page_and_assets_carry_a_strict_csp(console_gw: GatewayProcess) -> None:
    page = httpx.get(console_gw.base_url + "/ui", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                      "require-trusted-types-for 'script'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # no inline script: only <script src=...>
    assets = re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        answer = httpx.get(console_gw.base_url + asset, timeout=30)
        assert answer.status_code == 200, asset
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(console_gw.base_url + "/ui/", timeout=30).text == page.text


@pytest.mark.parametrize("path", ["/ui/../gatehouse/app.py", "/ui/..%2F..%2Fpyproject.toml", "/ui/nope.js",
                                  "/ui/index.html/x", "/ui/%2e%2e/app.py"])
def test_nothing_outside_the_build_is_served(console_gw: GatewayProcess, path: str) -> None:
    answer = httpx.get(console_gw.base_url + path, timeout=30)
    assert answer.status_code == 404
    assert answer.json()["error"]["message"].startswith("No route for")


def test_json_routes_are_admin_only(console_gw: GatewayProcess) -> None:
    user_key = _key(console_gw, key_alias="not-an-admin")
    for path in ("/ui/api/session", "/ui/api/requests", "/ui/api/requests/stream"):
        assert httpx.get(console_gw.base_url + path, timeout=30).status_code == 401
        refused = httpx.get(console_gw.base_url + path, headers={"Authorization": f"Bearer {user_key}"}, timeout=30)
        assert refused.status_code in (401, 403), path  # 403 once admins are users with a role
        assert user_key not in refused.text
    session = httpx.get(console_gw.base_url + "/ui/api/session", headers=_admin(), timeout=30).json()
    assert session["master_key"] is True and session["user_role"] == "proxy_admin"
    assert session["request_log"]["content"] is True
    assert MASTER not in json.dumps(session)


def test_the_log_keeps_the_trace_never_the_key_nor_text_by_default(plain_gw: GatewayProcess) -> None:
    start = _log(plain_gw)["last_seq"]
    key = _key(plain_gw, key_alias="billing", models=["mock"])
    _chat(plain_gw, key, PROMPT_MARK)
    body = _log(plain_gw, after=start, wait_for=1)
    text = json.dumps(body)
    assert key not in text and MASTER not in text
    assert PROMPT_MARK not in text  # ui_request_log_content is off
    entry = body["requests"][-1]
    assert entry["status"] == "success" and entry["status_code"] == 200
    assert entry["key"]["alias"] == "billing"
    token = httpx.get(plain_gw.base_url + "/key/info", params={"key": key}, headers=_admin(), timeout=30).json()["key"]
    assert entry["key"]["hash_prefix"] == token[:12]
    hooks = [(s["stage"], s["hook"], s["outcome"]) for s in entry["trace"]]
    assert ("pre_call", "console_hooks.audit", "ok") in hooks and ("pre_call", "guardrail:screen", "ok") in hooks
    assert hooks.index(("pre_call", "console_hooks.audit", "ok")) < hooks.index(("pre_call", "guardrail:screen", "ok"))
    assert [(g["name"], g["mode"], g["status"]) for g in entry["guardrails"]] == [("screen", "pre_call", "success")]
    assert "response" not in entry["guardrails"][0] and "content" not in entry
    assert entry["model"] == "mock" and entry["tokens"]["total"] > 0


def test_the_log_is_bounded(plain_gw: GatewayProcess) -> None:
    start = _log(plain_gw)["last_seq"]
    for i in range(5):
        _chat(plain_gw, MASTER, f"n{i}")
    body = _log(plain_gw, after=start, wait_for=3)
    deadline = time.monotonic() + 10
    while body["last_seq"] < start + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
        body = _log(plain_gw, after=start)
    assert body["size"] == 3
    assert [e["seq"] for e in body["requests"]] == [start + 3, start + 4, start + 5]
    assert all(e["key"]["alias"] == "master key" and e["key"]["hash_prefix"] is None for e in body["requests"])


def test_blocked_by_the_guardrail_is_logged_with_its_verdict(plain_gw: GatewayProcess) -> None:
    start = _log(plain_gw)["last_seq"]
    with pytest.raises(openai.BadRequestError):
        _chat(plain_gw, MASTER, "something forbidden")
    entry = _log(plain_gw, after=start, wait_for=1)["requests"][-1]
    assert entry["status"] == "failure" and entry["status_code"] == 400
    assert entry["error"]["class"] == "GuardrailBlockedError"
    assert [g["status"] for g in entry["guardrails"]] == ["blocked"]
    assert entry["trace"][-1]["hook"] in ("guardrail:screen", "parallel_request_limiter")
    assert all(s["stage"] != "post_call" for s in entry["trace"])


def test_stream_sends_new_requests_as_events(console_gw: GatewayProcess) -> None:
    start = _log(console_gw)["last_seq"]
    events: list[tuple[str, str]] = []
    with httpx.stream("GET", console_gw.base_url + "/ui/api/requests/stream", params={"after": start},
                      headers=_admin(), timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        event = None
        for line in lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event:
                events.append((event, line[6:]))
                if event == "hello":
                    _chat(console_gw, MASTER, "over the stream")
                if event == "request":
                    break
    assert events[0][0] == "hello" and json.loads(events[0][1])["enabled"] is True
    entry = json.loads(events[-1][1])
    assert entry["seq"] > start and "over the stream" in entry["content"]["messages"]


def test_disable_admin_ui(gateway: Callable[..., GatewayProcess], blocking_guard: FakeGuardrail) -> None:
    gw = gateway(console_config(blocking_guard, disable_admin_ui=True), files={"console_hooks.py": HOOKS_PY})
    assert httpx.get(gw.base_url + "/ui", timeout=30).status_code == 404
    assert httpx.get(gw.base_url + "/ui/api/requests", headers=_admin(), timeout=30).status_code == 404


def test_bad_log_setting_stops_start_up(tmp_path: Any, blocking_guard: FakeGuardrail) -> None:
    from gatehouse.testing import ServerStartError

    gw = GatewayProcess(console_config(blocking_guard, ui_request_log_size=-1), files={"console_hooks.py": HOOKS_PY})
    with pytest.raises(ServerStartError) as failed:
        gw.start()
    assert "general_settings.ui_request_log_size" in str(failed.value)


def test_records_only_while_a_console_is_open(gateway: Callable[..., GatewayProcess],
                                              blocking_guard: FakeGuardrail) -> None:
    """No console open: the log's plugin opts out (no cost); a console call starts the recording."""
    gw = gateway(console_config(blocking_guard, ui_request_log_size=50, ui_request_log_content=False),
                 files={"console_hooks.py": HOOKS_PY}, env={"GATEHOUSE_TEST_FRESH": "watch"})
    _chat(gw, MASTER, "before any console")
    time.sleep(0.3)  # logging runs in the background: give an entry time to land, were one made
    body = _log(gw)
    assert body["requests"] == [] and body["recording"] is True and body["always"] is False
    _chat(gw, MASTER, "while watched")
    assert len(_log(gw, wait_for=1)["requests"]) == 1


def test_always_records(gateway: Callable[..., GatewayProcess], blocking_guard: FakeGuardrail) -> None:
    gw = gateway(console_config(blocking_guard, ui_request_log_always=True), files={"console_hooks.py": HOOKS_PY},
                 env={"GATEHOUSE_TEST_FRESH": "always"})
    _chat(gw, MASTER, "before any console")
    body = _log(gw, wait_for=1)
    assert len(body["requests"]) == 1 and body["always"] is True
