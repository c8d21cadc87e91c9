"""The REST API and the dashboard (``shieldwall serve``): a thin shell over the store and the service layer.

``create_app`` builds the FastAPI application; request and response schemas
live only here (``api.schemas``), as the architecture asks of every edge.
"""

from shieldwall.api.app import create_app
from shieldwall.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
