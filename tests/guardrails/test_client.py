"""The HTTP client against a real fake service: URL, headers, answers, every failure-policy branch."""

from __future__ import annotations

import logging
import socket

import pytest

from gatehouse.errors import GuardrailBlockedError, GuardrailFailedError, InternalError
from gatehouse.guardrails.client import Failure, GuardrailClient, Verdict, parse_answer
from gatehouse.guardrails.config import parse_guardrails

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello pii"}]}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fail_open_count(metrics, reason: str, name: str = "g1") -> float:
    value = metrics.registry.get_sample_value("gatehouse_guardrail_fail_open_total", {"guardrail": name, "reason": reason})
    return value or 0.0


async def run_pre_call(plugin, user, gr, body=None):
    data = gr.request_data(user, body or CHAT)
    await plugin.async_pre_call_hook(user, None, data, "completion")
    return data


# -- wire basics -----------------------------------------------------------------


async def test_url_and_headers(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(
        fake_guardrail.base + "/", api_key="secret-key", headers={"Authorization": "Bearer svc", "X-Org": "o1"}
    )
    await run_pre_call(plugin, user, gr)
    (req,) = fake_guardrail.requests
    assert req.path == gr.PATH
    assert req.headers["x-api-key"] == "secret-key"
    assert req.headers["authorization"] == "Bearer svc"
    assert req.headers["x-org"] == "o1"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"].startswith("gatehouse/")


async def test_base_already_ending_with_the_path_is_kept(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base + gr.PATH)
    await run_pre_call(plugin, user, gr)
    assert fake_guardrail.requests[0].path == gr.PATH


async def test_no_api_key_no_header(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base)
    await run_pre_call(plugin, user, gr)
    assert "x-api-key" not in fake_guardrail.requests[0].headers


async def test_session_is_pooled_and_reopened_after_shutdown(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base)
    session = plugin._client._session
    await run_pre_call(plugin, user, gr)
    await run_pre_call(plugin, user, gr)
    assert plugin._client._session is session
    await plugin.shutdown()
    await plugin.shutdown()  # idempotent
    await run_pre_call(plugin, user, gr)  # lazily reopened, with a warning
    assert len(fake_guardrail.requests) == 3


def test_parse_answer():
    assert parse_answer(b'{"action": "NONE"}') == Verdict("NONE")
    assert parse_answer(b'{"action": "blocked", "blocked_reason": "r"}') == Verdict("BLOCKED", "r")
    assert parse_answer(b'{"action": "BLOCKED", "blocked_reason": ""}').blocked_reason is None
    v = parse_answer(b'{"action": "GUARDRAIL_INTERVENED", "texts": ["a"], "images": ["i"]}')
    assert isinstance(v, Verdict) and v.texts == ["a"] and v.images == ["i"]
    for raw, reason in [
        (b"<html>oops</html>", "invalid_json"),
        (b"[1, 2]", "invalid_response"),
        (b'"NONE"', "invalid_response"),
        (b"{}", "unknown_action"),
        (b'{"action": "ALLOW"}', "unknown_action"),
        (b'{"action": 3}', "unknown_action"),
    ]:
        failure = parse_answer(raw)
        assert isinstance(failure, Failure) and failure.kind == "error" and failure.reason == reason


def test_redact_removes_host_everywhere():
    (cfg,) = parse_guardrails(
        [{"guardrail_name": "g", "litellm_params": {"guardrail": "generic_guardrail_api", "mode": "pre_call",
                                                     "api_base": "http://10.1.2.3:8099"}}],
        source="c",
    )
    from gatehouse.metrics import Metrics

    client = GuardrailClient(cfg, metrics=Metrics(), user_agent="ua")
    text = client.redact("Cannot connect to host 10.1.2.3:8099 ssl:default [Connect call failed ('10.1.2.3', 8099)]")
    assert "10.1.2.3" not in text and "REDACTED:8099" in text


# -- failure policy ----------------------------------------------------------------


async def test_unreachable_fails_closed_by_default(make_guardrail, user, gr):
    port = closed_port()
    plugin = await make_guardrail(f"http://127.0.0.1:{port}")
    with pytest.raises(GuardrailFailedError) as info:
        await run_pre_call(plugin, user, gr)
    err = info.value
    assert err.status == 500 and err.error_type == "internal_server_error"
    assert err.message.startswith("Generic Guardrail API failed: cannot connect to the guardrail service")
    assert "127.0.0.1" not in err.message


async def test_unreachable_fail_open_passes_logs_and_counts(make_guardrail, user, gr, metrics, caplog):
    caplog.set_level(logging.WARNING, logger="gatehouse.guardrails")
    plugin = await make_guardrail(f"http://127.0.0.1:{closed_port()}", unreachable_fallback="fail_open")
    data = await run_pre_call(plugin, user, gr)
    assert data["messages"] == CHAT["messages"]
    assert fail_open_count(metrics, "connection_error") == 1
    warning = [r for r in caplog.records if r.levelno == logging.WARNING and "failed open" in r.getMessage()]
    assert warning and "g1" in warning[0].getMessage() and "call-123" in warning[0].getMessage()
    record = data["metadata"]["standard_logging_guardrail_information"][-1]
    assert record["guardrail_status"] == "guardrail_failed_to_respond"
    assert "applied_guardrails" not in data["metadata"]


async def test_timeout_fails_closed_and_fail_open(fake_guardrail, make_guardrail, user, gr, metrics):
    plugin = await make_guardrail(fake_guardrail.base, timeout="0.1")
    fake_guardrail.reply(gr.Reply(delay=0.5))
    with pytest.raises(GuardrailFailedError, match=r"Generic Guardrail API failed: no answer within 0.1s \(timeout\)"):
        await run_pre_call(plugin, user, gr)

    open_plugin = await make_guardrail(fake_guardrail.base, name="g2", timeout=0.1, unreachable_fallback="fail_open")
    fake_guardrail.reply(gr.Reply(delay=0.5))
    await run_pre_call(open_plugin, user, gr, {**CHAT, "guardrails": ["g2"]})
    assert fail_open_count(metrics, "timeout", "g2") == 1


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_statuses_count_as_unreachable(fake_guardrail, make_guardrail, user, gr, metrics, status):
    closed = await make_guardrail(fake_guardrail.base)
    fake_guardrail.reply(gr.Reply(status=status, json={"error": "down"}))
    with pytest.raises(GuardrailFailedError, match=f"Server error '{status} "):
        await run_pre_call(closed, user, gr)
    opened = await make_guardrail(fake_guardrail.base, name="g2", unreachable_fallback="fail_open")
    fake_guardrail.reply(gr.Reply(status=status, json={"error": "down"}))
    await run_pre_call(opened, user, gr, {**CHAT, "guardrails": ["g2"]})
    assert fail_open_count(metrics, f"http_{status}", "g2") == 1


@pytest.mark.parametrize("status", [400, 401, 500])
async def test_other_statuses_fail_closed_even_with_unreachable_fail_open(fake_guardrail, make_guardrail, user, gr, status):
    plugin = await make_guardrail(fake_guardrail.base, unreachable_fallback="fail_open")
    fake_guardrail.reply(gr.Reply(status=status, json={"error": "nope"}))
    with pytest.raises(GuardrailFailedError) as info:
        await run_pre_call(plugin, user, gr)
    phrase = "Server error" if status >= 500 else "Client error"
    assert info.value.message.startswith(f"Generic Guardrail API failed: {phrase} '{status} ")
    assert "for url 'http://REDACTED:" in info.value.message and "127.0.0.1" not in info.value.message


@pytest.mark.parametrize(
    ("reply", "reason", "words"),
    [
        ({"status": 500}, "http_500", "Server error '500"),
        ({"raw": b"not json"}, "invalid_json", "not JSON"),
        ({"json": ["NONE"]}, "invalid_response", "not a JSON object"),
        ({"action": "MAYBE"}, "unknown_action", "unknown action 'MAYBE'"),
        ({"action": None}, "unknown_action", "no action"),
    ],
)
async def test_errors_fail_closed_by_default_and_open_without_fail_on_error(
    fake_guardrail, make_guardrail, user, gr, metrics, reply, reason, words
):
    closed = await make_guardrail(fake_guardrail.base)
    fake_guardrail.reply(gr.Reply(**reply))
    with pytest.raises(GuardrailFailedError, match=words):
        await run_pre_call(closed, user, gr)

    opened = await make_guardrail(fake_guardrail.base, name="g2", fail_on_error=False)
    fake_guardrail.reply(gr.Reply(**reply))
    data = await run_pre_call(opened, user, gr, {**CHAT, "guardrails": ["g2"]})
    assert data["messages"] == CHAT["messages"]
    assert fail_open_count(metrics, reason, "g2") == 1


async def test_blocked_still_blocks_without_fail_on_error(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, fail_on_error=False)
    fake_guardrail.reply(gr.Reply("BLOCKED", blocked_reason="nope"))
    with pytest.raises(GuardrailBlockedError, match="nope"):
        await run_pre_call(plugin, user, gr)


async def test_count_mismatch_is_500_or_fail_open(fake_guardrail, make_guardrail, user, gr, metrics):
    plugin = await make_guardrail(fake_guardrail.base)
    fake_guardrail.reply(gr.Reply("GUARDRAIL_INTERVENED", texts=["a", "b"]))
    with pytest.raises(InternalError) as info:
        await run_pre_call(plugin, user, gr)
    assert info.value.status == 500
    assert info.value.message == (
        "Guardrail 'g1' returned 2 texts for 1 inputs; the request was rejected rather than sent half-rewritten"
    )
    opened = await make_guardrail(fake_guardrail.base, name="g2", fail_on_error=False)
    fake_guardrail.reply(gr.Reply("GUARDRAIL_INTERVENED", texts=["a", "b"]))
    data = await run_pre_call(opened, user, gr, {**CHAT, "guardrails": ["g2"]})
    assert data["messages"] == CHAT["messages"]
    assert fail_open_count(metrics, "bad_rewrite", "g2") == 1


# -- retries ---------------------------------------------------------------------


async def test_dropped_connection_without_retries_fails(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base)
    fake_guardrail.reply(gr.Reply(drop=True))
    with pytest.raises(GuardrailFailedError, match="dropped the connection"):
        await run_pre_call(plugin, user, gr)
    assert len(fake_guardrail.requests) == 1


async def test_retries_after_drops_and_timeouts(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, num_retries=2, timeout=0.2)
    fake_guardrail.reply(gr.Reply(drop=True), gr.Reply(delay=0.5), gr.Reply("BLOCKED", blocked_reason="third time"))
    with pytest.raises(GuardrailBlockedError, match="third time"):
        await run_pre_call(plugin, user, gr)
    assert len(fake_guardrail.requests) == 3


async def test_retries_are_bounded(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, num_retries=1)
    fake_guardrail.reply(gr.Reply(drop=True), gr.Reply(drop=True), gr.Reply("NONE"))
    with pytest.raises(GuardrailFailedError):
        await run_pre_call(plugin, user, gr)
    assert len(fake_guardrail.requests) == 2


async def test_http_errors_and_answers_are_not_retried(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, num_retries=3)
    fake_guardrail.reply(gr.Reply(status=503))
    with pytest.raises(GuardrailFailedError):
        await run_pre_call(plugin, user, gr)
    fake_guardrail.reply(gr.Reply("BLOCKED"))
    with pytest.raises(GuardrailBlockedError):
        await run_pre_call(plugin, user, gr)
    assert len(fake_guardrail.requests) == 2


async def test_refused_connection_is_not_retried(make_guardrail, user, gr, caplog):
    caplog.set_level(logging.INFO, logger="gatehouse.guardrails")
    plugin = await make_guardrail(f"http://127.0.0.1:{closed_port()}", num_retries=3)
    with pytest.raises(GuardrailFailedError):
        await run_pre_call(plugin, user, gr)
    assert "retry" not in caplog.text
