"""The compliance API as the agency owner, a compliance officer of A (oscar), charlie (B) and a key scoped to A.

Out of reach looks exactly like absent: 404 on detail, missing from lists, never a 403 that
confirms the row exists. The records are the shared ones of tests/compliance/conftest.py: Amelie (A)
and Bianca (B), their checks, consents and takedowns; each test asks for those it reads.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import services as accounts_services
from accounts.models import ApiKey, AuditEvent
from compliance import services
from compliance.models import CreatorPerformer, Performer, PerformerName, TakedownRequest
from tests.accounts.factories import ApiKeyFactory
from tests.api import auth
from tests.compliance import factories
from tests.compliance.factories import ConsentFactory, PerformerFactory, TakedownFactory

PERFORMERS = "/api/v1/compliance/performers/"
TAKEDOWNS = "/api/v1/compliance/takedowns/"
PRINCIPALS = ["owner", "oscar", "charlie", "key_a"]
# Whose records each principal reaches, by creator. charlie manages B: managers see performers, not takedowns.
SEES_PERFORMERS = {"owner": {"a", "b"}, "oscar": {"a"}, "charlie": {"b"}, "key_a": {"a"}}
SEES_TAKEDOWNS = {"owner": {"a", "b"}, "oscar": {"a"}, "charlie": set(), "key_a": {"a"}}


@pytest.fixture
def callers(people, oscar, key_a) -> dict[str, Any]:
    """Who a table of API callers names (`tests.api.auth`): the people, oscar and A's read-only key."""
    return {**people, "oscar": oscar, "key_a": key_a}


def issue_key(owner, creators, scope: str) -> str:
    return ApiKeyFactory(owner=owner, name=f"intake-{scope}", creators=creators, scope=scope).raw


def assert_not_found(response) -> None:
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- performers --------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", PRINCIPALS)
def test_performers_within_reach_only(client, callers, performer_a, performer_b, who):
    performers = {"a": performer_a, "b": performer_b}
    headers = auth(client, callers, who)
    response = client.get(PERFORMERS, **headers)
    assert response.status_code == 200
    listed = {p["id"] for p in response.json()["results"]}
    assert listed == {performers[creator].pk for creator in SEES_PERFORMERS[who]}
    for creator, performer in performers.items():
        detail = client.get(f"{PERFORMERS}{performer.pk}/", **headers)
        status = client.get(f"{PERFORMERS}{performer.pk}/consent-status/?platform=fanvue&rating=explicit", **headers)
        if creator in SEES_PERFORMERS[who]:
            assert detail.status_code == 200 and status.status_code == 200
        else:
            assert_not_found(detail)
            assert_not_found(status)
    assert_not_found(client.get(f"{PERFORMERS}999999/", **headers))


@pytest.mark.django_db
def test_anonymous_callers_are_refused_in_the_one_error_format(client, performer_a):
    response = client.get(PERFORMERS)
    assert response.status_code in (401, 403)
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert client.get(f"{PERFORMERS}{performer_a.pk}/consent-status/?platform=fanvue&rating=sfw").status_code in (
        401, 403)


@pytest.mark.django_db
def test_a_performer_shows_standing_never_papers_or_contacts(client, callers, performer_a, verification_a, consent_a):
    response = client.get(f"{PERFORMERS}{performer_a.pk}/", **auth(client, callers, "owner"))
    body = response.json()
    assert set(body) == {"id", "legal_name", "names", "status", "creators", "verified_adult", "consents",
                         "created_at"}
    assert body["legal_name"] == "Amelie Durand"
    assert {(n["name"], n["kind"]) for n in body["names"]} == {
        ("Amelie Durand", "legal"), ("Lune Rousse", "stage"), ("Mimi", "alias"), ("Mimi D", "alias"),
        ("Amelie Petit", "former_legal")}
    assert body["status"] == "active"
    assert body["verified_adult"] is True
    assert body["creators"] == [{"creator": callers["a"].pk, "relation": "self"}]
    [summary] = body["consents"]
    assert summary["status"] == "valid"
    assert (summary["platforms"], summary["max_rating"], summary["uses"]) == (
        ["fanvue", "x"], "explicit", ["promotion_on_social", "publication"])
    text = response.content.decode()
    # Her passport number and front page (conftest.py), her contacts and date of birth.
    for secret in ("FR12345678", "front-amelie", performer_a.email, "+33 6", "1996-04-12", "documents/"):
        assert secret not in text


