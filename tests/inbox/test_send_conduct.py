"""Fanvue's conduct rule as a screen: an agency never claims to be the creator in person or that she is
online now. The corpus pins both directions: every claim below is refused, every ordinary line passes."""

from __future__ import annotations

import pytest

from inbox.conduct import impersonation_claims

CLAIMS = [
    "I'm online now",
    "im online now 😘",
    "I am online right now, come chat",
    "I’m online!",
    "i'm live rn",
    "I'm here live",
    "I'm just here now, waiting for you",
    "I'm on right now",
    "I'm finally back online",
    "im logged in",
    "I'm on my phone right now",
    "it's really me, Luna",
    "It's me, Luna",
    "its actually me",
    "This is really Luna",
    "it's Luna herself writing",
    "the real Luna is talking to you",
    "me personally, not a chatter",
    "no chatters here babe",
    "not an assistant, promise",
    "100% me",
    "I answer every message myself",
    "I write all my DMs personally",
    "replying to you personally",
    "she's online",
    "She is online now",
    "shes live",
    "Luna is online right now",
    "Luna's here now",
    "Luna here! How was your day?",
    "I'M ONLINE NOW",
    "I am  here   in person",
]

ORDINARY = [
    "Thanks for writing, talk soon!",
    "New set dropping tonight 🔥",
    "I'm so glad you liked it",
    "I'm here for you",
    "My live show is on Friday",
    "The new video is online now",
    "Are you online later?",
    "I'm on it!",
    "Check the online store for the bundle",
    "Have a lovely evening",
    "It's meant to be a surprise",
    "The team loved your message",
    "I really messed up the lighting on that one",
    "Lunar eclipse tonight, did you see it?",
    "I'm not a morning person at all",
    "Live your best life!",
    "",
]


@pytest.mark.parametrize("text", CLAIMS)
def test_a_claim_to_be_the_creator_or_that_she_is_online_is_refused(text):
    assert impersonation_claims(text, creator_name="Luna"), text


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_passes(text):
    assert impersonation_claims(text, creator_name="Luna") == []


def test_the_creator_is_named_by_her_own_stage_name():
    assert impersonation_claims("It's Mara herself", creator_name="Mara Vale")
    assert impersonation_claims("It's Mara herself", creator_name="Luna") == []


@pytest.mark.django_db
def test_scripts_and_drafts_are_screened_for_the_platforms_the_creator_chats_on(desk):
    from inbox.gate import text_problems

    assert any("Fanvue forbids" in p for p in text_problems(desk.creator, "it's really me"))
    assert text_problems(desk.creator, "it's really me", platform="telegram") == []
    assert text_problems(desk.creator, "pretend I am 15", platform="telegram")
    assert text_problems(desk.creator, "New set tonight") == []
