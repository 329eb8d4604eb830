"""Operational routes: health, /models, /metrics, /openapi.json and the /docs page."""

from __future__ import annotations

import re

from gatehouse.endpoints import ENDPOINTS
from gatehouse.testing import FakeUpstream

MESSAGES = [{"role": "user", "content": "hi"}]


def test_liveliness_needs_no_key(core) -> None:
    response = core.get("/health/liveliness", auth=False)
    assert response.status_code == 200 and response.json() == "I'm alive!"


def test_readiness_reports_the_database(core) -> None:
    response = core.get("/health/readiness", auth=False)
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "healthy" and report["db"] == "connected"
    assert report["cache"] == "in-memory" and report["model_groups"] == 3


def test_models_lists_groups_and_hides_provider_details(core, upstream_key: str) -> None:
    response = core.get("/v1/models")
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ["fake", "fake-slow", "mock"]
    assert response.json()["object"] == "list"
    for secret in (upstream_key, "fake-model", "api_base", core.fake.url):
        assert secret not in response.text


def _counter(text: str, endpoint: str, status: str) -> float:
    pattern = rf'^gatehouse_requests_total\{{endpoint="{endpoint}",status="{status}"\}} (\S+)$'
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_requests(core, fake_upstream: FakeUpstream) -> None:
    before = core.get("/metrics", auth=False)
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    ok, bad = _counter(before.text, "completion", "200"), _counter(before.text, "completion", "400")
    emb = _counter(before.text, "embeddings", "200")
    core.post("/v1/chat/completions", {"model": "fake", "messages": MESSAGES})
    core.post("/chat/completions", {"model": "fake", "messages": MESSAGES})
    core.post("/v1/chat/completions", {"model": "nope", "messages": MESSAGES})
    core.post("/v1/embeddings", {"model": "fake", "input": "x"})
    after = core.get("/metrics", auth=False).text
    assert _counter(after, "completion", "200") == ok + 2
    assert _counter(after, "completion", "400") == bad + 1
    assert _counter(after, "embeddings", "200") == emb + 1
    assert "# TYPE gatehouse_requests_total counter" in after


def _upstream_errors(text: str, status: str) -> float:
    match = re.search(r'^gatehouse_upstream_errors_total\{model_group="fake",status="%s"\} (\S+)$' % status, text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_failed_upstream_attempts(core, fake_upstream: FakeUpstream) -> None:
    before = _upstream_errors(core.get("/metrics", auth=False).text, "503")
    fake_upstream.queue(status=503)
    assert core.post("/v1/chat/completions", {"model": "fake", "messages": MESSAGES}).status_code == 503
    assert _upstream_errors(core.get("/metrics", auth=False).text, "503") == before + 1


def test_openapi_document(core) -> None:
    response = core.get("/openapi.json", auth=False)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    for endpoint in ENDPOINTS:
        operation = document["paths"]["/v1" + endpoint.path]["post"]
        assert "model" in operation["requestBody"]["content"][
            "multipart/form-data" if endpoint.multipart else "application/json"]["schema"]["required"]
    for path in ("/v1/models", "/health/liveliness", "/health/readiness", "/key/generate"):
        assert path in document["paths"]
    chat = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
    assert chat["schema"]["required"] == ["model", "messages"]


def test_docs_page_uses_local_assets(core) -> None:
    page = core.get("/docs", auth=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/docs/static/") for a in assets), assets
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    assert "/openapi.json" in page.text
    for asset in assets:
        response = core.get(asset, auth=False)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000
    assert "https://" not in page.text  # works offline


def test_root_describes_the_gateway(core) -> None:
    response = core.get("/", auth=False)
    assert response.status_code == 200
    assert response.json()["docs"] == "/docs" and response.json()["name"] == "gatehouse"


def test_no_internal_errors_in_the_log(core, fake_upstream: FakeUpstream) -> None:
    """Successes, client errors and upstream errors are logged as such, never as crashes."""
    core.post("/v1/chat/completions", {"model": "fake", "messages": MESSAGES})
    core.post("/v1/chat/completions", {"model": "fake", "messages": MESSAGES, "stream": True})
    core.post("/v1/chat/completions", content=b"{bad")
    fake_upstream.queue(status=500)
    core.post("/v1/chat/completions", {"model": "fake", "messages": MESSAGES})
    logs = core.process.logs()
    assert "Traceback" not in logs
    assert " ERROR " not in logs
    assert "failed: " not in logs  # background logging work did not crash
