"""Each event that holds or fails a post reaches the creator's managers, the owners and the person who
scheduled it — one notice per condition, with links to the posts, an email each, once — and nobody
outside the creator's team; each person reads their own copy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.admin import site
from django.core import mail
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts import tenancy
from accounts.models import Creator, User
from compliance import services as compliance
from compliance.models import ConsentRecord
from config.dashboard import _domain_counts
from content import studio
from content.models import Asset, GenerationJob
from core.dashboard import DASHBOARD_COUNTS
from notifications import services as notices
from notifications.models import Notification, NotificationReceipt
from scheduling import services
from scheduling.models import PlatformAccount, Post, Publication
from tests.compliance.factories import PerformerFactory
from tests.factories import UserFactory
from tests.scheduling.connectors import FlakyConnector
from tests.scheduling.fixtures import World, approved_target

S = Publication.Status
REQUEST = {"requester_name": "R. Person", "requester_contact": "r@mail.test", "signature": "/R. Person/",
           "content_description": "Photos of me", "content_locations": "On the creator's pages",
           "non_consent_statement": "I did not consent to these photos."}


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ATELIER_BASE_URL = "https://atelier.example.test"


@dataclass(frozen=True)
class Told(World):
    dora: User
    cora: User


@pytest.fixture
def told(world) -> Told:
    """world, plus dora (editor of A) who scheduled A's posts, and Cora (compliance officer of A)."""
    dora = UserFactory(username="dora", email="dora@agency.test")
    cora = UserFactory(username="cora", first_name="Cora", email="cora@agency.test")
    accounts_services.add_membership(user=dora, creator=world.creator, role="editor")
    accounts_services.add_membership(user=cora, creator=world.creator, role="compliance")
    return world.extended(Told, dora=dora, cora=cora)


def scheduled_by(world, user, account: str = "fanvue", hours: int = 5) -> Publication:
    pub = approved_target(world, account)
    outcome = services.schedule(pub, at=timezone.now() + timedelta(hours=hours), actor=user)
    assert outcome.verdict.passed, outcome.verdict.reasons
    return Publication.objects.get(pk=pub.pk)


def people_told(note: Notification) -> set[str]:
    return set(note.receipts.values_list("user__username", flat=True))


def mailed_to(note: Notification) -> list[str]:
    return sorted(addr for m in mail.outbox if note.title in m.subject for addr in m.to)


@pytest.mark.django_db
def test_a_revoked_consent_tells_the_team_and_the_scheduler_once_with_the_held_posts(
        told, client, eager_celery, django_capture_on_commit_callbacks):
    pubs = [scheduled_by(told, told.dora, "fanvue", 5), scheduled_by(told, told.dora, "x", 6)]
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(told.consent, reason="Withdrawn by email", actor=told.cora)
    note = Notification.objects.get(kind="consent.revoked")
    performer = told.performer
    revoked_at = ConsentRecord.objects.get(pk=told.consent.pk).revoked_at
    day = f"{timezone.localtime(revoked_at).day} {timezone.localtime(revoked_at):%b}"
    assert note.title == (f"Blocked: consent of performer #{performer.pk} revoked on {day} by Cora"
                          " — 2 scheduled posts held")
    assert performer.legal_name not in note.title + note.body  # names stay in compliance
    assert note.creator_id == told.creator.pk and note.level == "error"
    ids = sorted(p.pk for p in pubs)
    assert note.link == f"/admin/scheduling/publication/?id__in={ids[0]},{ids[1]}"
    assert note.payload["publication_ids"] == ids
    # Managers, owners and the person who scheduled; not bob (editor who did not), not charlie (B).
    assert people_told(note) == {"alice", "owner", "dora"}
    assert mailed_to(note) == ["alice@example.test", "dora@agency.test", "owner@example.test"]
    # A redelivered task emails nobody again; a second revocation changes and tells nothing.
    notices.fan_out(note.pk)
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(told.consent, reason="Again", actor=told.cora)
    assert Notification.objects.filter(kind="consent.revoked").count() == 1
    assert len(mailed_to(note)) == 3
    # The link shows the manager exactly the held posts.
    client.force_login(told.alice)
    page = client.get(note.link).content.decode()
    assert all(f"/admin/scheduling/publication/{pk}/change/" in page for pk in ids)


@pytest.mark.django_db
def test_an_expired_consent_tells_the_same_people(told, eager_celery, django_capture_on_commit_callbacks):
    pub = scheduled_by(told, told.dora)
    with connection.cursor() as cursor:  # a consent is never edited through the app; here it simply ran out
        cursor.execute("UPDATE compliance_consentrecord SET valid_until = %s WHERE id = %s",
                       [timezone.now() - timedelta(minutes=1), told.consent.pk])
    with django_capture_on_commit_callbacks(execute=True):
        compliance.expire_consents()
    assert Publication.objects.get(pk=pub.pk).status == S.BLOCKED
    note = Notification.objects.get(kind="consent.expired")
    assert note.title.startswith(f"Blocked: consent of performer #{told.performer.pk} expired on ")
    assert note.title.endswith("— 1 scheduled post held")
    assert note.link == f"/admin/scheduling/publication/{pub.pk}/change/"
    assert people_told(note) == {"alice", "owner", "dora"}


