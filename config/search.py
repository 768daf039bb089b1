"""Find anything: one search over creators, performers, assets, posts, fans and platform accounts.

It lives in `config` because it reads every app. Each group is drawn through `accounts.tenancy.restrict()`
for the person asking and only where that model's admin lets them view it, so a search never tells
anyone that another creator's row exists. Groups are capped: this is a way to a record, not a report.

Performers' legal names are personal data. They are matched and shown only where the person may open
the performer's records (`compliance.view_identityverification`, as `compliance.views.performers_reachable`
decides: the owner and compliance officers); everyone else finds a performer by stage name or alias
and sees those names alone. Compliance audits reads of documents, document numbers and exports, not the
sight of a name, so a search is not an audit event either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.text import Truncator

from accounts import tenancy
from accounts.models import Creator
from analytics.models import Fan
from compliance.models import Performer, PerformerName
from compliance.views import performers_reachable
from content.models import Asset
from scheduling.models import PlatformAccount, Post

# Longer input is cut here: no name, handle or caption fragment anyone types is longer, and LIKE
# patterns stay cheap.
MAX_TERM = 100
# Below this, only menu entries are matched: one letter would match half of every table.
MIN_RECORD_TERM = 2
PER_GROUP = 5

PUBLIC_NAME_KINDS = (PerformerName.Kind.STAGE, PerformerName.Kind.ALIAS)
LEGAL_NAME_KINDS = (PerformerName.Kind.LEGAL, PerformerName.Kind.FORMER_LEGAL)


@dataclass(frozen=True)
class Hit:
    title: str
    detail: str
    link: str
    extra_links: tuple[tuple[str, str], ...] = ()


@dataclass
class Group:
    key: str
    label: str
    icon: str
    hits: list[Hit] = field(default_factory=list)
    more: bool = False
    list_link: str = ""


def clean_term(raw: Any) -> str:
    """What is searched for: printable text, spaces collapsed, at most MAX_TERM characters.

    PostgreSQL refuses a NUL in a string parameter, so control characters go before any query."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(raw or ""))
    return " ".join(text.split())[:MAX_TERM]


def search(site: AdminSite, request: HttpRequest, term: str, per_group: int = PER_GROUP) -> list[Group]:
    """Groups with at least one hit, in a fixed order; nothing for a term shorter than MIN_RECORD_TERM."""
    if len(term) < MIN_RECORD_TERM:
        return []
    groups = []
    for source in SOURCES:
        model_admin = site._registry.get(source.model)
        if model_admin is None or not model_admin.has_view_permission(request):
            continue
        group = source.run(request, term, per_group)
        if group.hits:
            group.list_link = _list_link(source.model, model_admin, request, term)
            groups.append(group)
    return groups


def _list_link(model: type[Model], model_admin: Any, request: HttpRequest, term: str) -> str:
    if not model_admin.get_search_fields(request):
        return ""
    return f"{_admin_url(model, 'changelist')}?{urlencode({'q': term})}"


def _admin_url(model: type[Model], view: str, *args: Any) -> str:
    opts = model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)
    except NoReverseMatch:
        return ""


def _capped(qs: QuerySet, per_group: int) -> tuple[list[Any], bool]:
    """The first rows and whether there are more. Big tables are read newest first by primary key: with
    a LIMIT, PostgreSQL walks the key's index backwards and stops at the first matches instead of
    sorting every match."""
    rows = list(qs[: per_group + 1])
    return rows[:per_group], len(rows) > per_group


def _reach(model: type[Model], request: HttpRequest) -> QuerySet:
    return tenancy.restrict(model._default_manager.all(), request.user)


