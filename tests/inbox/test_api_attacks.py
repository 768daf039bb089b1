"""The inbox API as an outside fuzzer and a malicious staff member try it: every odd input a 4xx in the error
envelope, every creating POST answered once per `Idempotency-Key`, nothing of another creator's team reachable
through an id in the path, the query or the body, and the send gate between the API and the fan."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import ApiKey, Membership, Role
from content.models import Asset
from core.models import IdempotencyRecord
from inbox import services
from inbox.models import Conversation, FanNote, Message, Script
from tests.content.factories import AssetFactory
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.factories import conversation
from tests.inbox.send_fixtures import vault_asset
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


def post(client, url, body, **headers):
    return client.post(url, body if isinstance(body, bytes | str) else json.dumps(body),
                       content_type=headers.pop("content_type", "application/json"), **headers)


def refused(answer, status: int = 400) -> dict:
    assert answer.status_code == status, answer.content
    assert set(answer.json()) == {"error"}, answer.content
    return answer.json()["error"]


def outgoing() -> int:
    return Message.objects.filter(direction=Message.Direction.OUT).count()


@pytest.fixture
def nova(desk):
    """Another creator with her own chatter, conversation, script and approved vault asset."""
    creator = CreatorFactory(stage_name="Nova")
    chatter = UserFactory(username="novac")
    accounts_services.add_membership(user=chatter, creator=creator, role=Role.CHATTER)
    conv = conversation(PlatformAccountFactory(creator=creator, platform="fanvue", handle="nova"), fan_id="nf")
    script = services.save_script(Script(creator=creator, name="Nova hello", text="Hello"))
    asset = AssetFactory(creator=creator, status=Asset.Status.APPROVED)
    return type("Nova", (), {"creator": creator, "chatter": chatter, "conv": conv, "script": script,
                             "asset": asset})


# --- Odd input is a 4xx --------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    {"end": "9999-12-31"},                          # the day after the period's end is past any calendar
    {"start": "9999-12-25", "end": "9999-12-31"},
    {"end": "0001-01-01"},                          # the default start, 6 days before, is before year 1
    {"end": "0001-01-06"},
    {"start": "0001-01-01", "end": "0001-01-03"},
    {"start": "2026-12-10", "end": "2026-12-01"},   # reversed
    {"start": "2026-02-30"},
    {"start": "\x00"},
    {"chatter": str(2**63)},
    {"chatter": "1e309"},
    {"creator": "1.5"},
])
def test_chatter_metrics_refuse_periods_no_calendar_holds(client, desk, query):
    client.force_login(desk.manager)
    error = refused(client.get(f"{API}/chatter-metrics/", query))
    assert error["details"], error


def test_chatter_metrics_take_the_widest_period_the_api_takes_anywhere(client, desk):
    client.force_login(desk.manager)
    answer = client.get(f"{API}/chatter-metrics/", {"start": "9998-01-01", "end": "9998-12-31"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["rows"] == []


@pytest.mark.parametrize("body", [
    {"text": "hi", "asset_ids": [[1]]},
    {"text": "hi", "asset_ids": [{"id": 1}]},
    {"text": "hi", "asset_ids": [1.5]},
    {"text": "hi", "asset_ids": ["1e309"]},
    {"text": "hi", "asset_ids": list(range(1, 60))},       # over the 50 a message may hold
    {"text": "hi", "price_minor": 1.5},
    {"text": "hi", "price_minor": "1e309"},
    {"text": "hi", "price_minor": 2**63},
    {"text": "hi", "script": "abc"},
    {"text": "hi", "script": 1.5},
    {"text": "hi", "script": [1]},
    {"text": "hi", "script": 2**63},
    {"text": "hi", "script": -1},
    {"text": None},
    {"text": ["hi"]},
    {"text": {"a": "b"}},
    {"text": "x" * 20001},
    {"text": "a\u0000b"},
    {"text": "\ud800"},
    None,
    1,
])
def test_odd_send_bodies_are_a_4xx(client, desk, body):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    answer = post(client, f"{API}/conversations/{conv.pk}/messages/", body)
    assert 400 <= answer.status_code < 500 and set(answer.json()) == {"error"}, answer.content
    assert outgoing() == 0


@pytest.mark.parametrize("raw, content_type", [
    (b"", "application/json"),
    (b"{", "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b"[" * 5000, "application/json"),
    (b"text=a%00b", "application/x-www-form-urlencoded"),
    (b"asset_ids=1e309", "application/x-www-form-urlencoded"),
    (b"text=hi", "text/plain"),
])
@pytest.mark.parametrize("action", ["messages/", "notes/", "assign/", "status/"])
def test_malformed_bodies_on_every_conversation_action_are_a_4xx(client, desk, raw, content_type, action):
    conv = conversation(desk.fanvue)
    client.force_login(desk.manager)
    answer = post(client, f"{API}/conversations/{conv.pk}/{action}", raw, content_type=content_type)
    assert 400 <= answer.status_code < 500 and set(answer.json()) == {"error"}, answer.content
    assert outgoing() == 0 and not FanNote.objects.exists()


@pytest.mark.parametrize("body", [
    {"status": "snoozed", "snoozed_until": "9999-12-31T23:59:59-12:00"},
    {"status": "snoozed", "snoozed_until": "0001-01-01T00:00:00+14:00"},
    {"status": "snoozed", "snoozed_until": "2026-02-30T00:00:00Z"},
    {"status": "snoozed", "snoozed_until": "1e309"},
    {"status": None},
    {"status": ["closed"]},
    {"assignee": "abc"},
    {"assignee": 1.5},
    {"assignee": 2**63},
    {"assignee": [1]},
    {},
])
def test_odd_status_and_assignment_bodies_are_a_4xx(client, desk, body):
    conv = conversation(desk.fanvue)
    before = (conv.status, conv.snoozed_until, conv.assignee_id)
    client.force_login(desk.manager)
    action = "assign/" if "assignee" in body or not body else "status/"
    answer = post(client, f"{API}/conversations/{conv.pk}/{action}", body)
    assert 400 <= answer.status_code < 500 and set(answer.json()) == {"error"}, answer.content
    conv.refresh_from_db()
    assert (conv.status, conv.snoozed_until, conv.assignee_id) == before


@pytest.mark.parametrize("query", [
    {"creator": str(2**63)}, {"creator": "1e309"}, {"fan": "-1"}, {"status": "moon"}, {"mode": "\x00"},
    {"priority": "x" * 5000}, {"cursor": "abc"}, {"cursor": "\x00"}, {"page_size": str(2**63)},
    {"ordering": "-fan__handle"}, {"search": "\x00"},
])
def test_odd_list_queries_never_fail(client, desk, query):
    conversation(desk.fanvue)
    client.force_login(desk.manager)
    answer = client.get(f"{API}/conversations/", query)
    assert answer.status_code < 500, answer.content


@pytest.mark.parametrize("body", [
    {"price_minor": 2**63}, {"price_minor": 1.5}, {"price_minor": "1e309"}, {"asset_ids": [2**63]},
    {"asset_ids": "1"}, {"asset_ids": [[1]]}, {"currency": "€€€"}, {"currency": "\u0000"}, {"name": None},
    {"name": "x" * 100000}, {"text": "hello " * 3334}, {"text": "x" * 5_000_000},
    {"creator": "1e309"}, {"creator": 2**63}, {"creator": 1.5}, {"active": "maybe"},
])
def test_odd_script_bodies_are_a_4xx(client, desk, body):
    client.force_login(desk.manager)
    answer = post(client, f"{API}/scripts/", {"creator": desk.creator.pk, "name": "n", "text": "t", **body})
    assert 400 <= answer.status_code < 500 and set(answer.json()) == {"error"}, answer.content
    assert not Script.objects.exists()


# --- Idempotency-Key -----------------------------------------------------------------------------------------


def test_a_message_key_reused_after_its_answer_expired_is_refused_for_another_message(client, desk):
    """The stored answer lasts a day; the message keeps the key for good. A client that reuses a key a day later
    for a new message must hear so, not get yesterday's message back as if its new one had been queued."""
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    url = f"{API}/conversations/{conv.pk}/messages/"
    first = post(client, url, {"text": "See you tonight"}, HTTP_IDEMPOTENCY_KEY="daily")
    assert first.status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    error = refused(post(client, url, {"text": "Something else entirely"}, HTTP_IDEMPOTENCY_KEY="daily"))
    assert "Idempotency-Key" in json.dumps(error)
    assert outgoing() == 1
    # The very same message retried after the window is still the first one, queued once.
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = post(client, url, {"text": "See you tonight"}, HTTP_IDEMPOTENCY_KEY="daily")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"] and outgoing() == 1


