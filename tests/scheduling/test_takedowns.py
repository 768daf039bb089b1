"""Revocations and takedown requests take published posts down: through the platform's API where
it can delete, else as a staff task with the legal deadline — once, however often the signal fires."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from compliance import services as compliance
from compliance import signals
from compliance.models import TakedownAction
from notifications.models import Notification
from scheduling import takedowns
from scheduling.models import PlatformAccount, Publication, TakedownTask
from scheduling.tasks import unpublish
from tests.scheduling.connectors import DeletingConnector
from tests.scheduling.factories import PublicationFactory

S = Publication.Status


def revoke(out, capture):
    with capture(execute=True):
        compliance.revoke_consent(out.consent, reason="Withdrawn by the performer", actor=out.owner)


@pytest.mark.django_db
def test_revocation_removes_through_the_api_where_it_can(out, django_capture_on_commit_callbacks):
    before = timezone.now()
    revoke(out, django_capture_on_commit_callbacks)
    pub = Publication.objects.get(pk=out.on_fanvue.pk)
    assert pub.status == S.REMOVED and pub.removed_at >= before
    assert DeletingConnector.calls == ["ext-1"]
    assert AuditEvent.objects.filter(action="publication.removed", object_id=str(pub.pk)).exists()
    assert not TakedownTask.objects.filter(publication=pub).exists()


@pytest.mark.django_db
def test_revocation_hands_undeletable_posts_to_a_person(out, django_capture_on_commit_callbacks):
    revoke(out, django_capture_on_commit_callbacks)
    for row in (out.on_insta, out.on_manual):
        pub = Publication.objects.get(pk=row.pk)
        assert pub.status == S.PUBLISHED  # still out until a person confirms
        task = TakedownTask.objects.get(publication=pub, status="open")
        assert timedelta(hours=47, minutes=59) < task.due_at - timezone.now() <= timedelta(hours=48)
        assert task.takedown_request is None and "revoked their consent" in task.reason
    notices = Notification.objects.filter(kind="takedown.manual")
    assert notices.count() == 2 and {n.creator_id for n in notices} == {out.creator.pk}
    assert all(n.level == "error" and "/admin/scheduling/takedowntask/" in n.link for n in notices)


@pytest.mark.django_db
def test_idempotent_when_the_signal_fires_twice(out, django_capture_on_commit_callbacks):
    revoke(out, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        signals.consent_revoked.send(sender=None, performer_ids=[out.performer.pk], consent_id=out.consent.pk,
                                     revoked_at=timezone.now())
    assert DeletingConnector.calls == ["ext-1"]
    assert TakedownTask.objects.count() == 2
    assert Notification.objects.filter(kind="takedown.manual").count() == 2
    assert AuditEvent.objects.filter(action="publication.removed").count() == 1


@pytest.mark.django_db
def test_takedown_request_sets_the_deadline_and_is_logged(out, django_capture_on_commit_callbacks):
    received = timezone.now() - timedelta(hours=10)
    with django_capture_on_commit_callbacks(execute=True):
        request = compliance.open_takedown(
            creator=out.creator, performers=[out.performer], received_at=received, requester_name="R. Person",
            requester_contact="r@mail.test", signature="R. Person", content_description="The new set",
            content_locations="https://example.test/p/2", non_consent_statement="I did not consent.",
            actor=out.owner)
    assert Publication.objects.get(pk=out.on_fanvue.pk).status == S.REMOVED
    task = TakedownTask.objects.get(publication=out.on_insta)
    assert task.due_at == request.due_at == received + timedelta(hours=48)
    assert task.takedown_request_id == request.pk
    log = list(TakedownAction.objects.filter(request=request).values_list("description", flat=True))
    assert any(f"#{out.on_fanvue.pk}" in d and "through the platform's API" in d for d in log)
    assert any(f"#{out.on_insta.pk}" in d and "staff task" in d for d in log)


@pytest.mark.django_db
def test_a_later_takedown_tightens_the_open_task(out, django_capture_on_commit_callbacks):
    revoke(out, django_capture_on_commit_callbacks)
    task = TakedownTask.objects.get(publication=out.on_insta)
    request = compliance.open_takedown(
        creator=out.creator, received_at=timezone.now() - timedelta(hours=40), requester_name="R", signature="R",
        requester_contact="r@mail.test", content_description="x", content_locations="https://example.test/p/2",
        non_consent_statement="Not consensual.")
    with django_capture_on_commit_callbacks(execute=True):
        signals.takedown_opened.send(sender=None, performer_ids=[], takedown_id=request.pk, due_at=request.due_at,
                                     creator_id=out.creator.pk)
    task.refresh_from_db()
    assert task.due_at == request.due_at and task.takedown_request_id == request.pk
    assert TakedownTask.objects.filter(publication=out.on_insta).count() == 1


@pytest.mark.django_db
def test_transient_errors_retry_then_fall_back_to_a_person(out):
    x = PublicationFactory(post=out.post, account=out.x, status=S.PUBLISHED, external_id="tw-1")
    with pytest.raises(takedowns.TryLater) as caught:
        takedowns.remove_publication(x.pk, reason_code="takedown_open")
    assert caught.value.retry_after == 5
    assert not TakedownTask.objects.filter(publication=x).exists()
    assert takedowns.backoff_seconds(0, 5) >= 24 and takedowns.backoff_seconds(10) <= 1800 * 1.2
    result = unpublish.apply(args=(x.pk, "takedown_open"), retries=takedowns.MAX_REMOVAL_RETRIES)
    assert result.get() == "manual"
    task = TakedownTask.objects.get(publication=x)
    assert "kept failing" in task.reason
    assert takedowns.remove_publication(x.pk, reason_code="consent_revoked") == "covered"  # consent still valid


@pytest.mark.django_db
def test_exported_bundles_are_blocked_and_checked_by_a_person(out, django_capture_on_commit_callbacks):
    manual = PlatformAccount.objects.get(platform="manual")
    waiting = PublicationFactory(post=out.post, account=manual, status=S.EXPORTED,
                                 export_file="exports/2026/11/b.zip")
    revoke(out, django_capture_on_commit_callbacks)
    waiting.refresh_from_db()
    assert waiting.status == S.BLOCKED
    assert "uploaded by hand" in TakedownTask.objects.get(publication=waiting).reason


@pytest.mark.django_db
def test_takedown_task_admin_is_tenant_scoped_and_marks_done(client, out, django_capture_on_commit_callbacks):
    revoke(out, django_capture_on_commit_callbacks)
    task = TakedownTask.objects.get(publication=out.on_insta)
    TakedownTask.objects.filter(pk=task.pk).update(due_at=timezone.now() - timedelta(minutes=5))
    url = reverse("admin:scheduling_takedowntask_changelist")
    client.force_login(out.charlie)
    assert "luna_ig" not in client.get(url).content.decode()
    assert client.get(reverse("admin:scheduling_takedowntask_change", args=[task.pk])).status_code == 404
    client.force_login(out.alice)
    overdue = client.get(url, {"deadline": "overdue"}).content.decode()
    assert "luna_ig" in overdue and "luna_of" not in overdue
    confirm = client.post(url, {"action": "mark_done", "_selected_action": [task.pk]})
    assert confirm.status_code == 200 and "note" in confirm.content.decode()  # asks what was done
    client.post(url, {"action": "mark_done", "_selected_action": [task.pk], "apply": "1",
                      "note": "Deleted in the Instagram app; checked logged out."})
    task.refresh_from_db()
    assert task.status == "done" and task.done_by == out.alice and task.done_at is not None
    pub = Publication.objects.get(pk=out.on_insta.pk)
    assert pub.status == S.REMOVED and pub.removed_at is not None
    assert AuditEvent.objects.filter(action="takedown_task.done", actor=out.alice).exists()
    notice = Notification.objects.get(kind="takedown.manual", dedupe_key=f"takedown.manual:{pub.pk}")
    assert notice.resolved_at is not None


@pytest.mark.django_db
def test_a_post_still_covered_by_another_consent_stays_up(out, django_capture_on_commit_callbacks):
    compliance.record_consent(performer=out.performer, platforms=["fanvue"], max_rating="explicit",
                              uses=["publication"], signed_at=timezone.now() - timedelta(days=1))
    revoke(out, django_capture_on_commit_callbacks)
    assert Publication.objects.get(pk=out.on_fanvue.pk).status == S.PUBLISHED
    assert DeletingConnector.calls == []
    assert AuditEvent.objects.filter(action="publication.removal_skipped").count() == 1
    assert TakedownTask.objects.filter(publication=out.on_insta).exists()  # no consent covers Instagram
