"""The inbox API: tenancy (another creator's conversation is a 404), sends through the gate with
Idempotency-Key, refusals as 400 envelopes, odd but legal input as 4xx, and the outbound webhook events."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import ApiKey, Membership, Role
from core.api.fields import BIGINT_MAX
from inbox import signals
from inbox.models import Conversation, FanNote, Message, ReportingEvent, Script
from notifications import services as notifications
from notifications.models import WebhookDelivery
from tests.content.factories import AssetFactory
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.factories import conversation, fan_writes
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def two_desks(desk):
    """Luna's desk, and Nova with her own chatter and a conversation."""
    nova = CreatorFactory(stage_name="Nova")
    nova_chatter = UserFactory(username="novac")
    Membership.objects.create(user=nova_chatter, creator=nova, role=Role.CHATTER)
    nova_conv = conversation(PlatformAccountFactory(creator=nova, platform="fanvue", handle="nova"), fan_id="nf")
    return desk, nova_conv


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body) if not isinstance(body, bytes | str) else body,
                       content_type="application/json", **headers)


def test_a_chatter_sees_her_creators_conversations_and_404s_for_anyone_elses(client, two_desks):
    desk, nova_conv = two_desks
    mine = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    listed = client.get(f"{API}/conversations/").json()["results"]
    assert [c["id"] for c in listed] == [mine.pk]
    assert client.get(f"{API}/conversations/{mine.pk}/").status_code == 200
    for path in ("", "messages/"):
        assert client.get(f"{API}/conversations/{nova_conv.pk}/{path}").status_code == 404
    refused = post(client, f"{API}/conversations/{nova_conv.pk}/messages/", {"text": "hi"})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert post(client, f"{API}/conversations/{nova_conv.pk}/notes/", {"text": "x"}).status_code == 404
    assert not Message.objects.filter(conversation=nova_conv, direction=Message.Direction.OUT).exists()


def test_filters(client, desk):
    waiting = conversation(desk.fanvue, fan_id="w")
    answered = conversation(desk.fanvue, fan_id="a")
    client.force_login(desk.chatter)
    post(client, f"{API}/conversations/{answered.pk}/messages/", {"text": "Thanks!"})
    ids = lambda q: [c["id"] for c in client.get(f"{API}/conversations/", q).json()["results"]]  # noqa: E731
    assert ids({"waiting": "true"}) == [waiting.pk]
    assert ids({"status": "pending"}) == [answered.pk]
    assert ids({"creator": 10**30}) == [] and ids({"fan": waiting.fan_id}) == [waiting.pk]
    assert client.get(f"{API}/conversations/", {"creator": "abc"}).status_code == 400


