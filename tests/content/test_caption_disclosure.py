"""The AI disclosure (e.g. `#AI`) goes on a caption only where the creator is an AI persona or the media
is AI-made — never on a human creator's own photos, whichever way the suggestions are asked for."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.models import Creator
from content import captions, studio
from content.models import Asset

pytestmark = pytest.mark.django_db

SUGGEST = "admin:scheduling_post_suggest_captions"
LABEL = captions.disclosure_for("x", "en")


def labelled(texts) -> list[bool]:
    return [LABEL in t for t in texts]


def make(creator: Creator, kind: str) -> Creator:
    creator.kind = kind
    creator.save(update_fields=["kind"])
    return creator


def asset(creator: Creator, n: int, origin: str) -> Asset:
    return Asset.objects.create(creator=creator, file=f"assets/{n}.jpg", kind="image", mime="image/jpeg",
                                sha256=f"{n}".ljust(64, "0"), size_bytes=10, rating="sfw", origin=origin)


def test_a_human_creators_captions_carry_no_ai_label(people):
    result = studio.suggest_captions(creator=people["a"], platform="x", topic="beach day", count=3)
    assert result.variants and not any(labelled(v.text for v in result.variants))


def test_an_ai_persona_always_carries_the_label(people):
    persona = make(people["a"], Creator.Kind.AI_PERSONA)
    for ai_media in (None, True, False):  # an AI persona's media is AI-made, whatever the caller says
        result = studio.suggest_captions(creator=persona, platform="x", topic="beach day", count=2,
                                         ai_generated=ai_media)
        assert all(labelled(v.text for v in result.variants)), ai_media


def test_a_human_creators_ai_made_media_carries_the_label(people):
    result = studio.suggest_captions(creator=people["a"], platform="x", topic="beach day", count=2,
                                     ai_generated=True)
    assert all(labelled(v.text for v in result.variants))


def test_the_decision(people):
    human, persona, hybrid = people["a"], make(people["b"], Creator.Kind.AI_PERSONA), Creator(kind="hybrid")
    assert not studio.discloses_ai(human, None) and not studio.discloses_ai(human, False)
    assert studio.discloses_ai(human, True)
    assert studio.discloses_ai(persona, None) and studio.discloses_ai(persona, False)
    assert studio.discloses_ai(hybrid, None) and not studio.discloses_ai(hybrid, False)


def test_the_post_form_labels_by_creator_and_by_the_posts_media(client, people):
    client.force_login(people["bob"])
    own_photo, ai_image = asset(people["a"], 1, Asset.Origin.UPLOAD), asset(people["a"], 2, Asset.Origin.AI)

    def texts(**extra) -> list[str]:
        response = client.post(reverse(SUGGEST), json.dumps({"creator": people["a"].pk, "platform": "x",
                                                             "topic": "sunset", **extra}),
                               content_type="application/json")
        assert response.status_code == 200, response.content
        return [v["text"] for v in response.json()["variants"]]

    assert not any(labelled(texts()))
    assert not any(labelled(texts(assets=[own_photo.pk])))
    assert all(labelled(texts(assets=[own_photo.pk, ai_image.pk])))
    other = asset(people["b"], 3, Asset.Origin.AI)  # another creator's asset says nothing about this post
    assert not any(labelled(texts(assets=[other.pk])))


def test_the_api_labels_by_creator_unless_told_the_media_is_ai_made(client, people):
    client.force_login(people["alice"])
    url = "/api/v1/captions/suggest/"

    def texts(**extra) -> list[str]:
        response = client.post(url, {"creator": people["a"].pk, "platform": "x", "topic": "sunset", **extra},
                               content_type="application/json")
        assert response.status_code == 200, response.content
        return [v["text"] for v in response.json()["variants"]]

    assert not any(labelled(texts()))
    assert all(labelled(texts(ai_generated=True)))
