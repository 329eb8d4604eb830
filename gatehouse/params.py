"""Which request keys and ``litellm_params`` belong to the gateway: the one list.

Every module that strips, skips or forwards keys reads these sets; none keeps
its own::

    set                 what                                               read by
    GATEWAY_KEYS        request keys of LiteLLM's proxy API (hooks read    upstream (removed before the call),
                        them; never sent upstream)                         response cache (not in the key)
    CACHE_NEUTRAL       GATEWAY_KEYS + request keys that do not change     response cache (not in the key)
                        the answer
    ROUTING_PARAMS      litellm_params the router or the provider reads    routing.deployment (never in
                        itself                                             Deployment.params)
    CREDENTIAL_PARAMS   other providers' SDK credentials                   routing.deployment (never in params)
    TRANSPORT_PARAMS    Deployment.params that shape the HTTP request      upstream (not merged into the body),
                        (URL, headers) or the mock, not the body           providers
"""

from __future__ import annotations

__all__ = ["GATEWAY_KEYS", "CACHE_NEUTRAL", "ROUTING_PARAMS", "CREDENTIAL_PARAMS", "TRANSPORT_PARAMS"]

GATEWAY_KEYS = frozenset({
    "metadata", "litellm_metadata", "litellm_call_id", "litellm_trace_id", "proxy_server_request", "guardrails",
    "include_guardrail_response", "tags", "mock_response", "secret_fields", "litellm_logging_obj", "cache",
})

CACHE_NEUTRAL = GATEWAY_KEYS | frozenset({"user", "stream", "stream_options"})

ROUTING_PARAMS = frozenset({
    "model", "api_base", "base_url", "api_key", "timeout", "stream_timeout", "tags", "tag_regex",
    "rpm", "tpm", "weight", "order", "max_parallel_requests", "custom_llm_provider", "max_retries",
    "num_retries", "input_cost_per_token", "output_cost_per_token", "input_cost_per_second",
    "output_cost_per_second", "max_budget", "budget_duration", "region_name", "litellm_credential_name",
    "use_in_pass_through", "use_litellm_proxy", "drop_params", "additional_drop_params", "modify_params",
    "configurable_clientside_auth_params", "litellm_trace_id", "model_info",
})

CREDENTIAL_PARAMS = frozenset({
    "azure_ad_token", "azure_ad_token_provider", "client_id", "client_secret", "tenant_id",
    "azure_username", "azure_password", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
    "aws_role_name", "aws_profile_name", "aws_web_identity_token", "vertex_credentials", "api_token",
    "azure_scope",
})

TRANSPORT_PARAMS = frozenset({
    "api_version", "organization", "extra_headers", "stream_timeout", "max_retries", "mock_response", "mock_delay",
    "mock_timeout",
})