def test_a_message_key_reused_after_expiry_with_other_media_or_price_is_refused(client, desk, vault):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    url = f"{API}/conversations/{conv.pk}/messages/"
    body = {"text": "For you", "asset_ids": [vault.consented.pk], "price_minor": 999}
    assert post(client, url, body, HTTP_IDEMPOTENCY_KEY="ppv").status_code == 201
    for changed in ({**body, "price_minor": 1999}, {**body, "asset_ids": [vault_asset(desk.creator).pk]},
                    {"text": "For you"}):
        IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        refused(post(client, url, changed, HTTP_IDEMPOTENCY_KEY="ppv"))
    assert outgoing() == 1


@pytest.mark.parametrize("action, body, made", [
    ("notes/", {"text": "Likes cats"}, lambda: Message.objects.filter(direction=Message.Direction.NOTE).count()),
    ("notes/", {"text": "Birthday in May", "on": "fan"}, lambda: FanNote.objects.count()),
    ("messages/", {"text": "Hello"}, outgoing),
])
def test_every_creating_post_on_a_conversation_is_answered_once_per_key(client, desk, action, body, made):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    url = f"{API}/conversations/{conv.pk}/{action}"
    first = post(client, url, body, HTTP_IDEMPOTENCY_KEY="once")
    again = post(client, url, body, HTTP_IDEMPOTENCY_KEY="once")
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and made() == 1
    other = post(client, url, {**body, "text": "Another text"}, HTTP_IDEMPOTENCY_KEY="once")
    assert refused(other, 422)["code"] == "idempotency_key_reused" and made() == 1


