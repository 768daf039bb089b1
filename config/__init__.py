"""Wiring only: settings from the environment, urls and the API router, the Celery app.

Also health and metrics, the admin site and sidebar, production checks and the dev server.
The top of the direction: it may import every app; apps do not import it (exceptions: pyproject.toml).
"""

from config.celery import app as celery_app

__all__ = ["celery_app"]
