"""Fans' messages are personal data: retention purge, a fan's export and erasure (audited), and no read of a
conversation from outside its creator's team, in the admin or the API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership, Role
from analytics.models import Fan, Transaction
from inbox import privacy, services, tasks
from inbox.models import AIDraft, FanNote, Message, ReportingEvent
from tests.content.factories import AssetFactory
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.factories import conversation, fan_writes
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db


def age(message: Message, days: int) -> None:
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=days))


@pytest.fixture
def thread(desk):
    """A fan who wrote, was answered with a bought PPV, and has notes."""
    first = fan_writes(desk.fanvue, "I'm Sam from Leeds", fan_id="sam", fan_handle="@sam_leeds",
                       raw={"sender": {"handle": "@sam_leeds"}})
    conv = first.conversation
    asset = AssetFactory(creator=desk.creator)
    ppv = Message.objects.create(creator=desk.creator, conversation=conv, account=desk.fanvue,
                                 direction=Message.Direction.OUT, text="Just for you, Sam", sent_by=desk.chatter,
                                 origin=Message.Origin.MANUAL, send_status=Message.SendStatus.SENT, price_minor=1500,
                                 currency="USD", purchased_at=timezone.now(), raw={"id": "x"})
    ppv.assets.add(asset)
    tx = Transaction.objects.create(creator=desk.creator, platform="fanvue", fan=conv.fan, kind="paid_message",
                                    gross_minor=1500, fee_minor=300, net_minor=1200, currency="USD",
                                    occurred_at=timezone.now(), source="webhook", external_id="sale-1")
    ReportingEvent.objects.create(creator=desk.creator, conversation=conv, kind=ReportingEvent.Kind.PURCHASE_CREDITED,
                                  message=ppv, chatter=desk.chatter, amount_minor=1500, currency="USD", transaction=tx)
    services.add_note(conv, by=desk.chatter, text="Sam mentioned his sister")
    services.add_fan_note(conv, by=desk.chatter, text="Works night shifts")
    Fan.objects.filter(pk=conv.fan_id).update(notes="Lives in Leeds", tags=["whale"])
    AIDraft.objects.create(creator=desk.creator, conversation=conv, prompt_version="v1", text="Hey Sam!")
    return conv, first, ppv, tx


# --- Retention ------------------------------------------------------------------------------------------


def test_old_messages_lose_their_words_and_media_but_keep_their_facts(thread, desk, settings, monkeypatch):
    conv, first, ppv, _ = thread
    settings.INBOX_RETENTION_DAYS = 30
    monkeypatch.setattr(privacy, "PURGE_BATCH", 1)  # one message a batch: the walk goes on past the first
    age(first, 31)
    age(ppv, 31)
    recent = fan_writes(conv.account, "still here", fan_id="sam")
    assert tasks.purge_expired_messages() == 2
    ppv.refresh_from_db()
    first.refresh_from_db()
    assert (first.text, first.raw) == ("", {}) and (ppv.text, ppv.raw) == ("", {})
    assert not ppv.assets.exists()
    assert (ppv.price_minor, ppv.currency, ppv.sent_by_id) == (1500, "USD", desk.chatter.pk)
    assert ppv.purchased_at is not None and ReportingEvent.objects.get(message=ppv).amount_minor == 1500
    assert Message.objects.get(pk=recent.pk).text == "still here"
    assert privacy.purge_expired_messages() == 0  # idempotent
    assert AuditEvent.objects.filter(action="inbox.retention.purged").count() == 1


def test_a_retention_below_one_day_is_a_configuration_error(settings):
    settings.INBOX_RETENTION_DAYS = 0
    with pytest.raises(Exception, match="at least 1"):
        privacy.purge_expired_messages()


def test_the_purge_runs_nightly():
    from core.beat import BEAT_ENTRIES

    entry = next(e for e in BEAT_ENTRIES if e.task == "inbox.tasks.purge_expired_messages")
    assert entry.crontab


# --- Export and erasure ---------------------------------------------------------------------------------


def test_export_holds_everything_about_the_fan_and_is_audited(thread, desk):
    conv, _first, _ppv, _tx = thread
    data = privacy.export_fan(Fan.objects.get(pk=conv.fan_id), actor=desk.manager)
    json.dumps(data)  # JSON-ready
    assert data["fan"]["handle"] == "@sam_leeds" and data["fan"]["notes"] == "Lives in Leeds"
    assert [c["id"] for c in data["conversations"]] == [conv.pk]
    texts = [m["text"] for m in data["messages"]]
    assert "I'm Sam from Leeds" in texts and "Just for you, Sam" in texts and "Sam mentioned his sister" in texts
    assert data["notes"][0]["text"] == "Works night shifts"
    assert data["purchases"][0]["gross_minor"] == 1500
    event = AuditEvent.objects.get(action="inbox.fan.exported")
    assert event.actor == desk.manager and event.creator_id == desk.creator.pk


def test_erasure_blanks_the_person_keeps_the_money_and_is_idempotent(thread, desk):
    conv, _first, ppv, tx = thread
    fan = Fan.objects.get(pk=conv.fan_id)
    with pytest.raises(Exception, match="Say why"):
        privacy.erase_fan(fan, actor=desk.manager, reason=" ")
    counts = privacy.erase_fan(fan, actor=desk.manager, reason="DSR-42")
    fan.refresh_from_db()
    assert (fan.handle, fan.notes, fan.tags) == ("", "", []) and fan.external_id == f"erased:{fan.pk}"
    assert privacy.is_erased(fan)
    assert not FanNote.objects.exists()
    assert not Message.objects.filter(direction=Message.Direction.NOTE).exists()
    assert set(Message.objects.values_list("text", flat=True)) == {""}
    assert not Message.objects.filter(raw__has_key="sender").exists() and not ppv.assets.exists()
    assert AIDraft.objects.get().text == ""
    tx.refresh_from_db()
    assert (tx.gross_minor, tx.net_minor, tx.fan_id) == (1500, 1200, fan.pk)
    assert ReportingEvent.objects.get(kind="purchase_credited").amount_minor == 1500
    assert counts["purchases_kept"] == 1 and counts["notes_deleted"] == 2
    audit = AuditEvent.objects.get(action="inbox.fan.erased")
    assert audit.changes["reason"] == "DSR-42" and "Sam" not in json.dumps(audit.changes)
    privacy.erase_fan(fan, actor=desk.manager, reason="again")
    fan.refresh_from_db()
    assert fan.external_id == f"erased:{fan.pk}"
    # The same person writing again is a new fan: nothing links them to the erased one.
    again = fan_writes(desk.fanvue, "hi again", fan_id="sam")
    assert again.conversation.fan_id != fan.pk


def in_role_groups(*members):
    """The desk's memberships were made without the services: give their people the role groups the admin's
    model permissions come from."""
    for user in members:
        for role in Membership.objects.filter(user=user).values_list("role", flat=True):
            Group.objects.get(name=Role(role).label).user_set.add(user)


def test_managers_export_and_erase_from_the_fan_admin_and_chatters_cannot(thread, desk, client):
    conv, *_ = thread
    in_role_groups(desk.chatter, desk.manager)
    url = reverse("admin:analytics_fan_changelist")
    client.force_login(desk.chatter)
    action_form = client.get(url).context["action_form"]
    assert action_form is None or "inbox_export_fan" not in dict(action_form.fields["action"].choices)
    refused = client.post(url, {"action": "inbox_export_fan", ACTION_CHECKBOX_NAME: [conv.fan_id]})
    assert refused.status_code == 403
    client.force_login(desk.manager)
    export = client.post(url, {"action": "inbox_export_fan", ACTION_CHECKBOX_NAME: [conv.fan_id]})
    assert export.status_code == 200 and export["Content-Type"].startswith("application/json")
    assert json.loads(export.content)["fan"]["handle"] == "@sam_leeds"
    confirm = client.post(url, {"action": "inbox_erase_fans", ACTION_CHECKBOX_NAME: [conv.fan_id]})
    assert confirm.status_code == 200 and "DSR" not in confirm.content.decode()
    assert Fan.objects.get(pk=conv.fan_id).handle == "@sam_leeds"
    done = client.post(url, {"action": "inbox_erase_fans", ACTION_CHECKBOX_NAME: [conv.fan_id], "apply": "1",
                             "reason": "DSR-7"})
    assert done.status_code == 302
    assert Fan.objects.get(pk=conv.fan_id).handle == ""
    assert AuditEvent.objects.filter(action__in=["inbox.fan.exported", "inbox.fan.erased"]).count() == 2


def test_another_creators_manager_cannot_export_or_erase(thread, client):
    conv, *_ = thread
    nova = CreatorFactory(stage_name="Nova")
    other = UserFactory(username="nova-mgr")
    Membership.objects.create(user=other, creator=nova, role=Role.MANAGER)
    in_role_groups(other)
    client.force_login(other)
    url = reverse("admin:analytics_fan_changelist")
    answer = client.post(url, {"action": "inbox_export_fan", ACTION_CHECKBOX_NAME: [conv.fan_id]})
    assert answer.status_code == 404
    assert not AuditEvent.objects.filter(action="inbox.fan.exported").exists()


# --- No reads from outside the creator's team -----------------------------------------------------------


@pytest.fixture
def nova_thread(desk):
    nova = CreatorFactory(stage_name="Nova")
    nova_manager = UserFactory(username="nova-boss")
    Membership.objects.create(user=nova_manager, creator=nova, role=Role.MANAGER)
    conv = conversation(PlatformAccountFactory(creator=nova, platform="fanvue", handle="nova"), fan_id="nf",
                        text="private words")
    services.send(conv, by=nova_manager, text="Nova's secret reply")
    return conv


def test_a_chatter_of_a_gets_404_for_bs_conversation_in_the_api(desk, nova_thread, client):
    client.force_login(desk.chatter)
    for path in ("", "messages/"):
        answer = client.get(f"/api/v1/conversations/{nova_thread.pk}/{path}")
        assert answer.status_code == 404 and b"private words" not in answer.content


def test_a_chatter_or_manager_of_a_gets_404_for_bs_conversation_in_the_admin(desk, nova_thread, client):
    review = reverse("admin:inbox_message_review")
    client.force_login(desk.manager)
    assert client.get(review, {"conversation": nova_thread.pk}).status_code == 404
    assert client.get(review, {"creator": nova_thread.creator_id}).status_code == 404
    listed = client.get(review)
    assert listed.status_code == 200 and "Nova&#x27;s secret reply" not in listed.content.decode()
    assert "Nova's secret reply" not in listed.content.decode()
    client.force_login(desk.chatter)
    assert client.get(review, {"conversation": nova_thread.pk}).status_code == 404
    try:
        change = reverse("admin:inbox_conversation_change", args=[nova_thread.pk])
    except Exception:  # the conversation admin belongs to the chatter screen
        return
    assert client.get(change).status_code == 404


def test_the_review_page_lists_each_message_with_its_outcome_and_exports_audited_safe_csv(desk, client):
    conv = conversation(desk.fanvue)
    services.send(conv, by=desk.chatter, text="=HYPERLINK(\"http://evil\")")
    client.force_login(desk.manager)
    url = reverse("admin:inbox_message_review")
    page = client.get(url, {"chatter": desk.chatter.pk})
    assert page.status_code == 200 and "HYPERLINK" in page.content.decode()
    csv_answer = client.get(url, {"chatter": desk.chatter.pk, "format": "csv"})
    body = csv_answer.content.decode()
    assert csv_answer["Content-Type"].startswith("text/csv") and "'=HYPERLINK" in body
    assert AuditEvent.objects.get(action="inbox.messages.exported").changes["rows"] == 1
    assert client.get(url, {"conversation": "99999999999999999999"}).status_code == 404
    client.force_login(desk.chatter)
    assert client.get(url).status_code == 403


def test_the_conversation_list_can_export_and_erase_its_fans(thread, desk, rf):
    from django.contrib.messages.storage.fallback import FallbackStorage

    from inbox.models import Conversation
    from inbox.views_privacy import erase_conversation_fans, export_conversation_fan

    conv, *_ = thread
    request = rf.post("/admin/inbox/conversation/")
    request.user, request.session = desk.manager, {}
    request._messages = FallbackStorage(request)
    chosen = Conversation.objects.filter(pk=conv.pk)
    exported = export_conversation_fan(None, request, chosen)
    assert json.loads(exported.content)["conversations"][0]["id"] == conv.pk
    assert list(export_conversation_fan.allowed_permissions) == ["privacy"]
    request = rf.post("/admin/inbox/conversation/", {"apply": "1", "reason": "DSR-9"})
    request.user, request.session = desk.manager, {}
    request._messages = FallbackStorage(request)
    assert erase_conversation_fans(None, request, chosen) is None
    assert privacy.is_erased(Fan.objects.get(pk=conv.fan_id))
