"""A publication's creator is its post's creator, whatever path made or moved it.

Tenancy and the API lists filter publications on their own `creator` column (no join through
posts), so a row whose creator differed from its post's would show one creator's calendar to
another creator's staff. Every test here ends by checking the whole table.
"""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from scheduling import services
from scheduling.models import Post, Publication, QueueSlot
from tests.scheduling.factories import PlatformAccountFactory, PublicationFactory

pytestmark = pytest.mark.django_db
S = Publication.Status


def mismatched() -> list[tuple[int, int, int]]:
    return list(Publication.objects.exclude(creator_id=F("post__creator_id"))
                .values_list("pk", "creator_id", "post__creator_id"))


def test_every_service_path_keeps_the_posts_creator(world):
    a, owner = world.creator, world.owner
    QueueSlot.objects.create(account=world.x, weekday=2, time=time(18, 0))
    post = services.create_post(creator_id=a.pk, caption="New set", asset_ids=[world.asset.pk],
                                targets=[(world.fanvue, ""), (world.x, "For X")], actor=owner)
    pubs = list(post.publications.order_by("pk"))
    assert [p.creator_id for p in pubs] == [a.pk, a.pk] and not mismatched()

    steps = [
        lambda: services.submit_post(post, actor=owner),
        lambda: services.approve_post(post, actor=world.alice),  # four eyes: not the author
        lambda: services.schedule(pubs[0], at=timezone.now() + timedelta(days=1), actor=owner),
        lambda: services.reschedule(pubs[0], at=timezone.now() + timedelta(days=2), actor=owner),
        lambda: services.add_to_queue(pubs[1], actor=owner),
        lambda: services.set_caption_override(pubs[1], "Only on X", actor=owner),
        lambda: services.update_post(post, caption="New set, edited", actor=owner),
        lambda: services.cancel(pubs[1], actor=owner),
    ]
    for step in steps:
        step()
        assert not mismatched(), step


def test_a_row_saved_or_moved_by_hand_follows_its_post(world):
    b = world.creator_b
    other_post = Post.objects.create(creator=b, caption="Beta's post")
    other_account = PlatformAccountFactory(creator=b, platform="fanvue", handle="bea")

    pub = Publication(post=world.post, account=world.fanvue)
    pub.save()  # an admin inline or any form: no creator given
    assert pub.creator_id == world.creator.pk

    pub.post, pub.account = other_post, other_account
    pub.save()
    assert Publication.objects.get(pk=pub.pk).creator_id == b.pk

    pub.post = world.post
    pub.save(update_fields=["post"])
    assert Publication.objects.get(pk=pub.pk).creator_id == world.creator.pk
    assert not mismatched()


def test_rows_made_in_bulk_take_their_posts_creator(world):
    loaded = Publication(post=world.post, account=world.fanvue)
    by_id = Publication(post_id=world.post.pk, account=world.x)
    Publication.objects.bulk_create([loaded, by_id])
    assert {p.creator_id for p in Publication.objects.filter(pk__in=[loaded.pk, by_id.pk])} == {world.creator.pk}
    assert not mismatched()


@pytest.mark.postgres
def test_moving_a_post_to_another_creator_moves_its_publications(world):
    pub = PublicationFactory(post=world.post, account=world.fanvue)
    post = world.post
    post.creator = world.creator_b
    post.save(update_fields=["creator"])  # the post form's creator field
    pub.refresh_from_db()
    assert pub.creator_id == world.creator_b.pk and not mismatched()


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["update", "bulk_create"])
def test_the_database_refuses_a_publication_of_another_creator(world, how):
    pub = PublicationFactory(post=world.post, account=world.fanvue)
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if how == "update":
            Publication.objects.filter(pk=pub.pk).update(creator=world.creator_b)
        else:
            Publication.objects.bulk_create([Publication(post=world.post, creator=world.creator_b,
                                                         account=world.x)])
    assert not mismatched()


def test_tenancy_reads_the_publications_own_creator(world):
    from accounts import tenancy

    mine = PublicationFactory(post=world.post, account=world.fanvue)
    theirs = PublicationFactory(post=Post.objects.create(creator=world.creator_b, caption="B"),
                                account=PlatformAccountFactory(creator=world.creator_b, platform="x",
                                                                               handle="bea_x"))
    seen_by_alice = tenancy.restrict(Publication.objects.all(), world.alice)
    assert list(seen_by_alice) == [mine]
    assert "scheduling_post" not in str(seen_by_alice.query)  # no join through posts
    assert list(tenancy.restrict(Publication.objects.all(), world.charlie)) == [theirs]
