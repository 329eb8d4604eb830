"""The report routes: LiteLLM's paths and shapes; admins see everything, a key only its own (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from gatehouse.auth.keys import hash_key
from gatehouse.testing import GatewayProcess

from spend_support import CHAT_COST, admin, by_request, get, new_key

HI = [{"role": "user", "content": "hi"}]
TODAY = datetime.now(timezone.utc).date()


def _chat(gw: GatewayProcess, client: Any, key: str, **extra: Any) -> str:
    raw = client(gw, api_key=key).chat.completions.with_raw_response.create(model="priced", messages=HI, **extra)
    call_id = str(raw.headers["x-litellm-call-id"])
    by_request(gw, call_id)  # written
    return call_id


@pytest.fixture(scope="module")
def traffic(spend_gw: GatewayProcess) -> dict[str, Any]:
    """Two teams' keys, a customer, tags: five priced answers in all."""
    import openai

    keys = {"a": new_key(spend_gw, team_id="team-a", team_alias="Alpha", user_id="ann"),
            "b": new_key(spend_gw, team_id="team-b", user_id="bob")}
    made: list[openai.OpenAI] = []

    def client(gw: GatewayProcess, api_key: str) -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=gw.api_base, api_key=api_key, max_retries=0, timeout=30))
        return made[-1]

    calls = [_chat(spend_gw, client, keys["a"], user="cust-1", extra_body={"tags": ["red"]}),
             _chat(spend_gw, client, keys["a"], user="cust-1", extra_body={"tags": ["red", "blue"]}),
             _chat(spend_gw, client, keys["a"]),
             _chat(spend_gw, client, keys["b"], user="cust-2", extra_body={"tags": ["blue"]}),
             _chat(spend_gw, client, keys["b"])]
    for c in made:
        c.close()
    return {"keys": keys, "calls": calls}


def test_spend_logs_by_raw_key_by_hash_and_by_user(spend_gw: GatewayProcess, traffic: dict[str, Any]) -> None:
    key = traffic["keys"]["a"]
    by_raw = get(spend_gw, "/spend/logs", api_key=key).json()
    assert {r["request_id"] for r in by_raw} >= set(traffic["calls"][:3]) and len(by_raw) == 3
    assert get(spend_gw, "/spend/logs", api_key=hash_key(key)).json() == by_raw
    assert {r["request_id"] for r in get(spend_gw, "/spend/logs", user_id="bob").json()} == set(traffic["calls"][3:])


