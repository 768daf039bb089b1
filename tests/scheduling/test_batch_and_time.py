"""Batch publishing keeps every per-row promise; clocks that jump and DST changes in the creator's
timezone neither duplicate nor lose a publication."""

from __future__ import annotations

import time as time_module
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from content.models import Asset
from core import slots
from scheduling import limits, services
from scheduling.connectors.base import Limits, PublishResult
from scheduling.connectors.noop import NoopConnector
from scheduling.models import Post, PostAsset, Publication, QueueSlot
from scheduling.services import dispatch
from tests.scheduling.connectors import CountingConnector
from tests.scheduling.factories import PublicationFactory, approve_as_is, approved_rows
from tests.scheduling.fixtures import World, approved_target

S = Publication.Status


def due(world, n: int, account: str = "fanvue", at: datetime | None = None) -> list[Publication]:
    at = at or timezone.now() - timedelta(seconds=1)
    return approved_rows(world.post, [
        # One live publication per account and instant: due a millisecond apart.
        Publication(post=world.post, account=world.account(account), status=S.SCHEDULED,
                    scheduled_at=at - timedelta(milliseconds=i)) for i in range(n)])


@pytest.mark.django_db
def test_batch_judges_each_row_on_its_own(world):
    good = due(world, 3)
    # A second post whose asset is not approved: its row is blocked, the others go out.
    asset = Asset.objects.create(creator=world.creator, file="assets/y.jpg", kind="image", mime="image/jpeg",
                                 sha256="c" * 64, size_bytes=10, rating="sfw", status=Asset.Status.IN_REVIEW,
                                 no_real_person_attested=True)
    other = Post.objects.create(creator=world.creator, caption="Unreviewed", approved_at=timezone.now())
    PostAsset.objects.create(post=other, asset=asset)
    bad = PublicationFactory(post=other, account=world.fanvue, status=S.SCHEDULED,
                             scheduled_at=timezone.now() - timedelta(seconds=1))
    ids = services.claim_due_publications()
    assert set(ids) == {p.pk for p in good} | {bad.pk}
    outcome = services.publish_batch(ids)
    assert outcome[bad.pk] == S.BLOCKED
    assert all(outcome[p.pk] == S.PUBLISHED for p in good)
    bad.refresh_from_db()
    assert "approval_missing" in {r["code"] for r in bad.block_reasons}
    # Redelivery of the same batch changes nothing.
    assert services.publish_batch(ids) == {**{p.pk: S.PUBLISHED for p in good}, bad.pk: S.BLOCKED}


@pytest.mark.django_db
def test_batch_spills_over_the_rate_budget_to_the_next_window(counted):
    rows = due(counted, 3, "x")
    ids = services.claim_due_publications()
    outcome = services.publish_batch(ids)
    assert sorted(outcome.values()) == [S.PUBLISHED, S.PUBLISHED, S.SCHEDULED]
    waiting = Publication.objects.get(pk__in=[r.pk for r in rows], status=S.SCHEDULED)
    assert waiting.next_attempt_at > timezone.now() and waiting.attempts == 0
    assert len(CountingConnector.calls) == 2


class GroupedConnector(CountingConnector):
    """A platform that dedupes by our key (the grouped path), three requests a minute."""

    idempotent_publish = True
    fail_on_call: int | None = None
    limits = Limits(max_text=10_000, max_media=10, max_media_bytes=1 << 30,
                    media_types=frozenset({"image/jpeg"}), ratings=frozenset({"sfw", "suggestive", "explicit"}),
                    requests_per_window=3, window_seconds=60)

    def publish(self, request):
        if sum(type(self).calls.values()) + 1 == type(self).fail_on_call:
            type(self).calls[request.idempotency_key] = 1
            raise RuntimeError("the worker's time limit")
        return super().publish(request)


@pytest.fixture
def grouped(world, settings, monkeypatch) -> World:
    settings.SCHEDULING_CONNECTORS = {**settings.SCHEDULING_CONNECTORS,
                                      "fanvue": "tests.scheduling.test_batch_and_time.GroupedConnector"}
    from scheduling.connectors import _load

    _load.cache_clear()
    GroupedConnector.calls, GroupedConnector.fail_on_call = {}, None
    monkeypatch.setitem(dispatch._group_sizes, "fanvue", 25)  # the whole batch reserved in one round trip
    _clear_budget(world.fanvue.pk)
    return world


