"""``CustomLogger``: the optional base class of a callback.

Every hook of :mod:`gatehouse.policy.catalogue` has a no-op default here, so a
subclass may call ``super()``. Gatehouse dispatches only the methods a callback
actually defines (anywhere in its hierarchy), never these defaults.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator, AsyncIterator

__all__ = ["CustomLogger"]


class CustomLogger:
    """Base class for hooks, compatible with LiteLLM's ``CustomLogger``."""

    def __init__(self, **kwargs: Any) -> None:
        self.message_logging = kwargs.get("message_logging", True)

    # -- request hooks ------------------------------------------------------
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> Any:
        return None

    async def async_moderation_hook(self, data: dict, user_api_key_dict: Any, call_type: str) -> Any:
        return None

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any, response: Any) -> Any:
        return None

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> Any:
        return None

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: AsyncIterator[Any], request_data: dict
    ) -> AsyncGenerator[Any, None]:
        async for item in response:
            yield item

    async def async_post_call_streaming_hook(self, user_api_key_dict: Any, response: str) -> Any:
        return None

    async def async_post_call_response_headers_hook(
        self,
        data: dict,
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict | None = None,
        litellm_call_info: dict | None = None,
    ) -> dict[str, str] | None:
        return None

    # -- logging hooks --------------------------------------------------------
    async def async_log_pre_api_call(self, model: Any, messages: Any, kwargs: dict) -> None:
        return None

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        return None

    async def async_log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        return None

    async def async_log_stream_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        return None

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: dict) -> None:
        return None

    def log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        return None

    def log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        return None

    def log_stream_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        return None
