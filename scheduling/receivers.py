"""Signals from the apps below, handled here.

Compliance signals → publications depicting the performer are blocked at once, and the ones already
out are taken down (through the platform's API, else by a person before the deadline). Content's
`fan_content_changed` → approvals that no longer cover what would go out are withdrawn.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from compliance import signals
from content.signals import fan_content_changed
from scheduling import services, takedowns


@receiver(signals.consent_revoked, dispatch_uid="scheduling.block_on_revocation")
def block_on_revocation(sender: Any, performer_ids: list[int], **kwargs: Any) -> None:
    services.block_for_performers(performer_ids, reason_code="consent_revoked",
                                  message="A performer in this post revoked their consent.")
    takedowns.queue_removals(performer_ids, reason_code="consent_revoked")


@receiver(signals.consent_expired, dispatch_uid="scheduling.block_on_expiry")
def block_on_expiry(sender: Any, performer_ids: list[int], **kwargs: Any) -> None:
    services.block_for_performers(performer_ids, reason_code="consent_expired",
                                  message="A performer's consent for this post has expired.")
    takedowns.queue_removals(performer_ids, reason_code="consent_expired")


@receiver(signals.takedown_opened, dispatch_uid="scheduling.block_on_takedown")
def block_on_takedown(sender: Any, performer_ids: list[int], takedown_id: int | None = None,
                      **kwargs: Any) -> None:
    if performer_ids:
        services.block_for_performers(performer_ids, reason_code="takedown_open",
                                      message="A takedown request names a performer in this post.")
    # A request may name no performer but list the post's URL: matched inside queue_removals.
    takedowns.queue_removals(performer_ids, reason_code="takedown_open", takedown_id=takedown_id)


@receiver(fan_content_changed, dispatch_uid="scheduling.recheck_approvals")
def recheck_approvals(sender: Any, asset_ids: list[int], collection_ids: list[int], actor: Any = None,
                      **kwargs: Any) -> None:
    services.recheck_approvals(asset_ids=asset_ids, collection_ids=collection_ids, actor=actor)
