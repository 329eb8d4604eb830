"""Imports point down the layers: a module imports only from its own layer or the ones below.

    entry      cli, __main__, testing, reference_guardrail, importer   (run things; may import anything)
    http       http.*                                          (the aiohttp application)
    app        app                                             (the composition root)
    ui         ui.*                                            (the admin console: its settings, routes, files)
    flow       flow, endings, relay, replies, request_body, limits, passthrough.*  (the request paths, endings, limits)
    upstream | policy   upstream, response_cache, policy.*, guardrails.*, plugins.*
    call       call                                            (the per-request state)
    routing | providers   routing.*, providers.*, auth.*, pricing.*, spend.*
    endpoints  endpoints                                       (the table: each row names its format)
    formats    formats.*                                       (wire formats: pure translation)
    values     errors, params, untrusted, usage, views, metrics, background, logs, config.*, cache.*

Imports under ``if TYPE_CHECKING:`` are names for the type checker only and
are not checked. A new module must be placed in a layer here.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gatehouse"

LAYERS: list[tuple[str, tuple[str, ...]]] = [  # bottom to top
    ("values", ("errors", "params", "untrusted", "usage", "views", "metrics", "background", "logs", "config", "cache")),
    ("formats", ("formats",)),
    ("endpoints", ("endpoints",)),
    ("routing | providers", ("routing", "providers", "auth", "pricing", "spend")),
    ("call", ("call",)),
    ("upstream | policy", ("upstream", "response_cache", "policy", "guardrails", "plugins")),
    ("flow", ("flow", "endings", "relay", "replies", "request_body", "limits", "passthrough")),
    ("ui", ("ui",)),
    ("app", ("app",)),
    ("http", ("http",)),
    ("entry", ("cli", "__main__", "testing", "reference_guardrail", "importer")),
]
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    """The layer of ``gatehouse.<first>...``; ``None`` for the package itself (its lazy public names)."""
    parts = module.split(".")
    if parts[0] != "gatehouse" or len(parts) < 2:
        return None
    assert parts[1] in RANK, f"{module} is in no layer (or does not exist): place it in LAYERS"
    return RANK[parts[1]]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import outside ``if TYPE_CHECKING:``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(line, name) for line, name in found if name == "gatehouse" or name.startswith("gatehouse.")]


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({module_name(p).split(".")[1] for p in PACKAGE.rglob("*.py")
                       if module_name(p) != "gatehouse"} - set(RANK))
    assert not unplaced, f"place these in LAYERS (tests/test_layers.py): {unplaced}"


def test_imports_point_down() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        own = layer_of(module)
        if own is None:
            continue
        for line, target in imports(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            theirs = layer_of(target)
            if theirs is not None and theirs > own:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} ({LAYERS[own][0]}) imports "
                              f"{target} ({LAYERS[theirs][0]})")
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import() -> None:
    tree = ast.parse("from ..relay import StreamRelay\nif TYPE_CHECKING:\n    from ..app import Gateway\n")
    found = imports(tree, "gatehouse.policy.variants", False)
    assert found == [(1, "gatehouse.relay")]
    assert layer_of("gatehouse.relay") > layer_of("gatehouse.policy.variants")  # type: ignore[operator]


def test_every_module_imports() -> None:
    """Every import resolves (mypy is told to ignore missing modules, so it would not say)."""
    import importlib

    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "__main__.py":
            importlib.import_module(module_name(path))