def test_scripts_assignments_and_status_honour_the_key(client, desk):
    conv = conversation(desk.fanvue)
    client.force_login(desk.manager)
    body = {"creator": desk.creator.pk, "name": "Welcome", "text": "Hi {fan_name}"}
    first = post(client, f"{API}/scripts/", body, HTTP_IDEMPOTENCY_KEY="s-1")
    again = post(client, f"{API}/scripts/", body, HTTP_IDEMPOTENCY_KEY="s-1")
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert Script.objects.count() == 1
    refused(post(client, f"{API}/scripts/", {**body, "name": "Other"}, HTTP_IDEMPOTENCY_KEY="s-1"), 422)
    assert Script.objects.count() == 1
    url = f"{API}/conversations/{conv.pk}/"
    assert post(client, url + "assign/", {"assignee": desk.chatter.pk}, HTTP_IDEMPOTENCY_KEY="a-1").status_code == 200
    refused(post(client, url + "assign/", {"assignee": None}, HTTP_IDEMPOTENCY_KEY="a-1"), 422)
    assert post(client, url + "status/", {"status": "closed"}, HTTP_IDEMPOTENCY_KEY="st-1").status_code == 200
    refused(post(client, url + "status/", {"status": "open"}, HTTP_IDEMPOTENCY_KEY="st-1"), 422)
    conv.refresh_from_db()
    assert conv.assignee == desk.chatter and conv.status == Conversation.Status.CLOSED


# --- Tenancy ---------------------------------------------------------------------------------------------------


def test_another_creators_rows_are_absent_on_every_route(client, desk, nova):
    client.force_login(desk.manager)
    conv_url = f"{API}/conversations/{nova.conv.pk}/"
    for path in ("", "messages/"):
        refused(client.get(conv_url + path), 404)
    for action, body in (("messages/", {"text": "hi"}), ("notes/", {"text": "x"}),
                         ("notes/", {"text": "x", "on": "fan"}),
                         ("assign/", {"assignee": desk.chatter.pk}), ("assign/", {"assignee": None}),
                         ("status/", {"status": "closed"})):
        refused(post(client, conv_url + action, body), 404)
    refused(client.get(f"{API}/scripts/{nova.script.pk}/"), 404)
    refused(client.patch(f"{API}/scripts/{nova.script.pk}/", {"name": "mine"}, content_type="application/json"), 404)
    refused(client.delete(f"{API}/scripts/{nova.script.pk}/"), 404)
    for query in ({"creator": nova.creator.pk}, {"fan": nova.conv.fan_id}, {"account": nova.conv.account_id}):
        assert client.get(f"{API}/conversations/", query).json()["results"] == []
    assert client.get(f"{API}/scripts/", {"creator": nova.creator.pk}).json()["results"] == []
    refused(client.get(f"{API}/chatter-metrics/", {"creator": nova.creator.pk}), 404)
    nova.conv.refresh_from_db()
    assert nova.conv.status == Conversation.Status.OPEN and nova.conv.assignee_id is None
    assert Script.objects.get(pk=nova.script.pk).name == "Nova hello"
    assert not FanNote.objects.exists() and not Message.objects.filter(conversation=nova.conv).exclude(
        direction=Message.Direction.IN).exists()


