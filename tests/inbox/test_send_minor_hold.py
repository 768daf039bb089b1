"""A fan's message that signals a minor holds the conversation: a person writes every reply, no paid
content, no AI; compliance and the managers are told; only a compliance officer or an owner lifts it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent
from inbox import services
from inbox.models import Conversation, Message
from notifications.models import Notification, NotificationReceipt
from tests.factories import UserFactory
from tests.inbox.factories import conversation, fan_writes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text", ["I'm 15 btw", "i am 17 lol", "im in 9th grade", "I'm still in high school"])
def test_a_minor_signal_holds_the_conversation_and_tells_compliance(desk, vault, text):
    conv = conversation(desk.fanvue)
    services.set_mode(conv, Conversation.Mode.AI_ASSIST, by=desk.manager)
    fan_writes(desk.fanvue, text)
    conv.refresh_from_db()
    assert conv.held and conv.mode == Conversation.Mode.HUMAN and "minor" in conv.held_reason
    assert AuditEvent.objects.filter(action="inbox.conversation.held").count() == 1
    notice = Notification.objects.get(kind=services.HOLD_NOTICE)
    told = set(notice.receipts.values_list("user__username", flat=True))
    assert {"cora", "mara"} <= told and "chatty" not in told
    fan_writes(desk.fanvue, "I'm 15")  # said again: still one notice
    assert Notification.objects.filter(kind=services.HOLD_NOTICE).count() == 1
    with pytest.raises(ValidationError):
        services.set_mode(conv, Conversation.Mode.AI_ASSIST, by=desk.manager)


@pytest.mark.parametrize("text", ["I'm 25 and love your work", "my son is 12, what a week", "hi there"])
def test_ordinary_messages_hold_nothing(desk, text):
    conv = fan_writes(desk.fanvue, text).conversation
    conv.refresh_from_db()
    assert not conv.held and not Notification.objects.filter(kind=services.HOLD_NOTICE).exists()


def test_only_compliance_or_an_owner_lifts_the_hold(desk, vault):
    conv = fan_writes(desk.fanvue, "I'm 15").conversation
    conv.refresh_from_db()
    for person in (desk.chatter, desk.manager):
        with pytest.raises(ValidationError):
            services.release_hold(conv, by=person)
    conv.refresh_from_db()
    assert conv.held
    services.release_hold(conv, by=vault.officer, note="Checked: an adult quoting a film.")
    conv.refresh_from_db()
    assert not conv.held and conv.held_reason == ""
    assert Notification.objects.get(kind=services.HOLD_NOTICE).resolved_at is not None
    assert AuditEvent.objects.filter(action="inbox.conversation.hold_released").count() == 1
    services.send(conv, by=desk.chatter, text="for you", assets=[vault.consented], price_minor=999)


def test_an_owner_lifts_it_too(desk):
    conv = fan_writes(desk.fanvue, "I'm 15").conversation
    services.release_hold(conv, by=UserFactory(username="boss", is_superuser=True, is_staff=True))
    conv.refresh_from_db()
    assert not conv.held


def test_an_outgoing_message_never_holds(desk):
    conv = conversation(desk.fanvue)
    services.send(conv, by=desk.chatter, text="Happy 15th anniversary of the studio!")
    conv.refresh_from_db()
    assert not conv.held and Message.objects.filter(direction=Message.Direction.OUT).count() == 1
    assert not NotificationReceipt.objects.exists()