@pytest.mark.django_db
def test_an_unverified_or_revoked_performer_says_so(client, callers, performer_a, verification_a, consent_a):
    newcomer = PerformerFactory(legal_name="New Face", date_of_birth=date(2000, 1, 1), creators=[callers["a"]])
    services.revoke_consent(consent_a, reason="Withdrawn")
    headers = auth(client, callers, "oscar")
    assert client.get(f"{PERFORMERS}{newcomer.pk}/", **headers).json()["verified_adult"] is False
    assert client.get(f"{PERFORMERS}{newcomer.pk}/", **headers).json()["consents"] == []
    assert [c["status"] for c in client.get(f"{PERFORMERS}{performer_a.pk}/", **headers).json()["consents"]] == [
        "revoked"]


@pytest.mark.django_db
def test_an_editor_sees_the_performer_but_not_the_consents(client, people, performer_a, verification_a, consent_a):
    # Editors hold view_performer but not view_consentrecord: the API shows no more than the admin does.
    client.force_login(people["bob"])
    [performer] = client.get(PERFORMERS).json()["results"]
    assert performer["id"] == performer_a.pk
    assert performer["verified_adult"] is True
    assert performer["consents"] is None
    client.force_login(people["alice"])
    assert client.get(f"{PERFORMERS}{performer_a.pk}/").json()["consents"][0]["status"] == "valid"


@pytest.mark.django_db
def test_a_shared_performer_appears_once_and_shows_only_reachable_creators(client, people, oscar, performer_a,
                                                                           performer_b):
    a, b = people["a"], people["b"]
    services.save_creator_link(CreatorPerformer(creator=b, performer=performer_a,
                                                relation=CreatorPerformer.Relation.COLLABORATOR))
    dana = factories.make_officer("dana", a)
    accounts_services.add_membership(user=dana, creator=b, role="compliance")

    client.force_login(dana)
    listed = [p["id"] for p in client.get(PERFORMERS).json()["results"]]
    assert sorted(listed) == sorted([performer_a.pk, performer_b.pk])

    client.force_login(oscar)
    [shared] = client.get(PERFORMERS).json()["results"]
    assert shared["creators"] == [{"creator": a.pk, "relation": "self"}]
    client.force_login(people["owner"])
    both = client.get(f"{PERFORMERS}{performer_a.pk}/").json()["creators"]
    assert [c["creator"] for c in both] == sorted([a.pk, b.pk])


@pytest.mark.django_db
def test_performer_filters(client, callers, performer_a, performer_b):
    headers = auth(client, callers, "owner")

    def ids(query: str) -> set[int]:
        response = client.get(f"{PERFORMERS}?{query}", **headers)
        assert response.status_code == 200, response.content
        return {p["id"] for p in response.json()["results"]}

    pa, pb = performer_a.pk, performer_b.pk
    assert ids("name=lune") == {pa}  # stage name
    assert ids("name=PETIT") == {pa}  # former legal name
    assert ids("name=durand") == {pa}
    assert ids("name=nera") == {pb}
    assert ids("name=nobody") == set()
    assert ids(f"creator={callers['b'].pk}") == {pb}
    assert ids("status=active") == {pa, pb}
    Performer.objects.filter(pk=pb).update(status=Performer.Status.SUSPENDED)
    assert ids("status=suspended") == {pb}
    assert client.get(f"{PERFORMERS}?status=bogus", **headers).status_code == 400


@pytest.mark.django_db
def test_filters_never_reach_past_tenancy(client, callers, performer_a, performer_b):
    headers = auth(client, callers, "key_a")
    assert client.get(f"{PERFORMERS}?creator={callers['b'].pk}", **headers).json()["results"] == []
    assert client.get(f"{PERFORMERS}?name=stella", **headers).json()["results"] == []


@pytest.mark.django_db
def test_listing_performers_costs_the_same_queries_for_one_or_many(client, callers, verification_a, consent_a,
                                                                   consent_b):
    headers = auth(client, callers, "owner")
    with CaptureQueriesContext(connection) as few:
        client.get(PERFORMERS, **headers)
    for n in range(6):
        performer = PerformerFactory(legal_name=f"Extra {n}", date_of_birth=date(1990, 1, 1), creators=[callers["a"]],
                                     other_names=[(f"Alias {n}", "alias")])
        ConsentFactory(performer=performer, platforms=("x",), max_rating="sfw", uses=("promotion_on_social",),
                       signed_at=timezone.now())
    with CaptureQueriesContext(connection) as many:
        response = client.get(PERFORMERS, **headers)
    assert len(response.json()["results"]) == 8
    assert len(many) == len(few)


