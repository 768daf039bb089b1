"""Compliance signals → publications depicting the performer are blocked at once."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from compliance import signals
from scheduling import services


@receiver(signals.consent_revoked, dispatch_uid="scheduling.block_on_revocation")
def block_on_revocation(sender: Any, performer_ids: list[int], **kwargs: Any) -> None:
    services.block_for_performers(performer_ids, reason_code="consent_revoked",
                                  message="A performer in this post revoked their consent.")


@receiver(signals.consent_expired, dispatch_uid="scheduling.block_on_expiry")
def block_on_expiry(sender: Any, performer_ids: list[int], **kwargs: Any) -> None:
    services.block_for_performers(performer_ids, reason_code="consent_expired",
                                  message="A performer's consent for this post has expired.")


@receiver(signals.takedown_opened, dispatch_uid="scheduling.block_on_takedown")
def block_on_takedown(sender: Any, performer_ids: list[int], **kwargs: Any) -> None:
    if performer_ids:
        services.block_for_performers(performer_ids, reason_code="takedown_open",
                                      message="A takedown request names a performer in this post.")
