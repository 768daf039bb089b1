"""Scheduling state changes and the dispatcher. Admin, API and tasks call these.

Correctness before speed: a publication reaches a platform at most once. The dispatcher claims
due rows by a conditional update inside a `SELECT … FOR UPDATE SKIP LOCKED` transaction; `publish`
moves a row to `publishing` before calling the platform and never calls it again for a row that
may have been accepted (`unknown` is reconciled by a lookup or a person).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from compliance import services as compliance
from compliance.gate import Rating, Verdict
from content.models import Asset
from scheduling.models import PlatformAccount, Post, Publication

S = Publication.Status
RATING_ORDER = {r.value: i for i, r in enumerate(Rating)}




# --- The gate, built from a publication -----------------------------------------------------------


def post_assets(post: Post) -> list[Asset]:
    assets = [link.asset for link in post.post_assets.select_related("asset").prefetch_related("asset__performers")]
    if post.collection_id:
        assets += list(post.collection.assets.prefetch_related("performers"))
    return assets


def gate_input_for(publication: Publication, *, due_at: datetime | None = None) -> compliance.GateInput:
    """What compliance needs to judge this publication, read from the live rows (never a copy)."""
    post, account = publication.post, publication.account
    assets = post_assets(post)
    performer_ids = frozenset(p.pk for a in assets for p in a.performers.all())
    ratings = [a.rating for a in assets] or ["sfw"]
    ai_assets = [a for a in assets if a.origin in (Asset.Origin.AI, Asset.Origin.EDIT)]
    dates = [a.production_date for a in assets if a.production_date]
    texts = {"caption": publication.caption_override or post.caption}
    for asset in assets:
        texts[f"asset {asset.pk} title"] = asset.title
        texts[f"asset {asset.pk} tags"] = " ".join(t.name for t in asset.tags.all())
    return compliance.GateInput(
        creator_id=post.creator_id,
        platform=(account.target_platform or "manual") if account.platform == "manual" else account.platform,
        rating=max(ratings, key=RATING_ORDER.__getitem__),
        performer_ids=performer_ids,
        # The earliest production date is the strictest for the age rule.
        production_date=min(dates) if dates else None,
        ai_origin=bool(ai_assets),
        disclosure_present=all(a.disclosure_label for a in ai_assets),
        provenance_present=all(a.provenance_present for a in ai_assets),
        # Facts are per publication: "nobody real" holds only if no asset depicts anyone.
        no_real_person_attested=bool(assets) and not performer_ids
        and all(a.no_real_person_attested for a in assets),
        human_approved=post.approved_at is not None and bool(assets)
        and all(a.status == Asset.Status.APPROVED for a in assets),
        texts=texts,
        due_at=due_at or publication.scheduled_at or timezone.now(),
    )


def check(publication: Publication, *, due_at: datetime | None = None,
          data: compliance.GateInput | None = None) -> Verdict:
    """The compliance gate for this publication, plus the account's own rating ceiling."""
    data = data or gate_input_for(publication, due_at=due_at)
    verdict = compliance.check_publication(data)
    ceiling = publication.account.max_rating
    if ceiling and not Rating(ceiling).allows(data.rating):
        from compliance.gate import Reason

        verdict = Verdict(reasons=(*verdict.reasons, Reason(
            code="rating_not_accepted", message=f"{publication.account} accepts up to {ceiling} content.")))
    return verdict


# --- State changes ---------------------------------------------------------------------------------


def _move(pub: Publication, to: str, **fields: Any) -> None:
    if not pub.can_move_to(to):
        raise ValidationError(f"A publication that is {pub.get_status_display().lower()} cannot become "
                              f"{S(to).label.lower()}.")
    pub.status = to
    for key, value in fields.items():
        setattr(pub, key, value)
    pub.save(update_fields=["status", *fields])


@dataclass(frozen=True)
class ScheduleOutcome:
    publication: Publication
    verdict: Verdict


def schedule(publication: Publication, *, at: datetime, actor: Any = None) -> ScheduleOutcome:
    """Put an approved publication on the calendar at `at` (aware; stored UTC) if the gate passes.

    A failing gate leaves the row where it was and returns the reasons for the person scheduling.
    """
    if timezone.is_naive(at):
        raise ValidationError("The due time needs a timezone (it is entered in the creator's timezone).")
    with transaction.atomic():
        pub = Publication.objects.select_for_update().select_related("post", "account").get(pk=publication.pk)
        verdict = check(pub, due_at=at)
        if not verdict.passed:
            audit.record("publication.schedule_refused", pub, actor=actor,
                         changes={"codes": sorted(verdict.codes)})
            return ScheduleOutcome(pub, verdict)
        _move(pub, S.SCHEDULED, scheduled_at=at.astimezone(UTC), next_attempt_at=None, block_reasons=[],
              last_error="")
        audit.record("publication.scheduled", pub, actor=actor, changes={"at": pub.scheduled_at.isoformat()})
    return ScheduleOutcome(pub, verdict)


