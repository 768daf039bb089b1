"""The daily consent job, run under a frozen clock: each warning and each expiry goes out once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from accounts.models import AuditEvent
from compliance import services, signals, tasks
from compliance.models import ConsentNotice, ConsentRecord, Performer

SIGNED = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
ENDS = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def expired_calls():
    calls: list[dict] = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    signals.consent_expired.connect(receiver, weak=False)
    yield calls
    signals.consent_expired.disconnect(receiver)


def make_consent(creator, name: str = "Jeanne Exemple", valid_until: datetime | None = ENDS) -> ConsentRecord:
    performer = services.create_performer(legal_name=name, date_of_birth=date(1996, 4, 12), creators=[creator])
    return services.record_consent(performer=performer, platforms=["fanvue"], max_rating="explicit",
                                   uses=["publication"], signed_at=SIGNED, valid_until=valid_until)


def run_twice(capture) -> list[dict[str, int]]:
    """Run the task as beat would, twice in a row; commit hooks run as after a real commit."""
    results = []
    for _ in range(2):
        with capture(execute=True):
            results.append(tasks.expire_consents())
    return results


def notices(record: ConsentRecord) -> list[str]:
    return sorted(ConsentNotice.objects.filter(consent=record).values_list("kind", flat=True))


@pytest.mark.django_db
def test_warnings_at_30_7_and_1_days_go_out_once_each(people, expired_calls, django_capture_on_commit_callbacks):
    record = make_consent(people["a"])

    with time_machine.travel(ENDS - timedelta(days=45), tick=False):
        assert run_twice(django_capture_on_commit_callbacks) == [{"expired": 0, "warnings": 0}] * 2
    assert notices(record) == []

    expected: list[str] = []
    for days in (30, 7, 1):
        with time_machine.travel(ENDS - timedelta(days=days) + timedelta(hours=1), tick=False):
            first, second = run_twice(django_capture_on_commit_callbacks)
        expected.append(f"warn_{days}")
        assert (first, second) == ({"expired": 0, "warnings": 1}, {"expired": 0, "warnings": 0}), days
        assert notices(record) == sorted(expected)

    warnings = AuditEvent.objects.filter(action="consent.expiry_warning", object_id=str(record.pk))
    assert sorted(e.changes["days"] for e in warnings) == [1, 7, 30]
    assert expired_calls == []


@pytest.mark.django_db
def test_a_lapsed_consent_signals_expiry_once(people, expired_calls, django_capture_on_commit_callbacks):
    record = make_consent(people["a"])
    with time_machine.travel(ENDS + timedelta(hours=1), tick=False):
        first, second = run_twice(django_capture_on_commit_callbacks)
    assert first["expired"] == 1 and second["expired"] == 0
    assert expired_calls == [{"signal": signals.consent_expired, "performer_ids": [record.performer_id],
                              "consent_ids": [record.pk]}]
    assert AuditEvent.objects.filter(action="consent.expired", object_id=str(record.pk)).count() == 1

    with time_machine.travel(ENDS + timedelta(days=3), tick=False):
        run_twice(django_capture_on_commit_callbacks)
    assert len(expired_calls) == 1


@pytest.mark.django_db
def test_each_lapsed_consent_signals_its_own_performer(people, expired_calls, django_capture_on_commit_callbacks):
    first = make_consent(people["a"])
    second = make_consent(people["b"], name="Bea Other", valid_until=ENDS - timedelta(days=2))
    make_consent(people["a"], name="Still Valid", valid_until=ENDS + timedelta(days=400))
    make_consent(people["a"], name="No End", valid_until=None)
    with time_machine.travel(ENDS + timedelta(minutes=5), tick=False):
        run_twice(django_capture_on_commit_callbacks)
    assert sorted((c["performer_ids"], c["consent_ids"]) for c in expired_calls) == sorted([
        ([first.performer_id], [first.pk]), ([second.performer_id], [second.pk])])


@pytest.mark.django_db
def test_revoked_consents_are_ignored(people, expired_calls, django_capture_on_commit_callbacks):
    record = make_consent(people["a"])
    with time_machine.travel(ENDS - timedelta(days=60), tick=False):
        services.revoke_consent(record, reason="Withdrawn")
    for moment in (ENDS - timedelta(days=29), ENDS - timedelta(hours=12), ENDS + timedelta(days=1)):
        with time_machine.travel(moment, tick=False):
            run_twice(django_capture_on_commit_callbacks)
    assert notices(record) == []
    assert expired_calls == []


@pytest.mark.django_db
def test_the_celery_task_is_registered_and_runs_in_process(people, expired_calls,
                                                           django_capture_on_commit_callbacks):
    from config.celery import app

    record = make_consent(people["a"])
    registered = app.tasks["compliance.tasks.expire_consents"]
    assert registered.name == tasks.expire_consents.name
    assert registered.acks_late
    with time_machine.travel(ENDS + timedelta(hours=1), tick=False), django_capture_on_commit_callbacks(execute=True):
        result = tasks.expire_consents.apply().get()
    assert result == {"expired": 1, "warnings": 0}
    assert [c["performer_ids"] for c in expired_calls] == [[record.performer_id]]
    assert Performer.objects.count() == 1
