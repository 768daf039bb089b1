"""Captions and asset tags that suggest a minor are refused when scheduled and, if slipped in after
scheduling (an edit straight to the database, a tag added later), at publish time by the worker path.

Issue 13: the worker published a caption "#sixteenschoolgirl", a tag "bigtitsteen" and a caption
"sexy minor in uniform".
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance import services as compliance
from content.models import Tag
from scheduling import services, tasks
from scheduling.models import Post, Publication
from tests.scheduling.factories import approve_as_is
from tests.scheduling.fixtures import approved_target

S = Publication.Status
TEXTS = ["#sixteenschoolgirl", "bigtitsteen", "sexy minor in uniform"]


def slip_in(world, where: str, text: str) -> None:
    """Write the text where a person could put it, without any service or signal."""
    if where == "caption":
        Post.objects.filter(pk=world.post.pk).update(caption=f"New set tonight {text}")
    else:
        tag, _ = Tag.objects.get_or_create(name=text[:60])
        world.asset.tags.add(tag)


def hard_block_reasons(reasons) -> list[dict]:
    return [r for r in reasons if r["code"] == "hard_block_term"]


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["caption", "tag"])
@pytest.mark.parametrize("text", TEXTS)
def test_refused_at_schedule_time(world, where, text):
    slip_in(world, where, text)
    approve_as_is(Post.objects.get(pk=world.post.pk))
    pub = approved_target(world)
    outcome = services.schedule(pub, at=timezone.now() + timedelta(days=1))
    assert not outcome.verdict.passed
    assert "hard_block_term" in outcome.verdict.codes
    reason = next(r for r in outcome.verdict.reasons if r.code == "hard_block_term")
    assert reason.field == ("caption" if where == "caption" else f"asset {world.asset.pk} tags")
    assert "at character" in reason.message and "listed term" in reason.message
    pub.refresh_from_db()
    assert pub.status != S.SCHEDULED


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["caption", "tag"])
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("task", ["publish", "publish_batch"])
def test_slipped_in_after_scheduling_is_refused_by_the_worker(world, where, text, task):
    pub = approved_target(world)
    assert services.schedule(pub, at=timezone.now() - timedelta(seconds=1)).verdict.passed
    assert services.claim_due_publications() == [pub.pk]
    slip_in(world, where, text)
    if task == "publish":
        assert tasks.publish(pub.pk) == S.BLOCKED
    else:
        assert tasks.publish_batch([pub.pk]) == {pub.pk: S.BLOCKED}
    pub.refresh_from_db()
    assert pub.status == S.BLOCKED and not pub.external_id
    assert hard_block_reasons(pub.block_reasons), pub.block_reasons


@pytest.mark.django_db
def test_a_term_added_in_the_admin_applies_at_publish_time(world):
    pub = approved_target(world)
    assert services.schedule(pub, at=timezone.now() - timedelta(seconds=1)).verdict.passed
    services.claim_due_publications()
    compliance.add_blocked_term("tonight", actor=world.owner)  # the caption is "New set tonight"
    assert tasks.publish(pub.pk) == S.BLOCKED
    pub.refresh_from_db()
    assert "custom_blocked_term" in {r["code"] for r in pub.block_reasons}
