"""Signals from the apps below, handled here.

Compliance signals → publications depicting the performer are blocked at once, and the ones already
out are taken down (through the platform's API, else by a person before the deadline). Content's
`fan_content_changed` → approvals that no longer cover what would go out are withdrawn.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from accounts.actors import Actor
from accounts.models import User
from compliance import signals
from compliance.models import ConsentRecord
from content.signals import fan_content_changed
from notifications.services import notify
from scheduling import notices, services, takedowns


@receiver(signals.consent_revoked, dispatch_uid="scheduling.block_on_revocation")
def block_on_revocation(sender: Any, performer_ids: list[int], consent_id: int | None = None,
                        revoked_at: Any = None, **kwargs: Any) -> None:
    # Only what no other valid consent covers: each affected row is judged again, not the whole calendar.
    blocked = services.block_where_standing_fails(performer_ids, reason_code="consent_revoked")
    live = takedowns.queue_removals(performer_ids, reason_code="consent_revoked")
    # Synthetic media of a creator built on this performer, out without naming them.
    live += takedowns.queue_removals_where_standing_fails(performer_ids, reason_code="consent_revoked",
                                                          likeness_only=True)
    revoker_id = (ConsentRecord.objects.filter(pk=consent_id).values_list("revoked_by", flat=True).first()
                  if consent_id else None)
    notices.consent_ended(performer_ids, reason_code="consent_revoked", consent_ids=[consent_id] if consent_id else [],
                          blocked=blocked, removing=live, at=revoked_at,
                          by=User.objects.filter(pk=revoker_id).first() if revoker_id else None)


@receiver(signals.consent_expired, dispatch_uid="scheduling.block_on_expiry")
def block_on_expiry(sender: Any, performer_ids: list[int], consent_ids: list[int] = (), **kwargs: Any) -> None:
    blocked = services.block_where_standing_fails(performer_ids, reason_code="consent_expired")
    live = takedowns.queue_removals(performer_ids, reason_code="consent_expired")
    live += takedowns.queue_removals_where_standing_fails(performer_ids, reason_code="consent_expired",
                                                          likeness_only=True)
    valid_until = ConsentRecord.objects.filter(pk__in=list(consent_ids)).values_list("valid_until", flat=True).first()
    notices.consent_ended(performer_ids, reason_code="consent_expired", consent_ids=list(consent_ids),
                          blocked=blocked, removing=live, at=valid_until)


@receiver(signals.standing_changed, dispatch_uid="scheduling.recheck_on_standing_change")
def recheck_on_standing_change(sender: Any, performer_ids: list[int], reason_code: str, **kwargs: Any) -> None:
    """A corrected date of birth, a rejected or lapsed identity check, a superseding consent: the same
    cascade as a revocation, for exactly the rows the gate now refuses because of these performers."""
    services.block_where_standing_fails(performer_ids, reason_code=reason_code)
    takedowns.queue_removals_where_standing_fails(performer_ids, reason_code=reason_code)


@receiver(signals.verification_expiring, dispatch_uid="scheduling.warn_verification_expiring")
def warn_verification_expiring(sender: Any, performer_ids: list[int], verification_id: int, expires_on: Any,
                               days: int, creator_ids: list[int] = (), **kwargs: Any) -> None:
    for creator_id in creator_ids or [None]:
        notify("compliance.verification_expiring", creator_id=creator_id, level="warning",
               title=f"An identity document lapses on {expires_on:%Y-%m-%d} (within {days} days)",
               body="Record a new identity check before then: after that date the performer is no longer "
                    "verified and what depicts them is blocked or taken down.",
               link=f"/admin/compliance/identityverification/{verification_id}/change/",
               subject=f"compliance.identityverification:{verification_id}",
               dedupe_key=f"verification.expiring:{verification_id}:{days}:{creator_id}",
               payload={"verification_id": verification_id, "performer_ids": performer_ids,
                        "expires_on": expires_on.isoformat(), "days": days})


@receiver(signals.takedown_opened, dispatch_uid="scheduling.block_on_takedown")
def block_on_takedown(sender: Any, performer_ids: list[int], takedown_id: int | None = None,
                      **kwargs: Any) -> None:
    """Block exactly what the request names (its performers' likeness, its assets, its publications and
    the rest of their posts), take down what is out, and tell the creator's managers."""
    if takedown_id is None:  # an old-style signal naming performers only
        if performer_ids:
            services.block_for_performers(performer_ids, reason_code="takedown_open",
                                          message="A takedown request names a performer in this post.")
        takedowns.queue_removals(performer_ids, reason_code="takedown_open")
        return
    # Each row is blocked in its own transaction (post, then publication, like every path), so no lock
    # is held across posts; a repeated signal finds the rows already blocked and does nothing new.
    blocked = takedowns.block_named(takedown_id)
    live = takedowns.queue_removals(performer_ids, reason_code="takedown_open", takedown_id=takedown_id)
    takedowns.notify_opened(takedown_id, blocked=blocked, live=live)


@receiver(signals.takedown_closed, dispatch_uid="scheduling.lift_on_takedown_closed")
def lift_on_takedown_closed(sender: Any, takedown_id: int, actor: Actor = None, **kwargs: Any) -> None:
    """Rejected or closed: lift the blocks this request alone caused."""
    takedowns.lift_named(takedown_id, actor=actor)
    takedowns.resolve_opened_notice(takedown_id, actor=actor)


@receiver(fan_content_changed, dispatch_uid="scheduling.recheck_approvals")
def recheck_approvals(sender: Any, asset_ids: list[int], collection_ids: list[int], actor: Actor = None,
                      **kwargs: Any) -> None:
    services.recheck_approvals(asset_ids=asset_ids, collection_ids=collection_ids, actor=actor)
