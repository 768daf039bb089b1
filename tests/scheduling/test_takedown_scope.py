"""A takedown request blocks exactly what it names — one photo, one publication and the rest of its post,
or a performer's whole likeness — refuses every way back onto the calendar while it is open, and lifts
exactly its own blocks when it is rejected or closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import ApiKey, AuditEvent, Creator
from compliance import services as compliance
from compliance.models import TakedownRequest, TakedownTarget
from content.models import Asset
from core import times
from notifications.models import Notification
from notifications.services import recipients_for
from scheduling import services
from scheduling.models import PlatformAccount, Post, PostAsset, Publication
from tests.factories import UserFactory
from tests.scheduling.factories import PublicationFactory, approve_as_is, approved_post
from tests.scheduling.fixtures import World

S = Publication.Status
REQUEST = {"requester_name": "R. Person", "requester_contact": "r@mail.test", "signature": "/R. Person/",
           "content_description": "One photo of me", "content_locations": "On the creator's pages",
           "non_consent_statement": "I did not consent to this photo."}


def new_asset(creator, sha: str, performer=None) -> Asset:
    asset = Asset.objects.create(creator=creator, file=f"assets/{sha}.jpg", kind="image", mime="image/jpeg",
                                 sha256=sha * 64, size_bytes=10, rating="explicit", status=Asset.Status.APPROVED,
                                 production_date=date(2026, 1, 5), title=f"photo {sha}")
    if performer is not None:
        asset.performers.add(performer)
    return asset


def new_post(creator, asset: Asset, caption: str = "Another set") -> Post:
    return approved_post(creator, asset, caption=caption)


def scheduled(post: Post, account: PlatformAccount, hours: int) -> Publication:
    pub = PublicationFactory(post=post, account=account, status=S.APPROVED)
    approve_as_is(post)
    outcome = services.schedule(pub, at=timezone.now() + timedelta(hours=hours))
    assert outcome.verdict.passed, outcome.verdict.reasons
    return Publication.objects.get(pk=pub.pk)


@dataclass(frozen=True)
class Calendar(World):
    other_asset: Asset
    other_post: Post
    on_fanvue: Publication
    on_x: Publication
    other: Publication


@pytest.fixture
def cal(world, settings) -> Calendar:
    """Creator A's calendar: the named photo's post on Fanvue and X, and another post with another photo
    of the same performer (which a request about one photo must leave alone)."""
    settings.SCHEDULING_CONNECTORS = {"fanvue": "scheduling.connectors.noop.NoopConnector",
                                      "x": "scheduling.connectors.noop.NoopConnector"}
    from scheduling.connectors import _load

    _load.cache_clear()
    a = world.creator
    world.alice.email = "alice@agency.test"
    world.alice.save(update_fields=["email"])
    other_asset = new_asset(a, "c", world.performer)
    other_post = new_post(a, other_asset)
    return world.extended(Calendar, other_asset=other_asset, other_post=other_post,
                          on_fanvue=scheduled(world.post, world.fanvue, 5), on_x=scheduled(world.post, world.x, 6),
                          other=scheduled(other_post, world.fanvue, 7))


def open_request(capture, *, creator, actor=None, **named) -> TakedownRequest:
    with capture(execute=True):
        return compliance.open_takedown(creator=creator, actor=actor, **{**REQUEST, **named})


def close(capture, takedown: TakedownRequest, status: str, actor=None) -> None:
    with capture(execute=True):
        compliance.log_takedown_action(takedown, description="Not a valid request.", status=status, actor=actor)


def status_of(pub: Publication) -> str:
    return Publication.objects.values_list("status", flat=True).get(pk=pub.pk)


@pytest.mark.django_db
def test_a_request_naming_one_asset_blocks_exactly_its_publications_until_rejected(
        cal, django_capture_on_commit_callbacks):
    due = {pub.pk: pub.scheduled_at for pub in (cal.on_fanvue, cal.on_x)}
    Creator.objects.filter(pk=cal.creator.pk).update(timezone="America/New_York")
    cal.creator.refresh_from_db()
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator, actor=cal.owner,
                            asset_ids=[cal.asset.pk])
    # Exactly the named photo's publications, on every account; the performer's other post stays.
    assert status_of(cal.on_fanvue) == status_of(cal.on_x) == S.BLOCKED
    assert status_of(cal.other) == S.SCHEDULED
    reasons = Publication.objects.get(pk=cal.on_x.pk).block_reasons
    assert [(r["code"], r["takedown_id"], r["was"]) for r in reasons] == [("takedown_open", takedown.pk, S.SCHEDULED)]
    # While it is open, no way back onto the calendar.
    for pub in (cal.on_fanvue, cal.on_x):
        outcome = services.reschedule(pub, at=timezone.now() + timedelta(days=2))
        assert "takedown_open" in outcome.verdict.codes
        assert f"#{takedown.pk}" in next(r.message for r in outcome.verdict.reasons if r.code == "takedown_open")
        assert status_of(pub) == S.BLOCKED
    # The creator's managers and the owner are told, once, with what it concerns.
    notice = Notification.objects.get(kind="takedown.opened")
    assert notice.creator_id == cal.creator.pk and notice.level == "error"
    assert f"asset #{cal.asset.pk}" in notice.body and "2 publications blocked" in notice.body
    # The deadline reads on the creator's clock, named, not in UTC.
    due_here = times.plain(takedown.due_at, cal.creator.timezone)
    assert f"Deadline {due_here}." in notice.body and f"due {due_here} —" in notice.title
    assert " UTC" not in notice.title and (" EST" in notice.title or " EDT" in notice.title)
    assert recipients_for(notice) == ["alice@agency.test", "owner@example.test"]
    # Rejected: both go back to scheduled at their times, audited; the notice is resolved.
    close(django_capture_on_commit_callbacks, takedown, TakedownRequest.Status.REJECTED, actor=cal.owner)
    for row in (cal.on_fanvue, cal.on_x):
        pub = Publication.objects.get(pk=row.pk)
        assert pub.status == S.SCHEDULED and pub.scheduled_at == due[pub.pk] and pub.block_reasons == []
        event = AuditEvent.objects.get(action="publication.unblocked", object_id=str(pub.pk))
        assert event.changes["takedowns"] == [takedown.pk] and event.changes["to"] == S.SCHEDULED
        assert event.actor == cal.owner
    assert Notification.objects.get(kind="takedown.opened").resolved_at is not None


@pytest.mark.django_db
def test_the_service_refuses_to_schedule_a_blocked_row_while_the_request_is_open(
        cal, django_capture_on_commit_callbacks):
    open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    for move in (services.schedule, services.reschedule):
        outcome = move(cal.on_fanvue, at=timezone.now() + timedelta(days=3))
        assert "takedown_open" in outcome.verdict.codes
    assert status_of(cal.on_fanvue) == S.BLOCKED
    assert AuditEvent.objects.filter(action="publication.schedule_refused",
                                     object_id=str(cal.on_fanvue.pk)).count() == 2


@pytest.mark.django_db
def test_the_admin_reschedule_action_cannot_move_a_blocked_row(client, cal, django_capture_on_commit_callbacks):
    open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    client.force_login(cal.alice)
    day = (timezone.now() + timedelta(days=4)).date()
    response = client.post(reverse("admin:scheduling_publication_changelist"), {
        "action": "reschedule_selected", "apply": "1", "_selected_action": [cal.on_x.pk],
        "day": day.isoformat(), "at": "20:00"}, follow=True)
    assert response.status_code == 200
    assert "takedown_open" in response.content.decode()
    assert status_of(cal.on_x) == S.BLOCKED


@pytest.mark.django_db
def test_the_api_cannot_reschedule_a_blocked_row(client, cal, django_capture_on_commit_callbacks):
    open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    client.force_login(cal.alice)
    at = (timezone.now() + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:00Z")
    for verb in ("reschedule", "schedule"):
        response = client.post(f"/api/v1/publications/{cal.on_fanvue.pk}/{verb}/", {"at": at},
                               content_type="application/json")
        assert response.status_code == 422, response.content
        assert "takedown_open" in response.content.decode()
    assert status_of(cal.on_fanvue) == S.BLOCKED


@pytest.mark.django_db
def test_the_named_asset_cannot_be_scheduled_anew(cal, django_capture_on_commit_callbacks):
    open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    post = services.create_post(creator_id=cal.creator.pk, caption="A repost", asset_ids=[cal.asset.pk],
                                targets=[(cal.x, "")])
    services.submit_post(post)
    verdicts = services.approve_post(post, actor=cal.owner)
    assert all("takedown_open" in v.codes for v in verdicts.values())
    pub = post.publications.get()
    outcome = services.schedule(pub, at=timezone.now() + timedelta(hours=9))
    assert "takedown_open" in outcome.verdict.codes and status_of(pub) != S.SCHEDULED
    # A post without the named photo is untouched.
    fine = services.create_post(creator_id=cal.creator.pk, caption="Other photo", asset_ids=[cal.other_asset.pk],
                                targets=[(cal.x, "")])
    services.submit_post(fine)
    services.approve_post(fine, actor=cal.owner)
    assert services.schedule(fine.publications.get(), at=timezone.now() + timedelta(hours=9)).verdict.passed


@pytest.mark.django_db
def test_a_url_named_request_takes_down_the_post_and_blocks_it_on_every_other_account(
        cal, django_capture_on_commit_callbacks, eager_celery):
    out = Publication.objects.get(pk=cal.on_fanvue.pk)
    Publication.objects.filter(pk=out.pk).update(status=S.PUBLISHED, external_id="fv-1",
                                                 external_url="https://fanvue.test/luna/posts/1",
                                                 published_at=timezone.now())
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator,
                            urls=["https://fanvue.test/luna/posts/1/"])
    assert set(takedown.targets.values_list("kind", "object_id")) == {("url", None), ("publication", out.pk)}
    assert status_of(out) == S.REMOVED  # through the connector
    assert status_of(cal.on_x) == S.BLOCKED  # the same post, still scheduled on X
    assert status_of(cal.other) == S.SCHEDULED
    assert "takedown_open" in services.reschedule(cal.on_x, at=timezone.now() + timedelta(days=1)).verdict.codes


@pytest.mark.django_db
def test_a_url_in_where_it_is_names_the_publication_too(cal, django_capture_on_commit_callbacks):
    Publication.objects.filter(pk=cal.on_fanvue.pk).update(external_url="https://fanvue.test/luna/posts/2")
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator,
                            content_locations="https://fanvue.test/luna/posts/2\nsomewhere else")
    assert takedown.targets.filter(kind=TakedownTarget.Kind.PUBLICATION, object_id=cal.on_fanvue.pk).exists()


@pytest.mark.django_db
def test_closing_one_request_keeps_the_block_of_another_open_one(cal, django_capture_on_commit_callbacks):
    first = open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    second = open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    reasons = Publication.objects.get(pk=cal.on_x.pk).block_reasons
    assert [r["takedown_id"] for r in reasons] == [first.pk, second.pk]
    close(django_capture_on_commit_callbacks, first, TakedownRequest.Status.CLOSED)
    pub = Publication.objects.get(pk=cal.on_x.pk)
    assert pub.status == S.BLOCKED and [r["takedown_id"] for r in pub.block_reasons] == [second.pk]
    assert AuditEvent.objects.filter(action="publication.block_narrowed", object_id=str(pub.pk)).exists()
    assert "takedown_open" in services.reschedule(pub, at=timezone.now() + timedelta(days=1)).verdict.codes
    close(django_capture_on_commit_callbacks, second, TakedownRequest.Status.REMOVED)
    assert status_of(cal.on_x) == S.SCHEDULED


@pytest.mark.django_db
def test_a_row_also_blocked_by_a_revocation_stays_blocked_for_it(cal, django_capture_on_commit_callbacks):
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(cal.consent, reason="Withdrawn", actor=cal.owner)
    assert status_of(cal.other) == S.BLOCKED  # the revocation blocks the performer's other post
    close(django_capture_on_commit_callbacks, takedown, TakedownRequest.Status.REJECTED)
    pub = Publication.objects.get(pk=cal.on_x.pk)
    assert pub.status == S.BLOCKED
    assert "consent_revoked" in {r["code"] for r in pub.block_reasons}
    assert "takedown_open" not in {r["code"] for r in pub.block_reasons}
    assert {r["was"] for r in pub.block_reasons} == {S.SCHEDULED}
    event = AuditEvent.objects.get(action="publication.block_narrowed", object_id=str(pub.pk))
    assert event.changes["takedowns"] == [takedown.pk] and "consent_revoked" in event.changes["still"]
    assert status_of(cal.other) == S.BLOCKED  # never the request's to lift


@pytest.mark.django_db
def test_a_row_whose_time_passed_while_blocked_waits_for_a_new_time(cal, django_capture_on_commit_callbacks):
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    Publication.objects.filter(pk=cal.on_x.pk).update(scheduled_at=timezone.now() - timedelta(minutes=5))
    close(django_capture_on_commit_callbacks, takedown, TakedownRequest.Status.REJECTED)
    assert status_of(cal.on_x) == S.APPROVED
    assert status_of(cal.on_fanvue) == S.SCHEDULED


@pytest.mark.django_db
def test_a_request_about_a_whole_likeness_blocks_every_depiction(cal, django_capture_on_commit_callbacks):
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator, performers=[cal.performer])
    assert {status_of(pub) for pub in (cal.on_fanvue, cal.on_x, cal.other)} == {S.BLOCKED}
    close(django_capture_on_commit_callbacks, takedown, TakedownRequest.Status.REJECTED)
    assert {status_of(pub) for pub in (cal.on_fanvue, cal.on_x, cal.other)} == {S.SCHEDULED}


@pytest.mark.django_db
def test_the_signal_twice_blocks_once(cal, django_capture_on_commit_callbacks):
    from compliance import signals

    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    with django_capture_on_commit_callbacks(execute=True):
        signals.takedown_opened.send(sender=None, performer_ids=[], takedown_id=takedown.pk, due_at=takedown.due_at,
                                     creator_id=cal.creator.pk)
    assert len(Publication.objects.get(pk=cal.on_x.pk).block_reasons) == 1
    assert Notification.objects.filter(kind="takedown.opened").count() == 1


# --- tenancy: nobody names another creator's things -------------------------------------------------------


@pytest.mark.django_db
def test_the_service_refuses_assets_and_publications_of_another_creator(cal):
    b = cal.creator_b
    for named in ({"asset_ids": [cal.asset.pk]}, {"publication_ids": [cal.on_x.pk]}):
        with pytest.raises(ValidationError) as refused:
            compliance.open_takedown(creator=b, **REQUEST, **named)
        assert "not among this creator's" in str(refused.value)
    for bad in (["12abc"], [2**64], [0]):
        with pytest.raises(ValidationError):
            compliance.open_takedown(creator=cal.creator, asset_ids=bad, **REQUEST)
    with pytest.raises(ValidationError):
        compliance.open_takedown(creator=cal.creator, urls=["ftp://files.test/x"], **REQUEST)
    assert not TakedownRequest.objects.exists()
    assert status_of(cal.on_x) == S.SCHEDULED


@pytest.mark.django_db
def test_a_url_only_resolves_to_the_requests_own_creator(cal, django_capture_on_commit_callbacks):
    Publication.objects.filter(pk=cal.on_fanvue.pk).update(external_url="https://fanvue.test/luna/posts/9")
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator_b,
                            urls=["https://fanvue.test/luna/posts/9"])
    assert list(takedown.targets.values_list("kind", flat=True)) == ["url"]
    assert status_of(cal.on_x) == S.SCHEDULED


@pytest.mark.django_db
def test_the_api_refuses_a_key_of_creator_b_naming_an_asset_of_a(client, cal):
    raw = accounts_services.issue_api_key(owner=cal.owner, name="intake-b", creators=[cal.creator_b],
                                          scope=ApiKey.Scope.WRITE).raw
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    body = {**REQUEST, "creator": cal.creator_b.pk, "assets": [cal.asset.pk]}
    response = client.post("/api/v1/compliance/takedowns/", body, content_type="application/json", **auth)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" or error["details"], error
    assert "asset" in str(error).lower()
    for bad in ({"assets": ["x"]}, {"publications": [-1]}, {"urls": ["javascript:alert(1)"]}, {"assets": "7"},
                {"assets": [2**64]}, {"publications": [10**30]}, {"urls": ["https://" + "a" * 600 + ".test/"]}):
        response = client.post("/api/v1/compliance/takedowns/", {**body, **bad}, content_type="application/json",
                               **auth)
        assert response.status_code == 400, (bad, response.content)
    assert not TakedownRequest.objects.exists()


@pytest.mark.django_db
def test_the_api_files_a_request_naming_an_asset(client, cal, django_capture_on_commit_callbacks):
    raw = accounts_services.issue_api_key(owner=cal.owner, name="intake-a", creators=[cal.creator],
                                          scope=ApiKey.Scope.WRITE).raw
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/compliance/takedowns/",
                               {**REQUEST, "creator": cal.creator.pk, "assets": [cal.asset.pk]},
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["assets"] == [cal.asset.pk] and data["performers"] == [] and data["publications"] == []
    assert status_of(cal.on_x) == S.BLOCKED and status_of(cal.other) == S.SCHEDULED


@pytest.mark.django_db
def test_the_admin_form_names_assets_and_refuses_foreign_ones(client, cal, django_capture_on_commit_callbacks):
    officer_b = accounts_services.add_membership
    olga = UserFactory(username="olga", is_staff=True)
    officer_b(user=olga, creator=cal.creator_b, role="compliance")
    client.force_login(olga)
    url = reverse("admin:compliance_takedownrequest_add")
    form = {"kind": "take_it_down", "creator": cal.creator_b.pk, "received_at_0": timezone.now().strftime("%Y-%m-%d"),
            "received_at_1": timezone.now().strftime("%H:%M:%S"), "asset_ids": str(cal.asset.pk),
            **{k: v for k, v in REQUEST.items()}}
    response = client.post(url, form)
    assert response.status_code == 200
    assert "not among this creator&#x27;s" in response.content.decode()
    assert not TakedownRequest.objects.exists()

    oscar = UserFactory(username="oscar", is_staff=True)
    officer_b(user=oscar, creator=cal.creator, role="compliance")
    client.force_login(oscar)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**form, "creator": cal.creator.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    takedown = TakedownRequest.objects.get()
    assert list(takedown.targets.values_list("kind", "object_id")) == [("asset", cal.asset.pk)]
    assert status_of(cal.on_fanvue) == S.BLOCKED and status_of(cal.other) == S.SCHEDULED
    change = client.get(reverse("admin:compliance_takedownrequest_change", args=[takedown.pk])).content.decode()
    assert f"Asset: #{cal.asset.pk}" in change


@pytest.mark.django_db
def test_the_board_lists_what_each_request_concerns(client, cal, django_capture_on_commit_callbacks):
    open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk],
                 performers=[cal.performer])
    client.force_login(cal.owner)
    page = client.get(reverse("admin:compliance_board")).content.decode()
    assert "Jeanne Exemple (whole likeness)" in page
    assert f"Asset: #{cal.asset.pk}" in page


@pytest.mark.django_db
def test_swapping_the_named_asset_out_does_not_release_a_blocked_row(cal, django_capture_on_commit_callbacks):
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    PostAsset.objects.filter(post=cal.post).update(asset=new_asset(cal.creator, "d", cal.performer))
    approve_as_is(cal.post)
    outcome = services.schedule(cal.on_x, at=timezone.now() + timedelta(days=1))
    assert outcome.verdict.codes == {"takedown_open"} and f"#{takedown.pk}" in outcome.verdict.reasons[0].message
    assert status_of(cal.on_x) == S.BLOCKED
    close(django_capture_on_commit_callbacks, takedown, TakedownRequest.Status.REJECTED)
    assert status_of(cal.on_x) == S.SCHEDULED


@pytest.mark.django_db
def test_a_row_sent_back_for_approval_keeps_approval_stale_through_a_takedown(
        cal, django_capture_on_commit_callbacks):
    services.update_post(cal.post, caption="New set tonight, edited")
    assert status_of(cal.on_x) == S.PENDING_APPROVAL
    takedown = open_request(django_capture_on_commit_callbacks, creator=cal.creator, asset_ids=[cal.asset.pk])
    pub = Publication.objects.get(pk=cal.on_x.pk)
    assert pub.status == S.BLOCKED and [r["code"] for r in pub.block_reasons] == ["approval_stale", "takedown_open"]
    close(django_capture_on_commit_callbacks, takedown, TakedownRequest.Status.REJECTED)
    pub = Publication.objects.get(pk=cal.on_x.pk)
    assert pub.status == S.PENDING_APPROVAL and [r["code"] for r in pub.block_reasons] == ["approval_stale"]