def _clear_budget(account_id: int) -> None:
    from django.core.cache import cache

    cache.clear()
    r = limits._redis()
    if r is not None:
        r.delete(*r.keys(f"atelier:rate:{account_id}:*") or ["-"])


def test_a_reservation_charges_only_what_is_sent():
    lim, account = GroupedConnector.limits, 10 ** 9  # an account id no row has
    _clear_budget(account)
    budget = limits.Reservation()
    budget.reserve({account: (2, lim)})
    assert limits.budget_used(account, lim) == 2
    assert budget.take(account)
    budget.reserve({account: (1, lim)})  # the unsent one is given back in the same round trip
    assert limits.budget_used(account, lim) == 2
    budget.reserve({account: (3, lim)})  # one sent before, one reserved unsent, three wanted: two granted
    assert limits.budget_used(account, lim) == 3
    assert budget.take(account) and budget.take(account) and not budget.take(account)
    assert 0 < budget.wait(account) <= 60
    budget.release()
    assert limits.budget_used(account, lim) == 3
    _clear_budget(account)


def test_a_reservation_that_could_not_reach_redis_does_not_wait_for_the_next_window(monkeypatch):
    lim, account = GroupedConnector.limits, 10 ** 9 + 1
    budget = limits.Reservation()
    budget.reserve({account: (1, lim)})
    assert budget.wait(account) is not None

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(limits, "_charge_many", down)
    with pytest.raises(ConnectionError):
        budget.reserve({account: (1, lim)})
    assert not budget.take(account)
    assert budget.wait(account) is None  # the row waits a few seconds, not until the window ends
    _clear_budget(account)


@pytest.mark.django_db
def test_rows_whose_budget_could_not_be_reserved_return_within_seconds(grouped, monkeypatch):
    rows = due(grouped, 2, "fanvue")

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(limits, "_charge_many", down)
    outcome = services.publish_batch(services.claim_due_publications())
    assert sorted(outcome.values()) == [S.SCHEDULED] * 2
    for pub in Publication.objects.filter(pk__in=[r.pk for r in rows]):
        assert pub.attempts == 0
        assert pub.next_attempt_at <= timezone.now() + timedelta(seconds=6)
    assert GroupedConnector.calls == {}


@pytest.mark.django_db
def test_a_grouped_batch_charges_the_budget_only_for_the_rows_it_sends(grouped):
    rows = due(grouped, 5, "fanvue")
    outcome = services.publish_batch(services.claim_due_publications())
    assert sorted(outcome.values()) == [S.PUBLISHED] * 3 + [S.SCHEDULED] * 2
    waiting = Publication.objects.filter(pk__in=[r.pk for r in rows], status=S.SCHEDULED)
    assert all(p.next_attempt_at > timezone.now() and p.attempts == 0 for p in waiting)
    assert limits.budget_used(grouped.fanvue.pk, GroupedConnector.limits) == 3
    assert sorted(GroupedConnector.calls.values()) == [1, 1, 1]


