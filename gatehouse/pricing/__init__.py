"""What an answer costs: a price map shipped with Gatehouse, overridable per deployment and by file.

Prices are USD per token. For a deployment, the first of these that names a
price wins, field by field:

1. the deployment's own ``litellm_params`` / ``model_info`` keys
   (``input_cost_per_token``, ``output_cost_per_token``,
   ``cache_read_input_token_cost``, ``cache_creation_input_token_cost``), as LiteLLM reads them;
2. a user price file (``GATEHOUSE_PRICE_MAP_FILE``), in Gatehouse's format or
   LiteLLM's ``model_prices_and_context_window.json`` format;
3. the built-in map (:file:`prices.json`, dated).

Model ids match exactly, then by longest known prefix followed by ``-``, ``:``
or ``@`` (``gpt-4o-2024-08-06`` → ``gpt-4o``), after dropping a
``provider/`` part, a Bedrock region prefix (``us.``, ``eu.``, ``apac.``, ``global.``)
and Bedrock's ``anthropic.`` vendor prefix.
"""

from .prices import Price, PriceMap, PriceFileError
from .served import Served, answer_cost, cost_text, served_table

__all__ = ["Price", "PriceMap", "PriceFileError", "Served", "answer_cost", "cost_text", "served_table"]