@pytest.mark.django_db
def test_a_takedown_tells_the_scheduler_and_links_the_held_posts(told, eager_celery,
                                                                 django_capture_on_commit_callbacks):
    pub = scheduled_by(told, told.dora)
    with django_capture_on_commit_callbacks(execute=True):
        takedown = compliance.open_takedown(creator=told.creator, actor=told.cora, asset_ids=[told.asset.pk],
                                            **REQUEST)
    note = Notification.objects.get(kind="takedown.opened")
    assert note.title.startswith(f"Blocked: takedown request #{takedown.pk} opened")
    assert note.title.endswith("— 1 scheduled post held")
    assert note.link == f"/admin/scheduling/publication/{pub.pk}/change/"
    assert {"label": f"Takedown request #{takedown.pk}",
            "url": f"/admin/compliance/takedownrequest/{takedown.pk}/change/"} in note.payload["links"]
    assert people_told(note) == {"alice", "owner", "dora"}
    assert len(mailed_to(note)) == 3


@pytest.mark.django_db
def test_refusals_at_publish_time_make_one_notice_that_grows(told, eager_celery,
                                                             django_capture_on_commit_callbacks):
    pubs = []
    for account in ("fanvue", "x"):
        pub = approved_target(told, account)
        services.schedule(pub, at=timezone.now() - timedelta(seconds=1), actor=told.dora)
        pubs.append(pub)
    services.claim_due_publications()
    # The consent lapses between scheduling and publishing, without any signal having run.
    ConsentRecord.objects.filter(pk=told.consent.pk).update(revoked_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.publish_publication(pubs[0].pk) == S.BLOCKED
    assert notices.mark_all_read(told.alice) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.publish_publication(pubs[1].pk) == S.BLOCKED
    assert notices.unread_count(told.alice) == 1  # the notice grew: back on her bell, not a second one
    note = Notification.objects.get(kind="publication.blocked")
    assert note.title.startswith("Blocked at publish time: ") and note.title.endswith("— 2 due posts held")
    assert note.payload["publication_ids"] == sorted(p.pk for p in pubs)
    assert people_told(note) == {"alice", "owner", "dora"}
    assert sorted(m.to[0] for m in mail.outbox if "publish time" in m.subject) == [
        "alice@example.test", "dora@agency.test", "owner@example.test"]  # once each, not per row


@pytest.mark.django_db
def test_failed_and_unknown_publications_tell_the_scheduler(told, eager_celery, django_capture_on_commit_callbacks):
    failing = scheduled_by(told, told.dora, "fanvue", 1)
    unknown = scheduled_by(told, told.dora, "x", 1)
    Publication.objects.filter(pk__in=[failing.pk, unknown.pk]).update(scheduled_at=timezone.now())
    services.claim_due_publications(now=timezone.now() + timedelta(seconds=1))
    PlatformAccount.objects.filter(pk=told.fanvue.pk).update(state=PlatformAccount.State.DISABLED)
    FlakyConnector.mode = "unknown"
    with django_capture_on_commit_callbacks(execute=True):
        services.publish_publication(failing.pk)
        services.publish_publication(unknown.pk)
    for kind, pub in (("publication.failed", failing), ("publication.unknown", unknown)):
        note = Notification.objects.get(kind=kind)
        assert note.link == f"/admin/scheduling/publication/{pub.pk}/change/"
        assert people_told(note) == {"alice", "owner", "dora"}


@pytest.mark.django_db
def test_an_account_needing_reauth_tells_whoever_has_posts_waiting_on_it(told, django_capture_on_commit_callbacks):
    scheduled_by(told, told.dora, "x")
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_needs_reauth(told.x, "The platform refused the token.")
        services.mark_needs_reauth(told.x, "Again.")
    note = Notification.objects.get(kind="account.needs_reauth")
    assert people_told(note) == {"alice", "owner", "dora"}


@pytest.mark.django_db
def test_a_failed_generation_job_tells_who_queued_it(told, eager_celery, django_capture_on_commit_callbacks):
    job = GenerationJob.objects.create(creator=told.creator, prompt="a portrait", created_by=told.dora,
                                       status=GenerationJob.Status.RUNNING,
                                       started_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert studio.reap_jobs()["failed"] == 1
        studio.reap_jobs()
    note = Notification.objects.get(kind="generation.failed")
    assert note.link == f"/admin/content/generationjob/{job.pk}/change/"
    assert "a portrait" not in note.title + note.body  # the prompt is not emailed
    assert people_told(note) == {"alice", "owner", "dora"}
    assert mailed_to(note) == ["alice@example.test", "dora@agency.test", "owner@example.test"]


@pytest.mark.django_db
def test_a_scheduler_outside_the_creators_team_is_not_told(told, django_capture_on_commit_callbacks):
    """charlie manages B only: even named as the post's author, A's notice never reaches him."""
    Post.objects.filter(pk=told.post.pk).update(created_by=told.charlie)
    scheduled_by(told, told.charlie)
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(told.consent, reason="Withdrawn", actor=told.cora)
    note = Notification.objects.get(kind="consent.revoked")
    assert people_told(note) == {"alice", "owner"}
    assert notices.unread_count(told.charlie) == 0


@pytest.mark.django_db
def test_each_person_reads_their_own_copy(told, client):
    a = notices.notify("publication.failed", creator_id=told.creator.pk, title="One", recipients=[told.dora.pk])
    b = notices.notify("publication.failed", creator_id=told.creator.pk, title="Two")
    assert notices.unread_count(told.alice) == 2 and notices.unread_count(told.dora) == 1
    dora_copy = a.receipts.get(user=told.dora)
    assert notices.mark_read(told.alice, [dora_copy.pk]) == 0  # not alice's copy
    assert notices.mark_read(told.dora, [dora_copy.pk]) == 1
    assert notices.unread_count(told.alice) == 2 and notices.unread_count(told.dora) == 0
    assert notices.mark_all_read(told.alice) == 2
    assert notices.unread_count(told.alice) == 0 and notices.unread_count(told.owner) == 2
    # Through the admin: the bell on the home page, the page of one's own notices, open → read.
    NotificationReceipt.objects.filter(user=told.alice).update(read_at=None)
    client.force_login(told.alice)
    home = client.get(reverse("admin:index")).content.decode()
    assert 'data-testid="notification-count"' in home and ">2</span>" in home
    inbox = client.get(reverse("admin:notifications_inbox")).content.decode()
    assert "One" in inbox and "Two" in inbox
    mine = b.receipts.get(user=told.alice)
    response = client.get(reverse("admin:notifications_inbox_open", args=[mine.pk]))
    assert response.status_code == 302
    assert NotificationReceipt.objects.get(pk=mine.pk).read_at is not None
    # Someone else's copy is not found, and a link out of the site is not followed.
    other = a.receipts.get(user=told.owner)
    assert client.get(reverse("admin:notifications_inbox_open", args=[other.pk])).status_code == 404
    assert NotificationReceipt.objects.get(pk=other.pk).read_at is None
    response = client.get(reverse("admin:notifications_inbox_open", args=[mine.pk]), {"to": "https://evil.test/"})
    assert not response["Location"].startswith("https://evil.test")
    client.post(reverse("admin:notifications_inbox_read"), {"all": "1"})
    assert notices.unread_count(told.alice) == 0
    # bob (editor) has no notification permission, yet has his own page.
    client.force_login(told.bob)
    assert client.get(reverse("admin:notifications_inbox")).status_code == 200


# --- Dashboard counters -------------------------------------------------------------------------------


def _changelist_count(counter, user, creator_id: int) -> int | None:
    """What the viewer's changelist of the counter's model shows for this creator's counted rows, or
    None when the viewer may not open that changelist."""
    request = RequestFactory().get("/")
    request.user = user
    model_admin = site._registry[counter.model]
    if not model_admin.has_view_permission(request):
        return None
    visible = model_admin.get_queryset(request)
    rows = counter.rows([creator_id]).filter(**{counter.field: creator_id})
    if rows.model is counter.model:
        return rows.filter(pk__in=visible.values("pk")).count()
    link = next(f.name for f in rows.model._meta.fields if f.related_model is counter.model)
    return rows.filter(**{f"{link}__in": visible.values("pk")}).count()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "bob", "chloe", "oscar_a", "ana", "charlie", "owner"])
