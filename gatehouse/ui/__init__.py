"""The admin console at ``/ui``: its routes, its built files, its settings.

The front-end sources live in ``ui/`` at the repository root (Vite +
Preact + Chart.js); ``scripts/build-ui`` builds them into ``static/`` here,
which ships in the package. The live request log it shows is the built-in
plugin :class:`gatehouse.plugins.request_log.RequestLog`.
"""

from .routes import install_ui, ui_routes
from .settings import UISettings

__all__ = ["install_ui", "ui_routes", "UISettings"]
