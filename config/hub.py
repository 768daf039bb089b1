"""A creator's hub: accounts, performers and consents, posts, and what onboarding still lacks.

One page that reads four apps, so it lives in `config` and is wired by the admin site. It only reads:
every fix it offers is a link to the admin page (and so the service) that makes the change. The creator
is found through tenancy (404 out of reach, as for a missing one) and each section appears only to
those whose role may view its model, each list drawn through `restrict()` as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts import tenancy
from accounts.admin_base import object_in_reach
from accounts.models import Creator
from analytics.dashboard import may_open_dashboard
from compliance.models import ConsentRecord, CreatorPerformer, Performer, PerformerName
from compliance.views import performers_reachable, verification_state, with_standing
from scheduling.models import PlatformAccount, Post, Publication
from scheduling.views_calendar import may_open_calendar

VERIFIED = "verified adult"
# A post counts as scheduled from the moment the calendar holds it: later states mean it went further.
SCHEDULED_OR_LATER = (Publication.Status.SCHEDULED, Publication.Status.CLAIMED, Publication.Status.PUBLISHING,
                      Publication.Status.PUBLISHED, Publication.Status.EXPORTED)


@dataclass
class Step:
    key: str
    label: str
    done: bool
    detail: str
    fix_label: str = ""
    fix_link: str = ""


@dataclass
class PerformerRow:
    performer: Performer
    name: str
    relation: str
    verification: str
    consents: list[dict[str, Any]] = field(default_factory=list)
    link: str = ""


def _url(name: str, *args: Any, query: dict[str, Any] | None = None) -> str:
    try:
        base = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    return f"{base}?{urlencode(query)}" if query else base


def _can(request: HttpRequest, perm: str) -> bool:
    return bool(request.user.has_perm(perm))


def consent_status(consent: ConsentRecord, replaced: set[int], now: datetime) -> str:
    """valid, revoked, expired, not yet valid or superseded: the gate's reading of one consent."""
    if consent.revoked_at is not None:
        return "revoked"
    if consent.valid_until is not None and consent.valid_until <= now:
        return "expired"
    if consent.valid_from > now:
        return "not yet valid"
    if consent.pk in replaced:
        return "superseded"
    return "valid"


def display_name(performer: Performer, legal_visible: bool, public_names: list[str]) -> str:
    """The legal name to those who may open the performer's records, a stage name or alias to the rest."""
    if legal_visible:
        return performer.legal_name
    return public_names[0] if public_names else f"Performer #{performer.pk}"


def performer_rows(request: HttpRequest, creator: Creator) -> list[PerformerRow]:
    links = {link.performer_id: link for link in CreatorPerformer.objects.filter(creator=creator)}
    performers = list(with_standing(tenancy.restrict(Performer.objects.all(), request.user))
                      .filter(pk__in=list(links)).order_by("pk"))
    ids = [p.pk for p in performers]
    legal = set(performers_reachable(request.user).filter(pk__in=ids).values_list("pk", flat=True))
    names: dict[int, list[str]] = {}
    for performer_id, name in (PerformerName.objects.filter(
            performer_id__in=ids, kind__in=(PerformerName.Kind.STAGE, PerformerName.Kind.ALIAS))
            .order_by("kind", "name").values_list("performer_id", "name")):
        names.setdefault(performer_id, []).append(name)
    consents: dict[int, list[dict[str, Any]]] = {}
    if _can(request, "compliance.view_consentrecord"):
        now = timezone.now()
        rows = list(tenancy.restrict(ConsentRecord.objects.all(), request.user).filter(performer_id__in=ids)
                    .order_by("-valid_from", "-pk"))
        replaced = {c.supersedes_id for c in rows if c.supersedes_id and c.valid_from <= now}
        for c in rows:
            consents.setdefault(c.performer_id, []).append({
                "status": consent_status(c, replaced, now), "platforms": ", ".join(c.platforms),
                "rating": c.max_rating, "uses": ", ".join(u.replace("_", " ") for u in c.uses),
                "valid_until": c.valid_until, "link": _url("admin:compliance_consentrecord_change", c.pk)})
    return [PerformerRow(p, display_name(p, p.pk in legal, names.get(p.pk, [])),
                         links[p.pk].get_relation_display(), verification_state(p), consents.get(p.pk, []),
                         _url("admin:compliance_performer_change", p.pk)) for p in performers]


