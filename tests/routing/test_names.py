"""gatehouse.routing.names: aliases, exact groups and wildcard groups, in LiteLLM's order."""

from __future__ import annotations

import pytest

from gatehouse.config.errors import ConfigError
from gatehouse.routing.names import Alias, ModelNames, Resolved, aliases_from_config, concrete_model

GROUPS = ["gpt-4o", "*", "openai/*", "team-*", "claude-*", "llmengine/*", "team-*-mini"]


def names(**aliases: Alias) -> ModelNames:
    return ModelNames(GROUPS, aliases)


def test_exact_names_win_over_patterns() -> None:
    assert names().resolve("gpt-4o") == Resolved("gpt-4o")


@pytest.mark.parametrize("name, group, captured", [
    ("my-local-llm", "*", ("my-local-llm",)),
    ("openai/gpt-4o-mini", "openai/*", ("gpt-4o-mini",)),
    ("team-alpha", "team-*", ("alpha",)),
    ("team-alpha-mini", "team-*-mini", ("alpha",)),  # the longer pattern first
    ("llmengine/foo", "llmengine/*", ("foo",)),
    ("claude-sonnet-4-5", "claude-*", ("sonnet-4-5",)),
])
def test_the_most_specific_pattern_matches(name: str, group: str, captured: tuple[str, ...]) -> None:
    assert names().resolve(name) == Resolved(group, captured, wildcard=True)


def test_a_provider_is_inferred_for_a_name_without_one() -> None:
    only_provider = ModelNames(["openai/*", "anthropic/*"])
    assert only_provider.resolve("gpt-4o-mini") == Resolved("openai/*", ("gpt-4o-mini",), wildcard=True)
    assert only_provider.resolve("claude-opus-4") == Resolved("anthropic/*", ("claude-opus-4",), wildcard=True)
    assert only_provider.resolve("mistral-large") is None


def test_aliases_come_first_and_resolve_one_level() -> None:
    resolver = names(**{"gpt-4o": Alias("team-x"), "fast": Alias("gpt-4o"), "loop": Alias("fast")})
    assert resolver.resolve("gpt-4o") == Resolved("team-*", ("x",), wildcard=True)  # shadows the group
    assert resolver.resolve("fast") == Resolved("gpt-4o")  # its target as a group name, not as another alias
    assert resolver.resolve("loop") == Resolved("*", ("fast",), wildcard=True)  # one level only


def test_no_match_without_a_catch_all() -> None:
    assert ModelNames(["a", "b-*"]).resolve("c") is None
    assert ModelNames(["a", "b-*"]).resolve("b-") == Resolved("b-*", ("",), wildcard=True)


def test_listing() -> None:
    resolver = names(**{"gpt-4": Alias("gpt-4o"), "secret": Alias("gpt-4o", hidden=True)})
    assert resolver.listed() == ["gpt-4o", "gpt-4"]
    assert resolver.patterns()[-1] == "*"  # least specific last


@pytest.mark.parametrize("upstream, captured, provider, expected", [
    ("*", ("my-local-llm",), "openai", "my-local-llm"),
    ("*", ("openai/gpt-4o",), "openai", "gpt-4o"),  # the deployment already names its provider
    ("team-*", ("alpha",), "openai", "team-alpha"),
    ("claude-*", ("sonnet-4",), "anthropic", "claude-sonnet-4"),
    ("fixed-model", ("x",), "openai", "fixed-model"),
])
def test_concrete_model(upstream: str, captured: tuple[str, ...], provider: str, expected: str) -> None:
    assert concrete_model(upstream, captured, provider) == expected


def test_alias_config() -> None:
    parsed = aliases_from_config({"gpt-4": "gpt-4o", "hidden-one": {"model": "gpt-4o", "hidden": True}},
                                 ["gpt-4o"], source="c.yaml")
    assert parsed == {"gpt-4": Alias("gpt-4o"), "hidden-one": Alias("gpt-4o", hidden=True)}
    with pytest.raises(ConfigError, match="router_settings.model_group_alias.gpt-5.*no model_list entry"):
        aliases_from_config({"gpt-5": "nope"}, ["gpt-4o"], source="c.yaml")
    with pytest.raises(ConfigError, match="model_group_alias.x"):
        aliases_from_config({"x": ["gpt-4o"]}, ["gpt-4o"], source="c.yaml")
    with pytest.raises(ConfigError, match="must be a mapping"):
        aliases_from_config(["gpt-4o"], ["gpt-4o"], source="c.yaml")
