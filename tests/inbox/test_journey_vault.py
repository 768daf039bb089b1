"""What the chatter's vault offers is what the send accepts: the gate judges one asset at a time
(`gate.asset_problems`), so the screen never shows media of a performer who did not consent to the platform.
Found on the end-to-end journey (tests/browser/test_inbox_journey_browser.py): without it the vault offered
every approved asset and the send refused the unconsented one only after the chatter had picked it."""

from __future__ import annotations

import pytest

from inbox import gate, services
from tests.factories import CreatorFactory
from tests.inbox.factories import conversation
from tests.inbox.send_fixtures import vault_asset

pytestmark = pytest.mark.django_db


def test_a_consented_asset_is_clear_and_an_unconsented_one_is_told_in_words(desk, vault):
    conv = conversation(desk.fanvue)
    assert gate.asset_problems(conv, vault.consented) == []
    said = " ".join(gate.asset_problems(conv, vault.unconsented))
    assert "consent" in said.lower()


def test_the_vault_check_agrees_with_the_send_for_each_asset(desk, vault):
    conv = conversation(desk.fanvue)
    for asset in (vault.consented, vault.unconsented):
        refused = bool(gate.asset_problems(conv, asset))
        assert refused == bool(services.check_send(conv, by=desk.chatter, text="for you", assets=[asset],
                                                   price_minor=999, origin="manual"))


def test_another_creator_s_asset_is_never_clear(desk, vault):
    other = vault_asset(CreatorFactory(stage_name="Someone else"), performer=vault.performer)
    assert gate.asset_problems(conversation(desk.fanvue), other)


def test_a_conversation_on_a_platform_the_performer_did_not_consent_to_refuses_the_asset(desk, vault):
    """Jeanne consented to Fanvue and Telegram only: the same asset is not clear for a Bluesky fan."""
    bluesky = type(desk.fanvue).objects.create(creator=desk.creator, platform="bluesky", handle="luna.bsky")
    assert gate.asset_problems(conversation(desk.fanvue), vault.consented) == []
    said = " ".join(gate.asset_problems(conversation(bluesky), vault.consented))
    assert "consent" in said.lower(), said
