"""What production must have before it serves a request: a secret key and encryption keys.

These run as deploy checks (`manage.py check --deploy`) and again when the WSGI/ASGI application
loads, so a misconfigured server stops at start-up rather than serving with a throwaway key.
Offline commands (migrate, makemigrations) are not blocked by them. What only switches a feature
off (metrics without a token) is a warning, logged at start-up so the operator sees why. Settings
errors the apps' own checks report (compliance's legal deadlines) stop every entry point: manage.py
commands through Django, the web server and Celery workers through `require_settings`.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Warning, register, run_checks
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


def serving_errors() -> list[Error]:
    if settings.DEBUG:
        return []
    errors = []
    if not settings.SECRET_KEY_CONFIGURED:
        errors.append(Error("SECRET_KEY is required when DEBUG is off (set DEBUG=1 for local work).",
                            id="atelier.E000"))
    if not settings.ATELIER_ENCRYPTION_KEYS:
        errors.append(Error(
            "ATELIER_ENCRYPTION_KEYS is not set: identity documents and credentials cannot be stored.",
            hint="Generate one: python -c 'from cryptography.fernet import Fernet; "
                 "print(Fernet.generate_key().decode())'", id="atelier.E001"))
    else:
        for index, key in enumerate(settings.ATELIER_ENCRYPTION_KEYS):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                errors.append(Error(f"ATELIER_ENCRYPTION_KEYS entry {index + 1} is not a valid Fernet key.",
                                    id="atelier.E002"))
    return errors


def serving_warnings() -> list[Warning]:
    if settings.DEBUG or settings.METRICS_TOKEN:
        return []
    return [Warning("METRICS_TOKEN is not set: /metrics answers 403 until it is.",
                    hint="Set METRICS_TOKEN to a long random value and scrape with "
                         "`Authorization: Bearer <token>`.", id="atelier.W010")]


@register("atelier", deploy=True)
def check_serving_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return serving_errors()


@register("atelier")
def check_serving_warnings(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    return serving_warnings()


def require_settings() -> None:
    """Refuse to start on a setting an app's system check calls an error (legal deadlines, for one):
    gunicorn and Celery workers do not stop on the system checks by themselves."""
    errors = [m for m in run_checks(tags=["compliance"]) if m.is_serious()]
    if errors:
        raise ImproperlyConfigured(" ".join(f"{e.id}: {e.msg}" for e in errors))


def require_serving_settings() -> None:
    """Called by the WSGI/ASGI entry points: refuse to serve without the production settings, and
    log what is switched off for want of a setting (gunicorn does not run the system checks)."""
    require_settings()
    errors = serving_errors()
    if errors:
        raise ImproperlyConfigured(" ".join(f"{e.id}: {e.msg}" for e in errors))
    for warning in serving_warnings():
        logger.warning("%s: %s %s", warning.id, warning.msg, warning.hint)
