"""The scheduling API as the owner, alice (manager of A), bob (editor of A), charlie (B) and API keys:
compose → submit → approve → schedule in the creator's time → reschedule → cancel, the gate's
reasons on refusal, validation, and the tenant boundary on every resource."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from compliance.models import ConsentRecord
from content.models import Asset
from scheduling import services
from scheduling.models import Post, Publication, QueueSlot
from tests.api import auth, patch_json, post_json
from tests.scheduling import factories
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db

S = Publication.Status
JPEG = b"\xff\xd8\xff" + b"0" * 64
POSTS = "/api/v1/posts/"
PUBS = "/api/v1/publications/"
ACCOUNTS = "/api/v1/platform-accounts/"
SLOTS = "/api/v1/queue-slots/"
CALENDAR = "/api/v1/calendar/"
NEXT_YEAR = timezone.now().year + 1


def approved_post(api_world) -> Post:
    return factories.approved_post(api_world.creator, api_world.asset)


def approved_publication(api_world, account="fanvue") -> Publication:
    return factories.approved_publication(approved_post(api_world), api_world.account(account))


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


# --- The whole flow ------------------------------------------------------------------------------


def test_compose_submit_approve_schedule_in_paris_time_reschedule_cancel(client, api_world):
    bob = auth(client, api_world.callers, "bob")
    created = post_json(client, POSTS, {
        "creator": api_world.creator.pk, "caption": "New set tonight", "asset_ids": [api_world.asset.pk],
        "price_minor": 999, "currency": "eur",
        "targets": [{"account_id": api_world.fanvue.pk},
                    {"account_id": api_world.x.pk, "caption_override": "Teaser"}],
    }, bob)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["asset_ids"] == [api_world.asset.pk] and body["currency"] == "EUR" and body["price_minor"] == 999
    assert [(p["account_id"], p["status"], p["caption_override"]) for p in body["publications"]] == [
        (api_world.fanvue.pk, "draft", ""), (api_world.x.pk, "draft", "Teaser")]
    post = Post.objects.get(pk=body["id"])
    assert post.created_by == api_world.bob

    submitted = post_json(client, f"{POSTS}{post.pk}/submit/", headers=bob)
    assert submitted.status_code == 200 and submitted.json()["submitted"] == 2

    alice = auth(client, api_world.callers, "alice")
    approved = post_json(client, f"{POSTS}{post.pk}/approve/", headers=alice)
    assert approved.status_code == 200, approved.content
    verdicts = approved.json()
    assert verdicts["all_passed"] is True, verdicts
    assert {v["platform"]: v["passed"] for v in verdicts["verdicts"]} == {"fanvue": True, "x": True}
    fanvue_pub = Publication.objects.get(post=post, account=api_world.fanvue)
    assert fanvue_pub.status == S.APPROVED

    # A naive time is the creator's wall clock: 20:00 in Paris in winter is 19:00 UTC.
    scheduled = post_json(client, f"{PUBS}{fanvue_pub.pk}/schedule/", {"at": f"{NEXT_YEAR}-12-24T20:00"}, alice)
    assert scheduled.status_code == 200, scheduled.content
    answer = scheduled.json()
    assert answer["status"] == "scheduled"
    assert answer["scheduled_at"] == f"{NEXT_YEAR}-12-24T19:00:00Z"
    assert answer["scheduled_at_local"] == f"{NEXT_YEAR}-12-24T20:00:00+01:00"
    assert answer["timezone"] == "Europe/Paris"
    fanvue_pub.refresh_from_db()
    assert fanvue_pub.scheduled_at == datetime(NEXT_YEAR, 12, 24, 19, 0, tzinfo=UTC)

    calendar = client.get(CALENDAR, {"start": f"{NEXT_YEAR}-12-01", "end": f"{NEXT_YEAR + 1}-01-01"}, **alice)
    assert calendar.status_code == 200, calendar.content
    assert calendar.json()["results"] == [{"id": fanvue_pub.pk, "post_id": post.pk,
                                           "account_id": api_world.fanvue.pk,
                                           "platform": "fanvue", "status": "scheduled",
                                           "scheduled_at": f"{NEXT_YEAR}-12-24T19:00:00Z",
                                           "scheduled_at_local": f"{NEXT_YEAR}-12-24T20:00:00+01:00",
                                           "timezone": "Europe/Paris", "title": "New set tonight",
                                           "account_warning": None}]

    # Summer time: 20:00 in Paris is 18:00 UTC; an explicit offset is taken as that instant.
    moved = post_json(client, f"{PUBS}{fanvue_pub.pk}/reschedule/", {"at": f"{NEXT_YEAR}-07-01T20:00"}, alice)
    assert moved.status_code == 200, moved.content
    assert moved.json()["scheduled_at"] == f"{NEXT_YEAR}-07-01T18:00:00Z"
    moved = post_json(client, f"{PUBS}{fanvue_pub.pk}/reschedule/", {"at": f"{NEXT_YEAR}-07-02T09:30:00Z"}, alice)
    assert moved.json()["scheduled_at_local"] == f"{NEXT_YEAR}-07-02T11:30:00+02:00"
    fanvue_pub.refresh_from_db()
    assert fanvue_pub.scheduled_at == datetime(NEXT_YEAR, 7, 2, 9, 30, tzinfo=UTC)

    cancelled = post_json(client, f"{PUBS}{fanvue_pub.pk}/cancel/", headers=alice)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert post_json(client, f"{PUBS}{fanvue_pub.pk}/cancel/", headers=alice).status_code == 200
    # A cancelled row cannot be scheduled: a state conflict, not a gate refusal.
    assert error(post_json(client, f"{PUBS}{fanvue_pub.pk}/schedule/", {"at": f"{NEXT_YEAR}-07-03T10:00"},
                           alice), 409)["code"] == "conflict"


def test_a_local_time_skipped_by_dst_is_refused(client, api_world):
    pub = approved_publication(api_world)
    headers = auth(client, api_world.callers, "alice")
    # Paris jumps from 02:00 to 03:00 on the last Sunday of March.
    last_sunday = max(date(NEXT_YEAR, 3, d) for d in range(25, 32) if date(NEXT_YEAR, 3, d).weekday() == 6)
    response = post_json(client, f"{PUBS}{pub.pk}/schedule/", {"at": f"{last_sunday}T02:30"}, headers)
    assert "does not exist in Europe/Paris" in str(error(response, 400)["details"]["at"])
    response = post_json(client, f"{PUBS}{pub.pk}/schedule/", {"at": "tomorrow at 8"}, headers)
    assert "at" in error(response, 400)["details"]


def test_four_eyes_refusal_is_a_conflict_with_its_reason(client, api_world):
    api_world.creator.four_eyes_review = True
    api_world.creator.save()
    headers = auth(client, api_world.callers, "alice")
    created = post_json(client, POSTS, {"creator": api_world.creator.pk, "asset_ids": [api_world.asset.pk]}, headers)
    refused = error(post_json(client, f"{POSTS}{created.json()['id']}/approve/", headers=headers), 409)
    assert refused["code"] == "approval_refused" and refused["details"][0]["message"] == refused["message"]


# --- The gate's reasons --------------------------------------------------------------------------


def test_schedule_refused_with_reasons_when_asset_not_approved(client, api_world):
    pub = approved_publication(api_world)
    Asset.objects.filter(pk=api_world.asset.pk).update(status=Asset.Status.IN_REVIEW)
    refused = error(post_json(client, f"{PUBS}{pub.pk}/schedule/", {"at": f"{NEXT_YEAR}-01-10T12:00"},
                              auth(client, api_world.callers, "alice")), 422)
    assert refused["code"] == "gate_refused"
    assert "approval_missing" in {r["code"] for r in refused["details"]}
    assert all(r["message"] for r in refused["details"])
    pub.refresh_from_db()
    assert pub.status == S.APPROVED and pub.scheduled_at is None


def test_schedule_refused_when_consent_revoked_and_check_shows_it_without_changing_anything(client, api_world):
    pub = approved_publication(api_world)
    ConsentRecord.objects.filter(pk=api_world.consent.pk).update(revoked_at=timezone.now())
    headers = auth(client, api_world.callers, "alice")
    refused = error(post_json(client, f"{PUBS}{pub.pk}/schedule/", {"at": f"{NEXT_YEAR}-01-10T12:00"}, headers),
                    422)
    assert "consent_revoked" in {r["code"] for r in refused["details"]}
    checked = client.get(f"{POSTS}{pub.post_id}/check/", **headers)
    assert checked.status_code == 200
    [verdict] = checked.json()["verdicts"]
    assert verdict["publication_id"] == pub.pk and verdict["passed"] is False
    assert "consent_revoked" in {r["code"] for r in verdict["reasons"]}
    pub.refresh_from_db()
    assert pub.status == S.APPROVED


def test_approve_returns_the_failing_verdicts(client, api_world):
    instagram = PlatformAccountFactory(creator=api_world.creator, platform="instagram", handle="luna_ig")
    created = post_json(client, POSTS, {"creator": api_world.creator.pk, "asset_ids": [api_world.asset.pk],
                                        "targets": [{"account_id": instagram.pk}]},
                        auth(client, api_world.callers, "bob")).json()
    answer = post_json(client, f"{POSTS}{created['id']}/approve/",
                       headers=auth(client, api_world.callers, "alice")).json()
    assert answer["all_passed"] is False
    assert answer["verdicts"][0]["platform"] == "instagram" and answer["verdicts"][0]["reasons"]


# --- Validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "field"), [
    ({"price_minor": 500}, "currency"),
    ({"currency": "EUR"}, "price_minor"),
    ({"price_minor": 500, "currency": "EURO"}, "currency"),
    ({"price_minor": 500, "currency": "€$1"}, "currency"),
    ({"price_minor": -1, "currency": "EUR"}, "price_minor"),
    ({"asset_ids": ["asset_b"]}, "asset_ids"),
    ({"asset_ids": [999999]}, "asset_ids"),
    ({"targets": [{"account_id": "fanvue_b"}]}, "targets"),
    ({"targets": [{"account_id": "fanvue"}, {"account_id": "fanvue"}]}, "targets"),
    ({"creator": "creator_b"}, "creator"),
])
def test_post_validation(client, api_world, payload, field):
    def resolve(value):  # a string names a row of the API world
        return getattr(api_world, value).pk if isinstance(value, str) else value

    data = {"creator": api_world.creator.pk, "caption": "x", **payload}
    data["creator"] = resolve(data["creator"])
    data["asset_ids"] = [resolve(v) for v in data.get("asset_ids", [])]
    data["targets"] = [{"account_id": resolve(t["account_id"])} for t in data.get("targets", [])]
    response = post_json(client, POSTS, data, auth(client, api_world.callers, "alice"))
    assert field in error(response, 400)["details"], response.json()
    assert Post.objects.filter(creator=api_world.creator).count() == 0


def test_calendar_range_is_bounded(client, api_world):
    headers = auth(client, api_world.callers, "alice")
    too_long = client.get(CALENDAR, {"start": "2027-01-01", "end": "2027-03-05"}, **headers)
    assert "end" in error(too_long, 400)["details"]
    backwards = client.get(CALENDAR, {"start": "2027-02-01", "end": "2027-01-01"}, **headers)
    assert "end" in error(backwards, 400)["details"]
    assert set(error(client.get(CALENDAR, **headers), 400)["details"]) == {"start", "end"}
    assert client.get(CALENDAR, {"start": "2027-01-01", "end": "2027-03-04"}, **headers).status_code == 200


def test_calendar_pages_by_due_time(client, api_world):
    # A busy agency's week is thousands of rows: the calendar is a cursor list like the others,
    # by due time, and `next` walks the rest of the range.
    due = datetime(NEXT_YEAR, 3, 1, 12, tzinfo=UTC)
    pubs = [approved_publication(api_world, account) for account in ("fanvue", "x") for _ in range(3)]
    for i, pub in enumerate(pubs):
        Publication.objects.filter(pk=pub.pk).update(status=S.SCHEDULED, scheduled_at=due + timedelta(hours=i % 3))
    headers = auth(client, api_world.callers, "alice")
    params = {"start": f"{NEXT_YEAR}-03-01", "end": f"{NEXT_YEAR}-03-02", "page_size": 4}
    first = client.get(CALENDAR, params, **headers).json()
    rest = client.get(first["next"], **headers).json()
    seen = [(item["scheduled_at"], item["id"]) for item in first["results"] + rest["results"]]
    assert seen == sorted(seen) and len(seen) == 6 and rest["next"] is None


# --- Posts: edit and delete ----------------------------------------------------------------------


def test_edit_through_the_service_sends_an_approved_post_back_for_approval(client, api_world):
    pub = approved_publication(api_world)
    services.schedule(pub, at=datetime(NEXT_YEAR, 2, 1, 12, tzinfo=UTC))
    second = Asset.objects.create(creator=api_world.creator, file="assets/y.jpg", kind="image", mime="image/jpeg",
                                  sha256="c" * 64, size_bytes=10, status=Asset.Status.APPROVED)
    headers = auth(client, api_world.callers, "alice")
    url = f"{POSTS}{pub.post_id}/"
    response = patch_json(client, url, {"caption": "Edited", "price_minor": 300, "currency": "usd"}, headers)
    assert response.status_code == 200, response.content
    assert (response.json()["caption"], response.json()["price_minor"], response.json()["currency"]) == (
        "Edited", 300, "USD")
    assert response.json()["approved_at"] is None and response.json()["version"] == 2
    pub.refresh_from_db()
    assert pub.status == S.PENDING_APPROVAL and [r["code"] for r in pub.block_reasons] == ["approval_stale"]
    response = patch_json(client, url, {"asset_ids": [second.pk, api_world.asset.pk]}, headers)
    assert response.json()["asset_ids"] == [second.pk, api_world.asset.pk]
    # Removing the price removes its currency; a currency alone is refused.
    assert patch_json(client, url, {"price_minor": None}, headers).json()["currency"] == ""
    assert "price_minor" in error(patch_json(client, url, {"currency": "EUR"}, headers), 400)["details"]
    assert "asset_ids" in error(patch_json(client, url, {"asset_ids": [api_world.asset_b.pk]}, headers),
                                400)["details"]


def test_delete_refused_once_published(client, api_world):
    pub = approved_publication(api_world)
    headers = auth(client, api_world.callers, "alice")
    Publication.objects.filter(pk=pub.pk).update(status=S.PUBLISHED, external_url="https://fanvue.test/p/1")
    refused = error(client.delete(f"{POSTS}{pub.post_id}/", **headers), 409)
    assert "published" in refused["message"]
    Publication.objects.filter(pk=pub.pk).update(status=S.CANCELLED)
    assert client.delete(f"{POSTS}{pub.post_id}/", **headers).status_code == 204
    assert not Post.objects.filter(pk=pub.post_id).exists()


# --- Publications --------------------------------------------------------------------------------


def test_publication_detail_list_order_and_filters(client, api_world):
    late = approved_publication(api_world)
    early = approved_publication(api_world, "x")
    draft = factories.approved_publication(late.post, api_world.x, status=S.DRAFT)
    services.schedule(late, at=datetime(NEXT_YEAR, 3, 1, 12, tzinfo=UTC))
    services.schedule(early, at=datetime(NEXT_YEAR, 2, 1, 12, tzinfo=UTC))
    Publication.objects.filter(pk=early.pk).update(attempts=2, last_error="503 from platform",
                                                   block_reasons=[{"code": "c", "message": "m", "performer_id": None,
                                                                   "hard": False, "field": None}])
    headers = auth(client, api_world.callers, "alice")
    # Newest first, by id: an order an index serves at any depth (due-time order is the calendar's).
    page = client.get(PUBS, {"page_size": 2}, **headers).json()
    assert [p["id"] for p in page["results"]] == [draft.pk, early.pk]
    assert [p["id"] for p in client.get(page["next"], **headers).json()["results"]] == [late.pk]
    detail = client.get(f"{PUBS}{early.pk}/", **headers).json()
    assert detail["attempts"] == 2 and detail["last_error"] == "503 from platform"
    assert detail["block_reasons"][0]["code"] == "c" and "external_url" in detail
    assert "idempotency_key" not in detail

    def ids(**params):
        return {p["id"] for p in client.get(PUBS, params, **headers).json()["results"]}

    assert ids(platform="x") == {early.pk, draft.pk}
    assert ids(status="scheduled") == {early.pk, late.pk}
    assert ids(account=api_world.fanvue.pk) == {late.pk}
    assert ids(creator=api_world.creator_b.pk) == set()
    assert ids(scheduled_at_after=f"{NEXT_YEAR}-02-15T00:00:00Z") == {late.pk}
    assert ids(scheduled_at_before=f"{NEXT_YEAR}-02-15T00:00:00Z") == {early.pk}


def test_caption_override_only_while_editable(client, api_world):
    pub = approved_publication(api_world)
    headers = auth(client, api_world.callers, "alice")
    response = patch_json(client, f"{PUBS}{pub.pk}/", {"caption_override": "Just for Fanvue", "status": "published"},
                          headers)
    assert response.status_code == 200, response.content
    # The per-account caption is part of what was approved: the publication goes back for approval.
    assert response.json()["caption_override"] == "Just for Fanvue" and response.json()["status"] == "pending_approval"
    assert response.json()["block_reasons"][0]["code"] == "approval_stale"
    Publication.objects.filter(pk=pub.pk).update(status=S.PUBLISHING)
    refused = error(patch_json(client, f"{PUBS}{pub.pk}/", {"caption_override": "Late"}, headers), 409)
    assert "being published right now" in refused["message"]
    Publication.objects.filter(pk=pub.pk).update(status=S.PUBLISHED)
    refused = error(patch_json(client, f"{PUBS}{pub.pk}/", {"caption_override": "Late"}, headers), 409)
    assert "no longer change" in refused["message"]
    pub.refresh_from_db()
    assert pub.caption_override == "Just for Fanvue"


def test_add_to_queue_uses_the_next_free_slot(client, api_world):
    pub = approved_publication(api_world)
    headers = auth(client, api_world.callers, "alice")
    assert error(post_json(client, f"{PUBS}{pub.pk}/add-to-queue/", headers=headers), 409)["message"]
    created = post_json(client, SLOTS, {"account_id": api_world.fanvue.pk, "weekday": 0, "time": "09:00"}, headers)
    assert created.status_code == 201, created.content
    again = post_json(client, SLOTS, {"account_id": api_world.fanvue.pk, "weekday": 0, "time": "09:00"}, headers)
    assert "time" in error(again, 400)["details"]
    queued = post_json(client, f"{PUBS}{pub.pk}/add-to-queue/", headers=headers)
    assert queued.status_code == 200, queued.content
    local = datetime.fromisoformat(queued.json()["scheduled_at_local"])
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    assert queued.json()["status"] == "scheduled"


# --- Platform accounts and queue slots -----------------------------------------------------------


def test_platform_accounts_never_show_credentials(client, api_world):
    services.store_credentials(api_world.fanvue, {"access_token": "tok-SECRET", "refresh_token": "ref-SECRET"},
                               expires_at=timezone.now() + timedelta(hours=1), scopes="read write")
    headers = auth(client, api_world.callers, "alice")
    listing = client.get(ACCOUNTS, **headers)
    detail = client.get(f"{ACCOUNTS}{api_world.fanvue.pk}/", **headers)
    for response in (listing, detail):
        assert response.status_code == 200
        assert b"SECRET" not in response.content and b"credentials" not in response.content
    body = detail.json()
    assert body["scopes"] == "read write" and body["token_expires_at"] and body["state"] == "connected"


def test_platform_account_create_and_update_rules(client, api_world):
    headers = auth(client, api_world.callers, "alice")
    created = post_json(client, ACCOUNTS, {"creator": api_world.creator.pk, "platform": "reddit", "handle": "luna_r",
                                           "options": {"subreddit": "example"}, "max_rating": "suggestive"}, headers)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "not_connected" and body["max_rating"] == "suggestive"
    url = f"{ACCOUNTS}{body['id']}/"
    instagram = post_json(client, ACCOUNTS, {"creator": api_world.creator.pk, "platform": "instagram", "handle": "ig",
                                             "max_rating": "explicit"}, headers)
    assert "max_rating" in error(instagram, 400)["details"]
    duplicate = post_json(client, ACCOUNTS, {"creator": api_world.creator.pk, "platform": "reddit", "handle": "luna_r"},
                          headers)
    assert "handle" in error(duplicate, 400)["details"]
    foreign = post_json(client, ACCOUNTS, {"creator": api_world.creator_b.pk, "platform": "x", "handle": "y"}, headers)
    assert "creator" in error(foreign, 400)["details"]
    assert "state" in error(patch_json(client, url, {"state": "connected"}, headers), 400)["details"]
    assert "platform" in error(patch_json(client, url, {"platform": "x"}, headers), 400)["details"]
    updated = patch_json(client, url, {"state": "disabled", "handle": "luna_reddit"}, headers)
    assert updated.status_code == 200, updated.content
    assert (updated.json()["state"], updated.json()["handle"]) == ("disabled", "luna_reddit")
    assert client.delete(url, **headers).status_code == 405
    # A disabled account takes no new posts.
    refused = post_json(client, POSTS, {"creator": api_world.creator.pk, "targets": [{"account_id": body["id"]}]},
                        headers)
    assert "targets" in error(refused, 400)["details"]


def test_queue_slots_stay_within_reach(client, api_world):
    slot_b = QueueSlot.objects.create(account=api_world.fanvue_b, weekday=1, time="10:00")
    headers = auth(client, api_world.callers, "alice")
    assert client.get(SLOTS, **headers).json()["results"] == []
    assert client.get(f"{SLOTS}{slot_b.pk}/", **headers).status_code == 404
    foreign = post_json(client, SLOTS, {"account_id": api_world.fanvue_b.pk, "weekday": 1, "time": "11:00"}, headers)
    assert "account_id" in error(foreign, 400)["details"]
    mine = post_json(client, SLOTS, {"account_id": api_world.x.pk, "weekday": 2, "time": "18:30"}, headers).json()
    moved = patch_json(client, f"{SLOTS}{mine['id']}/", {"time": "19:00"}, headers)
    assert moved.json()["time"] == "19:00:00"
    assert client.delete(f"{SLOTS}{mine['id']}/", **headers).status_code == 204


# --- Tenancy and keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "key_a", "key_ro"])
def test_creator_b_is_invisible_from_a(client, api_world, who):
    headers = auth(client, api_world.callers, who)
    for url in (f"{POSTS}{api_world.post_b.pk}/", f"{PUBS}{api_world.pub_b.pk}/",
                f"{ACCOUNTS}{api_world.fanvue_b.pk}/", f"{POSTS}{api_world.post_b.pk}/check/"):
        assert error(client.get(url, **headers), 404)["code"] == "not_found"
    approved_publication(api_world)

    def ids(url, **params):
        return {item["id"] for item in client.get(url, params, **headers).json()["results"]}

    assert api_world.post_b.pk not in ids(POSTS) and ids(POSTS, creator=api_world.creator_b.pk) == set()
    assert api_world.pub_b.pk not in ids(PUBS) and ids(PUBS, account=api_world.fanvue_b.pk) == set()
    assert ids(ACCOUNTS) == {api_world.fanvue.pk, api_world.x.pk}
    Publication.objects.filter(pk=api_world.pub_b.pk).update(scheduled_at=datetime(NEXT_YEAR, 1, 5, tzinfo=UTC))
    calendar = client.get(CALENDAR, {"start": f"{NEXT_YEAR}-01-01", "end": f"{NEXT_YEAR}-02-01"}, **headers)
    assert calendar.json()["results"] == []


def test_charlie_cannot_act_on_a(client, api_world):
    pub = approved_publication(api_world)
    headers = auth(client, api_world.callers, "charlie")
    assert client.get(f"{PUBS}{pub.pk}/", **headers).status_code == 404
    for suffix in ("schedule/", "cancel/", "add-to-queue/"):
        assert post_json(client, f"{PUBS}{pub.pk}/{suffix}", {"at": f"{NEXT_YEAR}-01-10T12:00"},
                         headers).status_code == 404
    for suffix in ("submit/", "approve/"):
        assert post_json(client, f"{POSTS}{pub.post_id}/{suffix}", headers=headers).status_code == 404
    assert client.delete(f"{POSTS}{pub.post_id}/", **headers).status_code == 404
    assert patch_json(client, f"{POSTS}{pub.post_id}/", {"caption": "x"}, headers).status_code == 404
    pub.refresh_from_db()
    assert pub.status == S.APPROVED and pub.post.caption == "New set tonight"


def test_editor_composes_but_does_not_schedule(client, api_world):
    pub = approved_publication(api_world)
    headers = auth(client, api_world.callers, "bob")
    refused = error(post_json(client, f"{PUBS}{pub.pk}/schedule/", {"at": f"{NEXT_YEAR}-01-10T12:00"}, headers), 403)
    assert refused["code"] == "permission_denied"
    assert post_json(client, ACCOUNTS, {"creator": api_world.creator.pk, "platform": "x", "handle": "z"},
                     headers).status_code == 400
    pub.refresh_from_db()
    assert pub.status == S.APPROVED


def test_read_only_key_cannot_write(client, api_world):
    pub = approved_publication(api_world)
    headers = auth(client, api_world.callers, "key_ro")
    assert client.get(f"{PUBS}{pub.pk}/", **headers).status_code == 200
    for response in (
        post_json(client, POSTS, {"creator": api_world.creator.pk}, headers),
        post_json(client, f"{PUBS}{pub.pk}/schedule/", {"at": f"{NEXT_YEAR}-01-10T12:00"}, headers),
        post_json(client, f"{POSTS}{pub.post_id}/approve/", headers=headers),
        patch_json(client, f"{ACCOUNTS}{api_world.fanvue.pk}/", {"state": "disabled"}, headers),
        client.delete(f"{POSTS}{pub.post_id}/", **headers),
    ):
        assert error(response, 403)["message"] == "This API key is read-only."
    pub.refresh_from_db()
    assert pub.status == S.APPROVED


def test_write_key_writes_only_for_its_creator(client, api_world):
    headers = auth(client, api_world.callers, "key_a")
    created = post_json(client, POSTS, {"creator": api_world.creator.pk, "caption": "From the warehouse",
                                        "targets": [{"account_id": api_world.fanvue.pk}]}, headers)
    assert created.status_code == 201, created.content
    assert Post.objects.get(pk=created.json()["id"]).created_by == api_world.owner
    foreign = post_json(client, POSTS, {"creator": api_world.creator_b.pk, "caption": "x"}, headers)
    assert "creator" in error(foreign, 400)["details"]
    assert post_json(client, f"{PUBS}{api_world.pub_b.pk}/cancel/", headers=headers).status_code == 404


def test_lists_do_not_query_per_row(client, api_world, django_assert_max_num_queries):
    for hour in range(5):  # one live publication per account and instant
        pub = approved_publication(api_world)
        services.schedule(pub, at=datetime(NEXT_YEAR, 2, 1, 12 + hour, tzinfo=UTC))
    headers = auth(client, api_world.callers, "alice")
    for url in (POSTS, PUBS):
        client.get(url, **headers)
        with django_assert_max_num_queries(8):
            assert len(client.get(url, **headers).json()["results"]) == 5
    with django_assert_max_num_queries(8):
        assert len(client.get(CALENDAR, {"start": f"{NEXT_YEAR}-01-15", "end": f"{NEXT_YEAR}-02-15"},
                              **headers).json()["results"]) == 5
