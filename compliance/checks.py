"""Start-up checks: production must not run without real encryption keys."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register("atelier", deploy=False)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.DEBUG:
        return []
    if not settings.ATELIER_ENCRYPTION_KEYS:
        return [
            Error(
                "ATELIER_ENCRYPTION_KEYS is not set: identity documents and credentials cannot be stored.",
                hint="Generate one: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="atelier.E001",
            )
        ]
    from cryptography.fernet import Fernet

    errors = []
    for index, key in enumerate(settings.ATELIER_ENCRYPTION_KEYS):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            errors.append(
                Error(
                    f"ATELIER_ENCRYPTION_KEYS entry {index + 1} is not a valid Fernet key.", id="atelier.E002"
                )
            )
    return errors
