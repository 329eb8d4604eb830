"""The OpenAI-compatible providers, as one table: prefix → where it lives and how it is authenticated.

Every row is served by :class:`~.openai.OpenAICompatibleProvider` (request
bodies pass through, with the row's parameter renames). A deployment's base
is its ``api_base``, else the row's ``base_env`` variable, else the row's
default base; its key is its ``api_key``, else the row's ``key_env``
variable. A key is required only when the deployment calls the provider's
own public base (``key_required``); self-hosted bases (vLLM, LM Studio,
llamafile, a proxy) may need none. ``docs/providers/openai-compatible.md``
is generated from this table (``python -m gatehouse.providers.compatible``)
and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

__all__ = ["Compatible", "PROVIDERS", "markdown_table"]

_NONE: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Compatible:
    """One OpenAI-compatible provider."""

    base: str | None
    """The default API base; ``None``: the deployment must give one (``api_base`` or ``base_env``)."""
    key_env: tuple[str, ...] = ()
    """Variables read for the key when the deployment has no ``api_key`` (first set wins)."""
    base_env: tuple[str, ...] = ()
    """Variables read for the base when the deployment has no ``api_base``."""
    key_required: bool = True
    """Whether start-up stops without a key when the deployment calls the default base."""
    renames: Mapping[str, str] = field(default_factory=lambda: _NONE)
    """OpenAI request field → the provider's name for it."""
    values: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    """Per field, OpenAI value → the provider's value (Mistral's ``tool_choice: required`` → ``any``)."""
    chat_only: bool = False
    """Serves chat and text completions only (embeddings, images, audio, moderations → 400)."""


def _row(base: str | None, key: str | tuple[str, ...] = (), base_env: str | tuple[str, ...] = (),
         **kw: object) -> Compatible:
    keys = (key,) if isinstance(key, str) else key
    bases = (base_env,) if isinstance(base_env, str) else base_env
    return Compatible(base, keys, bases, **kw)  # type: ignore[arg-type]


_MAX_TOKENS = MappingProxyType({"max_completion_tokens": "max_tokens"})
_SELF_HOSTED = {"key_required": False}

