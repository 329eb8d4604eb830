"""The "hooks" scenario's callback: as cheap as a hook can be, loadable by both gateways."""

try:
    from gatehouse import CustomLogger
except ImportError:
    from litellm.integrations.custom_logger import CustomLogger


class BenchHooks(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        data.setdefault("metadata", {})["bench_hook"] = "seen"
        return data

    async def async_post_call_success_hook(self, data, user_api_key_dict, response):
        return None


proxy_handler_instance = BenchHooks()