@pytest.mark.django_db
def test_an_interrupted_group_gives_back_the_budget_of_rows_it_never_sent(grouped):
    rows = due(grouped, 3, "fanvue")
    GroupedConnector.fail_on_call = 2  # the batch dies during its second call
    with pytest.raises(RuntimeError):
        services.publish_batch(services.claim_due_publications())
    statuses = sorted(Publication.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", flat=True))
    assert statuses == [S.PUBLISHED, S.SCHEDULED, S.SCHEDULED]  # the platform dedupes: the calendar retries
    # Two requests went out; the third row's reserved request was given back.
    assert limits.budget_used(grouped.fanvue.pk, GroupedConnector.limits) == 2


@pytest.mark.django_db
def test_a_grouped_batch_without_a_free_slot_goes_back_to_the_calendar_untried(grouped, monkeypatch):
    # Rows of a platform that dedupes by our key become `publishing` with the claim: when no slot is
    # free they go back as they were, with no attempt counted and nothing sent.
    rows = due(grouped, 3, "fanvue")

    @contextmanager
    def full(platform):
        yield False

    monkeypatch.setattr(dispatch, "_slot", full)
    outcome = services.publish_batch(services.claim_due_publications())
    assert sorted(outcome.values()) == [S.SCHEDULED] * 3
    for pub in Publication.objects.filter(pk__in=[r.pk for r in rows]):
        assert (pub.status, pub.attempts, pub.lease_expires_at) == (S.SCHEDULED, 0, None)
        assert pub.next_attempt_at > timezone.now()
    assert GroupedConnector.calls == {}


@pytest.mark.django_db
def test_a_grouped_batch_is_publishing_from_its_claim_and_the_reaper_returns_it(grouped, monkeypatch):
    # A worker killed right after the claim leaves the rows `publishing`: sending them again is safe
    # (the platform dedupes), so the reaper puts them straight back on the calendar, not `unknown`.
    rows = due(grouped, 2, "fanvue")

    def killed(ready, outcome, lease):
        raise SystemExit("killed")

    monkeypatch.setattr(dispatch, "_call_platforms", killed)
    with pytest.raises(SystemExit):
        services.publish_batch(services.claim_due_publications())
    held = list(Publication.objects.filter(pk__in=[r.pk for r in rows]))
    assert {(p.status, p.attempts) for p in held} == {(S.PUBLISHING, 1)}
    later = max(p.lease_expires_at for p in held) + timedelta(seconds=1)
    assert services.reap_expired_leases(now=later)["unknown"] == 0
    assert set(Publication.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", flat=True)) == {
        S.SCHEDULED}


def test_a_held_slot_is_renewed_until_it_is_released():
    name = f"renewal-test-{time_module.monotonic_ns()}"
    with slots.concurrency_slot(name, 1, lease=0.6) as held:
        assert held
        time_module.sleep(1.5)  # well past one lease: the process's renewer keeps it
        assert slots.slots_held(name) == 1
        with slots.concurrency_slot(name, 1, lease=0.6) as second:
            assert not second
    assert slots.slots_held(name) == 0


@pytest.mark.django_db
def test_platform_concurrency_cap_defers_without_calling(counted, settings):
    settings.SCHEDULING_PLATFORM_CONCURRENCY = {"x": 1}
    [row] = due(counted, 1, "x")
    ids = services.claim_due_publications()
    with limits.platform_slot("x") as free:  # another worker holds the only slot
        assert free
        assert services.publish_batch(ids) == {row.pk: S.SCHEDULED}
    row.refresh_from_db()
    assert row.attempts == 0 and row.next_attempt_at > timezone.now()
    assert CountingConnector.calls == {}


@pytest.mark.django_db
def test_dispatcher_enqueues_one_task_per_platform_chunk(world, settings, monkeypatch):
    settings.SCHEDULING_PUBLISH_CHUNK = 2
    sent: list[list[int]] = []
    from scheduling import tasks

    monkeypatch.setattr(tasks.publish_batch, "apply_async", lambda args, **kw: sent.append(list(args[0])))
    fanvue, x = due(world, 3, "fanvue"), due(world, 1, "x")
    dispatch._enqueue([(p.pk, "fanvue") for p in fanvue] + [(p.pk, "x") for p in x])
    assert sent == [[fanvue[0].pk, fanvue[1].pk], [fanvue[2].pk], [x[0].pk]]


@pytest.mark.django_db
def test_unknown_outcome_is_reconciled_by_lookup_not_by_publishing_again(counted):
    [row] = due(counted, 1, "x")
    services.claim_due_publications()
    # The platform took the post, then the worker died before recording it.
    CountingConnector.calls[str(row.idempotency_key)] = 1
    Publication.objects.filter(pk=row.pk).update(status=S.PUBLISHING,
                                                  lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.reap_expired_leases()["unknown"] == 1
    assert services.reconcile_unknown() == {"published": 1, "rescheduled": 0, "still_unknown": 0}
    row.refresh_from_db()
    assert row.status == S.PUBLISHED and row.external_url == "https://example.test/found"
    assert CountingConnector.calls == {str(row.idempotency_key): 1}


@pytest.mark.django_db
def test_unknown_not_found_waits_for_a_person(counted):
    [row] = due(counted, 1, "x")
    Publication.objects.filter(pk=row.pk).update(status=S.UNKNOWN)
    assert services.reconcile_unknown() == {"published": 0, "rescheduled": 0, "still_unknown": 1}
    assert services.reconcile_unknown() == {"published": 0, "rescheduled": 0, "still_unknown": 0}  # later
    with pytest.raises(ValidationError):
        services.resolve_unknown(row, url="https://x.test/1", retry=True)
    services.resolve_unknown(row, retry=True, actor=counted.owner)
    row.refresh_from_db()
    assert row.status == S.SCHEDULED


@pytest.mark.django_db
def test_authoritative_lookup_not_found_means_publish_again(counted, monkeypatch):
    monkeypatch.setattr(CountingConnector, "lookup_is_authoritative", True, raising=False)
    [row] = due(counted, 1, "x")
    Publication.objects.filter(pk=row.pk).update(status=S.UNKNOWN)
    assert services.reconcile_unknown() == {"published": 0, "rescheduled": 1, "still_unknown": 0}
    assert services.publish_batch(services.claim_due_publications()) == {row.pk: S.PUBLISHED}
    assert CountingConnector.calls == {str(row.idempotency_key): 1}


# --- Clock jumps -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_clock_jumps_neither_duplicate_nor_lose(counted, settings):
    settings.SCHEDULING_MISSED_AFTER_SECONDS = 3600
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        soon, later = (approved_target(counted, "x") for _ in range(2))
        services.schedule(soon, at=start + timedelta(minutes=5))
        services.schedule(later, at=start + timedelta(hours=3))
        assert services.claim_due_publications() == []
        clock.move_to(start + timedelta(minutes=6))  # forward: only what is due goes
        assert services.publish_batch(services.claim_due_publications()) == {soon.pk: S.PUBLISHED}
        clock.move_to(start - timedelta(hours=1))  # backward (NTP correction): nothing re-runs
        assert services.claim_due_publications() == []
        assert services.reap_expired_leases() == {"returned": 0, "unknown": 0}
        clock.move_to(start + timedelta(hours=6))  # far forward: too late to go out unattended
        assert services.publish_batch(services.claim_due_publications()) == {later.pk: S.MISSED}
    assert CountingConnector.calls == {str(soon.idempotency_key): 1}


@pytest.mark.django_db
def test_lease_survives_a_backward_jump_and_expires_after_a_forward_one(counted):
    [row] = due(counted, 1, "x")
    now = timezone.now()
    with time_machine.travel(now, tick=False) as clock:
        services.claim_due_publications()
        clock.move_to(now - timedelta(hours=2))
        assert services.reap_expired_leases() == {"returned": 0, "unknown": 0}
        clock.move_to(now + timedelta(hours=1))
        assert services.reap_expired_leases() == {"returned": 1, "unknown": 0}
        assert services.publish_batch(services.claim_due_publications()) == {row.pk: S.PUBLISHED}
    assert CountingConnector.calls == {str(row.idempotency_key): 1}


# --- DST in the creator's timezone -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("tz", "day", "expected_utc"), [
    ("Europe/Paris", date(2027, 10, 30), datetime(2027, 10, 30, 7, 0, tzinfo=UTC)),  # CEST, UTC+2
    ("Europe/Paris", date(2027, 10, 31), datetime(2027, 10, 31, 8, 0, tzinfo=UTC)),  # CET from 03:00
    ("America/New_York", date(2027, 11, 6), datetime(2027, 11, 6, 13, 0, tzinfo=UTC)),  # EDT
    ("America/New_York", date(2027, 11, 7), datetime(2027, 11, 7, 14, 0, tzinfo=UTC)),  # EST
])
def test_nine_oclock_local_is_the_right_utc_instant_across_dst(counted, tz, day, expected_utc):
    creator = counted.creator
    creator.timezone = tz
    creator.save(update_fields=["timezone"])
    pub = approved_target(counted, "x")
    with time_machine.travel(expected_utc - timedelta(days=1), tick=False):
        services.schedule(pub, at=services.local_datetime(tz, day, time(9, 0)))
    pub.refresh_from_db()
    assert pub.scheduled_at == expected_utc
    with time_machine.travel(expected_utc - timedelta(seconds=1), tick=False):
        assert services.claim_due_publications() == []
    with time_machine.travel(expected_utc + timedelta(seconds=1), tick=False):
        assert services.publish_batch(services.claim_due_publications()) == {pub.pk: S.PUBLISHED}
    assert pub.scheduled_at.astimezone(ZoneInfo(tz)).hour == 9