def test_spend_logs_summarized_by_day_or_not(spend_gw: GatewayProcess, traffic: dict[str, Any]) -> None:
    token = hash_key(traffic["keys"]["b"])
    start, end = (TODAY - timedelta(days=2)).isoformat(), TODAY.isoformat()
    days = get(spend_gw, "/spend/logs", api_key=token, start_date=start, end_date=end).json()
    assert [d["startTime"] for d in days] == [(TODAY - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert days[0]["spend"] == 0 and days[0]["users"] == {}
    assert days[2]["spend"] == pytest.approx(2 * CHAT_COST)
    assert days[2][token] == pytest.approx(2 * CHAT_COST)
    assert days[2]["users"] == {"bob": pytest.approx(2 * CHAT_COST)}
    assert days[2]["models"] == {"fake-model": pytest.approx(2 * CHAT_COST)}
    rows = get(spend_gw, "/spend/logs", api_key=token, start_date=start, end_date=end, summarize="false").json()
    assert sorted(r["request_id"] for r in rows) == sorted(traffic["calls"][3:])
    assert get(spend_gw, "/spend/logs", api_key=token, start_date=(TODAY + timedelta(days=1)).isoformat(),
               end_date=(TODAY + timedelta(days=1)).isoformat(), summarize="false").json() == []


def test_spend_tags(spend_gw: GatewayProcess, traffic: dict[str, Any]) -> None:
    tags = {t["individual_request_tag"]: t for t in get(spend_gw, "/spend/tags").json()}
    assert tags["red"]["log_count"] == 2 and tags["blue"]["log_count"] == 2
    assert tags["red"]["total_spend"] == pytest.approx(2 * CHAT_COST)
    own = get(spend_gw, "/spend/tags", key=traffic["keys"]["b"]).json()
    assert own == [{"individual_request_tag": "blue", "log_count": 1, "total_spend": pytest.approx(CHAT_COST)}]


def test_spend_keys_most_spend_first(spend_gw: GatewayProcess, traffic: dict[str, Any]) -> None:
    import time

    deadline = time.monotonic() + 10  # the spend tracker writes key spend in batches too
    while time.monotonic() < deadline:
        keys = get(spend_gw, "/spend/keys").json()
        spends = {k["token"]: k["spend"] for k in keys}
        if spends.get(hash_key(traffic["keys"]["a"]), 0) >= 3 * CHAT_COST - 1e-9:
            break
        time.sleep(0.1)
    assert [k["spend"] for k in keys] == sorted((k["spend"] for k in keys), reverse=True)
    assert spends[hash_key(traffic["keys"]["a"])] == pytest.approx(3 * CHAT_COST)
    own = get(spend_gw, "/spend/keys", key=traffic["keys"]["b"]).json()
    assert [k["token"] for k in own] == [hash_key(traffic["keys"]["b"])]


def test_global_spend_report_by_team_customer_and_key(spend_gw: GatewayProcess, traffic: dict[str, Any]) -> None:
    day = TODAY.isoformat()
    teams = get(spend_gw, "/global/spend/report", start_date=day, end_date=day, group_by="team").json()
    assert [d["group_by_day"] for d in teams] == [day]
    by_team = {t["team_name"]: t for t in teams[0]["teams"]}
    assert by_team["Alpha"]["total_spend"] == pytest.approx(3 * CHAT_COST)  # the alias names the team
    assert by_team["team-b"]["total_spend"] == pytest.approx(2 * CHAT_COST)
    assert by_team["Alpha"]["metadata"] == [{"model": "fake-model", "api_key": hash_key(traffic["keys"]["a"]),
                                             "spend": pytest.approx(3 * CHAT_COST), "total_tokens": 15}]
    customers = get(spend_gw, "/global/spend/report", start_date=day, end_date=day, group_by="customer").json()
    by_customer = {c["customer"]: c["total_spend"] for c in customers[0]["customers"]}
    assert by_customer["cust-1"] == pytest.approx(2 * CHAT_COST) and by_customer["cust-2"] == pytest.approx(CHAT_COST)
    keys = get(spend_gw, "/global/spend/report", start_date=day, end_date=day, group_by="api_key").json()
    mine = next(k for k in keys if k["api_key"] == hash_key(traffic["keys"]["a"]))
    assert (mine["total_input_tokens"], mine["total_output_tokens"]) == (3, 12)
    assert mine["model_details"][0]["model"] == "fake-model"
    only_b = get(spend_gw, "/global/spend/report", key=traffic["keys"]["b"], start_date=day, end_date=day).json()
    assert [k["api_key"] for k in only_b] == [hash_key(traffic["keys"]["b"])]


def test_a_key_cannot_see_another_keys_spend(spend_gw: GatewayProcess, traffic: dict[str, Any]) -> None:
    b = traffic["keys"]["b"]
    own = get(spend_gw, "/spend/logs", key=b).json()
    assert {r["request_id"] for r in own} == set(traffic["calls"][3:])  # narrowed to its own key, unasked
    for path in ("/spend/logs", "/spend/tags"):
        refused = get(spend_gw, path, key=b, api_key=traffic["keys"]["a"])
        assert refused.status_code == 403 and refused.json()["error"]["param"] == "api_key"
    assert get(spend_gw, "/spend/logs", key=b, user_id="ann").json() == []
    reset = httpx.post(f"{spend_gw.base_url}/global/spend/reset", headers=admin(b))
    assert reset.status_code == 403
    assert get(spend_gw, "/spend/logs", key="sk-not-a-key").status_code == 401
    assert httpx.get(f"{spend_gw.base_url}/spend/logs").status_code == 401


def test_bad_queries_are_400s_naming_the_field(spend_gw: GatewayProcess) -> None:
    cases = [("/spend/logs", {"start_date": "yesterday", "end_date": "2025-01-01"}, "start_date"),
             ("/spend/logs", {"summarize": "maybe"}, "summarize"),
             ("/global/spend/report", {"start_date": "2025-01-01"}, "start_date"),
             ("/global/spend/report", {"start_date": "2025-01-01", "end_date": "2025-01-02", "group_by": "model"},
              "group_by")]
    for path, params, field in cases:
        response = get(spend_gw, path, **params)
        assert response.status_code == 400, (path, params, response.text)
        assert response.json()["error"]["param"] == field


def test_global_spend_reset_zeroes_keys_and_keeps_the_logs(spend_gw: GatewayProcess, openai_client: Any) -> None:
    key = new_key(spend_gw, max_budget=0.0005)
    call_id = _chat(spend_gw, openai_client, key)
    assert _key_spend(spend_gw, key, until=lambda spend: spend > 0) == pytest.approx(CHAT_COST)
    reset = httpx.post(f"{spend_gw.base_url}/global/spend/reset", headers=admin())
    assert reset.status_code == 200
    assert reset.json() == {"message": "Spend for all API Keys and Teams reset successfully", "status": "success"}
    assert _key_spend(spend_gw, key) == 0
    assert by_request(spend_gw, call_id)["spend"] == pytest.approx(CHAT_COST)  # the log keeps what was spent
    _chat(spend_gw, openai_client, key)  # under its budget again


def _key_spend(gw: GatewayProcess, key: str, until: Any = None) -> float:
    """The key's ``spend`` from ``/key/info`` (once ``until(spend)`` holds, when given: spend is written in batches)."""
    import time

    deadline = time.monotonic() + 10
    while True:
        spend = float(httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers=admin()).json()["info"]["spend"])
        if until is None or until(spend) or time.monotonic() > deadline:
            return spend
        time.sleep(0.1)
