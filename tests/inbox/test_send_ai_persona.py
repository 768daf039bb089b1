"""AI replies on their own only for a disclosed AI persona on a platform that allows it; its first AI
message tells the fan they talk to an AI; a human creator's conversation never auto-sends."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Creator
from inbox import services
from inbox.models import Conversation, Message
from tests.inbox.factories import conversation
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db
AUTO = Message.Origin.AUTOMATION
DISCLOSURE = "Just so you know: you are chatting with an AI persona, not a real person."


@pytest.fixture
def persona(desk):
    Creator.objects.filter(pk=desk.creator.pk).update(kind=Creator.Kind.AI_PERSONA)
    desk.creator.refresh_from_db()
    conv = conversation(desk.fanvue)
    services.set_mode(conv, Conversation.Mode.AI_AUTO, by=desk.manager)
    return conv


def test_a_human_creator_never_auto_sends(desk):
    conv = conversation(desk.fanvue)
    with pytest.raises(ValidationError, match="not an AI persona"):
        services.set_mode(conv, Conversation.Mode.AI_AUTO, by=desk.manager)
    Conversation.objects.filter(pk=conv.pk).update(mode=Conversation.Mode.AI_AUTO)  # forced past the service
    conv.refresh_from_db()
    with pytest.raises(ValidationError, match="not an AI persona"):
        services.send(conv, by=None, text="hey you", origin=AUTO)
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()


def test_the_first_ai_message_discloses_the_ai_and_every_one_is_recorded_as_ai(persona):
    first = services.send(persona, by=None, text="Hey, lovely to hear from you!", origin=AUTO)
    assert first.text == f"{DISCLOSURE} Hey, lovely to hear from you!"
    assert first.ai_generated and first.origin == AUTO and first.sent_by is None
    persona.refresh_from_db()
    assert persona.ai_disclosed_at is not None
    second = services.send(persona, by=None, text="What are you up to?", origin=AUTO)
    assert second.text == "What are you up to?" and second.ai_generated


def test_the_disclosure_is_configurable(persona, settings):
    settings.INBOX_AI_DISCLOSURE = "(AI persona speaking.)"
    assert services.send(persona, by=None, text="hi", origin=AUTO).text == "(AI persona speaking.) hi"


def test_an_ai_draft_a_person_sends_for_a_persona_discloses_too(desk, persona):
    Conversation.objects.filter(pk=persona.pk).update(mode=Conversation.Mode.AI_ASSIST)
    persona.refresh_from_db()
    message = services.send(persona, by=desk.chatter, text="hi", origin=Message.Origin.AI_DRAFT)
    assert message.text.startswith(DISCLOSURE) and message.ai_generated


def test_a_persona_only_auto_sends_where_the_platform_allows_it(desk, persona):
    x = PlatformAccountFactory(creator=desk.creator, platform="x", handle="luna_x")
    conv = conversation(x)
    with pytest.raises(ValidationError, match="does not allow automated replies"):
        services.set_mode(conv, Conversation.Mode.AI_AUTO, by=desk.manager)
    with pytest.raises(ValidationError):
        services.send(conv, by=None, text="hi", origin=AUTO)


def test_a_persona_conversation_a_person_runs_does_not_auto_send(desk, persona):
    services.set_mode(persona, Conversation.Mode.HUMAN, by=desk.manager)
    with pytest.raises(ValidationError, match="switch it to automatic"):
        services.send(persona, by=None, text="hi", origin=AUTO)


def test_a_refused_ai_message_does_not_spend_the_disclosure(persona):
    with pytest.raises(ValidationError):
        services.send(persona, by=None, text="I'm online now", origin=AUTO)
    persona.refresh_from_db()
    assert persona.ai_disclosed_at is None


def test_the_persona_does_not_answer_while_a_person_is_typing(desk, persona):
    assert services.acquire_lock(persona, desk.chatter)
    persona.refresh_from_db()
    with pytest.raises(ValidationError, match="chatty is writing"):
        services.send(persona, by=None, text="hi", origin=AUTO)