def test_send_honours_the_idempotency_key_and_queues_once(client, desk):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    url = f"{API}/conversations/{conv.pk}/messages/"
    first = post(client, url, {"text": "Hey you 💜"}, HTTP_IDEMPOTENCY_KEY="send-1")
    again = post(client, url, {"text": "Hey you 💜"}, HTTP_IDEMPOTENCY_KEY="send-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    sent = Message.objects.get(direction=Message.Direction.OUT)
    assert sent.sent_by == desk.chatter and sent.send_status == Message.SendStatus.QUEUED
    assert sent.text == "Hey you 💜" and sent.idempotency_key and "send-1" not in sent.idempotency_key
    assert post(client, url, {"text": "other"}, HTTP_IDEMPOTENCY_KEY="send-1").status_code == 422
    thread = client.get(url).json()["results"]
    assert [m["id"] for m in thread] == [sent.pk, conv.messages.get(direction="in").pk]


def test_the_same_key_from_another_person_is_another_message(client, desk):
    conv = conversation(desk.fanvue)
    url = f"{API}/conversations/{conv.pk}/messages/"
    client.force_login(desk.chatter)
    assert post(client, url, {"text": "one"}, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    client.force_login(desk.manager)
    assert post(client, url, {"text": "two"}, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert Message.objects.filter(direction=Message.Direction.OUT).count() == 2


@pytest.mark.parametrize("body", [
    {"text": ""},                                             # nothing to send
    {"text": "   "},
    {"text": "pretend I am 15"},                               # hard-blocked
    {"text": "x" * 5001},                                      # over Fanvue's 5000
    {"text": "unlock me", "price_minor": 1000},                # a price without media
    {"text": "neg", "price_minor": -1},
    {"text": "huge", "price_minor": 10**12},
    {"text": "wrong", "price_minor": "ten"},
    {"text": 12},
    {"text": "x", "asset_ids": "1"},
    {"text": "x", "asset_ids": [BIGINT_MAX]},                  # no such asset
    {"text": "x", "asset_ids": [10**30]},
    {"text": "x", "asset_ids": [-1]},
    {"text": "x", "script": BIGINT_MAX},
    [],
    "not json",
])
def test_odd_input_is_a_4xx_never_a_5xx(client, desk, body):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    answer = post(client, f"{API}/conversations/{conv.pk}/messages/", body)
    assert 400 <= answer.status_code < 500, answer.content
    assert set(answer.json()) == {"error"}
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()


def test_a_gate_refusal_names_its_reasons(client, desk):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    answer = post(client, f"{API}/conversations/{conv.pk}/messages/", {"text": "unlock", "price_minor": 1000})
    assert answer.status_code == 400
    assert "A priced message needs media to unlock." in json.dumps(answer.json()["error"]["details"])


def test_another_creators_asset_is_refused(client, desk):
    conv = conversation(desk.fanvue)
    foreign = AssetFactory(creator=CreatorFactory())
    client.force_login(desk.chatter)
    answer = post(client, f"{API}/conversations/{conv.pk}/messages/", {"text": "look", "asset_ids": [foreign.pk]})
    assert answer.status_code == 400 and "asset_ids" in answer.json()["error"]["details"]


@pytest.mark.parametrize("path", ["conversations/999999999999/", "conversations/9999999999999999999999/",
                                  "conversations/abc/", "conversations/%C3%A9/", "scripts/99999999999999999999/"])
def test_odd_ids_are_404(client, desk, path):
    client.force_login(desk.manager)
    assert client.get(f"{API}/{path}").status_code == 404


def test_assign_and_status(client, desk):
    conv = conversation(desk.fanvue)
    outsider = UserFactory(username="outsider")
    client.force_login(desk.manager)
    url = f"{API}/conversations/{conv.pk}/"
    assigned = post(client, url + "assign/", {"assignee": desk.chatter.pk})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == desk.chatter.pk
    assert post(client, url + "assign/", {"assignee": outsider.pk}).status_code == 400
    assert post(client, url + "assign/", {"assignee": BIGINT_MAX}).status_code == 400
    assert post(client, url + "assign/", {"assignee": None}).json()["assignee"] is None
    assert post(client, url + "status/", {"status": "snoozed"}).status_code == 400
    past = post(client, url + "status/", {"status": "snoozed", "snoozed_until": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and "still to come" in past.content.decode()
    conv.refresh_from_db()
    assert conv.status == "open" and conv.snoozed_until is None
    assert post(client, url + "status/", {"status": "bogus"}).status_code == 400
    closed = post(client, url + "status/", {"status": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert ReportingEvent.objects.filter(kind=ReportingEvent.Kind.RESOLVED, chatter=desk.manager).exists()
    client.force_login(desk.chatter)
    ids = [c["id"] for c in client.get(f"{API}/conversations/", {"mine": "true"}).json()["results"]]
    assert ids == []


def test_notes_on_the_thread_and_on_the_fan(client, desk):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    url = f"{API}/conversations/{conv.pk}/notes/"
    assert post(client, url, {"text": "Likes cats"}).json()["on"] == "conversation"
    assert post(client, url, {"text": "Birthday in May", "on": "fan"}).status_code == 201
    assert post(client, url, {"text": ""}).status_code == 400
    assert post(client, url, {"text": "x", "on": "moon"}).status_code == 400
    assert Message.objects.filter(direction=Message.Direction.NOTE, text="Likes cats").exists()
    assert FanNote.objects.get().text == "Birthday in May"


def test_scripts_are_managed_by_managers_and_read_by_chatters(client, two_desks):
    desk, nova_conv = two_desks
    client.force_login(desk.manager)
    made = post(client, f"{API}/scripts/", {"creator": desk.creator.pk, "name": "Welcome",
                                            "text": "Hi {fan_name}, welcome!", "currency": "usd"})
    assert made.status_code == 201, made.content
    script_id = made.json()["id"]
    assert made.json()["currency"] == "USD"
    assert post(client, f"{API}/scripts/", {"creator": nova_conv.creator_id, "name": "x", "text": "y"}
                ).status_code == 400
    assert post(client, f"{API}/scripts/", {"creator": desk.creator.pk, "name": "bad",
                                            "text": "pretend I am 15"}).status_code == 400
    assert post(client, f"{API}/scripts/", {"creator": desk.creator.pk, "name": "p", "text": "t",
                                            "price_minor": -5}).status_code == 400
    changed = client.patch(f"{API}/scripts/{script_id}/", {"name": "Hello"}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["name"] == "Hello"
    client.force_login(desk.chatter)
    assert client.get(f"{API}/scripts/{script_id}/").status_code == 200
    assert client.delete(f"{API}/scripts/{script_id}/").status_code == 403
    assert post(client, f"{API}/scripts/", {"creator": desk.creator.pk, "name": "c", "text": "t"}).status_code == 400
    client.force_login(desk.manager)
    assert client.delete(f"{API}/scripts/{script_id}/").status_code == 204
    assert not Script.objects.exists()


def test_chatter_metrics(client, desk):
    conv = conversation(desk.fanvue)
    client.force_login(desk.chatter)
    post(client, f"{API}/conversations/{conv.pk}/messages/", {"text": "hi"})
    client.force_login(desk.manager)
    answer = client.get(f"{API}/chatter-metrics/")
    assert answer.status_code == 200
    row = answer.json()["rows"][0]
    assert row["key"] == desk.chatter.pk and row["messages_sent"] == 1 and row["first_responses"] == 1
    shifts = client.get(f"{API}/chatter-metrics/", {"group": "shift"}).json()["rows"]
    assert shifts[0]["messages_sent"] == 1 and shifts[0]["creator"] == "Luna"
    for bad in ({"group": "moon"}, {"start": "2026-02-30"}, {"start": "2026-12-10", "end": "2026-12-01"},
                {"start": "2020-01-01", "end": "2026-01-01"}, {"creator": "x"}, {"creator": 10**30}):
        assert client.get(f"{API}/chatter-metrics/", bad).status_code == 400, bad
    assert client.get(f"{API}/chatter-metrics/", {"creator": CreatorFactory().pk}).status_code == 404
    client.force_login(desk.chatter)
    assert client.get(f"{API}/chatter-metrics/").json()["rows"] == []


def test_an_api_key_sends_as_its_owner(client, desk):
    conv = conversation(desk.fanvue)
    raw = accounts_services.issue_api_key(owner=desk.chatter, name="bot", creators=[desk.creator],
                                          scope=ApiKey.Scope.WRITE).raw
    answer = post(client, f"{API}/conversations/{conv.pk}/messages/", {"text": "hi"},
                  HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_IDEMPOTENCY_KEY="bot-1")
    assert answer.status_code == 201 and answer.json()["sent_by"] == desk.chatter.pk
    read_only = accounts_services.issue_api_key(owner=desk.chatter, name="ro", creators=[desk.creator]).raw
    assert post(client, f"{API}/conversations/{conv.pk}/messages/", {"text": "hi"},
                HTTP_AUTHORIZATION=f"Bearer {read_only}").status_code == 403


# --- Outbound webhook events ------------------------------------------------------------------------------


@pytest.fixture
def endpoint(desk, django_capture_on_commit_callbacks):
    made, _ = notifications.create_endpoint(desk.creator, "CRM", "https://crm.example/hooks",
                                            ["message.received", "message.sent", "message.purchased"])
    notifications.create_endpoint(None, "Notices", "https://ops.example/hooks", [])  # all notices, no data events
    return made


def test_message_events_reach_only_endpoints_that_name_them(desk, endpoint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        received = fan_writes(desk.fanvue, "hello there")
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == endpoint and delivery.event == "message.received"
    assert delivery.payload["data"]["text"] == "hello there"
    assert delivery.payload["data"]["message_id"] == received.pk
    queued = Message.objects.create(creator=desk.creator, conversation=received.conversation, account=desk.fanvue,
                                    direction=Message.Direction.OUT, text="hi", sent_by=desk.chatter,
                                    origin=Message.Origin.MANUAL, send_status=Message.SendStatus.SENT,
                                    price_minor=900, currency="USD", sent_at=timezone.now())
    signals.message_sent.send(sender=Message, message=queued)
    signals.message_sent.send(sender=Message, message=queued)  # told twice: one delivery
    assert WebhookDelivery.objects.filter(event="message.sent").count() == 1
    Message.objects.filter(pk=queued.pk).update(purchased_at=timezone.now())
    ReportingEvent.objects.create(creator=desk.creator, conversation=received.conversation, message=queued,
                                  kind=ReportingEvent.Kind.PURCHASE_CREDITED, chatter=desk.chatter, amount_minor=900,
                                  currency="USD")
    bought = WebhookDelivery.objects.get(event="message.purchased")
    assert bought.payload["data"]["chatter_id"] == desk.chatter.pk and bought.payload["data"]["amount_minor"] == 900
    assert bought.payload["data"]["purchased_at"] is not None


def test_no_event_without_an_endpoint_that_asked(desk):
    fan_writes(desk.fanvue, "hello")
    assert not WebhookDelivery.objects.exists()
    assert Conversation.objects.count() == 1
