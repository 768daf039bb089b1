"""Scheduling rows for tests.

Tests often build publications row by row (a status reached only after a long flow, a thousand due
rows). Approval is of a version, so such rows count as approved only once the post's fingerprint
is recorded the way `services.approve_post` records it: `approve_as_is` after the rows exist.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from scheduling import approval
from scheduling.models import PlatformAccount, Post, Publication


def approve_as_is(post: Post) -> Post:
    """A person approved this post exactly as its rows stand now."""
    post.approved_at = post.approved_at or timezone.now()
    post.approved_version = approval.current_version(post)
    Post.objects.filter(pk=post.pk).update(approved_at=post.approved_at, approved_version=post.approved_version)
    return post


def approved_publication(post: Post, account: PlatformAccount, *, status: str = Publication.Status.APPROVED,
                         **fields: Any) -> Publication:
    """One more target of an approved post, with the post approved again as it now stands."""
    pub = Publication.objects.create(post=post, account=account, status=status, **fields)
    approve_as_is(post)
    return pub


def approved_rows(post: Post, rows: list[Publication]) -> list[Publication]:
    """Many targets at once (dispatcher and fault tests), then the post approved as it stands."""
    created = Publication.objects.bulk_create(rows)
    approve_as_is(post)
    return created
