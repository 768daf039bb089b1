"""The dispatcher and the publish path: claim, publish, outcomes, reap and reconcile.

Correctness before speed: a publication reaches a platform at most once. The dispatcher claims
due rows by a conditional update inside a `SELECT … FOR UPDATE SKIP LOCKED` transaction; `publish`
moves a row to `publishing` before calling the platform and never calls it again for a row that
may have been accepted (`unknown` is reconciled by a lookup or a person)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from time import monotonic
from typing import Any, TypeAlias

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from compliance import services as compliance
from content.models import Asset
from core import backoff
from notifications.models import Notification
from notifications.services import notify
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
from scheduling.models import PlatformAccount, Post, Publication
from scheduling.services.credentials import account_ref, mark_needs_reauth
from scheduling.services.gate import assets_for_posts, gate_input_for, with_account_ceiling
from scheduling.services.lifecycle import _move

log = logging.getLogger("scheduling.services")
S = Publication.Status


# A row ready to send: the connector, the request, and (file field, media item) per asset to materialise.
_Described: TypeAlias = "list[tuple[Any, MediaItem]]"
_Ready: TypeAlias = "tuple[Publication, Connector, PublishRequest, _Described]"


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
    with transaction.atomic():
        pubs = _lock_claimed(ids, outcome)
        pubs = _miss_late(pubs, now, outcome)
        posts = list({p.post_id: p.post for p in pubs}.values())
        assets = assets_for_posts(posts)
        by_account = _judge(pubs, posts, assets, now, outcome)
        connectors = _connectors(by_account, outcome)
        ready = _requests(by_account, connectors, assets, outcome)
        lease = _hold_for_run(ready, now)
    _call_platforms(ready, outcome, lease)
    return outcome


def _lock_claimed(ids: list[int], outcome: dict[int, str]) -> list[Publication]:
    """Lock the rows; a row no longer `claimed` keeps its status as its outcome and is left alone."""
    rows = Publication.objects.select_related("post", "post__creator", "account").filter(
        pk__in=ids).order_by("pk")
    if connection.features.has_select_for_update_of:
        rows = rows.select_for_update(of=("self",))
    else:
        rows = rows.select_for_update()
    pubs = list(rows)
    outcome.update({pub.pk: pub.status for pub in pubs if pub.status != S.CLAIMED})
    return [pub for pub in pubs if pub.status == S.CLAIMED]


def _miss_late(pubs: list[Publication], now: datetime, outcome: dict[int, str]) -> list[Publication]:
    """A row too far past its due time is `missed`: a person decides whether it still goes out."""
    late = timedelta(seconds=settings.SCHEDULING_MISSED_AFTER_SECONDS)
    for pub in [p for p in pubs if p.scheduled_at and now - p.scheduled_at > late]:
        _move(pub, S.MISSED, last_error="Too late to publish without a person deciding.")
        _notify_outcome(pub, S.MISSED, pub.last_error)
        outcome[pub.pk] = S.MISSED
    return [p for p in pubs if p.pk not in outcome]


def _judge(pubs: list[Publication], posts: list[Post], assets: dict[int, list[Asset]], now: datetime,
           outcome: dict[int, str]) -> dict[int, list[tuple[Publication, Any]]]:
    """Re-run the gate from the live rows and check the account: what passes, by account; the rest
    `blocked` or `failed`."""
    # The approved version is checked against the live rows here, after the claim: an edit that
    # slipped in after scheduling (an asset re-reviewed, a collection grown) blocks the row.
    versions = approval.current_versions(posts)
    siblings: dict[int, set[int]] = {p.pk: set() for p in posts}
    for post_id, pk in Publication.objects.filter(post_id__in=list(siblings)).values_list("post_id", "pk"):
        siblings[post_id].add(pk)
    inputs = [gate_input_for(p, due_at=now, assets=assets[p.post_id], version=versions[p.post_id],
                             siblings=frozenset(siblings[p.post_id])) for p in pubs]
    verdicts = compliance.check_publications(inputs)
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
    return by_account


def _connectors(by_account: dict[int, list[tuple[Publication, Any]]],
                outcome: dict[int, str]) -> dict[int, Connector]:
    """The connector of each account's platform; the rows of a platform without one fail (and leave
    `by_account`)."""
    connectors: dict[int, Connector] = {}
    for account_id, account_rows in list(by_account.items()):
        try:
            connectors[account_id] = connector_for(account_rows[0][0].account.platform)
        except LookupError as exc:
            for pub, _ in by_account.pop(account_id):
                _move(pub, S.FAILED, last_error=str(exc))
                outcome[pub.pk] = S.FAILED
    return connectors


def _requests(by_account: dict[int, list[tuple[Publication, Any]]], connectors: dict[int, Connector],
              assets: dict[int, list[Asset]], outcome: dict[int, str]) -> list[_Ready]:
    """Each row's request, credentials read once per account; a request the connector refuses fails."""
    ready: list[_Ready] = []
    refs: dict[int, AccountRef] = {}
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
    return ready


