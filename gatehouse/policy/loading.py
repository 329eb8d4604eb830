"""Loading callbacks and post-call rules named in the config.

``module.attribute`` is looked up first as a file beside the config
(``custom_callbacks.py``, or ``pkg/mod.py`` for ``pkg.mod.attr``), then as an
importable module. A bare name picks a built-in hook. Every mistake stops
start-up with a :class:`ConfigError` that says what to write instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping

from ..config.errors import ConfigError
from .catalogue import BY_NAME

__all__ = ["Loader", "LITELLM_LOGGER_NAMES"]

log = logging.getLogger("gatehouse.policy")

#: LiteLLM integration names Gatehouse accepts in ``callbacks`` and ignores with a warning.
LITELLM_LOGGER_NAMES = frozenset({
    "langfuse", "langsmith", "prometheus", "datadog", "otel", "opentelemetry", "lago", "openmeter",
    "braintrust", "galileo", "literalai", "gcs_bucket", "opik", "argilla", "logfire", "arize",
    "arize_phoenix", "langtrace", "humanloop", "mlflow", "s3", "s3_v2", "sentry", "slack", "posthog",
    "newrelic", "helicone", "lunary", "traceloop", "wandb", "athina", "dynamodb", "supabase",
})


class Loader:
    """Resolves dotted names relative to one config directory; modules load once."""

    def __init__(self, base_dir: Path, *, source: str) -> None:
        self.base_dir = base_dir
        self.source = source
        self._modules: dict[str, ModuleType] = {}

    def resolve(self, spec: str, *, key: str, kind: str = "callback") -> Any:
        """``module.attribute``; ``kind`` (``callback`` or ``rule``) only shapes the error's suggestion."""
        module_name, _, attribute = spec.rpartition(".")
        if not module_name or not attribute:
            raise ConfigError(f"'{spec}' is not of the form module.attribute", key=key, source=self.source)
        module = self._module(module_name, key=key)
        try:
            return getattr(module, attribute)
        except AttributeError:
            where = getattr(module, "__file__", module_name)
            raise ConfigError(f"{where} has no attribute '{attribute}'; {_suggest(module, module_name, kind)}",
                              key=key, source=self.source) from None

    def _module(self, name: str, *, key: str) -> ModuleType:
        if name in self._modules:
            return self._modules[name]
        file = self.base_dir / (name.replace(".", "/") + ".py")
        module = self._from_file(name, file, key=key) if file.is_file() else self._import(name, file, key=key)
        self._modules[name] = module
        return module

    def _from_file(self, name: str, file: Path, *, key: str) -> ModuleType:
        unique = f"gatehouse_user_{abs(hash(str(file)))}_{name.replace('.', '_')}"
        spec = importlib.util.spec_from_file_location(unique, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        added = str(self.base_dir) not in sys.path
        if added:
            sys.path.insert(0, str(self.base_dir))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's module failed while importing
            sys.modules.pop(unique, None)
            raise ConfigError(f"loading {file} failed: {_describe(exc)}{_litellm_hint(exc)}", key=key,
                              source=self.source) from None
        return module

    def _import(self, name: str, file: Path, *, key: str) -> ModuleType:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                beside = sorted(p.stem for p in self.base_dir.glob("*.py"))
                hint = (f"modules beside the config: {', '.join(beside)}" if beside else
                        "write module.instance, e.g. custom_callbacks.proxy_handler_instance with "
                        "custom_callbacks.py beside the config")
                raise ConfigError(
                    f"cannot find '{name}': no file {file} beside the config and no importable module of that "
                    f"name ({hint})",
                    key=key, source=self.source,
                ) from None
            raise ConfigError(f"importing '{name}' failed: {_describe(exc)}", key=key, source=self.source) from None
        except Exception as exc:
            raise ConfigError(f"importing '{name}' failed: {_describe(exc)}", key=key, source=self.source) from None

    # -- callbacks -------------------------------------------------------------
    def callbacks(self, specs: list[str], builtins: Mapping[str, Callable[[], object]]) -> list[tuple[str, object]]:
        """``(label, callback)`` in config order; bare names are built-ins."""
        loaded: list[tuple[str, object]] = []
        for i, spec in enumerate(specs):
            key = f"litellm_settings.callbacks[{i}]"
            if "." not in spec:
                if spec in builtins:
                    loaded.append((spec, builtins[spec]()))
                elif spec in LITELLM_LOGGER_NAMES:
                    log.warning("%s: %s: '%s' is a LiteLLM logging integration Gatehouse does not ship; ignored "
                                "(Gatehouse exports Prometheus metrics at /metrics)", self.source, key, spec)
                else:
                    raise ConfigError(
                        f"'{spec}' is not a built-in hook (built-ins: {', '.join(sorted(builtins)) or 'none'}); "
                        "for your own hook write module.instance, e.g. custom_callbacks.proxy_handler_instance",
                        key=key, source=self.source,
                    )
                continue
            loaded.append((spec, self._callback(spec, key)))
        return loaded

    def _callback(self, spec: str, key: str) -> object:
        obj = self.resolve(spec, key=key)
        if inspect.isclass(obj):
            module, _, attr = spec.rpartition(".")
            raise ConfigError(
                f"'{spec}' is the class {obj.__name__}, but a callback must be an instance: add "
                f"`proxy_handler_instance = {attr}()` to {module}.py and write {module}.proxy_handler_instance",
                key=key, source=self.source,
            )
        if not any(has_hook(obj, name) for name in BY_NAME):
            raise ConfigError(
                f"'{spec}' has none of the hook methods (e.g. async_pre_call_hook); see docs/hooks.md",
                key=key, source=self.source,
            )
        return obj

    # -- success_callback / failure_callback ------------------------------------
    def event_functions(self, specs: list[str], event: str) -> list[tuple[str, object]]:
        """LiteLLM's ``success_callback`` / ``failure_callback``: ``module.fn`` entries become logging hooks.

        Each function is called like LiteLLM calls it, ``fn(kwargs, response_obj, start_time, end_time)``
        (awaited if it is async), in the background. Names of LiteLLM integrations are ignored with a warning.
        """
        loaded: list[tuple[str, object]] = []
        for i, spec in enumerate(specs):
            key = f"litellm_settings.{event}_callback[{i}]"
            if "." not in spec:
                log.warning("%s: %s: '%s' is a LiteLLM logging integration Gatehouse does not ship; ignored",
                            self.source, key, spec)
                continue
            fn = self.resolve(spec, key=key, kind="rule")
            if not callable(fn) or inspect.isclass(fn):
                raise ConfigError(f"'{spec}' must be a function (kwargs, response_obj, start_time, end_time)",
                                  key=key, source=self.source)
            loaded.append((spec, EventFunction(fn, event)))
        return loaded

    # -- post-call rules -------------------------------------------------------
    def rules(self, specs: list[str]) -> list[tuple[str, Callable[[str], Any]]]:
        loaded = []
        for i, spec in enumerate(specs):
            key = f"litellm_settings.post_call_rules[{i}]" if len(specs) > 1 else "litellm_settings.post_call_rules"
            fn = self.resolve(spec, key=key, kind="rule")
            if not callable(fn) or inspect.isclass(fn):
                raise ConfigError(f"'{spec}' must be a function taking the response text", key=key, source=self.source)
            loaded.append((spec, fn))
        return loaded


class EventFunction:
    """A plain function from ``success_callback`` / ``failure_callback``, as a logging hook."""

    def __init__(self, fn: Callable[..., Any], event: str) -> None:
        self.fn = fn
        if inspect.iscoroutinefunction(fn):
            setattr(self, f"async_log_{event}_event", self._acall)
        else:
            setattr(self, f"log_{event}_event", self._call)

    async def _acall(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> Any:
        return await self.fn(kwargs, response_obj, start_time, end_time)

    def _call(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> Any:
        return self.fn(kwargs, response_obj, start_time, end_time)


def has_hook(obj: object, name: str) -> bool:
    """True when ``obj`` defines hook ``name`` anywhere but in ``CustomLogger`` itself."""
    from .custom_logger import CustomLogger

    if name in getattr(obj, "__dict__", {}):
        return callable(obj.__dict__[name])
    for klass in type(obj).__mro__:
        if name in klass.__dict__:
            return klass is not CustomLogger and callable(klass.__dict__[name])
    return False


def _suggest(module: ModuleType, module_name: str, kind: str) -> str:
    """What to write instead: the module's callback instances (or its functions, for rules)."""
    if kind == "rule":
        names = [n for n, v in vars(module).items() if not n.startswith("_") and inspect.isfunction(v)
                 and v.__module__ == module.__name__]
    else:
        names = [n for n, v in vars(module).items() if not n.startswith("_") and not inspect.isclass(v)
                 and not inspect.ismodule(v) and any(has_hook(v, hook) for hook in BY_NAME)]
    if not names:
        what = "function" if kind == "rule" else "callback instance (e.g. proxy_handler_instance = MyHandler())"
        return f"it defines no {what}"
    return "write one of: " + ", ".join(f"{module_name}.{n}" for n in names)


def _describe(exc: BaseException) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        line = tb.tb_lineno
        tb = tb.tb_next
    where = f" (line {line})" if line else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _litellm_hint(exc: BaseException) -> str:
    """What to write instead when a LiteLLM hook file imports ``litellm`` (which Gatehouse does not need)."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "litellm":
        return ("; Gatehouse does not need LiteLLM: change `from litellm... import X` to `from gatehouse import X` "
                "(CustomLogger, UserAPIKeyAuth, DualCache, ModelResponseStream, get_formatted_prompt, "
                "verbose_logger) and drop `import litellm` (see docs/writing-hooks.md)")
    return ""
