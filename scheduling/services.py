"""Scheduling state changes and the dispatcher. Admin, API and tasks call these.

Correctness before speed: a publication reaches a platform at most once. The dispatcher claims
due rows by a conditional update inside a `SELECT … FOR UPDATE SKIP LOCKED` transaction; `publish`
moves a row to `publishing` before calling the platform and never calls it again for a row that
may have been accepted (`unknown` is reconciled by a lookup or a person).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Prefetch, ProtectedError, Q
from django.utils import timezone

from accounts import approvers, audit
from accounts.actors import Actor
from accounts.services import user_of
from compliance import crypto
from compliance import services as compliance
from compliance.gate import Reason, Verdict
from compliance.models import CreatorPerformer
from content.models import Asset, CollectionItem
from core import backoff
from core.platforms import PLATFORMS, Kind, Rating
from notifications.models import Notification
from notifications.services import notify, resolve_by_key
from scheduling import approval, limits, media, notices, tasks, wakeups
from scheduling.connectors import connector_for
from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    Connector,
    Limits,
    LookupUndecided,
    MediaItem,
    PermanentError,
    PublishRequest,
    PublishResult,
    TransientError,
    UnknownOutcome,
)
from scheduling.models import PlatformAccount, Post, PostAsset, Publication, QueueSlot

# A row ready to send: the connector, the request, and (file field, media item) per asset to materialise.
_Described: TypeAlias = "list[tuple[Any, MediaItem]]"
_Ready: TypeAlias = "tuple[Publication, Connector, PublishRequest, _Described]"

log = logging.getLogger(__name__)
S = Publication.Status
# Rows in these states have (or may have) reached the platform: their post can no longer change.
OUT_OR_IN_FLIGHT = frozenset({S.CLAIMED, S.PUBLISHING, S.PUBLISHED, S.UNKNOWN, S.EXPORTED, S.REMOVED})


# --- Platform credentials --------------------------------------------------------------------------


def store_credentials(account: PlatformAccount, data: dict[str, Any], *, expires_at: datetime | None = None,
                      scopes: str | None = None, actor: Actor = None) -> None:
    """Encrypt and save the account's tokens; a fresh grant also reconnects the account."""
    fields = {"credentials_encrypted": crypto.encrypt_text(json.dumps(data)), "token_expires_at": expires_at,
              "state": PlatformAccount.State.CONNECTED, "last_error": "", "refresh_failures": 0,
              "refreshed_at": timezone.now()}
    if scopes is not None:
        fields["scopes"] = scopes
    PlatformAccount.objects.filter(pk=account.pk).update(**fields)
    for key, value in fields.items():
        setattr(account, key, value)
    audit.record("platform_account.credentials_stored", account, actor=actor,
                 changes={"expires_at": expires_at.isoformat() if expires_at else None})
    resolve_by_key(_not_ready_key(account), actor=actor)


def read_credentials(account: PlatformAccount, *, purpose: str, actor: Actor = None) -> dict[str, Any]:
    """Decrypt the account's tokens. Every read is audited with its purpose."""
    if not account.credentials_encrypted:
        return {}
    audit.record("platform_account.credentials_read", account, actor=actor, actor_label=f"purpose:{purpose}",
                 changes={"purpose": purpose})
    credentials: dict[str, Any] = json.loads(crypto.decrypt_text(account.credentials_encrypted))
    return credentials


def account_ref(account: PlatformAccount, *, purpose: str, actor: Actor = None) -> AccountRef:
    return AccountRef(id=account.pk, platform=account.platform, handle=account.handle,
                      external_id=account.external_id, options=account.options,
                      credentials=read_credentials(account, purpose=purpose, actor=actor))


ACCOUNT_EXISTS = "This creator already has this account."


def initial_state(platform: str) -> str:
    """A manual export needs no tokens; every other platform is not connected until someone authorises it
    and the platform accepts the credentials (`store_credentials`)."""
    entry = PLATFORMS.get(platform)
    manual = entry is not None and entry.kind is Kind.MANUAL
    return PlatformAccount.State.CONNECTED if manual else PlatformAccount.State.NOT_CONNECTED


def save_account(account: PlatformAccount, *, actor: Actor = None) -> PlatformAccount:
    """Create or update a platform account (admin and API): policy ceiling and the platform's option
    schema checked (`PlatformAccount.clean`: only known keys, never a host), one account per
    creator × platform × handle, audited."""
    creating = account.pk is None
    account.full_clean(exclude=["creator"], validate_unique=False)
    clash = PlatformAccount.objects.filter(creator_id=account.creator_id, platform=account.platform,
                                           handle=account.handle).exclude(pk=account.pk)
    if clash.exists():
        raise ValidationError({"handle": ACCOUNT_EXISTS})
    before = {} if creating else dict(PlatformAccount.objects.filter(pk=account.pk).values(
        "handle", "state", "max_rating", "options", "target_platform", "external_id").first() or {})
    try:
        with transaction.atomic():
            account.save()
            if creating:
                audit.record("platform_account.created", account, actor=actor,
                             changes={"platform": account.platform, "handle": account.handle})
            else:
                changed = sorted(f for f, v in before.items() if getattr(account, f) != v)
                audit.record("platform_account.updated", account, actor=actor,
                             changes={"fields": changed, "state": account.state})
    except IntegrityError as exc:  # a concurrent twin got in after the check
        raise ValidationError({"handle": ACCOUNT_EXISTS}) from exc
    return account


@transaction.atomic
def change_queue_slots(account: PlatformAccount, *, added: Iterable[tuple[int, time]] = (),
                       changed: Iterable[QueueSlot] = (), removed: Iterable[QueueSlot] = (),
                       actor: Actor = None) -> None:
    """Edit an account's weekly queue times (creator's local time). Publications already placed keep
    their time; the queue offers the new slots from now on. Audits `platform_account.queue_changed`."""
    added, changed, removed = list(added), list(changed), list(removed)
    if any(slot.account_id != account.pk for slot in [*changed, *removed]):
        raise ValidationError("These queue times belong to another account.")
    for slot in removed:
        slot.delete()
    for slot in changed:
        slot.full_clean()
        slot.save()
    for weekday, at in added:
        slot = QueueSlot(account=account, weekday=weekday, time=at)
        slot.full_clean()
        slot.save()
    if added or changed or removed:
        audit.record("platform_account.queue_changed", account, actor=actor,
                     changes={"added": len(added), "changed": len(changed), "removed": len(removed)})


@transaction.atomic
def delete_account(account: PlatformAccount, *, actor: Actor = None) -> None:
    """Remove an account that nothing was published or planned on (publications and offers protect it).
    Its stored credentials go with it. Audits `platform_account.deleted`."""
    audit.record("platform_account.deleted", account, actor=actor,
                 changes={"platform": account.platform, "handle": account.handle})
    account.delete()


def _not_ready_key(account: PlatformAccount) -> str:
    return f"account.not_ready:{account.pk}"


def warn_account_not_ready(pub: Publication) -> str | None:
    """A publication was just placed on an account that cannot publish: tell the creator's managers
    once per account (until it is connected), and return the warning for the person scheduling."""
    warning = pub.account_warning
    if warning is None or pub.account.state == PlatformAccount.State.NEEDS_REAUTH:
        return warning  # needs_reauth was notified when the platform refused the credentials
    notify("account.not_ready", creator_id=pub.account.creator_id, level="warning",
           title=f"Publications are scheduled on {pub.account}, which is "
                 f"{pub.account.get_state_display().lower()}",
           body=warning, link=f"/admin/scheduling/platformaccount/{pub.account_id}/change/",
           subject=f"scheduling.platformaccount:{pub.account_id}", dedupe_key=_not_ready_key(pub.account))
    return warning


def mark_needs_reauth(account: PlatformAccount, message: str) -> None:
    updated = PlatformAccount.objects.filter(pk=account.pk).exclude(
        state=PlatformAccount.State.NEEDS_REAUTH).update(state=PlatformAccount.State.NEEDS_REAUTH,
                                                          last_error=message)
    if updated:
        audit.record("platform_account.needs_reauth", account, actor_label="system", changes={"error": message})
        notify("account.needs_reauth", creator_id=account.creator_id, level="error",
               title=f"{account} needs to be connected again", body=message,
               link=f"/admin/scheduling/platformaccount/{account.pk}/change/",
               subject=f"scheduling.platformaccount:{account.pk}",
               dedupe_key=f"account.needs_reauth:{account.pk}")


# --- The gate, built from a publication -----------------------------------------------------------


ASSET_PREFETCH = ("performers", "tags", "renditions")


def post_assets(post: Post) -> list[Asset]:
    return assets_for_posts([post])[post.pk]


def assets_for_posts(posts: list[Post]) -> dict[int, list[Asset]]:
    """Each post's assets in order (its own, then its collection's), with what the gate and the
    media picker read prefetched: a fixed number of queries for any number of posts."""
    out: dict[int, list[Asset]] = {p.pk: [] for p in posts}
    assets = Asset.objects.prefetch_related(*ASSET_PREFETCH)
    for link in PostAsset.objects.filter(post__in=[p.pk for p in posts]).prefetch_related(
            Prefetch("asset", queryset=assets)).order_by("post_id", "position", "id"):
        out[link.post_id].append(link.asset)
    by_collection: dict[int, list[int]] = {}
    for p in posts:
        if p.collection_id:
            by_collection.setdefault(p.collection_id, []).append(p.pk)
    if by_collection:
        for item in CollectionItem.objects.filter(collection__in=list(by_collection)).prefetch_related(
                Prefetch("asset", queryset=assets)).order_by("collection_id", "position", "id"):
            for post_id in by_collection[item.collection_id]:
                out[post_id].append(item.asset)
    return out