@pytest.mark.django_db
def test_queue_slots_keep_local_time_across_dst_and_skip_the_missing_hour(counted):
    creator = counted.creator
    creator.timezone = "Europe/Paris"
    creator.save(update_fields=["timezone"])
    account = counted.x
    QueueSlot.objects.create(account=account, weekday=6, time=time(2, 30))  # Sundays 02:30
    QueueSlot.objects.create(account=account, weekday=6, time=time(9, 0))
    paris = ZoneInfo("Europe/Paris")
    # 2027-03-28 is the spring-forward Sunday: 02:30 does not exist there and is skipped.
    after = datetime(2027, 3, 27, 12, 0, tzinfo=paris)
    first = services.next_free_slot(account, after=after)
    assert first == datetime(2027, 3, 28, 9, 0, tzinfo=paris)
    assert first.astimezone(UTC) == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    # Autumn: 2026-10-25 02:30 happens twice; the first (summer time) is used, once.
    autumn = services.next_free_slot(account, after=datetime(2026, 10, 24, 12, 0, tzinfo=paris))
    assert autumn == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_add_to_queue_takes_the_next_free_slot_only_once(counted):
    counted.creator.timezone = "Europe/Paris"
    counted.creator.save(update_fields=["timezone"])
    account = counted.x
    QueueSlot.objects.create(account=account, weekday=0, time=time(10, 0))
    a, b = approved_target(counted, "x"), approved_target(counted, "x")
    with time_machine.travel(datetime(2026, 11, 23, 6, 0, tzinfo=UTC), tick=False):  # a Monday
        first = services.add_to_queue(a).publication.scheduled_at
        second = services.add_to_queue(b).publication.scheduled_at
    assert first == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Paris (CET)
    assert second == first + timedelta(weeks=1)


