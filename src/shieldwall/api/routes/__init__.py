"""The REST API's routers, one per resource family, all under ``/api/v1``."""