# --- consent status ---------------------------------------------------------------------------------------


def consent_status(client, callers, who: str, performer: Performer, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"{PERFORMERS}{performer.pk}/consent-status/?{query}", **auth(client, callers, who))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "oscar", "key_a"])
def test_consent_status_allowed(client, callers, performer_a, verification_a, consent_a, who):
    response = consent_status(client, callers, who, performer_a, platform="fanvue", rating="explicit",
                              use="publication")
    assert response.status_code == 200
    body = response.json()
    assert body["allowed"] is True and body["reasons"] == []
    assert (body["performer"], body["platform"], body["rating"], body["use"]) == (
        performer_a.pk, "fanvue", "explicit", "publication")


@pytest.mark.django_db
def test_consent_status_after_revocation(client, callers, performer_a, verification_a, consent_a):
    services.revoke_consent(consent_a, reason="Withdrawn by the performer")
    body = consent_status(client, callers, "oscar", performer_a, platform="fanvue", rating="explicit").json()
    assert body["allowed"] is False
    assert [(r["code"], r["performer_id"]) for r in body["reasons"]] == [("consent_revoked", performer_a.pk)]


@pytest.mark.django_db
def test_consent_status_reasons_carry_codes(client, callers, performer_a, verification_a, consent_a):
    # Amelie consents to Fanvue and X, for publication and promotion.
    cases = {
        ("instagram", "explicit", "publication"): {"rating_not_accepted", "consent_missing"},
        ("fanvue", "explicit", "ai_likeness"): {"consent_missing"},
        ("onlyfans", "sfw", "publication"): {"consent_missing"},
    }
    for (platform, rating, use), codes in cases.items():
        body = consent_status(client, callers, "owner", performer_a, platform=platform, rating=rating,
                              use=use).json()
        assert body["allowed"] is False
        assert {r["code"] for r in body["reasons"]} == codes, (platform, rating, use)