def gate_input_for(publication: Publication, *, due_at: datetime | None = None,
                   assets: list[Asset] | None = None, version: str | None = None,
                   siblings: frozenset[int] | None = None) -> compliance.GateInput:
    """What compliance needs to judge this publication, read from the live rows (never a copy).

    `version` is the post's current fingerprint and `siblings` the ids of the post's publications when
    the caller already has them (the dispatcher computes a whole batch at once); otherwise they are read
    here. The siblings are there because a takedown naming the post on one platform names it on all.
    """
    post, account = publication.post, publication.account
    assets = post_assets(post) if assets is None else assets
    version = approval.current_version(post) if version is None else version
    if siblings is None:
        siblings = frozenset(Publication.objects.filter(post_id=post.pk).values_list("pk", flat=True))
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
        rating=max(ratings, key=lambda r: Rating(r).rank),
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
        # In the creator's timezone: the gate reads the publication's calendar date from it (a
        # production date after that date is refused).
        due_at=(due_at or publication.scheduled_at or timezone.now()).astimezone(post.creator.tzinfo),
        approved_version=approval.approved_version(post),
        current_version=version,
        asset_ids=frozenset(a.pk for a in assets),
        publication_ids=frozenset({*siblings, *([publication.pk] if publication.pk else [])}),
    )


def check(publication: Publication, *, due_at: datetime | None = None,
          data: compliance.GateInput | None = None) -> Verdict:
    """The compliance gate for this publication, plus the account's own rating ceiling."""
    data = data or gate_input_for(publication, due_at=due_at)
    return with_account_ceiling(publication, data, compliance.check_publication(data))


def with_account_ceiling(publication: Publication, data: compliance.GateInput, verdict: Verdict) -> Verdict:
    ceiling = publication.account.max_rating
    if ceiling and not Rating(ceiling).allows(data.rating):
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

    @property
    def warning(self) -> str | None:
        """Placed, but its account cannot publish yet: the person scheduling is told now, not at the due time."""
        return self.publication.account_warning if self.verdict.passed else None


def lock_publication(publication: Publication) -> Publication:
    """Lock the publication's post, then the publication: the one order every path takes.

    `update_post`, `approve_post` and `delete_post` lock a post and then its publications; a path that
    locked a publication first (or both at once through a join, in whatever order PostgreSQL reads them)
    deadlocked against them. Raises `Publication.DoesNotExist` when the row is gone.
    """
    post_id = Publication.objects.values_list("post_id", flat=True).get(pk=publication.pk)
    post = Post.objects.select_for_update().get(pk=post_id)
    pub: Publication = Publication.objects.select_for_update().get(pk=publication.pk)
    pub.post = post
    return pub


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _due_at(pub: Publication, at: datetime, **fields: Any) -> None:
    """Set the due time, or say plainly that the account already has a publication then.

    A database constraint keeps one live publication per account and instant; it decides, in a
    savepoint, so the caller's transaction stays usable after a refusal.
    """
    try:
        with transaction.atomic():
            fields["scheduled_at"] = at.astimezone(UTC)
            if pub.status == S.SCHEDULED:
                for key, value in fields.items():
                    setattr(pub, key, value)
                pub.save(update_fields=list(fields))
            else:
                _move(pub, S.SCHEDULED, **fields)
        wakeups.dispatch_at(fields["scheduled_at"])
    except IntegrityError:
        pub.refresh_from_db()
        raise SlotTaken(f"{pub.account} already has a publication due at {at.astimezone(UTC):%Y-%m-%d %H:%M} "
                        f"UTC; pick another time.") from None


class SlotTaken(ValidationError):
    """The account already has a live publication at that instant."""


def schedule(publication: Publication, *, at: datetime, actor: Actor = None) -> ScheduleOutcome:
    """Put an approved publication on the calendar at `at` (aware; stored UTC) if the gate passes.

    A failing gate leaves the row where it was and returns the reasons for the person scheduling.
    """
    if timezone.is_naive(at):
        raise ValidationError("The due time needs a timezone (it is entered in the creator's timezone).")
    with transaction.atomic():
        pub = lock_publication(publication)
        verdict = held_by_open_takedowns(pub, check(pub, due_at=at))
        if not verdict.passed:
            audit.record("publication.schedule_refused", pub, actor=actor,
                         changes={"codes": sorted(verdict.codes)})
            return ScheduleOutcome(pub, verdict)
        if not pub.can_move_to(S.SCHEDULED):
            _move(pub, S.SCHEDULED)  # raises the refusal that names the current status
        _due_at(pub, at, next_attempt_at=None, block_reasons=[], last_error="")
        audit.record("publication.scheduled", pub, actor=actor, changes={"at": _iso(pub.scheduled_at)})
        warn_account_not_ready(pub)
    return ScheduleOutcome(pub, verdict)


def held_by_open_takedowns(pub: Publication, verdict: Verdict) -> Verdict:
    """A row a takedown request blocked stays blocked while that request is open, even if what it
    carries no longer matches what the request names (a performer untagged, an asset swapped): only
    closing the request, or cancelling the row, lets it go."""
    if pub.status != S.BLOCKED or "takedown_open" in verdict.codes:
        return verdict
    ids = {r.get("takedown_id") for r in pub.block_reasons if r.get("code") == "takedown_open"} - {None}
    still = sorted(compliance.open_takedown_ids(ids)) if ids else []
    if not still:
        return verdict
    held = Reason("takedown_open", f"Takedown request #{still[0]} blocked this publication and is still open.")
    return Verdict((*verdict.reasons, held))


def reschedule(publication: Publication, *, at: datetime, actor: Actor = None) -> ScheduleOutcome:
    """Move a publication to another instant (calendar drag, API). The gate is judged at the new time."""
    if timezone.is_naive(at):
        raise ValidationError("The due time needs a timezone (it is entered in the creator's timezone).")
    with transaction.atomic():
        pub = lock_publication(publication)
        if pub.status != S.SCHEDULED:
            return schedule(pub, at=at, actor=actor)
        verdict = check(pub, due_at=at)
        if not verdict.passed:
            audit.record("publication.reschedule_refused", pub, actor=actor,
                         changes={"codes": sorted(verdict.codes)})
            return ScheduleOutcome(pub, verdict)
        before = pub.scheduled_at
        _due_at(pub, at, next_attempt_at=None)
        audit.record("publication.rescheduled", pub, actor=actor,
                     changes={"from": before.isoformat() if before else None, "to": _iso(pub.scheduled_at)})
    return ScheduleOutcome(pub, verdict)


def next_free_slot(account: PlatformAccount, *, after: datetime | None = None, weeks: int = 12,
                   skip: frozenset[datetime] = frozenset()) -> datetime | None:
    """The next QueueSlot of this account (weekly, creator's local time) with nothing else on it.

    Local wall-clock times are resolved through the creator's zone on each date, so a 09:00 slot
    stays 09:00 across a DST change; a time that does not exist that day (spring forward) is skipped.
    """
    after = after or timezone.now()
    tz = ZoneInfo(account.creator.timezone or "UTC")
    slots = list(QueueSlot.objects.filter(account=account).values_list("weekday", "time"))
    if not slots:
        return None
    taken = set(Publication.objects.filter(
        account=account, scheduled_at__gte=after, scheduled_at__lte=after + timedelta(weeks=weeks, days=1))
        .exclude(status__in=[S.CANCELLED, S.DRAFT]).values_list("scheduled_at", flat=True))
    start: date = after.astimezone(tz).date()
    for offset in range(weeks * 7 + 1):
        day = start + timedelta(days=offset)
        for slot_time in sorted(t for wd, t in slots if wd == day.weekday()):
            local = datetime.combine(day, slot_time, tzinfo=tz)
            if _nonexistent(local):
                continue
            at = local.astimezone(UTC)
            if at > after and at not in taken and at not in skip:
                return at
    return None


def _nonexistent(local: datetime) -> bool:
    """True for a wall-clock time skipped by a DST jump (it would not round-trip through UTC)."""
    round_trip = local.astimezone(UTC).astimezone(local.tzinfo)
    return round_trip.replace(tzinfo=None) != local.replace(tzinfo=None)


QUEUE_ATTEMPTS = 20


def add_to_queue(publication: Publication, *, actor: Actor = None) -> ScheduleOutcome:
    """Schedule at the account's next free queue slot.

    Two requests queueing on one account at once both see the same slot free; the constraint lets
    one have it and the other moves on to the next free slot, so each publication gets its own.
    """
    with transaction.atomic():
        pub = lock_publication(publication)
        account = PlatformAccount.objects.select_related("creator").get(pk=pub.account_id)
        taken: set[datetime] = set()
        for _ in range(QUEUE_ATTEMPTS):
            at = next_free_slot(account, skip=frozenset(taken))
            if at is None:
                break
            try:
                return reschedule(pub, at=at, actor=actor)
            except SlotTaken:
                taken.add(at)
    raise ValidationError(f"{account} has no free queue slot in the next 12 weeks; add slots first.")


def save_queue_slot(slot: QueueSlot, *, actor: Actor = None) -> QueueSlot:
    """Add or move a weekly slot; one per account, weekday and time (the check, then the constraint decides)."""
    clash = QueueSlot.objects.filter(account_id=slot.account_id, weekday=slot.weekday, time=slot.time)
    if clash.exclude(pk=slot.pk).exists():
        raise ValidationError({"time": "This account already has a slot then."})
    adding = slot._state.adding
    try:
        with transaction.atomic():
            slot.save()
            audit.record("queue_slot.created" if adding else "queue_slot.updated", slot, actor=actor,
                         changes={"account": slot.account_id, "weekday": slot.weekday, "time": slot.time.isoformat()})
    except IntegrityError:  # a concurrent twin got in after the check
        raise ValidationError({"time": "This account already has a slot then."}) from None
    return slot


