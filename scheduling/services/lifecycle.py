"""A post's life before the platform: compose, edit, approve, schedule, reschedule, queue and cancel.

Every change locks the post before its publications (`lock_publication`), the one order every path
takes, and a post whose rows have (or may have) reached a platform can no longer change."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from accounts import approvers, audit
from accounts.actors import Actor
from accounts.services import user_of
from compliance import services as compliance
from compliance.gate import Reason, Verdict
from content.models import Asset
from scheduling import approval, wakeups
from scheduling.models import PlatformAccount, Post, PostAsset, Publication, QueueSlot
from scheduling.services.credentials import warn_account_not_ready
from scheduling.services.gate import check, gate_input_for

S = Publication.Status
# Rows in these states have (or may have) reached the platform: their post can no longer change.
OUT_OR_IN_FLIGHT = frozenset({S.CLAIMED, S.PUBLISHING, S.PUBLISHED, S.UNKNOWN, S.EXPORTED, S.REMOVED})


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


class ScheduleRefused(ValidationError):
    """A drop of several targets refused as a whole; `reasons` name each target's refusal (may be empty)."""

    def __init__(self, message: str, reasons: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or []


def schedule_together(post: Post, when: datetime, targets: list[Publication], *,
                      actor: Actor = None) -> list[ScheduleOutcome]:
    """Schedule every approved target of `post` at `when`, all or none, through `schedule`.

    The gate judges each target at `when` first, so a refusal writes nothing; a target another request
    scheduled meanwhile (a double drop) makes the whole drop refused, not half-applied. Dropping again
    what is already there is a no-op that answers no outcome.
    """
    if not targets:
        if Publication.objects.filter(post=post, status=S.SCHEDULED, scheduled_at=when).exists():
            return []
        raise ScheduleRefused("This post has no approved target waiting for a day: it is already scheduled, or "
                              "it needs approval first.")
    refused_msg = "The publish gate refused this time; nothing was scheduled."
    reasons = [{"code": r.code, "message": f"{pub.account}: {r.message}"}
               for pub in targets for r in check(pub, due_at=when).reasons]
    if reasons:
        raise ScheduleRefused(refused_msg, reasons)
    try:
        with transaction.atomic():
            outcomes = [schedule(pub, at=when, actor=actor) for pub in targets]
            refused = [{"code": r.code, "message": f"{o.publication.account}: {r.message}"}
                       for o in outcomes for r in o.verdict.reasons]
            if refused:
                raise ScheduleRefused(refused_msg, refused)
    except ScheduleRefused:
        raise
    except ValidationError as exc:
        raise ScheduleRefused(" ".join(exc.messages) + " Nothing was scheduled.") from None
    return outcomes


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
        post = Post.objects.select_for_update(of=("self",)).select_related("creator").get(pk=post.pk)
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
