"""``gatehouse import-litellm``: bring a LiteLLM proxy's keys (and, as Gatehouse grows, its principals) over.

    reader    reads LiteLLM's tables (LiteLLM_VerificationToken, _TeamTable, _UserTable, _EndUserTable,
              _BudgetTable, _OrganizationTable) from its PostgreSQL database, as LiteLLM's Prisma schema names them
    sinks     writes what Gatehouse can hold; one sink per kind (keys today), a table without one is read and
              reported, not imported
    cli       the command

Keys keep working: LiteLLM stores the SHA-256 hex digest of each key, which is
exactly Gatehouse's token, so a client's ``sk-...`` key authenticates unchanged.
"""
