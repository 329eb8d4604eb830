"""Configuration: LiteLLM's config.yaml, loaded, resolved and validated."""

from .errors import ConfigError
from .settings import GatewayConfig, RedisSettings, config_from_mapping, load_config

__all__ = ["ConfigError", "GatewayConfig", "RedisSettings", "config_from_mapping", "load_config"]