class TextConnector(NoopConnector):
    texts: list[str] = []

    def publish(self, request):
        type(self).texts.append(request.text)
        return PublishResult(external_id=f"t-{request.idempotency_key}")


@pytest.mark.django_db
def test_an_edit_reaches_every_unpublished_copy_and_a_deleted_post_never_goes_out(world, settings):
    settings.SCHEDULING_CONNECTORS = {**settings.SCHEDULING_CONNECTORS,
                                      "x": "tests.scheduling.test_batch_and_time.TextConnector"}
    from scheduling.connectors import _load

    _load.cache_clear()
    TextConnector.texts = []
    pub = approved_target(world, "x")
    services.schedule(pub, at=timezone.now() + timedelta(minutes=5))
    services.update_post(world.post, caption="Fixed typo, new set tonight", actor=world.bob)
    # The edit needs approval again; once approved and rescheduled, the live row is what goes out.
    services.approve_post(world.post, actor=world.alice)
    assert services.schedule(pub, at=timezone.now() + timedelta(minutes=5)).verdict.passed
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert services.publish_batch(services.claim_due_publications()) == {pub.pk: S.PUBLISHED}
    assert TextConnector.texts == ["Fixed typo, new set tonight"]
    # A post deleted before its time: its publications go with it, nothing is claimed.
    doomed = Post.objects.create(creator=world.creator, caption="Never mind")
    PostAsset.objects.create(post=doomed, asset=world.asset)
    gone = PublicationFactory(post=doomed, account=world.x, status=S.APPROVED)
    approve_as_is(doomed)
    services.schedule(gone, at=timezone.now() + timedelta(minutes=5))
    services.delete_post(doomed, actor=world.alice)
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert services.claim_due_publications() == []
    assert TextConnector.texts == ["Fixed typo, new set tonight"]
    with pytest.raises(ValidationError):
        services.delete_post(world.post, actor=world.alice)  # one copy is out: refused
