"""Tag routing (LiteLLM §6.2; checklist 106–111) and the seed 002 nova example."""

from __future__ import annotations

import random
from typing import Any, Sequence

import pytest

from gatehouse.errors import GatewayError
from gatehouse.formats.base import render_error
from gatehouse.formats.openai_common import OPENAI
from gatehouse.routing import Deployment, Router, RouterSettings, TagRoutingError, deployments_from_config
from gatehouse.routing.tags import TagFilter, group_tag_filtering, split_tags


def deps(*tag_sets: Sequence[str], model_info: dict[str, Any] | None = None) -> list[Deployment]:
    return deployments_from_config(
        [
            {
                "model_name": "m",
                "litellm_params": {"model": f"openai/up-{i}", "tags": list(tags)},
                "model_info": {"id": f"d{i}", **(model_info or {})},
            }
            for i, tags in enumerate(tag_sets)
        ],
        source="t.yaml",
    )


def ids(selected: Sequence[Deployment]) -> list[str]:
    return [d.id for d in selected]


def tag_filter(*tag_sets: Sequence[str], match_any: bool = True) -> TagFilter:
    return TagFilter(deps(*tag_sets), enabled=True, match_any=match_any)


async def served_by(router: Router, model: str, tags: Sequence[str] | None) -> str:
    async def attempt(d: Deployment) -> str:
        return d.id

    return await router.run(model, attempt, tags=tags)


# -- checklist 106–111 --------------------------------------------------------


def test_106_team_tag_goes_to_the_team_deployment() -> None:
    f = tag_filter(["default"], ["teamA"], ["teamB"])
    assert ids(f.select("m", ["teamA"])) == ["d1"]


def test_107_untagged_request_goes_to_default() -> None:
    f = tag_filter(["default"], ["teamA"], ["teamB"])
    assert ids(f.select("m", None)) == ["d0"]
    assert ids(f.select("m", [])) == ["d0"]


def test_108_unknown_tag_goes_to_default() -> None:
    f = tag_filter(["default"], ["teamA"], ["teamB"])
    assert ids(f.select("m", ["teamC"])) == ["d0"]


def test_109_no_match_and_no_default_is_401() -> None:
    f = tag_filter(["teamA"], ["teamB"])
    with pytest.raises(TagRoutingError) as caught:
        f.select("m", ["teamC"])
    err = caught.value
    assert isinstance(err, GatewayError)
    status, body, _ = render_error(OPENAI, err)
    assert status == 401
    assert err.message == 'Not allowed to access model due to tags configuration. Passed model=m and tags=["teamC"]'
    assert b'"type":"auth_error"' in body and b'"code":"401"' in body


async def test_110_metadata_tags_route_like_top_level_tags() -> None:
    # The lead passes top-level ``tags`` or ``metadata.tags``: both arrive as the same list.
    router = Router(deps(["default"], ["teamA"]), RouterSettings(enable_tag_filtering=True))
    body_top = {"tags": ["teamA"]}
    body_meta = {"metadata": {"tags": ["teamA"]}}
    assert await served_by(router, "m", body_top["tags"]) == "d1"
    assert await served_by(router, "m", body_meta["metadata"]["tags"]) == "d1"


def test_111_match_all_requires_every_request_tag() -> None:
    tag_sets = (["a"], ["a", "b"], ["b", "c"])
    strict = tag_filter(*tag_sets, match_any=False)
    assert ids(strict.select("m", ["a", "b"])) == ["d1"]
    assert ids(strict.select("m", ["b"])) == ["d1", "d2"]
    with pytest.raises(TagRoutingError):
        strict.select("m", ["a", "c"])
    loose = tag_filter(*tag_sets, match_any=True)
    assert ids(loose.select("m", ["a", "c"])) == ["d0", "d1", "d2"]


# -- seed 002: nova task routing ------------------------------------------------


NOVA = [
    {"model_name": "nova-embeddings-v1",
     "litellm_params": {"model": "openai/nova-embeddings-v1-retrieval",
                        "tags": ["retrieval", "retrieval.query", "retrieval.passage"]}},
    {"model_name": "nova-embeddings-v1",
     "litellm_params": {"model": "openai/nova-embeddings-v1-text-matching", "tags": ["text-matching"]}},
    {"model_name": "nova-embeddings-v1",
     "litellm_params": {"model": "openai/nova-embeddings-v1-code", "tags": ["code", "code.query", "code.passage"]}},
]


@pytest.mark.parametrize(
    ("task", "backend"),
    [
        ("retrieval.query", "nova-embeddings-v1-retrieval"),
        ("retrieval.passage", "nova-embeddings-v1-retrieval"),
        ("text-matching", "nova-embeddings-v1-text-matching"),
        ("code.query", "nova-embeddings-v1-code"),
    ],
)
async def test_nova_task_tags_pick_the_task_backend(task: str, backend: str) -> None:
    router = Router(deployments_from_config(NOVA, source="t"), RouterSettings(enable_tag_filtering=True))

    async def attempt(d: Deployment) -> str:
        return d.upstream_model

    for _ in range(10):
        assert await router.run("nova-embeddings-v1", attempt, tags=[task]) == backend


