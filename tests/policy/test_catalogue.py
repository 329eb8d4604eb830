"""The hook catalogue is the one declaration of every extension point: the docs
page is generated from it, ``CustomLogger`` mirrors it, dispatch covers it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from gatehouse import CustomLogger
from gatehouse.background import Background
from gatehouse.endpoints import ENDPOINTS, PASS_THROUGH
from gatehouse.metrics import Metrics
from gatehouse.policy.catalogue import BY_NAME, CALL_TYPES, HOOKS, LIFECYCLE, render_markdown
from gatehouse.testing.harness import Harness
from gatehouse.policy.logging_hooks import LoggingHooks
from gatehouse.policy.pipeline import Pipeline

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def parameters(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1: signature.rindex(")")]
    return [part.split("=")[0].strip() for part in inner.split(",") if part.strip()]


def test_docs_page_is_generated_from_the_catalogue():
    # Regenerate with: python -m gatehouse.policy.catalogue > docs/hooks.md
    assert DOCS.read_text() == render_markdown() + "\n"


def test_every_hook_is_documented_on_the_page():
    text = DOCS.read_text()
    for hook in HOOKS + LIFECYCLE:
        assert f"## `{hook.name}`" in text
        assert hook.signature in text


def test_custom_logger_has_a_default_for_every_hook_with_the_catalogue_signature():
    for hook in HOOKS:
        method = getattr(CustomLogger, hook.name)
        assert list(inspect.signature(method).parameters) == parameters(hook.signature), hook.name
        is_async = inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)
        assert is_async == hook.name.startswith("async_"), hook.name


def test_custom_logger_defines_no_hook_outside_the_catalogue():
    public = {name for name, value in vars(CustomLogger).items() if callable(value) and not name.startswith("_")}
    assert public == set(BY_NAME)


def test_call_types_are_the_endpoints_call_types():
    assert CALL_TYPES == tuple(e.call_type for e in (*ENDPOINTS, PASS_THROUGH))


def _everything() -> object:
    """A plain object with every catalogue hook (bodies do nothing)."""

    class Everything:
        pass

    for hook in HOOKS:
        setattr(Everything, hook.name, lambda self, *a, **k: None)
    return Everything()


def test_dispatch_binds_exactly_the_catalogue():
    callbacks = [("everything", _everything())]
    pipeline = Pipeline(callbacks, cache=None, hook_timeout=1.0, metrics=Metrics())
    logging_hooks = LoggingHooks(callbacks, background=Background())
    bound = [pipeline.pre_call, pipeline.moderation, pipeline.success, pipeline.failure, pipeline.stream_iterators,
             pipeline.stream_chunks, pipeline.response_headers, logging_hooks.pre_api_call, logging_hooks.on_success,
             logging_hooks.on_failure, logging_hooks.on_stream]
    names = [hook.name for hooks in bound for hook in hooks]
    assert sorted(names) == sorted(BY_NAME)


def test_the_no_op_defaults_are_never_dispatched_but_inherited_hooks_are():
    class Base(CustomLogger):
        async def async_moderation_hook(self, data, user_api_key_dict, call_type):
            return None

    class Leaf(Base):
        pass

    pipeline = Pipeline([("bare", CustomLogger()), ("leaf", Leaf())], cache=None, hook_timeout=1.0, metrics=Metrics())
    assert pipeline.pre_call == () and pipeline.failure == ()
    assert [h.label for h in pipeline.moderation] == ["leaf"]
    assert not pipeline.has_stream_hooks


def test_catalogue_text_names_the_stages_flow_uses():
    stages = {hook.stage for hook in HOOKS}
    assert stages == {"pre_call", "during_call", "post_call", "failure", "stream", "headers", "logging"}
    for hook in HOOKS:
        assert re.fullmatch(r"(async )?\w+\(self(, [\w=]+)*\)", hook.signature), hook.signature
        assert hook.signature.startswith(hook.name + "(") or hook.signature.startswith("async " + hook.name)


async def test_lifecycle_methods_are_awaited():
    calls: list[str] = []

    class Plugin(CustomLogger):
        async def startup(self) -> None:
            calls.append("startup")

        async def shutdown(self) -> None:
            calls.append("shutdown")

    async with Harness(callbacks=[Plugin()]):
        assert calls == ["startup"]
    assert calls == ["startup", "shutdown"]
    assert [h.name for h in LIFECYCLE] == ["startup", "shutdown"]