def test_ids_of_another_creator_nested_in_bodies_are_refused(client, desk, nova):
    conv = conversation(desk.fanvue)
    assigned = conv.assignee_id  # the chatter on shift, by round-robin
    mine = vault_asset(desk.creator)
    client.force_login(desk.manager)
    url = f"{API}/conversations/{conv.pk}/"
    for body in ({"text": "look", "asset_ids": [nova.asset.pk]},
                 {"text": "look", "asset_ids": [mine.pk, nova.asset.pk]},
                 {"text": "hi", "script": nova.script.pk}):
        error = refused(post(client, url + "messages/", body))
        assert "Nova" not in json.dumps(error)  # nothing said about the other creator's rows
    for assignee in (nova.chatter.pk, UserFactory(username="elsewhere").pk):
        refused(post(client, url + "assign/", {"assignee": assignee}))
    script_body = {"creator": desk.creator.pk, "name": "Mixed", "text": "t"}
    refused(post(client, f"{API}/scripts/", {**script_body, "asset_ids": [nova.asset.pk]}))
    refused(post(client, f"{API}/scripts/", {**script_body, "creator": nova.creator.pk}))
    made = post(client, f"{API}/scripts/", script_body).json()["id"]
    refused(client.patch(f"{API}/scripts/{made}/", {"asset_ids": [nova.asset.pk]}, content_type="application/json"))
    refused(client.patch(f"{API}/scripts/{made}/", {"creator": nova.creator.pk}, content_type="application/json"))
    assert Script.objects.get(pk=made).creator == desk.creator and not Script.objects.get(pk=made).assets.exists()
    assert outgoing() == 0 and Conversation.objects.get(pk=conv.pk).assignee_id == assigned


def test_a_key_scoped_to_one_creator_reaches_nothing_of_the_others_its_owner_runs(client, desk, nova):
    Membership.objects.create(user=desk.manager, creator=nova.creator, role=Role.MANAGER)
    raw = accounts_services.issue_api_key(owner=desk.manager, name="luna-only", creators=[desk.creator],
                                          scope=ApiKey.Scope.WRITE).raw
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    conv = conversation(desk.fanvue)
    refused(client.get(f"{API}/conversations/{nova.conv.pk}/", **bearer), 404)
    refused(post(client, f"{API}/conversations/{nova.conv.pk}/messages/", {"text": "hi"}, **bearer), 404)
    refused(post(client, f"{API}/conversations/{conv.pk}/messages/", {"text": "hi", "script": nova.script.pk},
                 **bearer))
    refused(client.get(f"{API}/chatter-metrics/", {"creator": nova.creator.pk}, **bearer), 404)
    assert outgoing() == 0


# --- The send gate ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Asset.Status.DRAFT, Asset.Status.IN_REVIEW, Asset.Status.REJECTED,
                                    Asset.Status.ARCHIVED])
def test_media_not_approved_cannot_be_sent_free_or_paid(client, desk, vault, status):
    conv = conversation(desk.fanvue)
    unapproved = vault_asset(desk.creator, performer=vault.performer, status=status)
    client.force_login(desk.chatter)
    url = f"{API}/conversations/{conv.pk}/messages/"
    refused(post(client, url, {"text": "look", "asset_ids": [unapproved.pk]}))
    refused(post(client, url, {"text": "look", "asset_ids": [vault.consented.pk, unapproved.pk], "price_minor": 999}))
    assert outgoing() == 0


def test_media_of_a_performer_without_consent_cannot_be_sent(client, desk, vault):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    url = f"{API}/conversations/{conv.pk}/messages/"
    for body in ({"text": "look", "asset_ids": [vault.unconsented.pk]},
                 {"text": "look", "asset_ids": [vault.consented.pk, vault.unconsented.pk], "price_minor": 999}):
        refused(post(client, url, body))
    assert outgoing() == 0
    assert post(client, url, {"text": "look", "asset_ids": [vault.consented.pk], "price_minor": 999}).status_code == 201


