"""Packaging tests: this directory is put on ``sys.path`` so test modules can import ``seed_hooks``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
