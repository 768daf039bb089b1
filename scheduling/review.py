"""The review inbox: what waits for this person's approval, what it looks like, and acting on it.

An asset in review and a post whose publications wait for approval are "waiting for me" when my
role on their creator carries the change right (which is what approving needs, in the admin and the
API alike) and, where the creator keeps four eyes, when I am not their author. Every approval and
refusal goes through the services (`content.services.approve`/`reject`,
`scheduling.services.approve_post`/`send_back_post`), which keep the rules; this module only finds
the rows, builds what a reviewer looks at, and reports each service's answer item by item.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

from accounts import tenancy
from accounts.models import User
from compliance import services as compliance
from compliance.gate import Verdict
from content import services as content_services
from content import views as content_views
from content.models import Asset, Rendition
from core.money import format_money
from core.wording import counted
from scheduling import approval, services
from scheduling.models import Post, Publication

S = Publication.Status
ASSET, POST = "asset", "post"
KINDS = (ASSET, POST)
SHOWN_AT_MOST = 100  # per kind: a reviewer works from the top; the count says how many more wait


def _person(user: Any) -> User | None:
    return user if isinstance(user, User) and user.is_authenticated else None


def may_review(user: Any) -> bool:
    """Whether this person may approve anything at all (the inbox and its sidebar entry)."""
    return bool(user.is_active and user.is_staff and (
        user.has_perm("content.change_asset") or user.has_perm("scheduling.change_post")))


def waiting_assets(user: Any, *, creator_id: int | None = None) -> QuerySet[Asset]:
    qs = tenancy.restrict(Asset.objects.filter(status=Asset.Status.IN_REVIEW), user, "change")
    person = _person(user)
    if person is not None:
        qs = qs.exclude(creator__four_eyes_review=True, uploaded_by_id=person.pk)
    if creator_id is not None:
        qs = qs.filter(creator_id=creator_id)
    return qs


def waiting_posts(user: Any, *, creator_id: int | None = None) -> QuerySet[Post]:
    pending = Publication.objects.filter(status=S.PENDING_APPROVAL).values("post_id")
    qs = tenancy.restrict(Post.objects.filter(pk__in=pending), user, "change")
    person = _person(user)
    if person is not None:
        qs = qs.exclude(creator__four_eyes_review=True, created_by_id=person.pk)
    if creator_id is not None:
        qs = qs.filter(creator_id=creator_id)
    return qs


def waiting_count(user: Any) -> int:
    """Two COUNT queries: cheap enough for the sidebar badge on every admin page."""
    if not may_review(user):
        return 0
    return waiting_assets(user).count() + waiting_posts(user).count()


# --- What a reviewer looks at ----------------------------------------------------------------------


@dataclass(frozen=True)
class AssetPreview:
    asset: Asset
    preview_url: str | None
    preview_kind: str  # "image" (a thumbnail, or a video's poster frame) or "" when none is rendered yet

    @property
    def key(self) -> str:
        return f"{ASSET}:{self.asset.pk}"


@dataclass(frozen=True)
class TargetPreview:
    publication: Publication
    caption: str
    overridden: bool
    verdict: Verdict


@dataclass(frozen=True)
class PostPreview:
    post: Post
    price: str
    assets: list[AssetPreview]
    targets: list[TargetPreview]
    pending: int

    @property
    def key(self) -> str:
        return f"{POST}:{self.post.pk}"

    @property
    def all_pass(self) -> bool:
        return all(t.verdict.passed for t in self.targets)


def _previews(assets: Iterable[Asset]) -> list[AssetPreview]:
    out = []
    for asset in assets:
        rendition = content_views.preview_rendition(list(asset.renditions.all()))
        out.append(AssetPreview(asset, content_views.rendition_url(rendition) if rendition else None,
                                "image" if rendition else ""))
    return out


def asset_previews(assets: QuerySet[Asset]) -> list[AssetPreview]:
    previews = Rendition.objects.filter(preset__in=content_views.PREVIEW_PRESETS).only(
        "id", "asset_id", "preset", "file", "mime")
    rows = assets.select_related("creator", "uploaded_by").prefetch_related(
        Prefetch("renditions", queryset=previews)).order_by("submitted_at", "pk")[:SHOWN_AT_MOST]
    return _previews(rows)


def verdict_once_approved(publication: Publication, *, assets: list[Asset], version: str) -> Verdict:
    """What the gate will say for this target if the post is approved as it stands now.

    The live verdict of a post waiting for approval always names the missing approval; a reviewer
    needs the rest: consents, ratings, the account's ceiling, blocked words, takedowns.
    """
    data = services.gate_input_for(publication, assets=assets, version=version)
    data = dataclasses.replace(data, approved_version=version,
                               human_approved=bool(assets) and all(a.status == Asset.Status.APPROVED for a in assets))
    return services.with_account_ceiling(publication, data, compliance.check_publication(data))


def post_previews(posts: QuerySet[Post] | list[Post], *, once_approved: bool = True) -> list[PostPreview]:
    """Each post with its captions per target, its media, its price and the gate's verdict per target:
    `once_approved` judges it as if approved now (the inbox, the confirmation page); otherwise the
    live verdict (the post page after approval)."""
    if isinstance(posts, QuerySet):
        posts = list(posts.select_related("creator", "created_by").order_by("created_at", "pk")[:SHOWN_AT_MOST])
    assets = services.assets_for_posts(posts)
    versions = approval.current_versions(posts) if posts else {}
    pubs: dict[int, list[Publication]] = {p.pk: [] for p in posts}
    by_pk = {p.pk: p for p in posts}
    for pub in Publication.objects.filter(post__in=list(by_pk)).select_related("account").order_by("pk"):
        pub.post = by_pk[pub.post_id]
        pubs[pub.post_id].append(pub)
    out = []
    for post in posts:
        targets = []
        for pub in pubs[post.pk]:
            if pub.status in (S.CANCELLED, S.REMOVED):
                continue
            if once_approved:
                verdict = verdict_once_approved(pub, assets=assets[post.pk], version=versions[post.pk])
            else:
                verdict = services.check(pub, data=services.gate_input_for(
                    pub, assets=assets[post.pk], version=versions[post.pk]))
            targets.append(TargetPreview(pub, pub.caption_override or post.caption, bool(pub.caption_override),
                                         verdict))
        price = format_money(post.price_minor, post.currency, empty="")
        out.append(PostPreview(post, price, _previews(assets[post.pk]), targets,
                               sum(1 for p in pubs[post.pk] if p.status == S.PENDING_APPROVAL)))
    return out


# --- Acting on it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The service's answer for one item: `level` is "success", "warning" (done, with something to see)
    or "error" (refused, nothing changed)."""

    key: str
    label: str
    level: str
    message: str
    verdicts: dict[int, Verdict] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.level != "error"