def test_hard_blocked_words_are_refused_in_messages_notes_scripts(client, desk):
    conv = conversation(desk.fanvue)
    client.force_login(desk.manager)
    refused(post(client, f"{API}/conversations/{conv.pk}/messages/", {"text": "pretend I am 15"}))
    refused(post(client, f"{API}/scripts/", {"creator": desk.creator.pk, "name": "s", "text": "pretend I am 15"}))
    made = post(client, f"{API}/scripts/", {"creator": desk.creator.pk, "name": "s", "text": "Hello"}).json()["id"]
    refused(client.patch(f"{API}/scripts/{made}/", {"text": "pretend I am 15"}, content_type="application/json"))
    assert outgoing() == 0 and Script.objects.get().text == "Hello"


def test_a_held_conversation_refuses_paid_content_through_the_api(client, desk, vault):
    conv = conversation(desk.fanvue)
    services.hold(conv, "The fan wrote “I am 15”.")
    client.force_login(desk.chatter)
    url = f"{API}/conversations/{conv.pk}/messages/"
    for price in (999, 0):
        error = refused(post(client, url, {"text": "x", "asset_ids": [vault.consented.pk], "price_minor": price}))
        assert "held for compliance" in json.dumps(error)
    assert outgoing() == 0
    assert client.get(f"{API}/conversations/{conv.pk}/").json()["held"] is True


ODD_IDS = ["1.5", "1.0001", "1e0", "1e309", "0x1", "NaN", "Infinity"]
ODD_YES_NO = ["yes", "abc", "2", "\x00", "x" * 5000]


@pytest.mark.parametrize(("name", "value"), [
    *((name, value) for name in ("creator", "account", "fan", "assignee") for value in ODD_IDS),
    *((name, value) for name in ("mine", "unread", "waiting") for value in ODD_YES_NO)])
def test_a_filter_refuses_a_value_that_is_not_of_its_kind(client, desk, name, value):
    """1.5 is no id: read as 1 it would answer with the rows of another id than the one asked for. `mine=yes`
    read as no filter at all would list everyone's conversations to a client that asked for its own."""
    conversation(desk.fanvue)
    client.force_login(desk.manager)
    error = refused(client.get(f"{API}/conversations/", {name: value}))
    assert name in error["details"]


def test_an_id_filter_past_any_id_finds_nothing(client, desk):
    conv = conversation(desk.fanvue)
    client.force_login(desk.manager)
    for value in (str(2**63), "-1", "0"):
        assert client.get(f"{API}/conversations/", {"creator": value}).json()["results"] == [], value
    assert [c["id"] for c in client.get(f"{API}/conversations/", {"creator": desk.creator.pk}).json()["results"]
            ] == [conv.pk]
    refused(client.get(f"{API}/scripts/", {"creator": "1.5"}))


def test_chatter_metrics_never_count_work_done_for_another_team(client, desk, nova):
    services.send(nova.conv, by=nova.chatter, text="Hello from Nova's desk")
    client.force_login(desk.manager)
    for query in ({}, {"chatter": nova.chatter.pk}, {"group": "shift"}):
        rows = client.get(f"{API}/chatter-metrics/", query).json()["rows"]
        assert all(r["key"] != nova.chatter.pk and r["creator"] != "Nova" for r in rows), (query, rows)


def test_a_script_holds_only_approved_media(client, desk, vault):
    draft = vault_asset(desk.creator, status=Asset.Status.DRAFT)
    client.force_login(desk.manager)
    body = {"creator": desk.creator.pk, "name": "PPV", "text": "For you", "asset_ids": [draft.pk]}
    assert "not approved" in json.dumps(refused(post(client, f"{API}/scripts/", body)))
    made = post(client, f"{API}/scripts/", {**body, "asset_ids": [vault.consented.pk]}).json()["id"]
    refused(client.patch(f"{API}/scripts/{made}/", {"asset_ids": [draft.pk]}, content_type="application/json"))
    assert list(Script.objects.get(pk=made).assets.all()) == [vault.consented]


def test_yes_no_filters_take_true_false_and_nothing(client, desk):
    conv = conversation(desk.fanvue)
    client.force_login(desk.manager)
    ids = lambda q: [c["id"] for c in client.get(f"{API}/conversations/", q).json()["results"]]  # noqa: E731
    assert ids({"waiting": "true"}) == ids({"waiting": "True"}) == ids({"waiting": "1"}) == [conv.pk]
    assert ids({"waiting": "false"}) == ids({"waiting": "0"}) == []
    assert ids({"waiting": ""}) == ids({}) == [conv.pk]
    assert ids({"mine": "false"}) == [conv.pk]
    refused(client.get(f"{API}/scripts/", {"active": "maybe"}))