def cancel(publication: Publication, *, actor: Any = None) -> Publication:
    with transaction.atomic():
        pub = Publication.objects.select_for_update().get(pk=publication.pk)
        if pub.status == S.CANCELLED:
            return pub
        if pub.status not in Publication.EDITABLE:
            raise ValidationError("This publication is being published or is out; it can no longer be cancelled.")
        _move(pub, S.CANCELLED)
        audit.record("publication.cancelled", pub, actor=actor)
    return pub


# --- Dispatcher ------------------------------------------------------------------------------------


def claim_due_publications(*, now: datetime | None = None, batch: int | None = None) -> list[int]:
    """Claim due rows and queue one publish task each, after commit. Safe under any concurrency:
    two dispatchers skip each other's locked rows, and the conditional update claims each row once."""
    now = now or timezone.now()
    batch = batch or settings.SCHEDULING_CLAIM_BATCH
    lease = now + timedelta(seconds=settings.SCHEDULING_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            Publication.objects.select_for_update(skip_locked=True)
            .filter(status=S.SCHEDULED, scheduled_at__lte=now)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("scheduled_at").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return []
        Publication.objects.filter(pk__in=ids, status=S.SCHEDULED).update(status=S.CLAIMED, lease_expires_at=lease)
        transaction.on_commit(lambda: _enqueue(ids))
    return ids


def _enqueue(ids: list[int]) -> None:
    from scheduling.tasks import publish

    for pk in ids:
        publish.delay(pk)


def reap_expired_leases(*, now: datetime | None = None) -> dict[str, int]:
    """A claimed row whose task never started goes back to the calendar; a row caught mid-publish
    becomes `unknown`, because the platform may already have it."""
    now = now or timezone.now()
    returned = Publication.objects.filter(status=S.CLAIMED, lease_expires_at__lt=now).update(
        status=S.SCHEDULED, lease_expires_at=None)
    stuck = Publication.objects.filter(status=S.PUBLISHING, lease_expires_at__lt=now).update(
        status=S.UNKNOWN, last_error="The worker stopped while publishing; check the platform before retrying.")
    return {"returned": returned, "unknown": stuck}


def _rate_ok(account: PlatformAccount, limits: Any) -> float | None:
    """Shared fixed-window budget per account (cache = Redis in production). Returns seconds to wait."""
    window = int(timezone.now().timestamp()) // limits.window_seconds
    key = f"atelier:rate:{account.pk}:{window}"
    cache.add(key, 0, timeout=limits.window_seconds * 2)
    try:
        used = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=limits.window_seconds * 2)
        used = 1
    if used > limits.requests_per_window:
        return float(limits.window_seconds - int(timezone.now().timestamp()) % limits.window_seconds)
    return None


def publish_publication(publication_id: int) -> str:
    """Publish one claimed row. Idempotent: a row not in `claimed` is left alone."""
    from scheduling.connectors import connector_for
    from scheduling.connectors.base import (
        AuthError,
        PermanentError,
        TransientError,
        UnknownOutcome,
    )

    now = timezone.now()
    with transaction.atomic():
        pub = (Publication.objects.select_for_update().select_related("post", "account", "post__creator")
               .filter(pk=publication_id).first())
        if pub is None or pub.status != S.CLAIMED:
            return pub.status if pub else "missing"
        if pub.scheduled_at and now - pub.scheduled_at > timedelta(seconds=settings.SCHEDULING_MISSED_AFTER_SECONDS):
            _move(pub, S.MISSED, last_error="Too late to publish without a person deciding.")
            return S.MISSED
        data = gate_input_for(pub, due_at=now)
        verdict = check(pub, data=data)
        if not verdict.passed:
            _move(pub, S.BLOCKED, block_reasons=[r.to_dict() for r in verdict.reasons])
            audit.record("publication.blocked", pub, actor_label="task:publish",
                         changes={"codes": sorted(verdict.codes)})
            return S.BLOCKED
        if pub.account.state != PlatformAccount.State.CONNECTED:
            _move(pub, S.FAILED, last_error=f"{pub.account} is {pub.account.get_state_display().lower()}.")
            return S.FAILED
        connector = connector_for(pub.account.platform)
        wait = _rate_ok(pub.account, connector.limits)
        if wait is not None:
            _move(pub, S.SCHEDULED, next_attempt_at=now + timedelta(seconds=wait), lease_expires_at=None)
            return S.SCHEDULED
        request = build_request(pub, data)
        problems = connector.validate(request)
        if problems:
            _move(pub, S.FAILED, last_error=" ".join(problems))
            return S.FAILED
        _move(pub, S.PUBLISHING, attempts=pub.attempts + 1,
              lease_expires_at=now + timedelta(seconds=settings.SCHEDULING_LEASE_SECONDS))
    # The platform call happens outside any transaction: no lock is held across the network.
    try:
        result = connector.publish(request)
    except TransientError as exc:
        return _after_transient(pub, exc)
    except UnknownOutcome as exc:
        return _after_unknown(pub, connector, request, exc)
    except AuthError as exc:
        PlatformAccount.objects.filter(pk=pub.account_id).update(state=PlatformAccount.State.NEEDS_REAUTH,
                                                                 last_error=exc.message)
        return _finish(pub, S.FAILED, last_error=exc.message)
    except PermanentError as exc:
        return _finish(pub, S.FAILED, last_error=exc.message)
    return _finish(pub, S.PUBLISHED, external_id=result.external_id, external_url=result.url,
                   published_at=timezone.now(), last_error="")


