"""Every depiction of a performer and every place it went out, built for compliance's records.

The 2257 record and the data-subject export (compliance.records) must list each asset depicting the
performer with its production date and every URL where it was published. Compliance may not import
content or scheduling, so this module builds plain dicts and registers itself as a depiction
provider when the scheduling app is ready (scheduling sits above content, so it reads both).

A publication counts once it was out: `published` (by the API, or a manual export a person marked
uploaded with the URL they pasted — `published_at` is when they marked it) and `removed` (it was
out until `removed_at`). A post carries its own assets and, for a pack, its collection's.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from content.models import Asset, CollectionItem
from scheduling.models import Platform, PostAsset, Publication

S = Publication.Status
WENT_OUT = (S.PUBLISHED, S.REMOVED)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _publication_entry(pub: Publication) -> dict[str, Any]:
    account = pub.account
    manual = account.platform == Platform.MANUAL
    return {
        "publication_id": pub.pk,
        "post_id": pub.post_id,
        # Where fans saw it: for a manual export, the platform a person uploaded it to.
        "platform": (account.target_platform or "manual") if manual else account.platform,
        "account": account.handle,
        "account_id": account.pk,
        "method": "manual upload" if manual else "platform API",
        "url": pub.external_url,
        "external_id": pub.external_id,
        "published_at": _iso(pub.published_at),
        "removed_at": _iso(pub.removed_at),
        "status": pub.status,
    }


def _asset_entry(asset: Asset, publications: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "asset_id": asset.pk,
        "creator_id": asset.creator_id,
        "creator": asset.creator.stage_name,
        "title": asset.title,
        "file": asset.original_name or asset.file.name,
        "sha256": asset.sha256,
        "kind": asset.kind,
        "rating": asset.rating,
        "origin": asset.origin,
        "status": asset.status,
        "production_date": _iso(asset.production_date),
        "created_at": _iso(asset.created_at),
        "publications": publications,
    }


def _posts_by_asset(asset_ids: list[int]) -> dict[int, set[int]]:
    """Posts that carried each asset: directly, or through the collection (pack) a post sells."""
    posts: dict[int, set[int]] = defaultdict(set)
    for asset_id, post_id in PostAsset.objects.filter(asset_id__in=asset_ids).values_list("asset_id", "post_id"):
        posts[asset_id].add(post_id)
    for asset_id, post_id in CollectionItem.objects.filter(asset_id__in=asset_ids).values_list(
            "asset_id", "collection__posts"):
        if post_id is not None:
            posts[asset_id].add(post_id)
    return posts


def depictions_of(performer_id: int, creator_ids: set[int] | None) -> list[dict[str, Any]]:
    """Assets depicting the performer (under `creator_ids`, or all when None), oldest production
    first, each with the publications that put it online. Four queries for any number of rows."""
    assets = Asset.objects.filter(performers=performer_id).select_related("creator")
    if creator_ids is not None:
        assets = assets.filter(creator_id__in=creator_ids)
    rows = sorted(assets, key=lambda a: (a.production_date is None, a.production_date, a.pk))
    posts = _posts_by_asset([a.pk for a in rows])
    post_ids = {p for ids in posts.values() for p in ids}
    by_post: dict[int, list[Publication]] = defaultdict(list)
    for pub in (Publication.objects.filter(post_id__in=post_ids, status__in=WENT_OUT).select_related("account")
                .order_by("published_at", "pk")):
        by_post[pub.post_id].append(pub)
    out = []
    for asset in rows:
        pubs = sorted((p for post_id in posts.get(asset.pk, ()) for p in by_post[post_id]),
                      key=lambda p: (p.published_at is None, p.published_at, p.pk))
        out.append(_asset_entry(asset, [_publication_entry(p) for p in pubs]))
    return out
