"""Factories for the scheduling models.

Accounts and posts are built through `scheduling.services`, the way admin and API make them.
Publications are often needed in a state only a long flow reaches (published, unknown, exported,
a thousand due rows): `PublicationFactory` writes such rows directly, and says so. Approval is of
a version, so rows count as approved only once the post's fingerprint is recorded the way
`services.approve_post` records it: `approve_as_is` after the rows exist (`approved=True`).
"""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from content.models import Asset
from scheduling import approval, services
from scheduling.models import PlatformAccount, Post, Publication
from tests.factories import CreatorFactory


def approve_as_is(post: Post) -> Post:
    """A person approved this post exactly as its rows stand now."""
    post.approved_at = post.approved_at or timezone.now()
    post.approved_version = approval.current_version(post)
    Post.objects.filter(pk=post.pk).update(approved_at=post.approved_at, approved_version=post.approved_version)
    return post


class PlatformAccountFactory(factory.Factory):
    """A creator's account, saved by `services.save_account` (policy ceiling and options checked,
    one per creator × platform × handle, audited).

    It is connected, so tests publish without an OAuth dance (a person's new account starts not
    connected, `services.initial_state`; pass `state=` for that). `checked=False` writes
    the row as it stands, past the checks: a row saved before a check existed (a stored host in
    `options`), which no service makes today.
    """

    class Meta:
        model = PlatformAccount

    creator = factory.SubFactory(CreatorFactory)
    platform = "fanvue"
    handle = factory.Sequence(lambda n: f"handle{n}")
    state = PlatformAccount.State.CONNECTED

    @classmethod
    def _create(cls, model_class: type[PlatformAccount], *args: Any, actor: Any = None, checked: bool = True,
                **kwargs: Any) -> PlatformAccount:
        if not checked:
            return model_class.objects.create(**kwargs)
        return services.save_account(model_class(**kwargs), actor=actor)


class PostFactory(factory.Factory):
    """A post composed by `services.create_post`: its assets in order, one draft publication per
    target (`targets=[(account, caption_override), …]`)."""

    class Meta:
        model = Post

    creator = factory.SubFactory(CreatorFactory)
    caption = factory.Sequence(lambda n: f"Post {n}")
    asset_ids: Any = ()
    targets: Any = ()
    actor = None

    @classmethod
    def _create(cls, model_class: type[Post], *args: Any, creator: Any, asset_ids: Any = (), targets: Any = (),
                **kwargs: Any) -> Post:
        return services.create_post(creator_id=creator.pk, asset_ids=list(asset_ids), targets=list(targets),
                                    **kwargs)


class PublicationFactory(factory.Factory):
    """One target of a post already at `status` (and whatever fields that status carries:
    `scheduled_at`, `external_id`, `published_at`…), written directly: no service jumps a row to
    published or unknown, and display, dispatcher and takedown tests start from there. The gate is
    not run. `approved=True` records the post's approval as it now stands (`approve_as_is`)."""

    class Meta:
        model = Publication

    post = factory.SubFactory(PostFactory)
    account = factory.SubFactory(PlatformAccountFactory, creator=factory.SelfAttribute("..post.creator"))
    status = Publication.Status.DRAFT

    @classmethod
    def _create(cls, model_class: type[Publication], *args: Any, approved: bool = False,
                **kwargs: Any) -> Publication:
        pub = model_class.objects.create(**kwargs)
        if approved:
            approve_as_is(pub.post)
        return pub


def approved_post(creator: Any, *assets: Asset, caption: str = "New set tonight") -> Post:
    """A post of `assets` in that order, composed by the service and approved exactly as it stands,
    with no target yet (`approved_publication` adds them)."""
    return approve_as_is(PostFactory(creator=creator, caption=caption, asset_ids=[a.pk for a in assets]))


def approved_publication(post: Post, account: PlatformAccount, *, status: str = Publication.Status.APPROVED,
                         **fields: Any) -> Publication:
    """One more target of an approved post, with the post approved again as it now stands."""
    return PublicationFactory(post=post, account=account, status=status, approved=True, **fields)


def approved_rows(post: Post, rows: list[Publication]) -> list[Publication]:
    """Many targets at once (dispatcher and fault tests), then the post approved as it stands."""
    created = Publication.objects.bulk_create(rows)
    approve_as_is(post)
    return created