def _finish(pub: Publication, to: str, **fields: Any) -> str:
    updated = Publication.objects.filter(pk=pub.pk, status=S.PUBLISHING).update(
        status=to, lease_expires_at=None, **fields)
    if updated:
        audit.record(f"publication.{to}", pub, actor_label="task:publish",
                     changes={k: str(v) for k, v in fields.items() if k != "published_at"})
    return to


def _after_transient(pub: Publication, exc: Any) -> str:
    if pub.attempts >= settings.SCHEDULING_MAX_ATTEMPTS:
        return _finish(pub, S.FAILED, last_error=f"Gave up after {pub.attempts} attempts: {exc.message}")
    backoff = min(900, 15 * 2 ** (pub.attempts - 1)) * (0.8 + random.random() * 0.4)
    delay = max(backoff, exc.retry_after or 0)
    return _finish(pub, S.SCHEDULED, next_attempt_at=timezone.now() + timedelta(seconds=delay),
                   last_error=exc.message)


def _after_unknown(pub: Publication, connector: Any, request: Any, exc: Any) -> str:
    try:
        found = connector.lookup(request)
    except Exception:
        found = None
    if found is not None:
        return _finish(pub, S.PUBLISHED, external_id=found.external_id, external_url=found.url,
                       published_at=timezone.now(), last_error="")
    return _finish(pub, S.UNKNOWN, last_error=f"{exc.message} The platform may have the post: check it, then "
                                              f"mark it published or schedule it again.")


def build_request(pub: Publication, data: compliance.GateInput) -> Any:
    from scheduling.connectors.base import AccountRef, PublishRequest

    account = pub.account
    credentials = {}
    if account.credentials_encrypted:
        import json

        from compliance import crypto

        credentials = json.loads(crypto.decrypt_text(account.credentials_encrypted))
    ref = AccountRef(id=account.pk, platform=account.platform, handle=account.handle,
                     external_id=account.external_id, options=account.options, credentials=credentials)
    return PublishRequest(idempotency_key=str(pub.idempotency_key), account=ref,
                          text=pub.caption_override or pub.post.caption, media=(), rating=data.rating,
                          ai_generated=data.ai_origin, price_minor=pub.post.price_minor,
                          currency=pub.post.currency)


# --- Compliance reactions --------------------------------------------------------------------------


def block_for_performers(performer_ids: list[int], *, reason_code: str, message: str) -> int:
    """Block every not-yet-published publication depicting these performers, at once."""
    pending = [S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.CLAIMED, S.FAILED, S.MISSED]
    depicting = Q(post__post_assets__asset__performers__in=performer_ids) | Q(
        post__collection__assets__performers__in=performer_ids)
    ids = list(Publication.objects.filter(depicting, status__in=pending).values_list("pk", flat=True).distinct())
    reasons = [{"code": reason_code, "message": message, "performer_id": None, "hard": False, "field": None}]
    count = Publication.objects.filter(pk__in=ids, status__in=pending).update(status=S.BLOCKED,
                                                                               block_reasons=reasons)
    for pub in Publication.objects.filter(pk__in=ids).select_related("post"):
        audit.record("publication.blocked", pub, actor_label=f"signal:{reason_code}",
                     changes={"performers": performer_ids})
    return count