async def test_nova_unknown_task_is_refused_and_no_task_uses_any_backend() -> None:
    router = Router(deployments_from_config(NOVA, source="t"), RouterSettings(enable_tag_filtering=True),
                    rng=random.Random(1))
    with pytest.raises(TagRoutingError):
        await served_by(router, "nova-embeddings-v1", ["classification"])
    seen = {await served_by(router, "nova-embeddings-v1", None) for _ in range(60)}
    assert len(seen) == 3


# -- ! and & --------------------------------------------------------------------


def test_bang_excludes_deployments_carrying_the_tag() -> None:
    f = tag_filter(["default", "eu"], ["us"], ["eu"])
    assert ids(f.select("m", ["!eu"])) == ["d1"]
    assert ids(f.select("m", ["!us"])) == ["d0"]  # no matching tags: default among what is left


def test_ampersand_requires_the_tag() -> None:
    f = tag_filter(["default", "eu"], ["us", "fast"], ["eu", "fast"])
    assert ids(f.select("m", ["&fast"])) == ["d1", "d2"]
    assert ids(f.select("m", ["&fast", "&eu"])) == ["d2"]
    assert ids(f.select("m", ["fast", "&eu"])) == ["d2"]
    with pytest.raises(TagRoutingError):
        f.select("m", ["&missing"])


def test_constraints_apply_before_the_default_fallback() -> None:
    f = tag_filter(["default"], ["teamA"])
    assert ids(f.select("m", ["teamA", "!default"])) == ["d1"]
    with pytest.raises(TagRoutingError):
        f.select("m", ["teamZ", "!default"])


def test_split_tags_ignores_lone_markers_and_non_strings() -> None:
    assert split_tags(["a", "&b", "!c", "&", "!", "", 3]) == (["a"], ["b"], ["c"])
    f = tag_filter(["default"], ["x"])
    assert ids(f.select("m", ["&", "!"])) == ["d0"]


def test_no_default_deployment_means_untagged_requests_use_all() -> None:
    f = tag_filter(["a"], [], ["b"])
    assert ids(f.select("m", None)) == ["d0", "d1", "d2"]


def test_multiple_default_deployments_are_all_returned() -> None:
    f = tag_filter(["default"], ["x"], ["default", "y"])
    assert ids(f.select("m", None)) == ["d0", "d2"]
    assert ids(f.select("m", ["zzz"])) == ["d0", "d2"]


# -- when it is on --------------------------------------------------------------


def test_disabled_filter_returns_every_deployment() -> None:
    f = TagFilter(deps(["default"], ["teamA"]), enabled=False)
    assert ids(f.select("m", ["teamA"])) == ["d0", "d1"]
    assert ids(f.select("m", ["nope"])) == ["d0", "d1"]


def test_model_info_enables_or_disables_per_group() -> None:
    assert group_tag_filtering(deps(["x"], model_info={"enable_tag_filtering": True}), False) is True
    assert group_tag_filtering(deps(["x"], model_info={"enable_tag_filtering": "false"}), True) is False
    assert group_tag_filtering(deps(["x"]), True) is True
    assert group_tag_filtering(deps(["x"]), False) is False


async def test_router_applies_group_level_tag_filtering() -> None:
    group = deployments_from_config(
        [
            {"model_name": "tagged", "litellm_params": {"model": "openai/a", "tags": ["default"]},
             "model_info": {"id": "t0", "enable_tag_filtering": True}},
            {"model_name": "tagged", "litellm_params": {"model": "openai/b", "tags": ["teamA"]},
             "model_info": {"id": "t1"}},
            {"model_name": "plain", "litellm_params": {"model": "openai/c", "tags": ["teamA"]},
             "model_info": {"id": "p0"}},
        ],
        source="t",
    )
    router = Router(group, RouterSettings())
    assert await served_by(router, "tagged", ["teamA"]) == "t1"
    assert await served_by(router, "tagged", None) == "t0"
    assert await served_by(router, "plain", ["teamB"]) == "p0"


async def test_tag_refusal_makes_no_attempt() -> None:
    router = Router(deps(["teamA"]), RouterSettings(enable_tag_filtering=True))
    calls: list[str] = []

    async def attempt(d: Deployment) -> str:
        calls.append(d.id)
        return "x"

    with pytest.raises(TagRoutingError):
        await router.run("m", attempt, tags=["teamB"])
    assert calls == []


def test_selection_results_are_reused() -> None:
    f = tag_filter(["default"], ["a"], ["a", "b"])
    assert f.select("m", ["a"]) is f.select("m", ["a"])
    assert f.select("m", None) is f.select("m", None)
