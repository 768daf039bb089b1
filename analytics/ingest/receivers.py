"""Webhook receivers: one per platform account, with its signing secret (encrypted, rotatable), and
the inbound events they accept, stored once per event key before anything is processed."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import audit
from accounts.actors import Actor
from analytics import tasks
from analytics.models import (
    InboundEvent,
    WebhookReceiver,
)
from compliance import crypto
from scheduling.models import PlatformAccount

# --- Webhook receivers ----------------------------------------------------------------------------


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def create_receiver(account: PlatformAccount, *, secret: str | None = None,
                    actor: Actor = None) -> tuple[WebhookReceiver, str]:
    """Open `/hooks/<platform>/<token>/` for an account and return the signing secret once.

    Fanvue shows the secret in its developer area ("View Signing Secret"): pass it as `secret`;
    without one a random secret is made (for platforms where we choose it). Only its ciphertext is
    stored; the audit event names the receiver, never the secret.
    """
    if WebhookReceiver.objects.filter(account=account).exists():
        raise ValidationError(f"{account} already has a webhook receiver; rotate its secret instead.")
    secret = _checked_secret(secret)
    with transaction.atomic():
        receiver = WebhookReceiver.objects.create(account=account, token=secrets.token_urlsafe(32),
                                                  secret_encrypted=crypto.encrypt_text(secret))
        audit.record("analytics.webhook_receiver_created", receiver, actor=actor, changes={"account": account.pk})
    return receiver, secret


def rotate_receiver_secret(receiver: WebhookReceiver, *, secret: str | None = None, actor: Actor = None) -> str:
    """Replace the signing secret (pasted from the platform, or a new random one) and return it once.
    Events signed with the old secret are refused from now on."""
    secret = _checked_secret(secret)
    with transaction.atomic():
        WebhookReceiver.objects.filter(pk=receiver.pk).update(secret_encrypted=crypto.encrypt_text(secret))
        audit.record("analytics.webhook_secret_rotated", receiver, actor=actor)
    receiver.refresh_from_db()
    return secret


def _checked_secret(secret: str | None) -> str:
    if secret is None:
        return _new_secret()
    secret = secret.strip()
    if len(secret) < 16:
        raise ValidationError("A signing secret shorter than 16 characters is too easy to guess.")
    return secret


def receiver_secret(receiver: WebhookReceiver) -> str:
    return crypto.decrypt_text(receiver.secret_encrypted)


def accept_event(receiver: WebhookReceiver, *, kind: str, event_key: str,
                 payload: dict[str, Any]) -> InboundEvent | None:
    """Store a verified event once; None when this account already has that event key (a replay
    or a redelivery). Processing is queued after commit so the sender gets its answer at once."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = InboundEvent.objects.create(account_id=receiver.account_id, event_key=event_key[:200],
                                                    kind=kind[:60], payload=payload)
        except IntegrityError:
            return None
        WebhookReceiver.objects.filter(pk=receiver.pk).update(last_event_at=event.received_at)

        event_id = event.pk
        transaction.on_commit(lambda: tasks.process_inbound_event.delay(event_id))
    return event