def delete_queue_slot(slot: QueueSlot, *, actor: Actor = None) -> None:
    """Publications already queued keep their time; only future queueing stops using the slot."""
    with transaction.atomic():
        audit.record("queue_slot.deleted", slot, actor=actor,
                     changes={"account": slot.account_id, "weekday": slot.weekday, "time": slot.time.isoformat()})
        slot.delete()


def local_datetime(creator_tz: str, day: date, at: time) -> datetime:
    """A wall-clock time in the creator's zone (as entered in admin/API) as an aware datetime."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(creator_tz or "UTC"))


# --- Posts: compose, edit, approve -----------------------------------------------------------------

APPROVAL_STALE = "approval_stale"
# A target can be removed (its row deleted) only while nothing of it can have reached the platform.
REMOVABLE = Publication.EDITABLE | {S.CANCELLED}
POST_FIELDS = ("caption", "price_minor", "currency", "collection")


class _Keep:
    """"Leave this as it is", for arguments where None is a meaningful value (no price, no collection)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def _check_belongs(creator_id: int, *, asset_ids: list[int] | None = None, collection: Any = KEEP,
                   accounts: list[PlatformAccount] | None = None) -> None:
    """A post carries only its own creator's assets, collection and accounts. Checked here whoever calls,
    so a form or a client that can reach two creators cannot mix them."""
    errors: dict[str, str] = {}
    if asset_ids:
        if len(set(asset_ids)) != len(asset_ids):
            errors["asset_ids"] = "An asset appears once in a post."
        elif Asset.objects.filter(pk__in=asset_ids, creator_id=creator_id).count() != len(asset_ids):
            errors["asset_ids"] = "A post holds only its own creator's assets."
    if collection is not KEEP and collection is not None and collection.creator_id != creator_id:
        errors["collection"] = "A post's collection belongs to the same creator."
    if accounts:
        ids = [a.pk for a in accounts]
        if len(set(ids)) != len(ids):
            errors["targets"] = "An account appears once in a post's targets."
        elif any(a.creator_id != creator_id for a in accounts):
            errors["targets"] = "A post goes only to its own creator's accounts."
    if errors:
        raise ValidationError(errors)


def _check_money(price_minor: int | None, currency: str) -> str:
    """Money is integer minor units with its ISO 4217 code: a price means nothing without its currency."""
    currency = (currency or "").strip().upper()
    if currency and not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise ValidationError({"currency": "Use a three-letter ISO 4217 code such as USD or EUR."})
    if (price_minor is None) != (not currency):
        raise ValidationError({"currency" if price_minor is not None else "price_minor":
                               "A price needs both an amount in minor units and a currency, or neither."})
    return currency


def create_post(*, creator_id: int, caption: str, asset_ids: list[int], targets: list[tuple[PlatformAccount, str]],
                collection: Any = None, price_minor: int | None = None, currency: str = "",
                actor: Actor = None) -> Post:
    """Compose a post: its ordered assets and one draft publication per (account, caption override).

    Assets, collection and accounts must belong to the post's creator (checked here); callers check
    that the person may reach them.
    """
    _check_belongs(creator_id, asset_ids=asset_ids, collection=collection, accounts=[a for a, _ in targets])
    currency = _check_money(price_minor, currency)
    with transaction.atomic():
        post = Post.objects.create(creator_id=creator_id, caption=caption, collection=collection,
                                   price_minor=price_minor, currency=currency, created_by=user_of(actor))
        PostAsset.objects.bulk_create([PostAsset(post=post, asset_id=a, position=i) for i, a in enumerate(asset_ids)])
        Publication.objects.bulk_create([Publication(post=post, creator_id=creator_id, account=account,
                                                     caption_override=override)
                                         for account, override in targets])
        audit.record("post.created", post, actor=actor,
                     changes={"assets": len(asset_ids), "accounts": [a.pk for a, _ in targets]})
    return post


def _edit(post: Post, *, actor: Actor, apply: Callable[[Post, list[Publication]], list[str]]) -> Post:
    """The one way a post's content changes (update_post, set_caption_override).

    Locks the post, then its publications (the one lock order), refuses while any copy is being
    published, lets `apply(post, publications)` change the rows and name what changed, then bumps the
    version and audits. When the post was approved and what reaches fans is no longer what was
    approved, the approval is withdrawn (see `_withdraw_approval`).
    """
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        pubs = list(Publication.objects.select_for_update().filter(post=post).order_by("pk"))
        if any(p.status in (S.CLAIMED, S.PUBLISHING) for p in pubs):
            raise ValidationError("This post is being published right now; try again in a minute.")
        changed: list[str] = apply(post, pubs)
        if changed:
            post.version += 1
            post.save(update_fields=[*(f for f in POST_FIELDS if f in changed), "version", "updated_at"])
            audit.record("post.updated", post, actor=actor, changes={"fields": changed, "version": post.version})
        if post.approved_at is not None and approval.current_version(post) != post.approved_version:
            _withdraw_approval(post, actor=actor, fields=changed)
    return post


def _withdraw_approval(post: Post, *, actor: Actor, fields: list[str]) -> None:
    """What reaches fans changed since a person approved it: the post goes back to pending approval and
    its approved or scheduled publications with it, each carrying `approval_stale` (shown in admin and
    API), so nothing goes out that nobody approved. Their due time stays, for whoever reschedules."""
    post.approved_at, post.approved_by, post.approved_version = None, None, ""
    post.save(update_fields=["approved_at", "approved_by", "approved_version"])
    reasons = [Reason(APPROVAL_STALE, "The post changed after it was approved; it needs approval again before "
                                      "it can be scheduled.").to_dict()]
    sent_back = []
    for pub in post.publications.filter(status__in=[S.APPROVED, S.SCHEDULED]).order_by("pk"):
        was = pub.status
        _move(pub, S.PENDING_APPROVAL, block_reasons=reasons, next_attempt_at=None)
        audit.record("publication.approval_stale", pub, actor=actor, creator_id=post.creator_id,
                     changes={"from": was, "post_version": post.version})
        sent_back.append(pub.pk)
    audit.record("post.approval_withdrawn", post, actor=actor,
                 changes={"fields": fields, "version": post.version, "publications": sent_back})


def recheck_approvals(*, asset_ids: Iterable[int] = (), collection_ids: Iterable[int] = (),
                      actor: Actor = None) -> list[int]:
    """An asset or collection changed in content (re-reviewed, re-rated, retitled, items changed): every
    approved post carrying it whose fingerprint no longer matches goes back for approval now, with its
    approved or scheduled publications (`approval_stale`), instead of waiting for the gate to refuse it
    at publish time. Returns the ids of the posts sent back."""
    asset_ids, collection_ids = list(asset_ids), list(collection_ids)
    carrying = Q(post_assets__asset__in=asset_ids) | Q(collection__items__asset__in=asset_ids) | Q(
        collection__in=collection_ids)
    posts = list(Post.objects.filter(carrying, approved_at__isnull=False,
                                     publications__status__in=[S.APPROVED, S.SCHEDULED]).distinct())
    if not posts:
        return []
    versions = approval.current_versions(posts)
    stale = [post.pk for post in posts if versions[post.pk] != post.approved_version]
    for pk in stale:
        with transaction.atomic():  # post, then its publications: the one lock order
            post = Post.objects.select_for_update().get(pk=pk)
            list(Publication.objects.select_for_update().filter(post=post).order_by("pk"))
            if post.approved_at is not None and approval.current_version(post) != post.approved_version:
                _withdraw_approval(post, actor=actor, fields=["media"])
    return stale


def _set_targets(post: Post, pubs: list[Publication], targets: list[tuple[PlatformAccount, str]]) -> list[str]:
    """Make the post's targets exactly `targets` (account, caption override): add draft publications,
    delete removed ones that never left, change per-account captions that can still change."""
    wanted = {account.pk: (account, override) for account, override in targets}
    have: dict[int, list[Publication]] = {}
    for pub in pubs:
        have.setdefault(pub.account_id, []).append(pub)
    changed: list[str] = []
    gone = [pub for pub in pubs if pub.account_id not in wanted]
    out = sorted({str(pub.account) for pub in gone if pub.status not in REMOVABLE})
    if out:
        raise ValidationError({"targets": f"{', '.join(out)}: published or being published, so it stays a "
                                          f"target; cancel it or take it down instead."})
    if gone:
        try:
            Publication.objects.filter(pk__in=[p.pk for p in gone]).delete()
        except ProtectedError as exc:
            raise ValidationError({"targets": "A removed target has a takedown task; it stays."}) from exc
        changed.append("targets")
    added = [Publication(post=post, account=account, caption_override=override)
             for pk, (account, override) in wanted.items() if pk not in have]
    if added:
        Publication.objects.bulk_create(added)
        changed.append("targets")
    for pk, (_, override) in wanted.items():
        for pub in have.get(pk, []):
            if pub.caption_override != override:
                _set_override(pub, override)
                changed.append("caption_override")
    return sorted(set(changed))


def _set_override(pub: Publication, caption: str) -> None:
    if pub.status not in Publication.EDITABLE:
        raise ValidationError(f"A publication that is {pub.get_status_display().lower()} can no longer change.")
    pub.caption_override = caption
    pub.save(update_fields=["caption_override"])


