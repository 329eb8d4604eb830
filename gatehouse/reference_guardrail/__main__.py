"""``python -m gatehouse.reference_guardrail [--host H] [--port P] [--policy FILE] [--api-key KEY]``."""

from __future__ import annotations

from .app import main

if __name__ == "__main__":
    raise SystemExit(main())