def _excerpt(text: str, term: str, width: int = 90) -> str:
    """The part of a caption around the first match, so a hit shows why it matched."""
    flat = " ".join(text.split())
    at = flat.lower().find(term.lower())
    if at < 0 or len(flat) <= width:
        return Truncator(flat).chars(width)
    start = max(0, at - width // 3)
    piece = flat[start:start + width]
    return ("…" if start else "") + Truncator(piece).chars(width)


# --- One function per group ------------------------------------------------------------------------


def _creators(request: HttpRequest, term: str, per_group: int) -> tuple[list[Hit], bool]:
    qs = _reach(Creator, request).filter(Q(stage_name__icontains=term) | Q(slug__icontains=term)).order_by(
        "stage_name", "pk")
    rows, more = _capped(qs, per_group)
    return [Hit(c.stage_name, f"{c.slug} · {c.get_status_display()}", _admin_url(Creator, "change", c.pk),
                (("Hub", reverse("admin:creator_hub", args=[c.pk])),)) for c in rows], more


def _performers(request: HttpRequest, term: str, per_group: int) -> tuple[list[Hit], bool]:
    legal_reach = performers_reachable(request.user)
    public = Q(names__kind__in=PUBLIC_NAME_KINDS, names__name__icontains=term)
    legal = (Q(legal_name__icontains=term) | Q(names__kind__in=LEGAL_NAME_KINDS, names__name__icontains=term)) & Q(
        pk__in=legal_reach.values("pk"))
    matching = Performer.objects.filter(public | legal).values("pk")
    qs = _reach(Performer, request).filter(pk__in=matching).order_by("pk")
    rows, more = _capped(qs, per_group)
    if not rows:
        return [], False
    ids = [p.pk for p in rows]
    may_see_legal = set(legal_reach.filter(pk__in=ids).values_list("pk", flat=True))
    names: dict[int, list[str]] = {}
    for performer_id, name in (PerformerName.objects.filter(performer_id__in=ids, kind__in=PUBLIC_NAME_KINDS)
                               .order_by("kind", "name").values_list("performer_id", "name")):
        names.setdefault(performer_id, []).append(name)
    hits = []
    for p in rows:
        public_names = names.get(p.pk, [])
        if p.pk in may_see_legal:
            title = p.legal_name
            detail = f"also {', '.join(public_names)}" if public_names else "Performer"
        else:
            title = public_names[0] if public_names else f"Performer #{p.pk}"
            detail = f"also {', '.join(public_names[1:])}" if len(public_names) > 1 else "Performer"
        hits.append(Hit(title, f"{detail} · {p.get_status_display()}", _admin_url(Performer, "change", p.pk)))
    return hits, more


def _assets(request: HttpRequest, term: str, per_group: int) -> tuple[list[Hit], bool]:
    matching = Asset.objects.filter(Q(title__icontains=term) | Q(tags__name__icontains=term)).values("pk")
    qs = _reach(Asset, request).filter(pk__in=matching).select_related("creator").order_by("-pk")
    rows, more = _capped(qs, per_group)
    return [Hit(str(a), f"{a.creator.stage_name} · {a.get_kind_display()} · {a.get_status_display()}",
                _admin_url(Asset, "change", a.pk)) for a in rows], more


def _posts(request: HttpRequest, term: str, per_group: int) -> tuple[list[Hit], bool]:
    qs = _reach(Post, request).filter(caption__icontains=term).select_related("creator").order_by("-pk")
    rows, more = _capped(qs, per_group)
    return [Hit(_excerpt(p.caption, term), f"{p.creator.stage_name} · post #{p.pk}", _admin_url(Post, "change", p.pk))
            for p in rows], more


def _fans(request: HttpRequest, term: str, per_group: int) -> tuple[list[Hit], bool]:
    # A prefix, as in the fans list: fan tables are the largest, and handles are typed from the start.
    qs = _reach(Fan, request).filter(Q(handle__istartswith=term) | Q(external_id=term)).select_related(
        "creator").order_by("-pk")
    rows, more = _capped(qs, per_group)
    return [Hit(str(f), f"{f.creator.stage_name} · {f.platform} · {f.get_segment_display()}",
                _admin_url(Fan, "change", f.pk)) for f in rows], more


def _accounts(request: HttpRequest, term: str, per_group: int) -> tuple[list[Hit], bool]:
    qs = _reach(PlatformAccount, request).filter(handle__icontains=term).select_related("creator").order_by(
        "creator__stage_name", "platform", "handle")
    rows, more = _capped(qs, per_group)
    return [Hit(str(a), f"{a.creator.stage_name} · {a.get_state_display()}",
                _admin_url(PlatformAccount, "change", a.pk)) for a in rows], more


@dataclass(frozen=True)
class Source:
    key: str
    label: str
    icon: str
    model: type[Model]
    find: Callable[[HttpRequest, str, int], tuple[list[Hit], bool]]

    def run(self, request: HttpRequest, term: str, per_group: int) -> Group:
        hits, more = self.find(request, term, per_group)
        return Group(self.key, self.label, self.icon, hits, more)


SOURCES: tuple[Source, ...] = (
    Source("creators", "Creators", "face", Creator, _creators),
    Source("performers", "Performers", "verified_user", Performer, _performers),
    Source("assets", "Assets", "photo_library", Asset, _assets),
    Source("posts", "Posts", "edit_note", Post, _posts),
    Source("fans", "Fans", "favorite", Fan, _fans),
    Source("accounts", "Platform accounts", "hub", PlatformAccount, _accounts),
)


def flat_hits(groups: Iterable[Group]) -> list[tuple[Group, Hit]]:
    return [(group, hit) for group in groups for hit in group.hits]