def update_post(post: Post, *, actor: Actor = None, caption: str | None = None, asset_ids: list[int] | None = None,
                price_minor: int | None = KEEP, currency: str | None = None, collection: Any = KEEP,
                targets: list[tuple[PlatformAccount, str]] | None = None) -> Post:
    """Edit what a post carries. Arguments left out stay as they are; `targets` is the whole new list
    of (account, caption override).

    Keeps: one creator per post (assets, collection, accounts), the lock order post → publications, no
    edit while a copy is being published, a version bump and an audit event per edit, and approval of a
    version: once what reaches fans differs from what was approved, the approval is withdrawn and
    approved or scheduled publications go back to pending approval with `approval_stale`.
    """
    _check_belongs(post.creator_id, asset_ids=asset_ids, collection=collection,
                   accounts=None if targets is None else [a for a, _ in targets])

    def apply(post: Post, pubs: list[Publication]) -> list[str]:
        changed = []
        if caption is not None and caption != post.caption:
            post.caption = caption
            changed.append("caption")
        if price_minor is not KEEP and price_minor != post.price_minor:
            post.price_minor = price_minor
            changed.append("price_minor")
        if currency is not None and currency.strip().upper() != post.currency:
            post.currency = currency.strip().upper()
            changed.append("currency")
        if {"price_minor", "currency"} & set(changed):
            _check_money(post.price_minor, post.currency)
        if collection is not KEEP and (collection.pk if collection else None) != post.collection_id:
            post.collection = collection
            changed.append("collection")
        if asset_ids is not None:
            current = list(post.post_assets.order_by("position", "id").values_list("asset_id", flat=True))
            if current != list(asset_ids):
                post.post_assets.all().delete()
                PostAsset.objects.bulk_create(
                    [PostAsset(post=post, asset_id=a, position=i) for i, a in enumerate(asset_ids)])
                changed.append("assets")
        if targets is not None:
            changed += _set_targets(post, pubs, targets)
        return changed

    return _edit(post, actor=actor, apply=apply)


def set_caption_override(publication: Publication, caption: str, *, actor: Actor = None) -> Publication:
    """Change one account's caption while the publication can still change. It is part of what the
    post's approver approved, so it goes through the same edit path (lock order, version, approval)."""

    def apply(post: Post, pubs: list[Publication]) -> list[str]:
        pub = next((p for p in pubs if p.pk == publication.pk), None)
        if pub is None:
            raise ValidationError("This publication is no longer a target of its post.")
        if pub.caption_override == caption:
            return []
        before = len(pub.caption_override)
        _set_override(pub, caption)
        audit.record("publication.caption_changed", pub, actor=actor,
                     changes={"from_length": before, "to_length": len(caption)})
        return ["caption_override"]

    post_id = Publication.objects.filter(pk=publication.pk).values_list("post_id", flat=True).first()
    if post_id is None:
        raise ValidationError("This publication no longer exists.")
    _edit(Post(pk=post_id), actor=actor, apply=apply)
    return Publication.objects.get(pk=publication.pk)


def submit_post(post: Post, *, actor: Actor = None) -> int:
    """Send the post's draft publications for approval."""
    with transaction.atomic():
        n = Publication.objects.filter(post=post, status=S.DRAFT).update(status=S.PENDING_APPROVAL)
        audit.record("post.submitted", post, actor=actor, changes={"publications": n})
    return n


def send_back_post(post: Post, *, actor: Actor = None, reason: str) -> int:
    """A reviewer declines the post as it is: its publications waiting for approval go back to draft,
    with the reason in the audit log for its author (`post.sent_back`)."""
    if not reason.strip():
        raise ValidationError("Say why the post is sent back, so its author can fix it.")
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        pubs = list(post.publications.select_for_update().filter(status=S.PENDING_APPROVAL).order_by("pk"))
        if not pubs:
            raise ValidationError("Nothing of this post is waiting for approval.")
        for pub in pubs:
            _move(pub, S.DRAFT)
        audit.record("post.sent_back", post, actor=actor,
                     changes={"reason": reason.strip(), "publications": [p.pk for p in pubs]})
    return len(pubs)


def approve_post(post: Post, *, actor: Actor = None) -> dict[int, Verdict]:
    """A human approves the post as it is now; each pending publication is judged by the gate now.

    Records the fingerprint of what reaches fans (`scheduling.approval`): the gate refuses any
    publication of this post once that no longer matches. Returns the verdict per publication so admin
    and API can show the reasons of any that fail. Four-eyes creators need an approver other than the
    post's author.
    """
    user = user_of(actor)
    with transaction.atomic():
        post = Post.objects.select_for_update().select_related("creator").get(pk=post.pk)
        pubs = list(post.publications.select_for_update().order_by("pk"))
        if post.creator.four_eyes_review and user is not None and post.created_by_id == user.pk:
            raise ValidationError(approvers.four_eyes_refusal("You submitted this post", post.creator_id, Post,
                                                              author_id=user.pk), code="four_eyes")
        post.approved_by, post.approved_at = user, timezone.now()
        post.approved_version = approval.current_version(post)
        post.save(update_fields=["approved_by", "approved_at", "approved_version"])
        verdicts = {}
        for pub in pubs:
            if pub.status not in (S.DRAFT, S.PENDING_APPROVAL):
                continue
            pub.post = post
            verdicts[pub.pk] = check(pub, data=gate_input_for(pub, version=post.approved_version))
            if pub.status == S.DRAFT:
                _move(pub, S.PENDING_APPROVAL)
            remaining = [r for r in pub.block_reasons if r.get("code") != APPROVAL_STALE]
            _move(pub, S.APPROVED, block_reasons=remaining)
        audit.record("post.approved", post, actor=actor,
                     changes={"version": post.version, "approved_version": post.approved_version,
                              "failing": {pk: sorted(v.codes) for pk, v in verdicts.items() if not v.passed}})
    return verdicts


def delete_post(post: Post, *, actor: Actor = None) -> None:
    """Delete a post and its unpublished publications; refused once any copy is (or may be) out."""
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        if post.publications.filter(status__in=OUT_OR_IN_FLIGHT).exists():
            raise ValidationError("This post is published or being published; cancel or take down its "
                                  "publications instead of deleting it.")
        audit.record("post.deleted", post, actor=actor, changes={"caption": post.caption[:80]})
        post.delete()


def cancel(publication: Publication, *, actor: Actor = None) -> Publication:
    with transaction.atomic():
        pub = lock_publication(publication)
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
        platforms = list(Publication.objects.filter(pk__in=ids).values_list("pk", "account__platform"))
        wakeups.note_queued()  # before the messages: a broker that loses them loses the mark too
        transaction.on_commit(lambda: _enqueue(platforms))
    return ids


def _enqueue(rows: list[tuple[int, str]]) -> None:
    """One publish task per chunk of rows of the same platform (a slow platform never holds up
    another's rows); the chunk size is the connector's, or SCHEDULING_PUBLISH_CHUNK."""
    by_platform: dict[str, list[int]] = {}
    for pk, platform in rows:
        by_platform.setdefault(platform, []).append(pk)
    for platform, ids in by_platform.items():
        try:
            connector = connector_for(platform)
        except LookupError:
            connector = None
        size = max(1, getattr(connector, "batch_size", settings.SCHEDULING_PUBLISH_CHUNK))
        per_row = 4 * settings.CONNECTOR_TIMEOUT_SECONDS
        for i in range(0, len(ids), size):
            chunk = ids[i:i + size]
            limit = 60 + per_row * len(chunk)
            tasks.publish_batch.apply_async((chunk,), time_limit=limit, soft_time_limit=limit - 30)


def reap_expired_leases(*, now: datetime | None = None) -> dict[str, int]:
    """A claimed row whose task never started goes back to the calendar; a row caught mid-publish
    becomes `unknown`, because the platform may already have it. When the broker lost its queues (a
    Redis restarted empty), claimed rows still waiting for a worker go back at once, not at the end
    of their claim lease (`wakeups.broker_lost_queues`)."""
    now = now or timezone.now()
    returned = 0
    if wakeups.broker_lost_queues():
        # Rows under a claim lease longer than any run lease can only be waiting in the queue that was
        # lost; rows of running batches (run leases, renewed) are left to their workers. Either way a
        # row taken back while its message lives is harmless: the conditional updates send it once.
        returned = Publication.objects.filter(
            status=S.CLAIMED, lease_expires_at__gt=now + timedelta(seconds=_run_lease())).update(
            status=S.SCHEDULED, lease_expires_at=None)
    returned += Publication.objects.filter(status=S.CLAIMED, lease_expires_at__lt=now).update(
        status=S.SCHEDULED, lease_expires_at=None)
    message = "The worker stopped while publishing; check the platform before retrying."
    stuck_ids = list(Publication.objects.filter(status=S.PUBLISHING, lease_expires_at__lt=now)
                     .values_list("pk", flat=True)[:1000])
    stuck = 0
    by_platform: dict[str, list[int]] = {}
    for pk, platform in Publication.objects.filter(pk__in=stuck_ids).values_list("pk", "account__platform"):
        by_platform.setdefault(platform, []).append(pk)
    for platform, pks in by_platform.items():
        if _idempotent(platform):
            # Sending again is safe (the platform dedupes by our key): straight back to the calendar.
            returned += Publication.objects.filter(pk__in=pks, status=S.PUBLISHING, lease_expires_at__lt=now).update(
                status=S.SCHEDULED, lease_expires_at=None, next_attempt_at=None)
            continue
        # The reconciler looks once the platform has settled (None: at once, for a person to check).
        settle = _settle_for(platform)
        stuck += Publication.objects.filter(pk__in=pks, status=S.PUBLISHING, lease_expires_at__lt=now).update(
            status=S.UNKNOWN, last_error=message,
            next_attempt_at=None if settle is None else now + timedelta(seconds=settle))
    settle_at = None
    for pub in Publication.objects.filter(pk__in=stuck_ids, status=S.UNKNOWN).select_related("post", "account"):
        audit.record("publication.unknown", pub, actor_label="task:reap_leases", changes={"error": message})
        _notify_outcome(pub, S.UNKNOWN, message)
        if pub.next_attempt_at and (settle_at is None or pub.next_attempt_at < settle_at):
            settle_at = pub.next_attempt_at
    if settle_at is not None:  # looked up the moment the platform has settled
        wakeups.wake(wakeups.RECONCILE, settle_at)
    return {"returned": returned, "unknown": stuck}



