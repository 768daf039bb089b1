"""The compliance API as the agency owner, a compliance officer of A, charlie (B) and a key scoped to A.

Out of reach looks exactly like absent: 404 on detail, missing from lists, never a 403 that
confirms the row exists.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import services as accounts_services
from accounts.models import ApiKey, AuditEvent
from compliance import services
from compliance.models import CreatorPerformer, Performer, PerformerName, TakedownRequest
from tests.factories import UserFactory

PERFORMERS = "/api/v1/compliance/performers/"
TAKEDOWNS = "/api/v1/compliance/takedowns/"
FRONT = b"\xff\xd8\xff\xe0" + b"ID-FRONT-MARKER" * 8
NUMBER = "FR-19AB12345"
PRINCIPALS = ["owner", "cora", "charlie", "key_a"]
# What each principal reaches. charlie manages B: managers see performers, not takedowns.
SEES_PERFORMERS = {"owner": {"pa", "pb"}, "cora": {"pa"}, "charlie": {"pb"}, "key_a": {"pa"}}
SEES_TAKEDOWNS = {"owner": {"ta", "tb"}, "cora": {"ta"}, "charlie": set(), "key_a": {"ta"}}


@pytest.fixture
def world(people, settings, tmp_path):
    settings.ATELIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None}},
    }
    owner, a, b = people["owner"], people["a"], people["b"]
    cora = UserFactory(username="cora")
    accounts_services.add_membership(user=cora, creator=a, role="compliance")

    pa = services.create_performer(legal_name="Jeanne Exemple", date_of_birth=date(1996, 4, 12), creators=[a],
                                   email="jeanne@example.test", phone="+33 6 12 34 56 78",
                                   other_names=[("Luna Vale", "stage"), ("Jeanne Ancien", "former_legal")])
    pb = services.create_performer(legal_name="Bea Other", date_of_birth=date(1990, 1, 2), creators=[b],
                                   other_names=[("Beta Star", "stage")])
    for performer in (pa, pb):
        services.record_verification(performer=performer, document_kind="passport", result="approved",
                                     actor=owner, document_number=NUMBER, front=FRONT)
        services.record_consent(performer=performer, platforms=["fanvue", "onlyfans"], max_rating="explicit",
                                uses=["publication"], signed_at=timezone.now() - timedelta(days=30),
                                valid_until=timezone.now() + timedelta(days=300), actor=owner)
    request = {"requester_name": "R. Requester", "requester_contact": "requester@example.test",
               "signature": "/R. Requester/", "content_description": "A video", "content_locations": "https://x/1",
               "non_consent_statement": "I did not consent."}
    ta = services.open_takedown(creator=a, performers=[pa], **request)
    tb = services.open_takedown(creator=b, performers=[pb], **request)
    key_a = accounts_services.issue_api_key(owner=owner, name="warehouse", creators=[a])
    return {"owner": owner, "cora": cora, "charlie": people["charlie"], "alice": people["alice"],
            "key_a": key_a.raw, "a": a, "b": b, "pa": pa, "pb": pb, "ta": ta, "tb": tb}


def headers_for(client, world, who: str) -> dict[str, str]:
    if who.startswith("key"):
        return {"HTTP_AUTHORIZATION": f"Bearer {world[who]}"}
    client.force_login(world[who])
    return {}


def issue_key(owner, creators, scope: str) -> str:
    return accounts_services.issue_api_key(owner=owner, name=f"intake-{scope}", creators=creators, scope=scope).raw


def assert_not_found(response) -> None:
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- performers --------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", PRINCIPALS)
def test_performers_within_reach_only(client, world, who):
    auth = headers_for(client, world, who)
    response = client.get(PERFORMERS, **auth)
    assert response.status_code == 200
    listed = {p["id"] for p in response.json()["results"]}
    assert listed == {world[name].pk for name in SEES_PERFORMERS[who]}
    for name in ("pa", "pb"):
        detail = client.get(f"{PERFORMERS}{world[name].pk}/", **auth)
        status = client.get(f"{PERFORMERS}{world[name].pk}/consent-status/?platform=fanvue&rating=explicit", **auth)
        if name in SEES_PERFORMERS[who]:
            assert detail.status_code == 200 and status.status_code == 200
        else:
            assert_not_found(detail)
            assert_not_found(status)
    assert_not_found(client.get(f"{PERFORMERS}999999/", **auth))


@pytest.mark.django_db
def test_anonymous_callers_are_refused_in_the_one_error_format(client, world):
    response = client.get(PERFORMERS)
    assert response.status_code in (401, 403)
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert client.get(f"{PERFORMERS}{world['pa'].pk}/consent-status/?platform=fanvue&rating=sfw").status_code in (
        401, 403)


@pytest.mark.django_db
def test_a_performer_shows_standing_never_papers_or_contacts(client, world):
    response = client.get(f"{PERFORMERS}{world['pa'].pk}/", **headers_for(client, world, "owner"))
    body = response.json()
    assert set(body) == {"id", "legal_name", "names", "status", "creators", "verified_adult", "consents",
                         "created_at"}
    assert body["legal_name"] == "Jeanne Exemple"
    assert {(n["name"], n["kind"]) for n in body["names"]} == {
        ("Jeanne Exemple", "legal"), ("Luna Vale", "stage"), ("Jeanne Ancien", "former_legal")}
    assert body["status"] == "active"
    assert body["verified_adult"] is True
    assert body["creators"] == [{"creator": world["a"].pk, "relation": "self"}]
    [summary] = body["consents"]
    assert summary["status"] == "valid"
    assert (summary["platforms"], summary["max_rating"], summary["uses"]) == (
        ["fanvue", "onlyfans"], "explicit", ["publication"])
    text = response.content.decode()
    for secret in (NUMBER, "jeanne@example.test", "+33 6", "1996-04-12", "documents/", "ID-FRONT"):
        assert secret not in text


@pytest.mark.django_db
def test_an_unverified_or_revoked_performer_says_so(client, world):
    newcomer = services.create_performer(legal_name="New Face", date_of_birth=date(2000, 1, 1),
                                         creators=[world["a"]])
    services.revoke_consent(world["pa"].consents.get(), reason="Withdrawn")
    auth = headers_for(client, world, "cora")
    assert client.get(f"{PERFORMERS}{newcomer.pk}/", **auth).json()["verified_adult"] is False
    assert client.get(f"{PERFORMERS}{newcomer.pk}/", **auth).json()["consents"] == []
    assert [c["status"] for c in client.get(f"{PERFORMERS}{world['pa'].pk}/", **auth).json()["consents"]] == [
        "revoked"]


@pytest.mark.django_db
def test_an_editor_sees_the_performer_but_not_the_consents(client, world, people):
    # Editors hold view_performer but not view_consentrecord: the API shows no more than the admin does.
    client.force_login(people["bob"])
    [performer] = client.get(PERFORMERS).json()["results"]
    assert performer["id"] == world["pa"].pk
    assert performer["verified_adult"] is True
    assert performer["consents"] is None
    client.force_login(people["alice"])
    assert client.get(f"{PERFORMERS}{world['pa'].pk}/").json()["consents"][0]["status"] == "valid"


@pytest.mark.django_db
def test_a_shared_performer_appears_once_and_shows_only_reachable_creators(client, world):
    CreatorPerformer.objects.create(creator=world["b"], performer=world["pa"],
                                    relation=CreatorPerformer.Relation.COLLABORATOR)
    dana = UserFactory(username="dana")
    for creator in (world["a"], world["b"]):
        accounts_services.add_membership(user=dana, creator=creator, role="compliance")

    client.force_login(dana)
    listed = [p["id"] for p in client.get(PERFORMERS).json()["results"]]
    assert sorted(listed) == sorted([world["pa"].pk, world["pb"].pk])

    client.force_login(world["cora"])
    [shared] = client.get(PERFORMERS).json()["results"]
    assert shared["creators"] == [{"creator": world["a"].pk, "relation": "self"}]
    client.force_login(world["owner"])
    both = client.get(f"{PERFORMERS}{world['pa'].pk}/").json()["creators"]
    assert [c["creator"] for c in both] == sorted([world["a"].pk, world["b"].pk])


@pytest.mark.django_db
def test_performer_filters(client, world):
    auth = headers_for(client, world, "owner")

    def ids(query: str) -> set[int]:
        response = client.get(f"{PERFORMERS}?{query}", **auth)
        assert response.status_code == 200, response.content
        return {p["id"] for p in response.json()["results"]}

    pa, pb = world["pa"].pk, world["pb"].pk
    assert ids("name=luna") == {pa}  # stage name
    assert ids("name=ANCIEN") == {pa}  # former legal name
    assert ids("name=exemple") == {pa}
    assert ids("name=star") == {pb}
    assert ids("name=nobody") == set()
    assert ids(f"creator={world['b'].pk}") == {pb}
    assert ids("status=active") == {pa, pb}
    Performer.objects.filter(pk=pb).update(status=Performer.Status.SUSPENDED)
    assert ids("status=suspended") == {pb}
    assert client.get(f"{PERFORMERS}?status=bogus", **auth).status_code == 400


@pytest.mark.django_db
def test_filters_never_reach_past_tenancy(client, world):
    auth = headers_for(client, world, "key_a")
    assert client.get(f"{PERFORMERS}?creator={world['b'].pk}", **auth).json()["results"] == []
    assert client.get(f"{PERFORMERS}?name=beta", **auth).json()["results"] == []


@pytest.mark.django_db
def test_listing_performers_costs_the_same_queries_for_one_or_many(client, world):
    auth = headers_for(client, world, "owner")
    with CaptureQueriesContext(connection) as few:
        client.get(PERFORMERS, **auth)
    for n in range(6):
        performer = services.create_performer(legal_name=f"Extra {n}", date_of_birth=date(1990, 1, 1),
                                              creators=[world["a"]], other_names=[(f"Alias {n}", "alias")])
        services.record_consent(performer=performer, platforms=["x"], max_rating="sfw",
                                uses=["promotion_on_social"], signed_at=timezone.now())
    with CaptureQueriesContext(connection) as many:
        response = client.get(PERFORMERS, **auth)
    assert len(response.json()["results"]) == 8
    assert len(many) == len(few)


# --- consent status ---------------------------------------------------------------------------------------


def consent_status(client, world, who: str, name: str = "pa", **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"{PERFORMERS}{world[name].pk}/consent-status/?{query}", **headers_for(client, world, who))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "cora", "key_a"])
def test_consent_status_allowed(client, world, who):
    response = consent_status(client, world, who, platform="fanvue", rating="explicit", use="publication")
    assert response.status_code == 200
    body = response.json()
    assert body["allowed"] is True and body["reasons"] == []
    assert (body["performer"], body["platform"], body["rating"], body["use"]) == (
        world["pa"].pk, "fanvue", "explicit", "publication")


@pytest.mark.django_db
def test_consent_status_after_revocation(client, world):
    services.revoke_consent(world["pa"].consents.get(), reason="Withdrawn by the performer")
    body = consent_status(client, world, "cora", platform="fanvue", rating="explicit").json()
    assert body["allowed"] is False
    assert [(r["code"], r["performer_id"]) for r in body["reasons"]] == [("consent_revoked", world["pa"].pk)]


@pytest.mark.django_db
def test_consent_status_reasons_carry_codes(client, world):
    cases = {
        ("instagram", "explicit", "publication"): {"rating_not_accepted", "consent_missing"},
        ("fanvue", "explicit", "ai_likeness"): {"consent_missing"},
        ("x", "sfw", "publication"): {"consent_missing"},
    }
    for (platform, rating, use), codes in cases.items():
        body = consent_status(client, world, "owner", platform=platform, rating=rating, use=use).json()
        assert body["allowed"] is False
        assert {r["code"] for r in body["reasons"]} == codes, (platform, rating, use)


@pytest.mark.django_db
def test_consent_status_at_a_given_time(client, world):
    before = (timezone.now() - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = (timezone.now() + timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    early = consent_status(client, world, "owner", platform="fanvue", rating="sfw", at=before).json()
    late = consent_status(client, world, "owner", platform="fanvue", rating="sfw", at=after).json()
    assert [r["code"] for r in early["reasons"]] == ["consent_not_yet_valid"]
    assert [r["code"] for r in late["reasons"]] == ["consent_expired"]
    assert parse_datetime(early["at"]) == parse_datetime(before)


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "field"), [
    ({"platform": "myspace", "rating": "explicit"}, "platform"),
    ({"platform": "fanvue", "rating": "xxx"}, "rating"),
    ({"platform": "fanvue", "rating": "sfw", "use": "resale"}, "use"),
    ({"platform": "fanvue", "rating": "sfw", "at": "yesterday"}, "at"),
    ({"rating": "sfw"}, "platform"),
    ({"platform": "fanvue"}, "rating"),
])
def test_consent_status_rejects_unknown_parameters(client, world, params, field):
    response = consent_status(client, world, "cora", **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]) == [field]


# --- takedowns --------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", PRINCIPALS)
def test_takedowns_within_reach_only(client, world, who):
    auth = headers_for(client, world, who)
    response = client.get(TAKEDOWNS, **auth)
    assert response.status_code == 200
    assert {t["id"] for t in response.json()["results"]} == {world[name].pk for name in SEES_TAKEDOWNS[who]}
    for name in ("ta", "tb"):
        detail = client.get(f"{TAKEDOWNS}{world[name].pk}/", **auth)
        if name in SEES_TAKEDOWNS[who]:
            assert detail.status_code == 200
        else:
            assert_not_found(detail)


@pytest.mark.django_db
def test_a_takedown_shows_deadline_and_state_not_the_requester(client, world):
    response = client.get(f"{TAKEDOWNS}{world['ta'].pk}/", **headers_for(client, world, "cora"))
    body = response.json()
    assert body["status"] == "open" and body["is_open"] is True
    assert body["creator"] == world["a"].pk
    assert body["performers"] == [world["pa"].pk]
    assert parse_datetime(body["due_at"]) - parse_datetime(body["received_at"]) == timedelta(hours=48)
    text = response.content.decode()
    assert "requester@example.test" not in text and "/R. Requester/" not in text


@pytest.mark.django_db
def test_takedown_performers_out_of_reach_are_left_out(client, world):
    services.open_takedown(creator=world["a"], performers=[world["pa"], world["pb"]],
                           requester_name="R", requester_contact="r@example.test", signature="R",
                           content_description="d", content_locations="l", non_consent_statement="s")
    auth = headers_for(client, world, "cora")
    newest = client.get(f"{TAKEDOWNS}?creator={world['a'].pk}", **auth).json()["results"][0]
    assert newest["performers"] == [world["pa"].pk]


@pytest.mark.django_db
def test_takedown_filters(client, world):
    auth = headers_for(client, world, "owner")
    services.log_takedown_action(world["tb"], description="Removed from Fanvue", status="removed")

    def ids(query: str) -> set[int]:
        response = client.get(f"{TAKEDOWNS}?{query}", **auth)
        assert response.status_code == 200, response.content
        return {t["id"] for t in response.json()["results"]}

    ta, tb = world["ta"].pk, world["tb"].pk
    assert ids("is_open=true") == {ta}
    assert ids("is_open=false") == {tb}
    assert ids("status=removed") == {tb}
    assert ids(f"creator={world['a'].pk}") == {ta}
    assert ids("kind=card_network") == set()
    soon = (timezone.now() + timedelta(hours=49)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"due_before={soon}") == {ta, tb}
    assert ids("due_before=2000-01-01T00:00:00Z") == set()


def intake(**overrides) -> dict:
    payload = {"kind": "take_it_down", "requester_name": "Jane Doe", "requester_contact": "jane@example.test",
               "signature": "/Jane Doe/", "content_description": "A photo of me posted without consent",
               "content_locations": "https://fanvue.example/post/42",
               "non_consent_statement": "I did not consent to the publication of this image."}
    payload.update(overrides)
    return payload


@pytest.mark.django_db
def test_intake_with_a_write_key_opens_a_takedown_due_in_48_hours(client, world):
    raw = issue_key(world["cora"], [world["a"]], ApiKey.Scope.WRITE)
    before = TakedownRequest.objects.count()
    response = client.post(TAKEDOWNS, intake(creator=world["a"].pk, performers=[world["pa"].pk]),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "status", "received_at", "due_at"} <= set(body)
    assert body["status"] == "open"
    received, due = parse_datetime(body["received_at"]), parse_datetime(body["due_at"])
    assert due == received + timedelta(hours=48)
    assert abs(timezone.now() - received) < timedelta(minutes=1)
    assert TakedownRequest.objects.count() == before + 1
    created = TakedownRequest.objects.get(pk=body["id"])
    assert (created.creator, list(created.performers.all())) == (world["a"], [world["pa"]])
    assert created.requester_contact == "jane@example.test"
    event = AuditEvent.objects.get(action="takedown.opened", object_id=str(created.pk))
    assert event.api_key_id is not None and event.actor_id == world["cora"].pk


@pytest.mark.django_db
def test_intake_keeps_an_earlier_receipt_time(client, world):
    received = datetime(2025, 6, 6, 10, 0, tzinfo=UTC)
    client.force_login(world["owner"])
    response = client.post(TAKEDOWNS, intake(creator=world["a"].pk, received_at=received.isoformat()),
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert parse_datetime(response.json()["due_at"]) == received + timedelta(hours=48)


@pytest.mark.django_db
def test_a_card_network_complaint_is_due_in_seven_business_days(client, world):
    client.force_login(world["cora"])
    received = datetime(2025, 6, 6, 10, 0, tzinfo=UTC)  # a Friday
    response = client.post(TAKEDOWNS, intake(kind="card_network", creator=world["a"].pk, non_consent_statement="",
                                              received_at=received.isoformat()), content_type="application/json")
    assert response.status_code == 201, response.content
    assert parse_datetime(response.json()["due_at"]) == datetime(2025, 6, 17, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_read_only_key_cannot_file_a_takedown(client, world):
    before = TakedownRequest.objects.count()
    response = client.post(TAKEDOWNS, intake(creator=world["a"].pk), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {world['key_a']}")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API key is read-only."
    assert TakedownRequest.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["write_key_a", "cora", "alice", "charlie", "owner"])
def test_a_creator_out_of_reach_is_unknown(client, world, who):
    """B's creator, a made-up one, or A for someone who may not file takedowns: the same answer."""
    if who == "write_key_a":
        auth = {"HTTP_AUTHORIZATION": f"Bearer {issue_key(world['owner'], [world['a']], ApiKey.Scope.WRITE)}"}
    else:
        auth = headers_for(client, world, who)
    targets = {"write_key_a": [world["b"].pk, 999999], "cora": [world["b"].pk, 999999],
               "alice": [world["a"].pk, world["b"].pk], "charlie": [world["b"].pk], "owner": [999999]}[who]
    before = TakedownRequest.objects.count()
    for creator_id in targets:
        response = client.post(TAKEDOWNS, intake(creator=creator_id), content_type="application/json", **auth)
        assert response.status_code == 400, (who, creator_id)
        assert response.json()["error"]["details"] == {"creator": ["Unknown creator."]}
    assert TakedownRequest.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "field"), [
    ({"signature": ""}, "signature"),
    ({"signature": None}, "signature"),
    ({"non_consent_statement": "   "}, "non_consent_statement"),
    ({"non_consent_statement": None}, "non_consent_statement"),
    ({"requester_contact": ""}, "requester_contact"),
    ({"content_locations": ""}, "content_locations"),
    ({"kind": "dmca"}, "kind"),
    ({"creator": "alpha"}, "creator"),
    ({"performers": ["x"]}, "performers"),
    ({"received_at": "2999-01-01T00:00:00Z"}, "received_at"),
])
def test_an_invalid_intake_is_400_with_field_details_and_creates_nothing(client, world, overrides, field):
    raw = issue_key(world["owner"], [world["a"]], ApiKey.Scope.WRITE)
    payload = {k: v for k, v in intake(**{"creator": world["a"].pk, **overrides}).items() if v is not None}
    before = (TakedownRequest.objects.count(), AuditEvent.objects.filter(action="takedown.opened").count())
    response = client.post(TAKEDOWNS, payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"], error
    assert (TakedownRequest.objects.count(), AuditEvent.objects.filter(action="takedown.opened").count()) == before


@pytest.mark.django_db
def test_intake_refuses_performers_out_of_reach(client, world):
    raw = issue_key(world["cora"], [world["a"]], ApiKey.Scope.WRITE)
    before = TakedownRequest.objects.count()
    for performer_id in (world["pb"].pk, 999999):
        response = client.post(TAKEDOWNS, intake(creator=world["a"].pk, performers=[world["pa"].pk, performer_id]),
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 400
        assert response.json()["error"]["details"] == {"performers": [f"Unknown performer: {performer_id}."]}
    assert TakedownRequest.objects.count() == before


@pytest.mark.django_db
def test_takedowns_cannot_be_edited_or_deleted_through_the_api(client, world):
    client.force_login(world["owner"])
    url = f"{TAKEDOWNS}{world['ta'].pk}/"
    assert client.patch(url, {"status": "closed"}, content_type="application/json").status_code == 405
    assert client.delete(url).status_code == 405
    assert client.post(PERFORMERS, {"legal_name": "X"}, content_type="application/json").status_code == 405
    assert TakedownRequest.objects.get(pk=world["ta"].pk).status == "open"
    assert PerformerName.objects.filter(name="X").count() == 0


# --- Recording a consent: minors and missing dates of birth are a 400 with the reason, audited ------


def consent_payload(**overrides) -> dict:
    payload = {"platforms": ["fanvue"], "max_rating": "explicit", "uses": ["publication"],
               "signed_at": (timezone.now() - timedelta(hours=1)).isoformat()}
    payload.update(overrides)
    return payload


def post_consent(client, world, who: str, performer_pk, payload: dict):
    auth = headers_for(client, world, who)
    return client.post(f"{PERFORMERS}{performer_pk}/consents/", payload, content_type="application/json", **auth)


@pytest.mark.django_db
def test_a_compliance_officer_records_a_consent_that_supersedes_the_older_one(client, world):
    old = world["pa"].consents.get()
    response = post_consent(client, world, "cora", world["pa"].pk, consent_payload(supersedes=old.pk))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["supersedes"] == old.pk and body["platforms"] == ["fanvue"]
    assert AuditEvent.objects.filter(action="consent.recorded", object_id=str(body["id"]), actor=world["cora"]).exists()
    on_onlyfans = client.get(f"{PERFORMERS}{world['pa'].pk}/consent-status/",
                             {"platform": "onlyfans", "rating": "explicit"}).json()
    assert not on_onlyfans["allowed"] and on_onlyfans["reasons"][0]["code"] == "consent_superseded"
    statuses = {c["id"]: c["status"] for c in client.get(f"{PERFORMERS}{world['pa'].pk}/").json()["consents"]}
    assert statuses == {old.pk: "superseded", body["id"]: "valid"}


@pytest.mark.django_db
def test_a_consent_from_a_minor_on_the_production_date_is_a_400_with_the_reason_and_audited(client, world):
    young = services.create_performer(legal_name="Young Adult", date_of_birth=date(2007, 6, 1),
                                      creators=[world["a"]])
    response = post_consent(client, world, "cora", young.pk, consent_payload(production_date="2025-05-31"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "under 18 on the production date" in error["details"]["performer"][0]
    assert not young.consents.exists()
    event = AuditEvent.objects.get(action="consent.refused", object_id=str(young.pk))
    assert event.actor_id == world["cora"].pk and event.changes["reason"] == "underage"


@pytest.mark.django_db
def test_a_consent_without_a_date_of_birth_is_a_400(client, world):
    undated = services.create_performer(legal_name="No Date", date_of_birth=None, creators=[world["a"]])
    response = post_consent(client, world, "owner", undated.pk, consent_payload())
    assert response.status_code == 400
    assert "date of birth" in response.json()["error"]["details"]["performer"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [
    {"platforms": ["myspace"]}, {"platforms": []}, {"uses": ["selling"]}, {"max_rating": "x"},
    {"signed_at": "yesterday"}, {"signed_at": "99999-01-01T00:00:00Z"}, {"supersedes": 999999},
    {"supersedes": "abc"}, {"valid_until": "2000-01-01T00:00:00Z"}, {"production_date": "2025-13-01"},
])
def test_bad_consent_input_is_a_400_never_a_500(client, world, payload):
    response = post_consent(client, world, "owner", world["pa"].pk, consent_payload(**payload))
    assert response.status_code == 400, response.content


@pytest.mark.django_db
def test_recording_a_consent_respects_reach(client, world):
    assert post_consent(client, world, "cora", world["pb"].pk, consent_payload()).status_code == 404
    assert post_consent(client, world, "cora", "abc", consent_payload()).status_code == 404
    assert post_consent(client, world, "key_a", world["pa"].pk, consent_payload()).status_code == 403
    assert world["pb"].consents.count() == 1 and world["pa"].consents.count() == 1
