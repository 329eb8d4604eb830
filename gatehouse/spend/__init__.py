"""Spend logs: one row per request, written in batches, and the reports read from them.

Layout::

    settings    general_settings: disable_spend_logs, retention, store_prompts_in_spend_logs
    schema      the gatehouse_spend_logs table (migration 3), for SQLite and PostgreSQL
    rows        one row, built from a logging event's standard_logging_object
    store       where rows live (the key store's database): insert, query, aggregate, delete
    reports     LiteLLM's report shapes (/spend/logs, /spend/tags, /global/spend/report)
    routes      the HTTP routes (admins see everything, a virtual key only its own)

The writer is a built-in plugin, :mod:`gatehouse.plugins.spend_logs`, written
with the public logging-hook API like any user callback; its ``SpendLogs``
puts the settings, store, writer and routes together for the gateway.
"""