def _performer_facts(creator: Creator) -> list[tuple[Performer, str, int]]:
    """Every linked performer (whoever looks) with identity standing and valid consent count."""
    performers = with_standing(Performer.objects.filter(creator_links__creator=creator)).order_by("pk")
    return [(p, verification_state(p), p.consents_valid) for p in performers]


def checklist(request: HttpRequest, creator: Creator, shown_names: dict[int, str]) -> list[Step]:
    """Onboarding, in the order it happens: each step done, or what is missing and where to fix it.

    The facts are the creator's whatever the viewer's role; a fix is linked only for someone whose
    role may make it. Performers not shown to the viewer are named by number."""
    facts = _performer_facts(creator)
    no_likeness_needed = creator.kind == Creator.Kind.AI_PERSONA and not facts
    name = lambda p: shown_names.get(p.pk, f"performer #{p.pk}")  # noqa: E731
    steps = []

    if no_likeness_needed:
        steps.append(Step("identity", "Identity checked", True,
                          "An AI persona with no real likeness: nobody to verify."))
    elif not facts:
        steps.append(Step("identity", "Identity checked", False, "No performer is linked to this creator yet.",
                          *_fix(request, "compliance.add_performer", "Add a performer",
                                "admin:compliance_performer_add")))
    else:
        missing = [(p, state) for p, state, _ in facts if state != VERIFIED]
        if missing:
            p = missing[0][0]
            detail = "; ".join(f"{name(q)}: {s}" for q, s in missing)
            steps.append(Step("identity", "Identity checked", False, f"Not a verified adult — {detail}.",
                              *_fix(request, "compliance.add_identityverification", "Record an identity check",
                                    "admin:compliance_identityverification_add", query={"performer": p.pk})))
        else:
            steps.append(Step("identity", "Identity checked", True,
                              f"{len(facts)} performer{'s' if len(facts) > 1 else ''}, each a verified adult."))

    if no_likeness_needed:
        steps.append(Step("consent", "Consent recorded", True,
                          "An AI persona with no real likeness: no consent needed."))
    elif not facts:
        steps.append(Step("consent", "Consent recorded", False, "No performer, so no consent yet."))
    else:
        without = [p for p, _, valid in facts if valid == 0]
        if without:
            detail = ", ".join(name(p) for p in without)
            steps.append(Step("consent", "Consent recorded", False, f"No valid consent for {detail}.",
                              *_fix(request, "compliance.add_consentrecord", "Record a consent",
                                    "admin:compliance_consentrecord_add", query={"performer": without[0].pk})))
        else:
            steps.append(Step("consent", "Consent recorded", True, "Every performer has a valid consent."))

    accounts = list(PlatformAccount.objects.filter(creator=creator).order_by("platform", "handle"))
    connected = [a for a in accounts if a.state == PlatformAccount.State.CONNECTED]
    if connected:
        steps.append(Step("accounts", "Accounts connected", True,
                          f"{len(connected)} of {len(accounts)} account{'s' if len(accounts) > 1 else ''} connected."))
    elif accounts:
        first = accounts[0]
        detail = ", ".join(f"{a} ({a.get_state_display().lower()})" for a in accounts)
        steps.append(Step("accounts", "Accounts connected", False, f"None connected: {detail}.",
                          *_fix(request, "scheduling.change_platformaccount", "Connect an account",
                                "admin:scheduling_platformaccount_change", first.pk)))
    else:
        steps.append(Step("accounts", "Accounts connected", False, "No platform account yet.",
                          *_fix(request, "scheduling.add_platformaccount", "Add a platform account",
                                "admin:scheduling_platformaccount_add", query={"creator": creator.pk})))

    if Publication.objects.filter(creator=creator, status__in=SCHEDULED_OR_LATER).exists():
        steps.append(Step("first_post", "First post scheduled", True, "A post is on the calendar or already out."))
    elif Post.objects.filter(creator=creator).exists():
        steps.append(Step("first_post", "First post scheduled", False, "Posts exist, none scheduled yet.",
                          *_fix(request, "scheduling.view_post", "Open the posts", "admin:scheduling_post_changelist",
                                query={"creator__id__exact": creator.pk})))
    else:
        steps.append(Step("first_post", "First post scheduled", False, "No post yet.",
                          *_fix(request, "scheduling.add_post", "Compose a post", "admin:scheduling_post_add",
                                query={"creator": creator.pk})))
    return steps


