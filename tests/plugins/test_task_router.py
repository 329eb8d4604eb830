"""The built-in nova_task_router, on the example of its LiteLLM walkthrough."""

from __future__ import annotations

import logging

from gatehouse.cache import DualCache
from gatehouse.plugins import BUILTIN_HOOKS, NovaTaskRoutingHook, bind_builtins
from gatehouse.policy.custom_logger import CustomLogger


async def test_task_becomes_a_tag(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="gatehouse.plugins.task_router")
    hook = NovaTaskRoutingHook()
    data = {"model": "nova-embeddings-v1", "task": "retrieval.query", "input": ["test query"]}
    result = await hook.async_pre_call_hook(None, None, data, "embeddings")
    assert result is data
    assert data["metadata"]["tags"] == ["retrieval.query"]
    assert data["task"] == "retrieval.query"  # Nova still reads it
    messages = [r.getMessage() for r in caplog.records]
    assert "NovaTaskRoutingHook initialized" in messages
    assert "NovaTaskRoutingHook: Converting task 'retrieval.query' to tag" in messages


async def test_prefixed_model_name_and_existing_tags() -> None:
    hook = NovaTaskRoutingHook()
    data = {"model": "remodlai/nova-embeddings-v1", "task": "code.query", "metadata": {"tags": ["teamA"], "x": 1}}
    await hook.async_pre_call_hook(None, None, data, "embeddings")
    assert data["metadata"] == {"tags": ["teamA", "code.query"], "x": 1}


async def test_no_duplicate_tag() -> None:
    hook = NovaTaskRoutingHook()
    data = {"model": "nova-embeddings-v1", "task": "retrieval", "metadata": {"tags": ["retrieval"]}}
    await hook.async_pre_call_hook(None, None, data, "embeddings")
    await hook.async_pre_call_hook(None, None, data, "embeddings")
    assert data["metadata"]["tags"] == ["retrieval"]


async def test_other_call_types_untouched() -> None:
    hook = NovaTaskRoutingHook()
    data = {"model": "nova-embeddings-v1", "task": "retrieval", "messages": []}
    assert await hook.async_pre_call_hook(None, None, data, "completion") is data
    assert "metadata" not in data


async def test_other_models_untouched() -> None:
    hook = NovaTaskRoutingHook()
    data = {"model": "text-embedding-3-small", "task": "retrieval", "input": "x"}
    assert await hook.async_pre_call_hook(None, None, data, "embeddings") is data
    assert "metadata" not in data


async def test_no_task_untouched() -> None:
    hook = NovaTaskRoutingHook()
    data = {"model": "nova-embeddings-v1", "input": "x", "metadata": {"a": 1}}
    await hook.async_pre_call_hook(None, None, data, "embeddings")
    assert data["metadata"] == {"a": 1}


async def test_null_tags_become_a_list() -> None:
    hook = NovaTaskRoutingHook()
    data = {"model": "nova-embeddings-v1", "task": "text-matching", "metadata": {"tags": None}}
    await hook.async_pre_call_hook(None, None, data, "embeddings")
    assert data["metadata"]["tags"] == ["text-matching"]


def test_builtin_table() -> None:
    cache = DualCache()
    hook = BUILTIN_HOOKS["nova_task_router"](cache=cache)
    assert isinstance(hook, NovaTaskRoutingHook) and isinstance(hook, CustomLogger)
    bound = bind_builtins(cache=cache)
    assert set(bound) == set(BUILTIN_HOOKS)
    assert isinstance(bound["nova_task_router"](), NovaTaskRoutingHook)
    assert BUILTIN_HOOKS["nova_task_router"]() is not hook  # a fresh instance each time, no singleton
