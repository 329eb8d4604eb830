"""
Nova Embeddings Task-Based Routing Hook

Converts Nova's 'task' parameter to LiteLLM's tag-based routing.
"""

from typing import TYPE_CHECKING, Any, Literal, Optional

from litellm._logging import verbose_logger
from litellm.integrations.custom_logger import CustomLogger

if TYPE_CHECKING:
    from litellm.proxy.proxy_server import DualCache, UserAPIKeyAuth
else:
    DualCache = Any
    UserAPIKeyAuth = Any


class NovaTaskRoutingHook(CustomLogger):
    """
    Converts Nova Embeddings 'task' parameter to tag-based routing.
    """

    def __init__(self):
        super().__init__()
        verbose_logger.debug("NovaTaskRoutingHook initialized")

    async def async_pre_call_hook(
        self,
        user_api_key_dict: UserAPIKeyAuth,
        cache: DualCache,
        data: dict,
        call_type: Literal[
            "completion",
            "text_completion",
            "embeddings",
            "image_generation",
            "moderation",
            "audio_transcription",
        ],
    ):
        # Only process embedding requests
        if call_type != "embeddings":
            return data
        
        # Only process Nova embedding models
        if "nova-embeddings" not in data.get("model", ""):
            return data
        
        # Extract the task parameter
        task = data.get("task")
        
        if not task:
            return data
        
        # Initialize metadata if not present
        if "metadata" not in data:
            data["metadata"] = {}
        
        if "tags" not in data["metadata"]:
            data["metadata"]["tags"] = []
        
        # Add task to tags
        if task not in data["metadata"]["tags"]:
            data["metadata"]["tags"].append(task)
        
        return data


# Create singleton instance
nova_task_router = NovaTaskRoutingHook()