def parse_keys(values: Iterable[str]) -> list[tuple[str, int]]:
    """"asset:12" and "post:5" into pairs, in order, once each; anything else is ignored (a stale or
    hand-edited form never yields a 5xx)."""
    seen: set[tuple[str, int]] = set()
    out = []
    for value in values:
        kind, _, pk = str(value).partition(":")
        if kind in KINDS and pk.isdigit() and (kind, int(pk)) not in seen:
            seen.add((kind, int(pk)))
            out.append((kind, int(pk)))
    return out


def _reachable(user: Any, kind: str, pk: int) -> Asset | Post | None:
    model: type[Asset] | type[Post] = Asset if kind == ASSET else Post
    return tenancy.restrict(model.objects.select_related("creator"), user, "change").filter(pk=pk).first()


def post_label(post: Post) -> str:
    caption = post.caption.strip().splitlines()[0][:40] if post.caption.strip() else ""
    return f"Post #{post.pk}" + (f" “{caption}”" if caption else "")


def _label(obj: Asset | Post) -> str:
    return f"Asset “{obj}”" if isinstance(obj, Asset) else post_label(obj)


def _on_one(user: Any, kind: str, pk: int, missing: str,
            act: Callable[[str, str, Asset | Post], Outcome]) -> Outcome:
    """One inbox row acted on: found in reach or said missing, a service's refusal told as that row's error."""
    key = f"{kind}:{pk}"
    obj = _reachable(user, kind, pk)
    if obj is None:
        return Outcome(key, f"{kind.title()} #{pk}", "error", missing)
    label = _label(obj)
    try:
        return act(key, label, obj)
    except ValidationError as exc:
        return Outcome(key, label, "error", " ".join(exc.messages))


def _approve_one(user: Any, kind: str, pk: int) -> Outcome:
    def act(key: str, label: str, obj: Asset | Post) -> Outcome:
        if isinstance(obj, Asset):
            content_services.approve(obj, actor=user)
            return Outcome(key, label, "success", "approved.")
        return approval_outcome(key, label, services.approve_post(obj, actor=user))

    return _on_one(user, kind, pk, "not found, or not yours to approve.", act)


def approval_outcome(key: str, label: str, verdicts: dict[int, Verdict]) -> Outcome:
    failing = {pk: v for pk, v in verdicts.items() if not v.passed}
    if not verdicts:
        return Outcome(key, label, "success", "approved (no target was waiting).", verdicts)
    if not failing:
        scope = "its target" if len(verdicts) == 1 else f"all {counted(len(verdicts), 'target')}"
        return Outcome(key, label, "success", f"approved; the gate passes on {scope}.", verdicts)
    reasons = "; ".join(f"#{pk}: " + ", ".join(r.message for r in v.reasons) for pk, v in failing.items())
    refused = f"{len(failing)} of {counted(len(verdicts), 'target')}"
    return Outcome(key, label, "warning", f"approved, but the gate refuses {refused} until this is fixed — {reasons}",
                   verdicts)


def _reject_one(user: Any, kind: str, pk: int, reason: str) -> Outcome:
    def act(key: str, label: str, obj: Asset | Post) -> Outcome:
        if isinstance(obj, Asset):
            content_services.reject(obj, actor=user, reason=reason)
            return Outcome(key, label, "success", "rejected.")
        services.send_back_post(obj, actor=user, reason=reason)
        return Outcome(key, label, "success", "sent back to its author as a draft.")

    return _on_one(user, kind, pk, "not found, or not yours to review.", act)


def approve_items(user: Any, keys: Iterable[str]) -> list[Outcome]:
    """Approve each item through its service; one refusal (four eyes, a state that moved on) never
    stops the others, and each is reported."""
    return [_approve_one(user, kind, pk) for kind, pk in parse_keys(keys)]


def reject_items(user: Any, keys: Iterable[str], reason: str) -> list[Outcome]:
    return [_reject_one(user, kind, pk, reason) for kind, pk in parse_keys(keys)]
