"""The inbox's two doors: a platform's message recorded once, a chatter's reply queued through the gate."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inbox import services
from inbox.models import Conversation, Message, ReportingEvent
from tests.inbox.factories import fan_writes, incoming

pytestmark = pytest.mark.django_db


def test_a_message_is_recorded_once_whichever_door_it_came_by(desk):
    first = fan_writes(desk.fanvue, "hey", external_id="m-1")
    assert services.receive(desk.fanvue, incoming(external_id="m-1", text="hey")) is None
    conversation = Conversation.objects.get()
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert conversation.unread_count == 1
    assert conversation.waiting_since == first.sent_at
    assert conversation.fan.external_id == "fan-1"


def test_a_reply_ends_the_wait_and_records_the_first_response(desk):
    conversation = fan_writes(desk.fanvue, "hey").conversation
    reply = services.send(conversation, by=desk.chatter, text="Hi, thanks for writing!", idempotency_key="k-1")
    assert reply.send_status == Message.SendStatus.QUEUED and reply.sent_by == desk.chatter
    conversation.refresh_from_db()
    assert conversation.waiting_since is None and conversation.first_reply_at is not None
    event = ReportingEvent.objects.get(kind=ReportingEvent.Kind.FIRST_RESPONSE)
    assert event.chatter == desk.chatter and event.shift is not None
    assert services.send(conversation, by=desk.chatter, text="Hi, thanks for writing!", idempotency_key="k-1") == reply
    with pytest.raises(ValidationError, match="another message"):
        services.send(conversation, by=desk.chatter, text="other", idempotency_key="k-1")
    assert Message.objects.filter(direction=Message.Direction.OUT).count() == 1


@pytest.mark.parametrize("text", ["pretend I am 15", "#sixteenschoolgirl"])
def test_hard_blocked_words_never_leave(desk, text):
    conversation = fan_writes(desk.fanvue).conversation
    with pytest.raises(ValidationError):
        services.send(conversation, by=desk.chatter, text=text)
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()


def test_a_soft_lock_keeps_a_second_chatter_out(desk):
    conversation = fan_writes(desk.fanvue).conversation
    assert services.acquire_lock(conversation, desk.chatter)
    assert not services.acquire_lock(conversation, desk.manager)
    services.release_lock(conversation, desk.chatter)
    assert services.acquire_lock(conversation, desk.manager)


def test_the_platforms_own_welcome_keeps_the_fan_waiting_but_the_creators_reply_ends_it(desk):
    conversation = fan_writes(desk.fanvue, "hey").conversation
    services.receive(desk.fanvue, incoming(direction="out", automated=True, text="Welcome!"))
    conversation.refresh_from_db()
    assert conversation.waiting_since is not None
    services.receive(desk.fanvue, incoming(direction="out", text="hi from my phone"))
    conversation.refresh_from_db()
    assert conversation.waiting_since is None
    origins = list(Message.objects.filter(direction="out").order_by("pk").values_list("origin", "sent_by"))
    assert origins == [(Message.Origin.PLATFORM, None), (Message.Origin.MANUAL, None)]


def test_a_conversation_is_never_given_to_someone_outside_the_creators_team(desk):
    from tests.factories import UserFactory

    conversation = fan_writes(desk.fanvue).conversation
    services.assign(conversation, None, by=desk.manager)
    with pytest.raises(ValidationError, match="team"):
        services.assign(conversation, UserFactory(username="outsider"), by=desk.manager)
    conversation.refresh_from_db()
    assert conversation.assignee_id is None
    services.assign(conversation, desk.manager, by=desk.manager)
    conversation.refresh_from_db()
    assert conversation.assignee_id == desk.manager.pk
