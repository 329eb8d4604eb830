"""The "rule" scenario's post-call rule: every answer passes."""


def my_rule(input):  # noqa: A002 - LiteLLM's rule signature
    return True