def publish_publication(publication_id: int) -> str:
    """Publish one claimed row (the batch path with a batch of one)."""
    outcome = publish_batch([publication_id])
    return next(iter(outcome.values()), "missing")


def publish_batch(ids: list[int]) -> dict[int, str]:
    """Publish claimed rows, each at most once. Idempotent: rows no longer `claimed` are left alone.

    Every per-row promise of the single path holds: the row is locked and its status re-checked,
    the compliance gate is re-run from the live rows at publish time, the account's state and rate
    budget are checked, and the platform gets the row's idempotency key. What a batch shares is the
    reading: posts, assets, the performers' standing and credentials are loaded once, the move to
    `publishing` is one UPDATE and the audit events of successes one INSERT.
    """
    now = timezone.now()
    outcome: dict[int, str] = {}
    ready: list[_Ready] = []
    with transaction.atomic():
        rows = Publication.objects.select_related("post", "post__creator", "account").filter(
            pk__in=ids).order_by("pk")
        if connection.features.has_select_for_update_of:
            rows = rows.select_for_update(of=("self",))
        else:
            rows = rows.select_for_update()
        pubs = list(rows)
        outcome.update({pub.pk: pub.status for pub in pubs if pub.status != S.CLAIMED})
        pubs = [pub for pub in pubs if pub.status == S.CLAIMED]
        late = timedelta(seconds=settings.SCHEDULING_MISSED_AFTER_SECONDS)
        for pub in [p for p in pubs if p.scheduled_at and now - p.scheduled_at > late]:
            _move(pub, S.MISSED, last_error="Too late to publish without a person deciding.")
            _notify_outcome(pub, S.MISSED, pub.last_error)
            outcome[pub.pk] = S.MISSED
        pubs = [p for p in pubs if p.pk not in outcome]
        posts = list({p.post_id: p.post for p in pubs}.values())
        assets = assets_for_posts(posts)
        # The approved version is checked against the live rows here, after the claim: an edit that
        # slipped in after scheduling (an asset re-reviewed, a collection grown) blocks the row.
        versions = approval.current_versions(posts)
        siblings: dict[int, set[int]] = {p.pk: set() for p in posts}
        for post_id, pk in Publication.objects.filter(post_id__in=list(siblings)).values_list("post_id", "pk"):
            siblings[post_id].add(pk)
        inputs = [gate_input_for(p, due_at=now, assets=assets[p.post_id], version=versions[p.post_id],
                                 siblings=frozenset(siblings[p.post_id])) for p in pubs]
        verdicts = compliance.check_publications(inputs)
        refs: dict[int, AccountRef] = {}
        by_account: dict[int, list[tuple[Publication, Any]]] = {}
        for pub, data, verdict in zip(pubs, inputs, verdicts, strict=True):
            verdict = with_account_ceiling(pub, data, verdict)
            if not verdict.passed:
                _move(pub, S.BLOCKED, block_reasons=[r.to_dict() for r in verdict.reasons])
                audit.record("publication.blocked", pub, actor_label="task:publish",
                             changes={"codes": sorted(verdict.codes)})
                notices.blocked_at_publish(pub, verdict)
                outcome[pub.pk] = S.BLOCKED
            elif pub.account.state != PlatformAccount.State.CONNECTED:
                _move(pub, S.FAILED, last_error=f"{pub.account} is {pub.account.get_state_display().lower()}.")
                _notify_outcome(pub, S.FAILED, pub.last_error)
                outcome[pub.pk] = S.FAILED
            else:
                by_account.setdefault(pub.account_id, []).append((pub, data))
        connectors: dict[int, Connector] = {}
        for account_id, account_rows in list(by_account.items()):
            try:
                connectors[account_id] = connector_for(account_rows[0][0].account.platform)
            except LookupError as exc:
                for pub, _ in by_account.pop(account_id):
                    _move(pub, S.FAILED, last_error=str(exc))
                    outcome[pub.pk] = S.FAILED
        for account_id, account_rows in by_account.items():
            account, connector = account_rows[0][0].account, connectors[account_id]
            for pub, data in account_rows:
                if account.pk not in refs:
                    refs[account.pk] = account_ref(account, purpose="publish")
                described = media.describe(assets[pub.post_id], account.platform)
                request = build_request(pub, data, ref=refs[account.pk],
                                        media=tuple(item for _, item in described))
                problems = connector.validate(request)
                if problems:
                    _move(pub, S.FAILED, last_error=" ".join(problems))
                    _notify_outcome(pub, S.FAILED, pub.last_error)
                    outcome[pub.pk] = S.FAILED
                else:
                    ready.append((pub, connector, request, described))
        # The rows now wait for their turn in this worker under a short lease, renewed as it goes:
        # if the worker is killed they are back on the calendar within one run lease.
        Publication.objects.filter(pk__in=[r[0].pk for r in ready], status=S.CLAIMED).update(
            lease_expires_at=now + timedelta(seconds=_run_lease()))

    # Platform calls happen outside any transaction, one row in flight at a time: a row becomes
    # `publishing` right before its own call and its outcome is written right after, so a kill
    # leaves at most that one row whose outcome is unknown.
    waiting = _Waiting([r[0].pk for r in ready])
    by_platform: dict[str, list[_Ready]] = {}
    for row in ready:
        by_platform.setdefault(row[0].account.platform, []).append(row)
    keeper = _LeaseKeeper(waiting)
    keeper.start()
    try:
        for platform, sending in by_platform.items():
            with _slot(platform) as free:
                if not free:  # the platform's concurrency is used up: try again in a few seconds
                    for pub, *_ in sending:
                        outcome[pub.pk] = _back_to_calendar(pub, timezone.now() + timedelta(seconds=5))
                        waiting.done(pub.pk)
                elif getattr(sending[0][1], "idempotent_publish", False):
                    outcome.update(_publish_idempotent(sending, waiting))
                else:
                    for pub, connector, request, described in sending:
                        outcome[pub.pk] = _publish_one(pub, connector, request, described, waiting)
                        waiting.done(pub.pk)
    finally:
        keeper.stop()
        # Rows never called (a time limit, an error before their turn) go back to the calendar: the
        # platform never saw them, so they are not `unknown`.
        if waiting.ids:
            Publication.objects.filter(pk__in=waiting.ids, status=S.CLAIMED).update(
                status=S.SCHEDULED, lease_expires_at=None)
        if waiting.ids or S.SCHEDULED in outcome.values():
            # Rows put back for a retry in a few seconds go out then, not at the dispatcher's next tick.
            wakeups.dispatch_when_due()
    return outcome


def _run_lease() -> int:
    return min(settings.SCHEDULING_LEASE_SECONDS, settings.SCHEDULING_RUN_LEASE_SECONDS)


def call_seconds() -> int:
    """The longest one row's platform call may take (its uploads, retries of a chunk, the post)."""
    return 4 * settings.CONNECTOR_TIMEOUT_SECONDS + 30


