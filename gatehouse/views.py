"""Attribute-and-item views over response dicts, as hooks written for LiteLLM expect.

LiteLLM hands hooks pydantic objects (``ModelResponse``, ``ModelResponseStream``)
that support both ``response.choices[0].message.content`` and
``response["choices"][0]["message"]["content"]``. Gatehouse keeps responses as
plain dicts (what it parsed from the provider) and wraps them in these thin
views only when a hook needs them. A view writes through to the dict it wraps,
so ``response.choices[0].message.content = "x"`` changes what the client gets.
"""

from __future__ import annotations

from typing import Any, Iterator

import orjson

__all__ = ["DictView", "ListView", "ModelResponse", "ModelResponseStream", "wrap", "unwrap"]


def wrap(value: Any) -> Any:
    """Wrap dicts and lists in views; leave everything else as is."""
    if isinstance(value, dict):
        return DictView(value)
    if isinstance(value, list):
        return ListView(value)
    return value


def unwrap(value: Any) -> Any:
    """The plain data behind a view, a pydantic model or a plain value."""
    if isinstance(value, (DictView, ListView)):
        return value._data
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    return value


class DictView:
    """A dict seen as an object: attribute access, item access, write-through."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any] | None = None, **fields: Any) -> None:
        if data is None:
            data = {}
        if fields:
            data.update({k: unwrap(v) for k, v in fields.items()})
        object.__setattr__(self, "_data", data)

    # attribute access -------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return wrap(self._data[name])
        except KeyError:
            # Missing optional fields read as None, like pydantic defaults.
            return None

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = unwrap(value)

    def __delattr__(self, name: str) -> None:
        self._data.pop(name, None)

    # mapping access -----------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return wrap(self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = unwrap(value)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return self._data == unwrap(other)

    def get(self, key: str, default: Any = None) -> Any:
        return wrap(self._data.get(key, default))

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return ((k, wrap(v)) for k, v in self._data.items())

    def values(self) -> Any:
        return (wrap(v) for v in self._data.values())

    # pydantic-style helpers --------------------------------------------
    def model_dump(self, **_: Any) -> dict[str, Any]:
        return self._data

    dict = model_dump
    to_dict = model_dump

    def model_dump_json(self, **_: Any) -> str:
        return orjson.dumps(self._data).decode()

    json = model_dump_json

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


class ListView:
    """A list whose dict items are seen as :class:`DictView`."""

    __slots__ = ("_data",)

    def __init__(self, data: list[Any]) -> None:
        self._data = data

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return ListView(self._data[index])
        return wrap(self._data[index])

    def __setitem__(self, index: int, value: Any) -> None:
        self._data[index] = unwrap(value)

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[Any]:
        return (wrap(v) for v in self._data)

    def __eq__(self, other: object) -> bool:
        return self._data == unwrap(other)

    def append(self, value: Any) -> None:
        self._data.append(unwrap(value))

    def __repr__(self) -> str:
        return f"ListView({self._data!r})"


class ModelResponse(DictView):
    """A non-streaming response (chat, completion, embeddings, images, ...)."""

    __slots__ = ()


class ModelResponseStream(DictView):
    """One chunk of a streamed response."""

    __slots__ = ()