PROVIDERS: Mapping[str, Compatible] = MappingProxyType({
    "openai": _row("https://api.openai.com/v1", "OPENAI_API_KEY", ("OPENAI_BASE_URL", "OPENAI_API_BASE")),
    "text-completion-openai": _row("https://api.openai.com/v1", "OPENAI_API_KEY", ("OPENAI_BASE_URL", "OPENAI_API_BASE")),
    "custom_openai": _row(None, "OPENAI_API_KEY", (), **_SELF_HOSTED),
    "openai_like": _row(None, (), (), **_SELF_HOSTED),
    "groq": _row("https://api.groq.com/openai/v1", "GROQ_API_KEY", "GROQ_API_BASE"),
    "together_ai": _row("https://api.together.xyz/v1",
                        ("TOGETHER_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_TOKEN"),
                        "TOGETHER_AI_API_BASE"),
    "deepseek": _row("https://api.deepseek.com/beta", "DEEPSEEK_API_KEY", "DEEPSEEK_API_BASE", chat_only=True),
    "mistral": _row("https://api.mistral.ai/v1", ("MISTRAL_API_KEY", "MISTRAL_AZURE_API_KEY"),
                    ("MISTRAL_API_BASE", "MISTRAL_AZURE_API_BASE"),
                    renames=MappingProxyType({"max_completion_tokens": "max_tokens", "seed": "random_seed"}),
                    values=MappingProxyType({"tool_choice": MappingProxyType({"required": "any"})})),
    "codestral": _row("https://codestral.mistral.ai/v1", "CODESTRAL_API_KEY", "CODESTRAL_API_BASE",
                      renames=MappingProxyType({"max_completion_tokens": "max_tokens", "seed": "random_seed"}),
                      chat_only=True),
    "fireworks_ai": _row("https://api.fireworks.ai/inference/v1",
                         ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY", "FIREWORKS_AI_TOKEN"),
                         "FIREWORKS_API_BASE"),
    "openrouter": _row("https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY", "OR_API_KEY"), "OPENROUTER_API_BASE"),
    "xai": _row("https://api.x.ai/v1", "XAI_API_KEY", "XAI_API_BASE"),
    "perplexity": _row("https://api.perplexity.ai", ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
                       "PERPLEXITY_API_BASE", chat_only=True),
    "cerebras": _row("https://api.cerebras.ai/v1", "CEREBRAS_API_KEY", "CEREBRAS_API_BASE", chat_only=True),
    "sambanova": _row("https://api.sambanova.ai/v1", "SAMBANOVA_API_KEY", "SAMBANOVA_API_BASE"),
    "nvidia_nim": _row("https://integrate.api.nvidia.com/v1", "NVIDIA_NIM_API_KEY", "NVIDIA_NIM_API_BASE"),
    "deepinfra": _row("https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY", "DEEPINFRA_API_BASE"),
    "anyscale": _row("https://api.endpoints.anyscale.com/v1", "ANYSCALE_API_KEY", "ANYSCALE_API_BASE"),
    "empower": _row("https://app.empower.dev/api/v1", "EMPOWER_API_KEY", "EMPOWER_API_BASE", chat_only=True),
    "meta_llama": _row("https://api.llama.com/compat/v1", "LLAMA_API_KEY", "LLAMA_API_BASE", chat_only=True),
    "ai21_chat": _row("https://api.ai21.com/studio/v1", "AI21_API_KEY", "AI21_API_BASE", chat_only=True),
    "volcengine": _row("https://ark.cn-beijing.volces.com/api/v3", "VOLCENGINE_API_KEY", "VOLCENGINE_API_BASE"),
    "nebius": _row("https://api.studio.nebius.ai/v1", "NEBIUS_API_KEY", "NEBIUS_API_BASE"),
    "novita": _row("https://api.novita.ai/v3/openai", "NOVITA_API_KEY", "NOVITA_API_BASE"),
    "hyperbolic": _row("https://api.hyperbolic.xyz/v1", "HYPERBOLIC_API_KEY", "HYPERBOLIC_API_BASE"),
    "featherless_ai": _row("https://api.featherless.ai/v1", "FEATHERLESS_API_KEY", "FEATHERLESS_API_BASE",
                           chat_only=True),
    "friendliai": _row("https://api.friendli.ai/serverless/v1", ("FRIENDLIAI_API_KEY", "FRIENDLI_TOKEN"),
                       "FRIENDLI_API_BASE", chat_only=True),
    "galadriel": _row("https://api.galadriel.com/v1", "GALADRIEL_API_KEY", "GALADRIEL_API_BASE", chat_only=True),
    "github": _row("https://models.inference.ai.azure.com", "GITHUB_API_KEY", "GITHUB_API_BASE"),
    "dashscope": _row("https://dashscope.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY", "DASHSCOPE_API_BASE"),
    "moonshot": _row("https://api.moonshot.ai/v1", "MOONSHOT_API_KEY", "MOONSHOT_API_BASE", chat_only=True),
    "nscale": _row("https://inference.api.nscale.com/v1", "NSCALE_API_KEY", "NSCALE_API_BASE"),
    "lambda_ai": _row("https://api.lambda.ai/v1", "LAMBDA_API_KEY", "LAMBDA_API_BASE", chat_only=True),
    "v0": _row("https://api.v0.dev/v1", "V0_API_KEY", "V0_API_BASE", chat_only=True),
    "morph": _row("https://api.morphllm.com/v1", "MORPH_API_KEY", "MORPH_API_BASE", chat_only=True),
    "jina_ai": _row("https://api.jina.ai/v1", "JINA_AI_API_KEY", "JINA_AI_API_BASE"),
    # chat through Hugging Face's router; rerank in text-embeddings-inference's shape (api_base: the TEI server)
    "huggingface": _row("https://router.huggingface.co/v1", ("HF_TOKEN", "HUGGINGFACE_API_KEY"),
                        ("HF_API_BASE", "HUGGINGFACE_API_BASE")),
    "hosted_vllm": _row(None, "HOSTED_VLLM_API_KEY", "HOSTED_VLLM_API_BASE", **_SELF_HOSTED),
    "vllm": _row(None, "HOSTED_VLLM_API_KEY", "HOSTED_VLLM_API_BASE", **_SELF_HOSTED),
    "lm_studio": _row(None, "LM_STUDIO_API_KEY", "LM_STUDIO_API_BASE", **_SELF_HOSTED),
    "llamafile": _row("http://127.0.0.1:8080/v1", "LLAMAFILE_API_KEY", "LLAMAFILE_API_BASE", **_SELF_HOSTED),
    "litellm_proxy": _row(None, "LITELLM_PROXY_API_KEY", "LITELLM_PROXY_API_BASE", **_SELF_HOSTED),
    # LiteLLM's JSON-configured OpenAI-compatible providers
    "publicai": _row("https://api.publicai.co/v1", "PUBLICAI_API_KEY", "PUBLICAI_API_BASE", renames=_MAX_TOKENS),
    "helicone": _row("https://ai-gateway.helicone.ai/", "HELICONE_API_KEY"),
    "veniceai": _row("https://api.venice.ai/api/v1", "VENICE_AI_API_KEY"),
    "xiaomi_mimo": _row("https://api.xiaomimimo.com/v1", "XIAOMI_MIMO_API_KEY", renames=_MAX_TOKENS),
    "scaleway": _row("https://api.scaleway.ai/v1", "SCW_SECRET_KEY"),
    "synthetic": _row("https://api.synthetic.new/openai/v1", "SYNTHETIC_API_KEY", renames=_MAX_TOKENS),
    "nano-gpt": _row("https://nano-gpt.com/api/v1", "NANOGPT_API_KEY", renames=_MAX_TOKENS),
    "poe": _row("https://api.poe.com/v1", "POE_API_KEY", renames=_MAX_TOKENS),
    "chutes": _row("https://llm.chutes.ai/v1", "CHUTES_API_KEY", renames=_MAX_TOKENS),
    "gmi": _row("https://api.gmi-serving.com/v1", "GMI_API_KEY"),
    "aihubmix": _row("https://aihubmix.com/v1", "AIHUBMIX_API_KEY", "AIHUBMIX_API_BASE"),
    "crusoe": _row("https://managed-inference-api-proxy.crusoecloud.com/v1", "CRUSOE_API_KEY", "CRUSOE_API_BASE",
                   renames=_MAX_TOKENS),
})


def markdown_table() -> str:
    """The table rendered for ``docs/providers/openai-compatible.md``."""
    lines = ["| prefix | default base | key variable(s) | base variable(s) | key required | renames | serves |",
             "|---|---|---|---|---|---|---|"]
    for name, row in PROVIDERS.items():
        renames = [f"`{a}` → `{b}`" for a, b in row.renames.items()]
        renames += [f"`{f}: {a}` → `{b}`" for f, m in row.values.items() for a, b in m.items()]
        required = "no (self-hosted)" if not row.key_required else "with the default base"
        lines.append(" | ".join([
            f"| `{name}/`", f"`{row.base}`" if row.base else "— (`api_base` required)",
            ", ".join(f"`{k}`" for k in row.key_env) or "—", ", ".join(f"`{b}`" for b in row.base_env) or "—",
            required, ", ".join(renames) or "—", "chat, completions" if row.chat_only else "all endpoints",
        ]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
