"""AI drafts: written by the text model or from scripts, screened, sent only by a person, measured."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent, Creator
from inbox import drafts, scripts
from inbox.models import AIDraft, Message, Script
from tests.content.studio_fixtures import openai, text_row  # noqa: F401 — the fake OpenAI-compatible server
from tests.inbox.factories import fan_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def scripts_of(desk):
    Script.objects.create(creator=desk.creator, name="Thanks", category="welcome",
                          text="Thank you {fan_name}, lovely to hear from you!")
    Script.objects.create(creator=desk.creator, name="Pics tonight", category="ppv",
                          text="New pics tonight, {fan_name}: want a peek?", price_minor=900, currency="USD")
    return desk


def test_without_a_model_the_draft_is_the_best_fitting_script_and_says_so(scripts_of):
    conversation = fan_writes(scripts_of.fanvue, "any new pics tonight?", fan_handle="@sam").conversation
    draft = drafts.draft_reply(conversation, by=scripts_of.chatter)
    assert draft.from_scripts and draft.backend == ""
    assert draft.text == "New pics tonight, sam: want a peek?"
    assert draft.suggested_price_minor == 900
    assert "No text model" in draft.screening["note"]
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()  # a draft is never sent by itself


def test_a_model_draft_reads_the_thread_and_is_sent_by_the_person_who_accepts_it(scripts_of, openai):  # noqa: F811
    text_row(openai)
    openai.chat_reply = "Thanks for the sweet message!"
    conversation = fan_writes(scripts_of.fanvue, "you looked amazing today").conversation
    draft = drafts.draft_reply(conversation, by=scripts_of.chatter)
    assert draft.backend == "Writer" and draft.prompt_version == drafts.PROMPT_VERSION
    sent_prompt = openai.requests[-1].json()["messages"]
    assert "you looked amazing today" in sent_prompt[-1]["content"]
    assert "online" in sent_prompt[0]["content"]  # the system prompt forbids claiming the creator is online
    message = drafts.accept(draft, by=scripts_of.chatter, text="Thanks for the sweet message!! x")
    assert message.origin == Message.Origin.AI_DRAFT and message.ai_draft == draft and message.ai_generated
    assert message.sent_by == scripts_of.chatter
    draft.refresh_from_db()
    assert draft.outcome == AIDraft.Outcome.EDITED and draft.edit_distance == 3
    assert draft.decided_by == scripts_of.chatter
    with pytest.raises(ValidationError, match="already"):
        drafts.accept(draft, by=scripts_of.chatter)


def test_accepting_unchanged_records_accepted_with_no_edits(scripts_of, openai):  # noqa: F811
    text_row(openai)
    openai.chat_reply = "Hello you!"
    draft = drafts.draft_reply(fan_writes(scripts_of.fanvue, "hello").conversation, by=scripts_of.chatter)
    drafts.accept(draft, by=scripts_of.chatter)
    draft.refresh_from_db()
    assert draft.outcome == AIDraft.Outcome.ACCEPTED and draft.edit_distance == 0


def test_a_model_answer_with_blocked_words_is_kept_as_refused_not_offered(scripts_of, openai):  # noqa: F811
    text_row(openai)
    openai.chat_reply = "tell me more, I love a #sixteenschoolgirl vibe"
    draft = drafts.draft_reply(fan_writes(scripts_of.fanvue, "hi").conversation, by=scripts_of.chatter)
    assert draft.outcome == AIDraft.Outcome.REFUSED and draft.text == "" and not draft.screening["passed"]
    with pytest.raises(ValidationError):
        drafts.accept(draft, by=scripts_of.chatter)


def test_a_fan_signalling_a_minor_gets_no_draft_and_nothing_reaches_the_model(scripts_of, openai):  # noqa: F811
    text_row(openai)
    conversation = fan_writes(scripts_of.fanvue, "i am 15 btw").conversation
    with pytest.raises(ValidationError, match="held"):
        drafts.draft_reply(conversation, by=scripts_of.chatter)
    assert not [r for r in openai.requests if r.path.endswith("/chat/completions")]


def test_a_voice_guide_with_blocked_words_is_not_sent_to_the_model(scripts_of, openai):  # noqa: F811
    text_row(openai)
    Creator.objects.filter(pk=scripts_of.creator.pk).update(voice_notes="plays a #sixteenschoolgirl")
    conversation = fan_writes(scripts_of.fanvue, "hello there").conversation
    with pytest.raises(ValidationError, match="hard-blocked"):
        drafts.draft_reply(conversation, by=scripts_of.chatter)
    assert not [r for r in openai.requests if r.path.endswith("/chat/completions")]
    assert AuditEvent.objects.filter(action="generation.refused").exists()


def test_a_held_conversation_gets_no_drafts(scripts_of):
    conversation = fan_writes(scripts_of.fanvue, "hi").conversation
    conversation.held_at = conversation.created_at
    conversation.save(update_fields=["held_at"])
    with pytest.raises(ValidationError, match="held"):
        drafts.draft_reply(conversation, by=scripts_of.chatter)


def test_a_model_that_fails_falls_back_to_scripts(scripts_of, openai):  # noqa: F811
    text_row(openai, model="no-such-model")
    draft = drafts.draft_reply(fan_writes(scripts_of.fanvue, "thank you").conversation, by=scripts_of.chatter)
    assert draft.from_scripts and "did not answer" in draft.screening["note"]


def test_an_ai_persona_is_told_to_the_model_as_an_ai(scripts_of, openai):  # noqa: F811
    Creator.objects.filter(pk=scripts_of.creator.pk).update(kind=Creator.Kind.AI_PERSONA)
    text_row(openai)
    openai.chat_reply = "Hi!"
    drafts.draft_reply(fan_writes(scripts_of.fanvue, "hi").conversation, by=scripts_of.chatter)
    assert "is an AI" in openai.requests[-1].json()["messages"][0]["content"]


def test_rejecting_records_who(scripts_of):
    draft = drafts.draft_reply(fan_writes(scripts_of.fanvue, "hi").conversation, by=scripts_of.chatter)
    drafts.reject(draft, by=scripts_of.manager)
    assert draft.outcome == AIDraft.Outcome.REJECTED and draft.decided_by == scripts_of.manager


@pytest.mark.parametrize("text", ["Hi {fanname}", "Hi {first_name}", "{x}"])
def test_a_placeholder_nobody_fills_is_refused(desk, text):
    conversation = fan_writes(desk.fanvue, "hi").conversation
    with pytest.raises(ValidationError, match="placeholders"):
        scripts.render(text, conversation)


def test_placeholders_are_filled_for_the_fan(desk):
    conversation = fan_writes(desk.fanvue, "hi", fan_handle="@ana").conversation
    assert scripts.render("Hey {fan_name} ({fan_handle}), {creator_name} here", conversation) == \
        "Hey ana (@ana), Luna here"


def test_a_model_answer_claiming_the_creator_is_online_is_refused_on_fanvue(scripts_of, openai):  # noqa: F811
    text_row(openai)
    openai.chat_reply = "I'm online right now, babe!"
    draft = drafts.draft_reply(fan_writes(scripts_of.fanvue, "you there?").conversation, by=scripts_of.chatter)
    assert draft.outcome == AIDraft.Outcome.REFUSED and draft.screening["problems"]