class _Waiting:
    """The batch's rows not yet called, whose leases the worker renews while it works, and the row
    being called (`calling`), whose lease the `_LeaseKeeper` renews during the call."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = list(ids)
        self.renewed = monotonic()
        self.calling: int | None = None

    def done(self, pk: int) -> None:
        if pk in self.ids:
            self.ids.remove(pk)
        if self.calling == pk:
            self.calling = None

    def renew(self) -> None:
        lease = _run_lease()
        if self.ids and monotonic() - self.renewed > lease / 3:
            Publication.objects.filter(pk__in=self.ids, status=S.CLAIMED).update(
                lease_expires_at=timezone.now() + timedelta(seconds=lease))
            self.renewed = monotonic()


class _LeaseKeeper(threading.Thread):
    """Renews a running batch's leases from a thread of its own, every third of a run lease, while
    its worker lives: the rows waiting their turn and the one being called. A call may hang for the
    whole client timeout (four of them for X's uploads and post) without its row's lease running out,
    so the leases stay short: a killed worker's rows are back on the calendar (or, the one it was
    calling, `unknown`) within one run lease and a reaper tick, instead of one call's length.

    The thread opens its database connection only when it first renews: a batch that ends sooner
    (most do) costs no connection. Renewing a row someone else took over (reaped, claimed again) is
    harmless: only conditional updates decide who sends it."""

    def __init__(self, waiting: _Waiting) -> None:
        super().__init__(name="lease-keeper", daemon=True)
        self.waiting = waiting
        self.stopped = threading.Event()

    def run(self) -> None:
        lease = _run_lease()
        try:
            while not self.stopped.wait(lease / 3):
                try:
                    self.renew(lease)
                except Exception:  # a database blip: the leases run on; try again with a new connection
                    log.warning("Could not renew the leases of a running batch", exc_info=True)
                    connection.close()
        finally:
            connection.close()

    def renew(self, lease: float) -> None:
        until = timezone.now() + timedelta(seconds=lease)
        ids, calling = list(self.waiting.ids), self.waiting.calling
        if ids:
            Publication.objects.filter(pk__in=ids, status=S.CLAIMED).update(lease_expires_at=until)
        if calling is not None:
            Publication.objects.filter(pk=calling, status=S.PUBLISHING).update(lease_expires_at=until)

    def stop(self) -> None:
        self.stopped.set()


@contextmanager
def _slot(platform: str) -> Iterator[bool]:
    """The platform's concurrency slot; a broker that cannot be reached counts as no free slot (the
    rows wait a few seconds) rather than failing the batch."""
    try:
        cm = limits.platform_slot(platform)
        free = cm.__enter__()
    except Exception:
        log.warning("Could not take a %s concurrency slot", platform, exc_info=True)
        yield False
        return
    try:
        yield free
    finally:
        cm.__exit__(None, None, None)


def _back_to_calendar(pub: Publication, at: datetime) -> str:
    """A claimed row that was not sent returns to the calendar: no attempt, no budget charged."""
    Publication.objects.filter(pk=pub.pk, status=S.CLAIMED).update(
        status=S.SCHEDULED, next_attempt_at=at, lease_expires_at=None)
    return S.SCHEDULED


def _publish_one(pub: Publication, connector: Connector, request: PublishRequest, described: _Described,
                 waiting: _Waiting) -> str:
    """Move the row to `publishing`, charge its request to the account's budget, call the platform and
    write the outcome at once (the database first: nothing after the call touches Redis)."""
    waiting.renew()
    try:
        granted, wait = limits.take_budget(pub.account_id, 1, connector.limits)
    except Exception:
        log.warning("Could not read the rate budget of account %s", pub.account_id, exc_info=True)
        return _back_to_calendar(pub, timezone.now() + timedelta(seconds=5))
    if not granted:
        return _back_to_calendar(pub, timezone.now() + timedelta(seconds=wait))
    # A run lease, not a call's length: the batch's `_LeaseKeeper` renews it while the call lasts.
    lease = timezone.now() + timedelta(seconds=_run_lease())
    waiting.calling = pub.pk
    with transaction.atomic():
        if getattr(connector, "idempotent_publish", False):
            # The platform dedupes by our key: if a database crash lost this move, the row would be
            # sent again and the platform would answer with the same post. No need to wait for the disk.
            _commit_without_waiting_for_disk()
        started = Publication.objects.filter(pk=pub.pk, status=S.CLAIMED).update(
            status=S.PUBLISHING, attempts=F("attempts") + 1, lease_expires_at=lease)
    if not started:
        # The reaper took the row back while an earlier call hung; whoever claims it next sends it.
        _refund_budget(pub.account_id, connector.limits)
        return Publication.objects.filter(pk=pub.pk).values_list("status", flat=True).first() or "missing"
    pub.status, pub.attempts, pub.lease_expires_at = S.PUBLISHING, pub.attempts + 1, lease
    result = _call(pub, connector, request, described)
    if isinstance(result, str):
        return result
    return _finish_published([(pub, result)]).get(pub.pk, S.PUBLISHED)


def _publish_idempotent(rows: list[_Ready], waiting: _Waiting) -> dict[int, str]:
    """Rows of a platform that dedupes by our key (Bluesky's record key): sending one twice yields one
    post, so they need no durable mark before each call. They move to `publishing` together and are
    sent in groups: the budget of a group is reserved in one round trip right before it is sent (what
    it does not send is given back with the next group's), and successes are written before each
    group and at least every FLUSH_SECONDS, and always before the slot is released. A killed worker's
    rows go back to the calendar (the reaper), and a re-send answers with the post already there."""
    outcome: dict[int, str] = {}
    # One call's lease for the whole group, renewed as the group goes: a killed worker's rows are back
    # on the calendar within one call lease.
    length = call_seconds()
    lease = timezone.now() + timedelta(seconds=length)
    renewed = monotonic()
    live = _start_publishing([r[0].pk for r in rows], lease)
    for pub, *_ in rows:
        waiting.done(pub.pk)
    sending = [row for row in rows if row[0].pk in live]  # others: redelivered or taken back meanwhile
    platform = rows[0][0].account.platform if rows else ""
    budget = limits.Reservation()
    published: list[tuple[Publication, Any]] = []
    flushed = group_started = monotonic()
    group_end = 0
    try:
        for i, (pub, connector, request, described) in enumerate(sending):
            if monotonic() - renewed > length / 3:
                mine = [pk for pk in live if pk not in outcome]
                fresh = timezone.now() + timedelta(seconds=length)
                Publication.objects.filter(pk__in=mine, status=S.PUBLISHING, lease_expires_at=lease).update(
                    lease_expires_at=fresh)
                lease, renewed = fresh, monotonic()
            pub.status, pub.attempts, pub.lease_expires_at = S.PUBLISHING, pub.attempts + 1, lease
            if i == group_end and i:
                _paced(platform, monotonic() - group_started)
            if published and (i == group_end or monotonic() - flushed > FLUSH_SECONDS):
                outcome.update(_finish_published(published))
                published, flushed = [], monotonic()
            if i == group_end:
                group = sending[i:i + _group_sizes.get(platform, 1)]
                group_end, group_started = i + len(group), monotonic()
                _reserve(budget, group)
            if not budget.take(pub.account_id):
                outcome[pub.pk] = _finish(pub, S.SCHEDULED, attempts=pub.attempts - 1, last_error="",
                                          next_attempt_at=timezone.now() + timedelta(
                                              seconds=budget.wait(pub.account_id) or 5))
                continue
            result = _call(pub, connector, request, described)
            if isinstance(result, str):
                outcome[pub.pk] = result
            else:
                published.append((pub, result))
    finally:
        outcome.update(_finish_published(published))
        # Rows not reached (a time limit): nothing was sent for them, the calendar takes them back.
        left = [pk for pk in live if pk not in outcome]
        if left:
            Publication.objects.filter(pk__in=left, status=S.PUBLISHING, lease_expires_at=lease).update(
                status=S.SCHEDULED, attempts=F("attempts") - 1, lease_expires_at=None)
        try:  # after the database: what was reserved and not sent goes back to the budget
            budget.release()
        except Exception:
            log.warning("Could not give back the unsent part of a rate budget reservation", exc_info=True)
    return outcome


FLUSH_SECONDS = 0.2
# Rows whose budget is reserved in one round trip, per platform, in this process: doubled while a group
# is sent within half of FLUSH_SECONDS, halved when it takes longer than FLUSH_SECONDS. A fast platform
# reserves up to a batch at once; a slow one (a real network call per row) is charged row by row, so a
# killed worker leaves at most about FLUSH_SECONDS' worth of unsent requests charged.
MAX_GROUP = 25
_group_sizes: dict[str, int] = {}


def _paced(platform: str, seconds: float) -> None:
    size = _group_sizes.get(platform, 1)
    if seconds < FLUSH_SECONDS / 2:
        _group_sizes[platform] = min(MAX_GROUP, size * 2)
    elif seconds > FLUSH_SECONDS:
        _group_sizes[platform] = max(1, size // 2)


def _reserve(budget: limits.Reservation, group: list[_Ready]) -> None:
    """Reserve the budget of the rows about to be sent; a Redis error leaves nothing reserved (the rows
    wait a few seconds) rather than failing the batch."""
    wanted: dict[int, tuple[int, Any]] = {}
    for pub, connector, *_ in group:
        count, _ = wanted.get(pub.account_id, (0, None))
        wanted[pub.account_id] = (count + 1, connector.limits)
    try:
        budget.reserve(wanted)
    except Exception:
        log.warning("Could not reserve the rate budget of %d rows", len(group), exc_info=True)


def _start_publishing(pks: list[int], lease: datetime) -> set[int]:
    """claimed → publishing for the rows still claimed (one statement, without waiting for the disk);
    returns the ids that moved."""
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        if connection.vendor != "postgresql":
            Publication.objects.filter(pk__in=pks, status=S.CLAIMED).update(
                status=S.PUBLISHING, attempts=F("attempts") + 1, lease_expires_at=lease)
            return set(Publication.objects.filter(pk__in=pks, status=S.PUBLISHING, lease_expires_at=lease)
                       .values_list("pk", flat=True))
        table = Publication._meta.db_table
        # Identifiers are the model's own; every value is a bound parameter.
        sql = (f"UPDATE {table} SET status = %s, attempts = attempts + 1, lease_expires_at = %s "  # noqa: S608
               f"WHERE id = ANY(%s) AND status = %s RETURNING id")
        with connection.cursor() as cursor:
            cursor.execute(sql, [S.PUBLISHING, lease, list(pks), S.CLAIMED])
            return {row[0] for row in cursor.fetchall()}


def _commit_without_waiting_for_disk() -> None:
    """The current transaction commits without waiting for its WAL flush (PostgreSQL; a no-op
    elsewhere). Only a database server crash in the next fraction of a second can lose it — never a
    worker's death — so it is for writes whose loss the lease, the reaper and a lookup repair."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _refund_budget(account_id: int, connector_limits: Limits) -> None:
    try:
        limits.refund_budget(account_id, connector_limits)
    except Exception:
        log.warning("Could not refund the rate budget of account %s", account_id, exc_info=True)


def _call(pub: Publication, connector: Connector, request: PublishRequest,
          described: _Described) -> PublishResult | str:
    """One platform call, its errors turned into the row's next state. Returns a PublishResult on
    success, else the status the row was moved to."""
    try:
        with media.materialise(described) as items:
            result = connector.publish(replace(request, media=items))
    except TransientError as exc:
        return _after_transient(pub, exc)
    except UnknownOutcome as exc:
        return _after_unknown(pub, connector, request, exc)
    except AuthError as exc:
        mark_needs_reauth(pub.account, exc.message)
        return _finish(pub, S.FAILED, last_error=exc.message)
    except PermanentError as exc:
        return _finish(pub, S.FAILED, last_error=exc.message)
    except OSError as exc:  # a rendition could not be read: nothing was sent
        return _after_transient(pub, TransientError(f"Could not read the media: {exc}"))
    if result.exported:
        return _finish(pub, S.EXPORTED, export_file=result.export_file, last_error="")
    return result


def _finish_published(published: list[tuple[Publication, Any]]) -> dict[int, str]:
    """Record successes: one conditional UPDATE for the batch (a row the reaper took away in the
    meantime is not overwritten) and one audit insert, in one transaction."""
    if not published:
        return {}
    at = timezone.now()
    with transaction.atomic():
        # Lost only if the database server crashes within a fraction of a second: the row then stays
        # `publishing`, becomes `unknown` and the lookup finds the post. Never sent twice.
        _commit_without_waiting_for_disk()
        done = _mark_published([(pub.pk, result.external_id, result.url) for pub, result in published], at)
        audit.record_many([
            audit.build("publication.published", pub, creator_id=pub.post.creator_id, actor_label="task:publish",
                        changes={"external_id": result.external_id, "external_url": result.url})
            for pub, result in published if pub.pk in done])
        outcome: dict[int, str] = {pub.pk: S.PUBLISHED for pub, _ in published if pub.pk in done}
        lost = [pub.pk for pub, _ in published if pub.pk not in done]
        outcome.update(dict(Publication.objects.filter(pk__in=lost).values_list("pk", "status")) if lost else {})
    return outcome


def _mark_published(rows: list[tuple[int, str, str]], at: datetime) -> set[int]:
    """publishing → published for each (id, external id, url); returns the ids that moved."""
    table = Publication._meta.db_table
    if connection.vendor == "postgresql":
        values = ", ".join(["(%s, %s, %s)"] * len(rows))
        params: list[Any] = [x for row in rows for x in row]
        # Identifiers are the model's own; every value is a bound parameter.
        sql = (f"UPDATE {table} SET status = %s, lease_expires_at = NULL, external_id = v.eid, "  # noqa: S608
               f"external_url = v.url, published_at = %s, last_error = '' "
               f"FROM (VALUES {values}) AS v(pid, eid, url) "
               f"WHERE {table}.id = v.pid::bigint AND {table}.status = %s RETURNING {table}.id")
        with connection.cursor() as cursor:
            cursor.execute(sql, [S.PUBLISHED, at, *params, S.PUBLISHING])
            return {row[0] for row in cursor.fetchall()}
    moved = set()
    for pk, external_id, url in rows:
        if Publication.objects.filter(pk=pk, status=S.PUBLISHING).update(
                status=S.PUBLISHED, lease_expires_at=None, external_id=external_id, external_url=url,
                published_at=at, last_error=""):
            moved.add(pk)
    return moved


def _finish(pub: Publication, to: str, **fields: Any) -> str:
    updated = Publication.objects.filter(pk=pub.pk, status=S.PUBLISHING).update(
        status=to, lease_expires_at=None, **fields)
    if updated:
        audit.record(f"publication.{to}", pub, actor_label="task:publish",
                     changes={k: str(v) for k, v in fields.items() if k != "published_at"})
        _notify_outcome(pub, to, fields.get("last_error", ""))
    return to


NOTIFY_ON: dict[str, tuple[str, str, str]] = {S.FAILED: ("publication.failed", "error", "failed"),
             S.UNKNOWN: ("publication.unknown", "error", "may or may not be out — check"),
             S.MISSED: ("publication.missed", "warning", "was missed"),
             S.EXPORTED: ("publication.exported", "info", "is ready for manual upload")}


def _notify_outcome(pub: Publication, status: str, message: str) -> None:
    if status not in NOTIFY_ON:
        return
    kind, level, verb = NOTIFY_ON[status]
    notify(kind, creator_id=pub.post.creator_id, level=level, title=f"{pub.account}: post #{pub.post_id} {verb}",
           body=message, link=f"/admin/scheduling/publication/{pub.pk}/change/",
           subject=f"scheduling.publication:{pub.pk}", dedupe_key=f"{kind}:{pub.pk}",
           payload={"publication_id": pub.pk, "post_id": pub.post_id, "account_id": pub.account_id,
                    "platform": pub.account.platform, "status": status, "error": message})


RECONCILE_LOCK = 0x5C4ED_0001  # pg advisory lock key: one reconcile runner at a time


@contextmanager
def _single_runner(key: int) -> Iterator[bool]:
    """Yields True for the one runner holding the PostgreSQL advisory lock `key` (a session lock: it is
    released when the run ends or its worker dies). Other databases run a single worker in practice
    (SQLite, the embedded default): every caller runs."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def settle_seconds(connector: Connector) -> float | None:
    """How long after an outcome became unknown the connector's lookup can say "not there" with
    confidence (None: it never can, a person checks). A request still on the wire when its worker
    died reaches the platform within the client timeout; the platform's own listing may lag."""
    settle = getattr(connector, "lookup_settle_seconds", None)
    if settle is None and getattr(connector, "lookup_is_authoritative", False):
        settle = 0
    return None if settle is None else settle + settings.CONNECTOR_TIMEOUT_SECONDS


def _idempotent(platform: str) -> bool:
    try:
        return bool(getattr(connector_for(platform), "idempotent_publish", False))
    except LookupError:
        return False


def _settle_for(platform: str) -> float | None:
    try:
        return settle_seconds(connector_for(platform))
    except LookupError:
        return None


def reconcile_unknown(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Ask the platform about rows whose outcome is unknown (a timeout after sending, a worker killed
    mid-publish), batch after batch until nothing eligible is left (or the run's time is up).

    Found → published. Not there, from a lookup that can tell after its settle time (a record key,
    or the account's own recent posts by exact text in the due window) → back on the calendar: the
    platform never received it. A lookup that cannot decide leaves the row to a person, asked again
    later. Only one runner at a time (an advisory lock): two beats never look up the same rows.
    """
    counts = {"published": 0, "rescheduled": 0, "still_unknown": 0}
    deadline = monotonic() + settings.SCHEDULING_RECONCILE_SECONDS
    with _single_runner(RECONCILE_LOCK) as mine:
        if not mine:
            return counts
        while monotonic() < deadline:
            at = now or timezone.now()
            rows = list(Publication.objects.select_related("post", "post__creator", "account")
                        .filter(status=S.UNKNOWN, scheduled_at__gte=at - timedelta(days=2))
                        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=at))
                        .order_by("pk")[:limit])
            for pub in rows:
                counts[_reconcile_one(pub, at)] += 1
            if len(rows) < limit:
                break
    return counts


def _reconcile_one(pub: Publication, now: datetime) -> str:
    settle = None
    try:
        connector = connector_for(pub.account.platform)
        settle = settle_seconds(connector)
        data = gate_input_for(pub, due_at=now)
        found = connector.lookup(build_request(pub, data, ref=account_ref(pub.account, purpose="lookup")))
    except Exception as exc:  # a lookup failing (or unable to see the whole window) is no news
        found, settle = None, None
        why = exc.message if isinstance(exc, LookupUndecided) else str(exc)
        pub.last_error = f"{pub.last_error.split(' | lookup:')[0]} | lookup: {why}"[:2000]
    if found is not None and Publication.objects.filter(pk=pub.pk, status=S.UNKNOWN).update(
            status=S.PUBLISHED, external_id=found.external_id, external_url=found.url, published_at=now,
            next_attempt_at=None, lease_expires_at=None, last_error=""):
        audit.record("publication.published", pub, actor_label="task:reconcile",
                     changes={"external_id": found.external_id, "via": "lookup"})
        _resolve_notice(f"publication.unknown:{pub.pk}")
        return "published"
    if found is None and settle is not None and Publication.objects.filter(pk=pub.pk, status=S.UNKNOWN).update(
            status=S.SCHEDULED, next_attempt_at=None, lease_expires_at=None, last_error=""):
        # The lookup sees the whole window (a record key derived from the idempotency key, or the
        # account's own posts since the due time) and the settle time has passed: not there means
        # never created, so it is safe to publish it again.
        audit.record("publication.retry_after_lookup", pub, actor_label="task:reconcile")
        _resolve_notice(f"publication.unknown:{pub.pk}")
        return "rescheduled"
    Publication.objects.filter(pk=pub.pk, status=S.UNKNOWN).update(
        next_attempt_at=now + timedelta(minutes=15), last_error=pub.last_error)
    return "still_unknown"


def resolve_unknown(publication: Publication, *, url: str = "", external_id: str = "", retry: bool = False,
                    actor: Actor = None) -> Publication:
    """A person checked the platform: it is out (give its URL) or it is not (publish it again)."""
    with transaction.atomic():
        pub: Publication = Publication.objects.select_for_update().get(pk=publication.pk)
        if pub.status != S.UNKNOWN:
            raise ValidationError("Only a publication whose outcome is unknown can be resolved this way.")
        if retry == bool(url or external_id):
            raise ValidationError("Either give the post's URL (it is out) or ask to publish it again — not both.")
        if retry:
            _move(pub, S.SCHEDULED, next_attempt_at=None, lease_expires_at=None, last_error="",
                  scheduled_at=max(pub.scheduled_at or timezone.now(), timezone.now()))
            audit.record("publication.retry_after_check", pub, actor=actor)
        else:
            _move(pub, S.PUBLISHED, external_url=url, external_id=external_id or url, published_at=timezone.now(),
                  lease_expires_at=None, last_error="")
            audit.record("publication.published", pub, actor=actor, changes={"via": "person", "url": url})
    _resolve_notice(f"publication.unknown:{pub.pk}")
    return pub


def _resolve_notice(dedupe_key: str) -> None:
    Notification.objects.filter(dedupe_key=dedupe_key, resolved_at__isnull=True).update(resolved_at=timezone.now())


def _after_transient(pub: Publication, exc: TransientError) -> str:
    if pub.attempts >= settings.SCHEDULING_MAX_ATTEMPTS:
        return _finish(pub, S.FAILED, last_error=f"Gave up after {pub.attempts} attempts: {exc.message}")
    delay = backoff.backoff_seconds(pub.attempts - 1, base=15, cap=900, retry_after=exc.retry_after)
    return _finish(pub, S.SCHEDULED, next_attempt_at=timezone.now() + timedelta(seconds=delay),
                   last_error=exc.message)


def _after_unknown(pub: Publication, connector: Connector, request: PublishRequest, exc: UnknownOutcome) -> str:
    try:
        found = connector.lookup(request)
    except Exception:
        found = None
    if found is not None:
        return _finish(pub, S.PUBLISHED, external_id=found.external_id, external_url=found.url,
                       published_at=timezone.now(), last_error="")
    settle = settle_seconds(connector)
    at = None if settle is None else timezone.now() + timedelta(seconds=settle)
    status = _finish(pub, S.UNKNOWN, last_error=f"{exc.message} The platform may have the post: check it, then "
                                                f"mark it published or schedule it again.", next_attempt_at=at)
    if at is not None:  # looked up the moment the platform has settled, not at the next periodic run
        wakeups.wake(wakeups.RECONCILE, at)
    return status


def build_request(pub: Publication, data: compliance.GateInput, *, media: tuple[MediaItem, ...] = (),
                  ref: AccountRef | None = None) -> PublishRequest:
    ref = ref or account_ref(pub.account, purpose=f"publish:{pub.pk}")
    return PublishRequest(idempotency_key=str(pub.idempotency_key), account=ref,
                          text=pub.caption_override or pub.post.caption, media=media, rating=data.rating,
                          ai_generated=data.ai_origin, price_minor=pub.post.price_minor,
                          currency=pub.post.currency,
                          publish_at=pub.scheduled_at.isoformat() if pub.scheduled_at else None,
                          options={**pub.account.options, "post_id": pub.post_id, "publication_id": pub.pk})


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


# Block causes. A blocked row carries one reason dict per cause in `block_reasons` (the gate's shape:
# code, message, performer_id, hard, field) plus, for a cause that can end, its key (`takedown_id`) and
# `was`, the status the row had before its first block. `add_block` appends a cause; `lift_block`
# removes causes and returns a row that has none left to where it was, through the gate, so a cause
# that was never recorded on the row (a revocation after the block) still keeps it blocked.
BLOCKABLE = frozenset({S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.CLAIMED, S.FAILED, S.MISSED})
APPROVAL_CODES = frozenset({"approval_missing", APPROVAL_STALE})


def _same_cause(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("code") == b.get("code") and a.get("takedown_id") == b.get("takedown_id")


def add_block(publication_ids: Iterable[int], reason: dict[str, Any], *, actor_label: str) -> list[int]:
    """Block each not-yet-published row with this cause (appended to any it already has). Returns the
    ids it changed; a row already carrying the same cause is left as it is, so a repeated signal is a
    no-op. Audits `publication.blocked` per row."""
    changed = []
    for pk in sorted(set(publication_ids)):
        with transaction.atomic():
            try:
                pub = lock_publication(Publication(pk=pk))
            except Publication.DoesNotExist:
                continue
            if pub.status not in BLOCKABLE and pub.status != S.BLOCKED:
                continue
            # Kept: what the row already carries (another cause, or `approval_stale` on a row sent back).
            reasons = list(pub.block_reasons)
            if any(_same_cause(r, reason) for r in reasons):
                continue
            was = pub.status if pub.status != S.BLOCKED else next(
                (r["was"] for r in reasons if r.get("was")), None)
            reasons.append({**reason, "was": was})
            if pub.status == S.BLOCKED:
                pub.block_reasons = reasons
                pub.save(update_fields=["block_reasons"])
            else:
                _move(pub, S.BLOCKED, block_reasons=reasons, next_attempt_at=None, lease_expires_at=None)
            audit.record("publication.blocked", pub, actor_label=actor_label,
                         changes={"code": reason.get("code"), "takedown": reason.get("takedown_id"), "was": was})
            changed.append(pk)
    return changed


def lift_block(publication_ids: Iterable[int], *, ended: Callable[[dict[str, Any]], bool], actor: Actor = None,
               actor_label: str = "") -> dict[int, str]:
    """Remove the causes `ended` says are over from these blocked rows. A row with causes left stays
    blocked with them; a row with none goes back where it was: a draft or a post awaiting approval
    returns there, a scheduled row to `scheduled` if its time is still ahead and the gate passes then,
    else to `approved` (awaiting a new time). If the gate finds a cause the row did not record, the row
    stays blocked with the gate's reasons. Returns the new status per row; audits `publication.unblocked`
    or `publication.block_narrowed`."""
    out: dict[int, str] = {}
    for pk in sorted(set(publication_ids)):
        with transaction.atomic():
            try:
                pub = lock_publication(Publication(pk=pk))
            except Publication.DoesNotExist:
                continue
            if pub.status != S.BLOCKED:
                continue
            lifted = [r for r in pub.block_reasons if ended(r)]
            if not lifted:
                continue
            left = [r for r in pub.block_reasons if not ended(r)]
            was = next((r["was"] for r in pub.block_reasons if r.get("was")), None) or S.APPROVED
            changes = {"lifted": sorted({r.get("code", "") for r in lifted}),
                       "takedowns": sorted({r["takedown_id"] for r in lifted if r.get("takedown_id")})}
            # A stale approval is not a block: the row goes back to be approved again (`_unblock`).
            if any(r.get("code") not in APPROVAL_CODES for r in left):
                pub.block_reasons = left
                pub.save(update_fields=["block_reasons"])
                audit.record("publication.block_narrowed", pub, actor=actor, actor_label=actor_label,
                             changes={**changes, "still": sorted({r.get("code", "") for r in left})})
                out[pk] = S.BLOCKED
                continue
            out[pk] = _unblock(pub, was=was, stale=[{k: v for k, v in r.items() if k != "was"} for r in left])
            held = pub.status == S.BLOCKED  # the gate found a cause the row had not recorded
            audit.record("publication.block_narrowed" if held else "publication.unblocked", pub, actor=actor,
                         actor_label=actor_label, changes={**changes, "to": pub.status,
                                                           "still": sorted({r["code"] for r in pub.block_reasons})})
    return out


def _unblock(pub: Publication, *, was: str, stale: list[dict[str, Any]]) -> str:
    now = timezone.now()
    at = pub.scheduled_at if pub.scheduled_at and pub.scheduled_at > now else now
    verdict = check(pub, due_at=at)
    holding = [r for r in verdict.reasons if r.code not in APPROVAL_CODES]
    if holding:
        pub.block_reasons = [{**r.to_dict(), "was": was} for r in holding]
        pub.save(update_fields=["block_reasons"])
        return S.BLOCKED
    if was == S.DRAFT:
        _move(pub, was, block_reasons=[])
    elif was == S.PENDING_APPROVAL:  # back with the approval reasons it carried (`approval_stale`)
        _move(pub, was, block_reasons=stale)
    elif not verdict.passed:  # only the approval fails: it goes back to be approved (approval is of a version)
        _move(pub, S.PENDING_APPROVAL, block_reasons=[r.to_dict() for r in verdict.reasons])
    elif was in (S.SCHEDULED, S.CLAIMED) and pub.scheduled_at and pub.scheduled_at > now:
        try:
            _due_at(pub, pub.scheduled_at, block_reasons=[], next_attempt_at=None, last_error="")
        except SlotTaken:  # the slot went to another row meanwhile: a person picks a new time
            _move(pub, S.APPROVED, block_reasons=[], last_error="Its time slot was taken while it was blocked.")
    else:
        _move(pub, S.APPROVED, block_reasons=[])
    return pub.status


STANDING_PENDING = (S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.CLAIMED, S.FAILED, S.MISSED)


def touching_performers(performer_ids: list[int]) -> Q:
    """Publications whose gate reads these performers: an asset depicts them, or the post's creator is
    built on their likeness (synthetic media of such a creator needs their AI-likeness consent)."""
    likeness = CreatorPerformer.objects.filter(
        performer_id__in=performer_ids,
        relation__in=[CreatorPerformer.Relation.SELF, CreatorPerformer.Relation.LIKENESS]).values("creator_id")
    return (Q(post__post_assets__asset__performers__in=performer_ids)
            | Q(post__collection__assets__performers__in=performer_ids)
            | Q(post__creator_id__in=likeness))


def failing_on_performers(pub: Publication, performer_ids: list[int], *, at: datetime) -> list[Reason]:
    """The gate's reasons, at `at`, that concern one of these performers (empty when none does)."""
    wanted = set(performer_ids)
    return [r for r in check(pub, due_at=at).reasons if r.performer_id in wanted]


def block_where_standing_fails(performer_ids: list[int], *, reason_code: str) -> list[int]:
    """Judge again every not-yet-published publication touching these performers and block the ones
    the gate now refuses because of one of them, with the gate's own reasons.

    Used when a consent is revoked, expires or is superseded, and when a fact the gate reads is
    corrected (date of birth, status, identity check). Unlike `block_for_performers` it blocks only
    what no other valid consent covers: a performer's second consent keeps its rows scheduled.
    Each row moves by a conditional update on the status it was read in (never a lost update).
    """
    now = timezone.now()
    ids = sorted(set(Publication.objects.filter(touching_performers(performer_ids), status__in=STANDING_PENDING)
                     .values_list("pk", flat=True)))
    blocked = []
    for pub in Publication.objects.filter(pk__in=ids).select_related("post", "post__creator", "account"):
        at = max(pub.scheduled_at or now, now)
        reasons = failing_on_performers(pub, performer_ids, at=at)
        if not reasons:
            continue
        with transaction.atomic():
            moved = Publication.objects.filter(pk=pub.pk, status=pub.status).update(
                status=S.BLOCKED, block_reasons=[{**r.to_dict(), "was": pub.status} for r in reasons])
            if moved:
                blocked.append(pub.pk)
                audit.record("publication.blocked", pub, actor_label=f"signal:{reason_code}",
                             changes={"performers": sorted(performer_ids), "was": pub.status,
                                      "codes": sorted({r.code for r in reasons})})
    return blocked
