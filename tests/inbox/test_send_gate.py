"""The send gate attacked: media pass the publication gate (consent, approval, AI disclosure, ownership),
paid media included; Fanvue's conduct rule; the soft lock; a conversation held for compliance."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from content.models import Asset
from inbox import services
from inbox.models import Conversation, Message
from tests.factories import CreatorFactory
from tests.inbox.factories import conversation
from tests.inbox.send_fixtures import vault_asset

pytestmark = pytest.mark.django_db


def refusal(conv, **kwargs) -> str:
    kwargs.setdefault("by", None)
    kwargs.setdefault("text", "for you")
    with pytest.raises(ValidationError) as caught:
        services.send(conv, **kwargs)
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()
    return " ".join(caught.value.messages)


def test_a_consented_approved_asset_goes_as_paid_media(desk, vault):
    message = services.send(conversation(desk.fanvue), by=desk.chatter, text="for you", assets=[vault.consented],
                            price_minor=999)
    assert list(message.assets.all()) == [vault.consented] and message.currency == "USD"


@pytest.mark.parametrize("price", [None, 999])
def test_an_unconsented_asset_cannot_be_attached_free_or_paid(desk, vault, price):
    said = refusal(conversation(desk.fanvue), by=desk.chatter, assets=[vault.unconsented], price_minor=price)
    assert "consent" in said.lower()


def test_an_asset_nobody_approved_cannot_be_sent(desk, vault):
    Asset.objects.filter(pk=vault.consented.pk).update(status=Asset.Status.IN_REVIEW)
    vault.consented.refresh_from_db()
    assert "approved" in refusal(conversation(desk.fanvue), by=desk.chatter, assets=[vault.consented])


def test_an_asset_of_another_creator_cannot_be_sent(desk, vault):
    other = vault_asset(CreatorFactory(stage_name="Mara"), performer=vault.performer)
    assert "does not belong to Luna" in refusal(conversation(desk.fanvue), by=desk.chatter, assets=[other])


def test_ai_media_without_its_disclosure_cannot_be_sent(desk, vault):
    synthetic = vault_asset(desk.creator, origin=Asset.Origin.AI, no_real_person_attested=True,
                            provenance_present=True)
    assert "disclosure" in refusal(conversation(desk.fanvue), by=desk.chatter, assets=[synthetic]).lower()
    Asset.objects.filter(pk=synthetic.pk).update(disclosure_label="AI-generated")
    synthetic.refresh_from_db()
    # Luna's own performers stand behind synthetic media of her: their AI-likeness consent is asked next.
    said = refusal(conversation(desk.fanvue), by=desk.chatter, assets=[synthetic])
    assert "disclosure" not in said.lower() and "no consent covers" in said


def test_consent_for_one_platform_does_not_cover_another(desk, vault):
    from tests.scheduling.factories import PlatformAccountFactory

    bluesky = PlatformAccountFactory(creator=desk.creator, platform="bluesky", handle="luna.bsky")
    assert "consent" in refusal(conversation(bluesky), by=desk.chatter, assets=[vault.consented]).lower()


@pytest.mark.parametrize("text", ["I'm online now 😘", "it's really me, Luna", "she's online"])
def test_fanvue_forbids_claiming_to_be_the_creator_or_that_she_is_online(desk, text):
    said = refusal(conversation(desk.fanvue), by=desk.chatter, text=text)
    assert "Fanvue forbids agencies to pretend to be Luna" in said


def test_a_platform_without_that_rule_lets_the_same_words_through(desk):
    message = services.send(conversation(desk.telegram), by=desk.chatter, text="I'm online now")
    assert message.send_status == Message.SendStatus.QUEUED


def test_a_chatter_cannot_send_while_someone_else_holds_the_conversation(desk):
    conv = conversation(desk.fanvue)
    assert services.acquire_lock(conv, desk.manager)
    conv.refresh_from_db()
    assert "mara is writing in this conversation" in refusal(conv, by=desk.chatter, text="hello")
    services.send(conv, by=desk.manager, text="hello")  # the holder may
    services.release_lock(conv, desk.manager)
    conv.refresh_from_db()
    services.send(conv, by=desk.chatter, text="hello again")


def test_an_expired_lock_stops_nobody(desk):
    conv = conversation(desk.fanvue)
    Conversation.objects.filter(pk=conv.pk).update(locked_by=desk.manager, locked_until=timezone.now())
    conv.refresh_from_db()
    services.send(conv, by=desk.chatter, text="hello")


def test_a_held_conversation_takes_plain_text_but_no_paid_content_ai_draft_or_automation(desk, vault):
    conv = conversation(desk.fanvue)
    services.hold(conv, "The fan wrote “I am 15”.")
    assert "held for compliance" in refusal(conv, by=desk.chatter, assets=[vault.consented], price_minor=999)
    assert "held for compliance" in refusal(conv, by=desk.chatter, origin=Message.Origin.AI_DRAFT)
    assert "held for compliance" in refusal(conv, by=desk.chatter, ai_generated=True)
    assert "held for compliance" in refusal(conv, origin=Message.Origin.AUTOMATION)
    services.send(conv, by=desk.chatter, text="I can't continue this conversation.")


def test_telegram_text_under_media_is_a_caption_of_at_most_1024_characters(desk, vault):
    long = "x" * 1100
    said = refusal(conversation(desk.telegram), by=desk.chatter, text=long, assets=[vault.consented])
    assert "allows 1024 under media" in said
    alone = services.send(conversation(desk.telegram, fan_id="fan-2"), by=desk.chatter, text=long)
    assert alone.send_status == Message.SendStatus.QUEUED
