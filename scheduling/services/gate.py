"""The compliance gate as scheduling asks it: the facts of a publication (its post's assets, the
approved version, the account's policy ceiling) built from the live rows, then judged."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone

from compliance import services as compliance
from compliance.gate import Reason, Verdict
from content.models import Asset, CollectionItem
from core.platforms import Rating
from scheduling import approval
from scheduling.models import Post, PostAsset, Publication

# --- The gate, built from a publication -----------------------------------------------------------


ASSET_PREFETCH = ("performers", "tags", "renditions")


def post_assets(post: Post) -> list[Asset]:
    return assets_for_posts([post])[post.pk]


def assets_for_posts(posts: list[Post]) -> dict[int, list[Asset]]:
    """Each post's assets in order (its own, then its collection's), with what the gate and the
    media picker read prefetched: a fixed number of queries for any number of posts."""
    out: dict[int, list[Asset]] = {p.pk: [] for p in posts}
    assets = Asset.objects.prefetch_related(*ASSET_PREFETCH)
    for link in PostAsset.objects.filter(post__in=[p.pk for p in posts]).prefetch_related(
            Prefetch("asset", queryset=assets)).order_by("post_id", "position", "id"):
        out[link.post_id].append(link.asset)
    by_collection: dict[int, list[int]] = {}
    for p in posts:
        if p.collection_id:
            by_collection.setdefault(p.collection_id, []).append(p.pk)
    if by_collection:
        for item in CollectionItem.objects.filter(collection__in=list(by_collection)).prefetch_related(
                Prefetch("asset", queryset=assets)).order_by("collection_id", "position", "id"):
            for post_id in by_collection[item.collection_id]:
                out[post_id].append(item.asset)
    return out


def gate_input_for(publication: Publication, *, due_at: datetime | None = None,
                   assets: list[Asset] | None = None, version: str | None = None,
                   siblings: frozenset[int] | None = None) -> compliance.GateInput:
    """What compliance needs to judge this publication, read from the live rows (never a copy).

    `version` is the post's current fingerprint and `siblings` the ids of the post's publications when
    the caller already has them (the dispatcher computes a whole batch at once); otherwise they are read
    here. The siblings are there because a takedown naming the post on one platform names it on all.
    """
    post, account = publication.post, publication.account
    assets = post_assets(post) if assets is None else assets
    version = approval.current_version(post) if version is None else version
    if siblings is None:
        siblings = frozenset(Publication.objects.filter(post_id=post.pk).values_list("pk", flat=True))
    performer_ids = frozenset(p.pk for a in assets for p in a.performers.all())
    ratings = [a.rating for a in assets] or ["sfw"]
    ai_assets = [a for a in assets if a.origin in (Asset.Origin.AI, Asset.Origin.EDIT)]
    dates = [a.production_date for a in assets if a.production_date]
    texts = {"caption": publication.caption_override or post.caption}
    for asset in assets:
        texts[f"asset {asset.pk} title"] = asset.title
        texts[f"asset {asset.pk} tags"] = " ".join(t.name for t in asset.tags.all())
    return compliance.GateInput(
        creator_id=post.creator_id,
        platform=(account.target_platform or "manual") if account.platform == "manual" else account.platform,
        rating=max(ratings, key=lambda r: Rating(r).rank),
        performer_ids=performer_ids,
        # The earliest production date is the strictest for the age rule.
        production_date=min(dates) if dates else None,
        ai_origin=bool(ai_assets),
        disclosure_present=all(a.disclosure_label for a in ai_assets),
        provenance_present=all(a.provenance_present for a in ai_assets),
        # Facts are per publication: "nobody real" holds only if no asset depicts anyone.
        no_real_person_attested=bool(assets) and not performer_ids
        and all(a.no_real_person_attested for a in assets),
        human_approved=post.approved_at is not None and bool(assets)
        and all(a.status == Asset.Status.APPROVED for a in assets),
        texts=texts,
        # In the creator's timezone: the gate reads the publication's calendar date from it (a
        # production date after that date is refused).
        due_at=(due_at or publication.scheduled_at or timezone.now()).astimezone(post.creator.tzinfo),
        approved_version=approval.approved_version(post),
        current_version=version,
        asset_ids=frozenset(a.pk for a in assets),
        publication_ids=frozenset({*siblings, *([publication.pk] if publication.pk else [])}),
    )


def check(publication: Publication, *, due_at: datetime | None = None,
          data: compliance.GateInput | None = None) -> Verdict:
    """The compliance gate for this publication, plus the account's own rating ceiling."""
    data = data or gate_input_for(publication, due_at=due_at)
    return with_account_ceiling(publication, data, compliance.check_publication(data))


def with_account_ceiling(publication: Publication, data: compliance.GateInput, verdict: Verdict) -> Verdict:
    ceiling = publication.account.max_rating
    if ceiling and not Rating(ceiling).allows(data.rating):
        verdict = Verdict(reasons=(*verdict.reasons, Reason(
            code="rating_not_accepted", message=f"{publication.account} accepts up to {ceiling} content.")))
    return verdict