WHO_FIXES = {"compliance": "A compliance officer does this", "scheduling": "The account manager does this"}


def _fix(request: HttpRequest, perm: str, label: str, url_name: str, *args: Any,
         query: dict[str, Any] | None = None) -> tuple[str, str]:
    if not _can(request, perm):
        return WHO_FIXES.get(perm.split(".")[0], "Someone else's role does this"), ""
    link = _url(url_name, *args, query=query)
    return (label, link) if link else ("", "")


def publication_counts(request: HttpRequest, creator: Creator) -> list[dict[str, Any]]:
    counts = dict(tenancy.restrict(Publication.objects.filter(creator=creator), request.user)
                  .order_by().values_list("status").annotate(n=Count("pk")))
    base = _url("admin:scheduling_publication_changelist")
    return [{"status": status, "label": label, "count": counts[status],
             "link": f"{base}?{urlencode({'creator': creator.pk, 'status__exact': status})}" if base else ""}
            for status, label in Publication.Status.choices if counts.get(status)]


def hub(site: AdminSite, request: HttpRequest, creator_id: int) -> HttpResponse:
    """The creator's hub page (admin:creator_hub)."""
    creator = object_in_reach(request, Creator, creator_id)
    assert isinstance(creator, Creator)
    user = request.user
    performers = performer_rows(request, creator) if _can(request, "compliance.view_performer") else None
    shown = {row.performer.pk: row.name for row in performers or []}
    accounts = None
    if _can(request, "scheduling.view_platformaccount"):
        accounts = list(tenancy.restrict(PlatformAccount.objects.filter(creator=creator), user)
                        .order_by("platform", "handle"))
    posts = None
    if _can(request, "scheduling.view_post"):
        posts = {
            "total": tenancy.restrict(Post.objects.filter(creator=creator), user).count(),
            "link": _url("admin:scheduling_post_changelist", query={"creator__id__exact": creator.pk}),
            "by_status": publication_counts(request, creator) if _can(request, "scheduling.view_publication") else [],
        }
    steps = checklist(request, creator, shown)
    context = {
        **site.each_context(request),
        "title": f"{creator.stage_name} — hub",
        "creator": creator,
        "change_link": _url("admin:accounts_creator_change", creator.pk),
        "calendar_link": _url("admin:scheduling_calendar", query={"creator": creator.pk})
        if may_open_calendar(user) else "",
        "analytics_link": _url("admin:analytics_creator_dashboard", query={"creator": creator.pk})
        if may_open_dashboard(user) else "",
        "accounts": accounts,
        "account_add_link": _url("admin:scheduling_platformaccount_add", query={"creator": creator.pk})
        if _can(request, "scheduling.add_platformaccount") else "",
        "performers": performers,
        "posts": posts,
        "steps": steps,
        "steps_done": sum(1 for s in steps if s.done),
    }
    return render(request, "admin/creator_hub.html", context)
