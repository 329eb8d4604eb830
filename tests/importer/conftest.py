"""The import tests share the spend tests' helpers (``tests/spend/spend_support.py``): that directory is put
on ``sys.path``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "spend"))
