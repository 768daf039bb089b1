"""What a person approves: the fingerprint of everything about a post that reaches a fan.

Approval is of a version (ARCHITECTURE.md, "Conventions"). `approve_post` stores this fingerprint on
the post; the gate compares it with the fingerprint of the live rows when a publication is
scheduled and again in the worker just before the platform is called. Any difference — an edited
caption or per-account caption, price, currency, media added, removed or reordered, an asset
replaced, re-reviewed or re-rated, a collection or its items, an account added or removed — means
the approval no longer covers what would go out.

The fingerprint is a SHA-256 over canonical JSON, so it can be recomputed and compared later; the
`scheme` number changes whenever what it covers changes (every stored approval then reads as stale,
the safe side).

Deliberately left out: the platform account's own options and tokens (account configuration, not
the post), renditions (derived from the asset's file, re-made by workers after approval), and the
compliance facts the gate re-reads live every time (performers, consents, tags).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from content.models import Asset, Collection, CollectionItem
from scheduling.models import Post, PostAsset, Publication

SCHEME = 1

ASSET_FIELDS = ("id", "sha256", "file", "mime", "kind", "rating", "origin", "status", "reviewed_at", "title",
                "disclosure_label", "provenance_present")
COLLECTION_FIELDS = ("id", "kind", "title", "description", "price_minor", "currency", "cover_id")


def _asset(values: dict[str, Any]) -> list[Any]:
    return [values[f] for f in ASSET_FIELDS]


def fingerprint(content: dict[str, Any]) -> str:
    """SHA-256 of canonical JSON: the same content always gives the same text, whatever the dict order."""
    text = json.dumps({"scheme": SCHEME, **content}, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def fan_content(posts: Iterable[Post]) -> dict[int, dict[str, Any]]:
    """Per post, the plain values that reach fans, read from the live rows in a fixed number of queries."""
    posts = list(posts)
    ids = [p.pk for p in posts]
    own: dict[int, list[int]] = {pk: [] for pk in ids}
    for post_id, asset_id in PostAsset.objects.filter(post__in=ids).order_by("post_id", "position", "id") \
            .values_list("post_id", "asset_id"):
        own[post_id].append(asset_id)
    collection_ids = {p.collection_id for p in posts if p.collection_id}
    collections = {c["id"]: c for c in Collection.objects.filter(pk__in=collection_ids).values(*COLLECTION_FIELDS)}
    items: dict[int, list[int]] = {pk: [] for pk in collection_ids}
    for collection_id, asset_id in CollectionItem.objects.filter(collection__in=collection_ids) \
            .order_by("collection_id", "position", "id").values_list("collection_id", "asset_id"):
        items[collection_id].append(asset_id)
    asset_ids = {a for links in (*own.values(), *items.values()) for a in links}
    assets = {a["id"]: _asset(a) for a in Asset.objects.filter(pk__in=asset_ids).values(*ASSET_FIELDS)}
    targets: dict[int, list[list[Any]]] = {pk: [] for pk in ids}
    for post_id, account_id, platform, target_platform, override in Publication.objects.filter(
            post__in=ids).values_list("post_id", "account_id", "account__platform", "account__target_platform",
                                      "caption_override"):
        targets[post_id].append([account_id, platform, target_platform, override])
    out = {}
    for post in posts:
        collection = None
        if post.collection_id:
            collection = {**collections.get(post.collection_id, {"id": post.collection_id}),
                          "items": [assets.get(a) for a in items.get(post.collection_id, [])]}
        out[post.pk] = {
            "caption": post.caption,
            "price_minor": post.price_minor,
            "currency": post.currency,
            "assets": [assets.get(a) for a in own[post.pk]],
            "collection": collection,
            # Every publication, whatever its state: removing a target deletes its row; cancelling one
            # stops it without changing what the others carry.
            "targets": sorted(targets[post.pk], key=lambda t: (t[0], t[3])),
        }
    return out


def current_versions(posts: Iterable[Post]) -> dict[int, str]:
    """Each post's fingerprint as it stands now (the dispatcher asks for a whole batch at once)."""
    return {pk: fingerprint(content) for pk, content in fan_content(posts).items()}


def current_version(post: Post) -> str:
    return current_versions([post])[post.pk]


def approved_version(post: Post) -> str | None:
    """What the gate compares with: None when nobody approved the post, else the stored fingerprint
    ("" for an approval recorded before fingerprints existed, which never matches)."""
    return post.approved_version if post.approved_at is not None else None
