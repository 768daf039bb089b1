"""Starting and ending offers (discounts, free trials) when their window opens and closes.

No platform we publish to lets us create a promotion through its API: Fanvue's public creator
API covers posts, media, chats, fans and insights but has no promotions endpoint, and OnlyFans
has no API at all. So "activating" an offer is a state change plus a notice to the creator's
account managers to switch it on by hand on the platform, and "expiring" it is a notice to
switch it off. When a connector gains an offers call, `tick` is where it plugs in.

Every transition is a conditional UPDATE on the expected status, so two beat runs (or a run and
a person cancelling the offer) never both act on one offer; notices carry a dedupe key per offer
and transition, so a retried tick never repeats them.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts import audit
from analytics.models import Offer
from notifications.services import notify, resolve_by_key

S = Offer.Status
ACTOR = "offers tick"


def _describe(offer: Offer) -> str:
    if offer.kind == Offer.Kind.DISCOUNT:
        what = f"{offer.discount_percent or 0} % off"
    else:
        what = f"{offer.trial_days or 0}-day free trial"
    return (f"{what} for {offer.get_audience_display().lower()}, "
            f"{offer.starts_at:%Y-%m-%d %H:%M} → {offer.ends_at:%Y-%m-%d %H:%M} UTC")


def _key(offer: Offer, event: str) -> str:
    return f"offer.{event}:{offer.pk}"


def _move(offer: Offer, source: str, target: str, **extra: str) -> bool:
    """Claim the transition: only the caller whose UPDATE changed the row acts on it."""
    return bool(Offer.objects.filter(pk=offer.pk, status=source).update(status=target, **extra))


def _started(offer: Offer) -> None:
    audit.record("offer.activated", offer, actor_label=ACTOR, changes={"status": [S.SCHEDULED, S.ACTIVE]})
    notify("offer.started", creator_id=offer.creator_id, level="info",
           title=f"Switch on offer “{offer.name}” on {offer.account}",
           body=(f"{_describe(offer)}. {offer.account.get_platform_display()} has no API for offers: "
                 "create it by hand on the platform now."),
           link=f"/admin/analytics/offer/{offer.pk}/change/", subject=f"analytics.offer:{offer.pk}",
           dedupe_key=_key(offer, "started"),
           payload={"offer_id": offer.pk, "account_id": offer.account_id, "status": S.ACTIVE})


def _ended(offer: Offer, source: str) -> None:
    never_ran = source == S.SCHEDULED
    audit.record("offer.expired", offer, actor_label=ACTOR,
                 changes={"status": [source, S.EXPIRED], **({"note": "window closed before activation"}
                                                            if never_ran else {})})
    resolve_by_key(_key(offer, "started"))
    body = (f"{_describe(offer)}. Its window passed before it was started, so nothing was switched on."
            if never_ran else f"{_describe(offer)}. Switch it off by hand on the platform now.")
    notify("offer.ended", creator_id=offer.creator_id, level="warning" if never_ran else "info",
           title=f"Offer “{offer.name}” on {offer.account} has ended", body=body,
           link=f"/admin/analytics/offer/{offer.pk}/change/", subject=f"analytics.offer:{offer.pk}",
           dedupe_key=_key(offer, "ended"),
           payload={"offer_id": offer.pk, "account_id": offer.account_id, "status": S.EXPIRED})


def tick(now: datetime | None = None) -> dict[str, int]:
    """Scheduled offers whose window is open become active; active ones whose window closed, and
    scheduled ones whose whole window passed unnoticed (beat down), become expired."""
    now = now or timezone.now()
    done = {"started": 0, "ended": 0}
    due = Offer.objects.select_related("account").order_by("starts_at", "pk")
    for offer in due.filter(status=S.SCHEDULED, starts_at__lte=now, ends_at__gt=now):
        with transaction.atomic():
            if _move(offer, S.SCHEDULED, S.ACTIVE):
                _started(offer)
                done["started"] += 1
    for offer in due.filter(status__in=[S.ACTIVE, S.SCHEDULED], ends_at__lte=now):
        source = offer.status
        with transaction.atomic():
            if _move(offer, source, S.EXPIRED):
                _ended(offer, source)
                done["ended"] += 1
    return done