def _dedupes(row: _Ready) -> bool:
    return bool(getattr(row[1], "idempotent_publish", False))


def _hold_for_run(ready: list[_Ready], now: datetime) -> datetime | None:
    """The rows now wait for their turn in this worker under a short lease, renewed as it goes:
    if the worker is killed they are back on the calendar within one run lease.

    Rows of a platform that dedupes by our key need no durable mark before each call: they move to
    `publishing` here, in the claim's transaction, under one call's lease (returned), instead of in a
    transaction of their own. A killed worker's such rows go back to the calendar (the reaper)."""
    waiting = [r[0].pk for r in ready if not _dedupes(r)]
    if waiting:
        Publication.objects.filter(pk__in=waiting, status=S.CLAIMED).update(
            lease_expires_at=now + timedelta(seconds=_run_lease()))
    grouped = [r[0].pk for r in ready if _dedupes(r)]
    if not grouped:
        return None
    lease = now + timedelta(seconds=call_seconds())
    # The rows are locked by this transaction and were checked `claimed`: every one moves.
    Publication.objects.filter(pk__in=grouped, status=S.CLAIMED).update(
        status=S.PUBLISHING, attempts=F("attempts") + 1, lease_expires_at=lease)
    return lease


def _call_platforms(ready: list[_Ready], outcome: dict[int, str], lease: datetime | None) -> None:
    """Send the ready rows, platform by platform, outside any transaction.

    One row is in flight at a time: a row becomes `publishing` right before its own call and its
    outcome is written right after, so a kill leaves at most that one row whose outcome is unknown.
    Platforms that dedupe by our key go first: their rows are already `publishing` under a call's
    lease, and should not wait for another platform's slow calls.
    """
    waiting = _Waiting([r[0].pk for r in ready if not _dedupes(r)])
    grouped = [r[0].pk for r in ready if _dedupes(r)]
    by_platform: dict[str, list[_Ready]] = {}
    for row in sorted(ready, key=lambda r: not _dedupes(r)):
        by_platform.setdefault(row[0].account.platform, []).append(row)
    keeper = _LeaseKeeper(waiting)
    keeper.start()
    try:
        for platform, sending in by_platform.items():
            with _slot(platform) as free:
                if not free:  # the platform's concurrency is used up: try again in a few seconds
                    at = timezone.now() + timedelta(seconds=5)
                    for row in sending:
                        pub = row[0]
                        outcome[pub.pk] = _back_to_calendar(pub, at, lease=lease if _dedupes(row) else None)
                        waiting.done(pub.pk)
                elif lease is not None and _dedupes(sending[0]):
                    outcome.update(_publish_idempotent(sending, lease))
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
        unsent = [pk for pk in grouped if pk not in outcome]
        if unsent:
            Publication.objects.filter(pk__in=unsent, status=S.PUBLISHING, lease_expires_at=lease).update(
                status=S.SCHEDULED, attempts=F("attempts") - 1, lease_expires_at=None)
        if waiting.ids or unsent or S.SCHEDULED in outcome.values():
            # Rows put back for a retry in a few seconds go out then, not at the dispatcher's next tick.
            wakeups.dispatch_when_due()


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


def _back_to_calendar(pub: Publication, at: datetime, *, lease: datetime | None = None) -> str:
    """A row that was not sent returns to the calendar: no attempt, no budget charged. `lease`: the
    row was moved to `publishing` under that lease with the claim (a platform that dedupes by our key)."""
    if lease is None:
        Publication.objects.filter(pk=pub.pk, status=S.CLAIMED).update(
            status=S.SCHEDULED, next_attempt_at=at, lease_expires_at=None)
    else:
        Publication.objects.filter(pk=pub.pk, status=S.PUBLISHING, lease_expires_at=lease).update(
            status=S.SCHEDULED, next_attempt_at=at, lease_expires_at=None, attempts=F("attempts") - 1)
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


def _publish_idempotent(rows: list[_Ready], lease: datetime) -> dict[int, str]:
    """Rows of a platform that dedupes by our key (Bluesky's record key): sending one twice yields one
    post, so they need no durable mark before each call. They moved to `publishing` together with the
    claim (`_hold_for_run`, under `lease`) and are sent in groups: the budget of a group is reserved in
    one round trip right before it is sent (what it does not send is given back with the next group's),
    and successes are written before each group and at least every FLUSH_SECONDS, and always before the
    slot is released. A killed worker's rows go back to the calendar (the reaper), and a re-send
    answers with the post already there."""
    outcome: dict[int, str] = {}
    # One call's lease for the whole group, renewed as the group goes: a killed worker's rows are back
    # on the calendar within one call lease.
    length = call_seconds()
    renewed = monotonic()
    live = {r[0].pk for r in rows}
    sending = rows
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