def test_every_dashboard_counter_counts_what_the_viewer_changelist_shows(team, world, who):
    a, b = team["a"], team["b"]
    # Rows of every counted kind for A and for B.
    PerformerFactory(creators=[b])
    PerformerFactory(creators=[a, b])
    for creator, sha in ((a, "d"), (b, "e"), (b, "f")):
        Asset.objects.create(creator=creator, file=f"assets/{sha}.jpg", kind="image", mime="image/jpeg",
                             sha256=sha * 64, size_bytes=10, status=Asset.Status.IN_REVIEW)
    notices.notify("publication.failed", creator_id=a.pk, title="A failed")
    notices.notify("publication.failed", creator_id=b.pk, title="B failed")
    notices.notify("publication.failed", creator_id=b.pk, title="B failed again")
    user = team[who]
    counts = _domain_counts([a.pk, b.pk], user)
    assert DASHBOARD_COUNTS
    rows_shown = tenancy.restrict(Creator.objects.filter(pk__in=[a.pk, b.pk]), user)  # the home page's rows
    for label, counter in DASHBOARD_COUNTS:
        for creator in rows_shown:
            expected = _changelist_count(counter, user, creator.pk)
            if expected is None:
                assert label not in counts, f"{who} cannot open {label}'s list, yet sees its column"
                continue
            assert counts[label].get(creator.pk, 0) == expected, (who, label, creator.stage_name)
    if who == "alice":  # manager of A: B's rows count for nothing
        assert counts["Open notifications"].get(b.pk, 0) == 0 and counts["Open notifications"][a.pk] == 1
    if who == "ana":  # analyst: no compliance or notification rights, so neither column
        assert "Performers" not in counts and "Open notifications" not in counts
