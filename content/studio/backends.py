"""Generation backends: their configuration and API keys (encrypted, audited on read), the ones the
environment declares, the default per purpose and their health."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from compliance import crypto
from content.generation.backends import (
    BackendConfigError,
    Health,
    build_backend,
)
from content.models import (
    GenerationBackend,
)

# --- backends ------------------------------------------------------------------------------------------


def set_api_key(backend: GenerationBackend, api_key: str, *, actor: Actor = None) -> None:
    """Store (or clear, with "") the backend's key encrypted; the audit names the change, never the key."""
    value = crypto.encrypt_text(api_key) if api_key else ""
    GenerationBackend.objects.filter(pk=backend.pk).update(api_key_encrypted=value)
    backend.api_key_encrypted = value
    audit.record("generation_backend.key_set" if api_key else "generation_backend.key_cleared", backend,
                 actor=actor, changes={"backend": backend.name})


@transaction.atomic
def save_backend(backend: GenerationBackend, *, api_key: str | None = None, actor: Actor = None) -> GenerationBackend:
    """Validate and save; the config must build (URL, kind, options) so a bad one fails here, not in a job."""
    if backend.managed_by_env and not backend._state.adding:
        raise ValidationError("This backend comes from the environment; change its variables instead.")
    backend.full_clean()
    validate_backend_config(backend)
    adding = backend._state.adding
    if backend.is_default:
        GenerationBackend.objects.filter(purpose=backend.purpose, is_default=True).exclude(pk=backend.pk).update(
            is_default=False)
    backend.save()
    if api_key is not None:
        set_api_key(backend, api_key, actor=actor)
    audit.record("generation_backend.created" if adding else "generation_backend.updated", backend, actor=actor,
                 changes={"kind": backend.kind, "purpose": backend.purpose, "base_url": _safe_url(backend.base_url),
                          "model": backend.model, "enabled": backend.enabled})
    return backend


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "") + parts.path


def _config_dict(backend: GenerationBackend, *, api_key: str) -> dict[str, Any]:
    return {**(backend.options or {}), "kind": backend.kind, "base_url": backend.base_url, "api_key": api_key,
            "model": backend.model, "timeout": float(backend.timeout_seconds)}


def backend_config(backend: GenerationBackend, *, reason: str) -> dict[str, Any]:
    """The settings a backend client is built from, key decrypted. Every read of a stored key is audited."""
    api_key = ""
    if backend.api_key_encrypted:
        api_key = crypto.decrypt_text(backend.api_key_encrypted)
        audit.record("generation_backend.key_read", backend, actor_label="system",
                     changes={"backend": backend.name, "reason": reason})
    return _config_dict(backend, api_key=api_key)


def client_for(backend: GenerationBackend, *, reason: str) -> Any:
    return build_backend(backend_config(backend, reason=reason))


ENV_BACKENDS = {
    GenerationBackend.Purpose.IMAGES: ("Images (environment)", "GENERATION_IMAGE"),
    GenerationBackend.Purpose.TEXT: ("Text (environment)", "GENERATION_TEXT"),
}


_ENV_KEYS_SYNCED: dict[str, tuple[int, str]] = {}


def sync_env_backends() -> list[GenerationBackend]:
    """Create or update the backends declared by GENERATION_IMAGE_* / GENERATION_TEXT_* variables.

    Cheap when nothing is declared (no query), so callers run it before resolving a default.
    """
    rows = []
    for purpose, (name, prefix) in ENV_BACKENDS.items():
        url = getattr(settings, f"{prefix}_URL", "")
        if not url:
            continue
        kind = getattr(settings, f"{prefix}_KIND", "openai") if purpose == "images" else "openai"
        key = getattr(settings, f"{prefix}_API_KEY", "")
        wanted = {"kind": kind, "base_url": url.rstrip("/"), "model": getattr(settings, f"{prefix}_MODEL", ""),
                  "purpose": purpose, "managed_by_env": True, "enabled": True}
        with transaction.atomic():
            backend = GenerationBackend.objects.select_for_update().filter(name=name).first()
            if backend is None:
                has_default = GenerationBackend.objects.filter(purpose=purpose, is_default=True).exists()
                backend = GenerationBackend.objects.create(name=name, is_default=not has_default, **wanted)
                audit.record("generation_backend.created", backend, actor_label="environment",
                             changes={"kind": kind, "purpose": purpose, "base_url": _safe_url(url)})
            elif any(getattr(backend, k) != v for k, v in wanted.items()):
                GenerationBackend.objects.filter(pk=backend.pk).update(**wanted)
                backend.refresh_from_db()
            # Compared by fingerprint, per process: decrypting the stored key to compare would be an
            # unaudited read, and auditing it on every lookup would drown the log.
            fingerprint = (backend.pk, hashlib.sha256(key.encode()).hexdigest())
            if _ENV_KEYS_SYNCED.get(name) != fingerprint or bool(backend.api_key_encrypted) != bool(key):
                set_api_key(backend, key, actor=None)
                _ENV_KEYS_SYNCED[name] = fingerprint
        rows.append(backend)
    return rows


def default_backend(purpose: str) -> GenerationBackend | None:
    """The enabled default for `purpose`, else the only enabled one; None means "not configured"."""
    if getattr(settings, "GENERATION_IMAGE_URL", "") or getattr(settings, "GENERATION_TEXT_URL", ""):
        sync_env_backends()
    enabled = GenerationBackend.objects.filter(purpose=purpose, enabled=True)
    chosen = enabled.filter(is_default=True).first()
    if chosen is None:
        candidates = list(enabled[:2])
        chosen = candidates[0] if len(candidates) == 1 else None
    return chosen


def check_health(backend: GenerationBackend, *, actor: Actor = None) -> Any:
    """Ask the backend whether it answers and has the model; the answer is kept on the row for the list."""
    try:
        client = client_for(backend, reason="health check")
        with client:
            health = client.health()
    except BackendConfigError as exc:
        health = Health(ok=False, detail=str(exc), seconds=0.0)
    GenerationBackend.objects.filter(pk=backend.pk).update(
        last_health_ok=health.ok, last_health_detail=health.detail[:300], last_checked_at=timezone.now())
    audit.record("generation_backend.checked", backend, actor=actor, changes={"ok": health.ok})
    return health


def validate_backend_config(backend: GenerationBackend) -> None:
    """The check `save_backend` makes (the config must build), for a form to show before it saves."""
    try:
        build_backend(_config_dict(backend, api_key=""))
    except BackendConfigError as exc:
        raise ValidationError(str(exc)) from exc


def delete_backend(backend: GenerationBackend, *, actor: Actor = None) -> None:
    """Jobs that ran on it keep their usage rows (by name); a backend from the environment comes back
    at the next start, so it is changed there, not deleted here."""
    if backend.managed_by_env:
        raise ValidationError("This backend comes from the environment; remove its variables instead.")
    with transaction.atomic():
        audit.record("generation_backend.deleted", backend, actor=actor,
                     changes={"kind": backend.kind, "name": backend.name})
        backend.delete()
