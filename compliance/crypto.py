"""Encryption at rest for identity documents, signed releases and document numbers.

Fernet (AES-128-CBC + HMAC-SHA256) with a key ring from `ATELIER_ENCRYPTION_KEYS`: the first key
encrypts, every key decrypts, so keys rotate by prepending a new one and running
`manage.py rotate_encryption_keys`. A ciphertext no key opens raises `DecryptionError` — never a
silent empty document.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """The bytes were not produced by any key in the ring (wrong key, or tampered with)."""


def _derive_dev_key(secret: str) -> str:
    return base64.urlsafe_b64encode(
        hashlib.sha256(f"atelier-dev-encryption:{secret}".encode()).digest()
    ).decode()


@lru_cache(maxsize=8)
def _ring(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "ATELIER_ENCRYPTION_KEYS holds a key that is not a Fernet key "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')."
        ) from exc


def keys() -> tuple[str, ...]:
    configured = tuple(settings.ATELIER_ENCRYPTION_KEYS)
    if configured:
        return configured
    if not settings.DEBUG:
        raise ImproperlyConfigured("ATELIER_ENCRYPTION_KEYS is required when DEBUG is off.")
    # Local development only: a key derived from SECRET_KEY, so a laptop works out of the box.
    return (_derive_dev_key(settings.SECRET_KEY),)


def key_id(key: str | None = None) -> str:
    """A short, non-secret fingerprint of a key, recorded beside each ciphertext."""
    return hashlib.sha256((key or keys()[0]).encode()).hexdigest()[:12]


def encrypt(data: bytes) -> bytes:
    return _ring(keys()).encrypt(data)


def decrypt(token: bytes) -> bytes:
    try:
        return _ring(keys()).decrypt(token)
    except InvalidToken as exc:
        raise DecryptionError(
            "No configured encryption key opens this data (wrong key or tampered bytes)."
        ) from exc


def rotate(token: bytes) -> bytes:
    """Re-encrypt under the primary key; raises DecryptionError if no key opens it."""
    try:
        return _ring(keys()).rotate(token)
    except InvalidToken as exc:
        raise DecryptionError("No configured encryption key opens this data.") from exc


def encrypt_text(value: str) -> str:
    return encrypt(value.encode()).decode() if value else ""


def decrypt_text(value: str) -> str:
    return decrypt(value.encode()).decode() if value else ""


# Text columns holding `encrypt_text` tokens, as (model label, field, how an item is named in errors).
# Apps above compliance add theirs from AppConfig.ready(), so key rotation covers every secret without
# compliance importing their models.
ENCRYPTED_TEXT_FIELDS: list[tuple[str, str, str]] = [
    ("compliance.IdentityVerification", "document_number_encrypted", "identity check"),
]


def register_encrypted_field(model_label: str, field: str, label: str) -> None:
    entry = (model_label, field, label)
    if entry not in ENCRYPTED_TEXT_FIELDS:
        ENCRYPTED_TEXT_FIELDS.append(entry)