@pytest.mark.django_db
def test_consent_status_at_a_given_time(client, callers, performer_a, verification_a):
    ConsentFactory(performer=performer_a, signed_at=timezone.now() - timedelta(days=30),
                   valid_until=timezone.now() + timedelta(days=300))
    before = (timezone.now() - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = (timezone.now() + timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    early = consent_status(client, callers, "owner", performer_a, platform="fanvue", rating="sfw", at=before).json()
    late = consent_status(client, callers, "owner", performer_a, platform="fanvue", rating="sfw", at=after).json()
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
def test_consent_status_rejects_unknown_parameters(client, callers, performer_a, params, field):
    response = consent_status(client, callers, "oscar", performer_a, **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]) == [field]


# --- takedowns --------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", PRINCIPALS)
def test_takedowns_within_reach_only(client, callers, takedown_a, takedown_b, who):
    takedowns = {"a": takedown_a, "b": takedown_b}
    headers = auth(client, callers, who)
    response = client.get(TAKEDOWNS, **headers)
    assert response.status_code == 200
    assert {t["id"] for t in response.json()["results"]} == {takedowns[c].pk for c in SEES_TAKEDOWNS[who]}
    for creator, takedown in takedowns.items():
        detail = client.get(f"{TAKEDOWNS}{takedown.pk}/", **headers)
        if creator in SEES_TAKEDOWNS[who]:
            assert detail.status_code == 200
        else:
            assert_not_found(detail)


@pytest.mark.django_db
def test_a_takedown_shows_deadline_and_state_not_the_requester(client, callers, performer_a, takedown_a):
    response = client.get(f"{TAKEDOWNS}{takedown_a.pk}/", **auth(client, callers, "oscar"))
    body = response.json()
    assert body["status"] == "open" and body["is_open"] is True
    assert body["creator"] == callers["a"].pk
    assert body["performers"] == [performer_a.pk]
    assert parse_datetime(body["due_at"]) - parse_datetime(body["received_at"]) == timedelta(hours=48)
    text = response.content.decode()
    assert takedown_a.requester_contact not in text and takedown_a.signature not in text


@pytest.mark.django_db
def test_takedown_performers_out_of_reach_are_left_out(client, callers, performer_a, performer_b):
    TakedownFactory(creator=callers["a"], performers=[performer_a, performer_b])
    headers = auth(client, callers, "oscar")
    [newest] = client.get(f"{TAKEDOWNS}?creator={callers['a'].pk}", **headers).json()["results"]
    assert newest["performers"] == [performer_a.pk]


@pytest.mark.django_db
def test_takedown_filters(client, callers, takedown_a, takedown_b):
    headers = auth(client, callers, "owner")
    services.log_takedown_action(takedown_b, description="Removed from Fanvue", status="removed")

    def ids(query: str) -> set[int]:
        response = client.get(f"{TAKEDOWNS}?{query}", **headers)
        assert response.status_code == 200, response.content
        return {t["id"] for t in response.json()["results"]}

    ta, tb = takedown_a.pk, takedown_b.pk
    assert ids("is_open=true") == {ta}
    assert ids("is_open=false") == {tb}
    assert ids("status=removed") == {tb}
    assert ids(f"creator={callers['a'].pk}") == {ta}
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
def test_intake_with_a_write_key_opens_a_takedown_due_in_48_hours(client, people, oscar, performer_a):
    a = people["a"]
    raw = issue_key(oscar, [a], ApiKey.Scope.WRITE)
    before = TakedownRequest.objects.count()
    response = client.post(TAKEDOWNS, intake(creator=a.pk, performers=[performer_a.pk]),
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
    assert (created.creator, list(created.performers.all())) == (a, [performer_a])
    assert created.requester_contact == "jane@example.test"
    event = AuditEvent.objects.get(action="takedown.opened", object_id=str(created.pk))
    assert event.api_key_id is not None and event.actor_id == oscar.pk


@pytest.mark.django_db
def test_intake_keeps_an_earlier_receipt_time(client, people):
    received = datetime(2025, 6, 6, 10, 0, tzinfo=UTC)
    client.force_login(people["owner"])
    response = client.post(TAKEDOWNS, intake(creator=people["a"].pk, received_at=received.isoformat()),
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert parse_datetime(response.json()["due_at"]) == received + timedelta(hours=48)


@pytest.mark.django_db
def test_a_card_network_complaint_is_due_in_seven_business_days(client, people, oscar):
    client.force_login(oscar)
    received = datetime(2025, 6, 6, 10, 0, tzinfo=UTC)  # a Friday
    response = client.post(TAKEDOWNS, intake(kind="card_network", creator=people["a"].pk, non_consent_statement="",
                                              received_at=received.isoformat()), content_type="application/json")
    assert response.status_code == 201, response.content
    assert parse_datetime(response.json()["due_at"]) == datetime(2025, 6, 17, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_read_only_key_cannot_file_a_takedown(client, people, key_a):
    before = TakedownRequest.objects.count()
    response = client.post(TAKEDOWNS, intake(creator=people["a"].pk), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key_a}")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API key is read-only."
    assert TakedownRequest.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["write_key_a", "oscar", "alice", "charlie", "owner"])
def test_a_creator_out_of_reach_is_unknown(client, callers, who):
    """B's creator, a made-up one, or A for someone who may not file takedowns: the same answer."""
    a, b = callers["a"], callers["b"]
    if who == "write_key_a":
        headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_key(callers['owner'], [a], ApiKey.Scope.WRITE)}"}
    else:
        headers = auth(client, callers, who)
    targets = {"write_key_a": [b.pk, 999999], "oscar": [b.pk, 999999], "alice": [a.pk, b.pk],
               "charlie": [b.pk], "owner": [999999]}[who]
    before = TakedownRequest.objects.count()
    for creator_id in targets:
        response = client.post(TAKEDOWNS, intake(creator=creator_id), content_type="application/json", **headers)
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
def test_an_invalid_intake_is_400_with_field_details_and_creates_nothing(client, people, overrides, field):
    raw = issue_key(people["owner"], [people["a"]], ApiKey.Scope.WRITE)
    payload = {k: v for k, v in intake(**{"creator": people["a"].pk, **overrides}).items() if v is not None}
    before = (TakedownRequest.objects.count(), AuditEvent.objects.filter(action="takedown.opened").count())
    response = client.post(TAKEDOWNS, payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"], error
    assert (TakedownRequest.objects.count(), AuditEvent.objects.filter(action="takedown.opened").count()) == before


@pytest.mark.django_db
def test_intake_refuses_performers_out_of_reach(client, people, oscar, performer_a, performer_b):
    raw = issue_key(oscar, [people["a"]], ApiKey.Scope.WRITE)
    before = TakedownRequest.objects.count()
    for performer_id in (performer_b.pk, 999999):
        response = client.post(TAKEDOWNS, intake(creator=people["a"].pk, performers=[performer_a.pk, performer_id]),
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 400
        assert response.json()["error"]["details"] == {"performers": [f"Unknown performer: {performer_id}."]}
    assert TakedownRequest.objects.count() == before


@pytest.mark.django_db
def test_takedowns_cannot_be_edited_or_deleted_through_the_api(client, people, takedown_a):
    client.force_login(people["owner"])
    url = f"{TAKEDOWNS}{takedown_a.pk}/"
    assert client.patch(url, {"status": "closed"}, content_type="application/json").status_code == 405
    assert client.delete(url).status_code == 405
    assert client.post(PERFORMERS, {"legal_name": "X"}, content_type="application/json").status_code == 405
    assert TakedownRequest.objects.get(pk=takedown_a.pk).status == "open"
    assert PerformerName.objects.filter(name="X").count() == 0


# --- Recording a consent: minors and missing dates of birth are a 400 with the reason, audited ------


def consent_payload(**overrides) -> dict:
    payload = {"platforms": ["fanvue"], "max_rating": "explicit", "uses": ["publication"],
               "signed_at": (timezone.now() - timedelta(hours=1)).isoformat()}
    payload.update(overrides)
    return payload


def post_consent(client, callers, who: str, performer_pk, payload: dict):
    headers = auth(client, callers, who)
    return client.post(f"{PERFORMERS}{performer_pk}/consents/", payload, content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_compliance_officer_records_a_consent_that_supersedes_the_older_one(client, callers, oscar, performer_a,
                                                                              verification_a, consent_a):
    old = consent_a  # Fanvue and X
    response = post_consent(client, callers, "oscar", performer_a.pk, consent_payload(supersedes=old.pk))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["supersedes"] == old.pk and body["platforms"] == ["fanvue"]
    assert AuditEvent.objects.filter(action="consent.recorded", object_id=str(body["id"]), actor=oscar).exists()
    on_x = client.get(f"{PERFORMERS}{performer_a.pk}/consent-status/", {"platform": "x", "rating": "explicit"}).json()
    assert not on_x["allowed"] and on_x["reasons"][0]["code"] == "consent_superseded"
    statuses = {c["id"]: c["status"] for c in client.get(f"{PERFORMERS}{performer_a.pk}/").json()["consents"]}
    assert statuses == {old.pk: "superseded", body["id"]: "valid"}


@pytest.mark.django_db
def test_a_consent_from_a_minor_on_the_production_date_is_a_400_with_the_reason_and_audited(client, callers, oscar):
    young = PerformerFactory(legal_name="Young Adult", date_of_birth=date(2007, 6, 1), creators=[callers["a"]])
    response = post_consent(client, callers, "oscar", young.pk, consent_payload(production_date="2025-05-31"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "under 18 on the production date" in error["details"]["performer"][0]
    assert not young.consents.exists()
    event = AuditEvent.objects.get(action="consent.refused", object_id=str(young.pk))
    assert event.actor_id == oscar.pk and event.changes["reason"] == "underage"


@pytest.mark.django_db
def test_a_consent_without_a_date_of_birth_is_a_400(client, callers):
    undated = PerformerFactory(legal_name="No Date", date_of_birth=None, creators=[callers["a"]])
    response = post_consent(client, callers, "owner", undated.pk, consent_payload())
    assert response.status_code == 400
    assert "date of birth" in response.json()["error"]["details"]["performer"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [
    {"platforms": ["myspace"]}, {"platforms": []}, {"uses": ["selling"]}, {"max_rating": "x"},
    {"signed_at": "yesterday"}, {"signed_at": "99999-01-01T00:00:00Z"}, {"supersedes": 999999},
    {"supersedes": "abc"}, {"valid_until": "2000-01-01T00:00:00Z"}, {"production_date": "2025-13-01"},
])
def test_bad_consent_input_is_a_400_never_a_500(client, callers, performer_a, verification_a, consent_a, payload):
    response = post_consent(client, callers, "owner", performer_a.pk, consent_payload(**payload))
    assert response.status_code == 400, response.content


@pytest.mark.django_db
def test_recording_a_consent_respects_reach(client, callers, performer_a, performer_b, consent_a, consent_b):
    assert post_consent(client, callers, "oscar", performer_b.pk, consent_payload()).status_code == 404
    assert post_consent(client, callers, "oscar", "abc", consent_payload()).status_code == 404
    assert post_consent(client, callers, "key_a", performer_a.pk, consent_payload()).status_code == 403
    assert performer_b.consents.count() == 1 and performer_a.consents.count() == 1
