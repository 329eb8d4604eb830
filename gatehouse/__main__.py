"""``python -m gatehouse`` runs the ``gatehouse`` command."""

import sys

from .cli import main

sys.exit(main())
