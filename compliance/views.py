"""Compliance pages in the admin: the board, document downloads, revocation, 2257 and DSR exports.

Every view here is wired through a ModelAdmin's `get_urls()` and `admin_site.admin_view`, finds its
object through tenancy (404 when out of reach, exactly as when absent) and leaves every state change
and every read of a document to `compliance.services` / `compliance.records`, which audit them.
Documents are streamed as attachments with `no-store`: there is no URL a browser could cache or share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, IntegerField, Model, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from accounts import tenancy
from accounts.models import Membership, Role
from compliance import records, services
from compliance.gate import ADULT_AGE, PLATFORM_MAX_RATING, SOCIAL_PLATFORMS, Use, age_on
from compliance.models import (
    ConsentRecord,
    CreatorPerformer,
    EncryptedFile,
    IdentityVerification,
    Performer,
    TakedownRequest,
)
from core.platforms import Rating

EXPIRY_WINDOW = timedelta(days=30)
DUE_SOON = timedelta(hours=12)
# A performer without any consent is checked against a subscription platform: the reasons that
# matter (not verified, no consent) are the same on every platform.
DEFAULT_PROBE_PLATFORM = "fanvue"


# --- Reach ---------------------------------------------------------------------------------------


def in_reach(request: HttpRequest, model: type[Model], pk: Any, action: str = "view") -> Model:
    """One creator-owned object the user may `action`, or 404 — the same answer as for a missing one."""
    try:
        obj = tenancy.restrict(model._default_manager.all(), request.user, action).filter(pk=pk).first()
    except (ValueError, ValidationError):
        obj = None
    if obj is None:
        raise Http404("No such object.")
    return obj


def performers_reachable(user: Any, through: type[Model] = IdentityVerification, action: str = "view") -> QuerySet:
    """Performers linked to creators where `user` may `action` rows of `through`.

    Reading a performer's documents is a compliance matter: the editor who may see that a performer
    exists (view_performer) does not reach their ID copies, so records use `through`'s permission.
    """
    ids = tenancy.allowed_creator_ids(user, through, action)
    qs = Performer.objects.all()
    if ids is tenancy.ALL:
        return qs
    return qs.filter(pk__in=CreatorPerformer.objects.filter(creator_id__in=sorted(ids)).values("performer_id"))


def performer_for_records(request: HttpRequest, pk: Any, *, through: type[Model] = IdentityVerification,
                          action: str = "view") -> Performer:
    try:
        performer = performers_reachable(request.user, through, action).filter(pk=pk).first()
    except (ValueError, ValidationError):
        performer = None
    if performer is None:
        raise Http404("No such object.")
    return performer


def may_open_board(user: Any) -> bool:
    """The owner, and compliance officers: a compliance membership plus the compliance permissions."""
    if not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    return (user.has_perm("compliance.view_performer")
            and Membership.objects.filter(user=user, role=Role.COMPLIANCE).exists())


# --- Standing of performers (shared by the changelist and the board) -------------------------------


def valid_consents_q(at: datetime) -> Q:
    """Consents that hold at `at`: unrevoked, started, strictly before `valid_until`, and not yet
    replaced by a newer consent that has started (the gate's rule, in SQL)."""
    replaced = ConsentRecord.objects.filter(supersedes=OuterRef("pk"), valid_from__lte=at)
    return (Q(revoked_at__isnull=True, valid_from__lte=at) & (Q(valid_until__isnull=True) | Q(valid_until__gt=at))
            & ~Q(Exists(replaced)))


def _consent_count(condition: Q) -> Coalesce:
    rows = (ConsentRecord.objects.filter(condition, performer=OuterRef("pk")).order_by()
            .values("performer").annotate(n=Count("pk")).values("n")[:1])
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def with_standing(queryset: QuerySet, at: datetime | None = None) -> QuerySet:
    """Annotate verification flags and consent counts with subqueries: one query for a whole page."""
    at = at or timezone.now()
    checks = IdentityVerification.objects.filter(performer=OuterRef("pk"))
    result = IdentityVerification.Result
    # The latest decided check is the standing (compliance.services.deciding_verifications).
    decided = checks.filter(result__in=IdentityVerification.DECIDED).order_by("-created_at", "-pk")
    valid = valid_consents_q(at)
    return queryset.annotate(
        latest_result=Subquery(decided.values("result")[:1]),
        latest_document_expiry=Subquery(decided.values("document_expiry")[:1]),
        has_pending=Exists(checks.filter(result=result.PENDING)),
        consents_valid=_consent_count(valid),
        consents_revoked=_consent_count(Q(revoked_at__isnull=False)),
        consents_expiring=_consent_count(valid & Q(valid_until__lte=at + EXPIRY_WINDOW)),
    )


def verification_state(performer: Performer, today: date | None = None) -> str:
    """One word for a performer's identity standing, worst problem first.

    An approved check alone is not enough to publish: the date of birth must show 18 or more, so
    "underage" and "no date of birth" outrank the approval in what the list shows.
    """
    today = today or timezone.now().date()
    latest = getattr(performer, "latest_result", None)
    expiry = getattr(performer, "latest_document_expiry", None)
    if latest == IdentityVerification.Result.APPROVED and (expiry is None or today <= expiry):
        if performer.date_of_birth is None:
            return "no date of birth"
        return "verified adult" if age_on(performer.date_of_birth, today) >= ADULT_AGE else "underage"
    if getattr(performer, "has_pending", False):
        return "pending"
    if latest == IdentityVerification.Result.REJECTED:
        return "rejected"
    if latest is not None:  # expired, or approved on a document that has lapsed since
        return "expired"
    return "none"


VERIFICATION_LABELS = {"verified adult": "success", "underage": "danger", "no date of birth": "danger",
                       "pending": "warning", "rejected": "danger", "expired": "danger", "none": "danger"}


def consent_summary(performer: Performer) -> str:
    return (f"{performer.consents_valid} valid · {performer.consents_revoked} revoked · "
            f"{performer.consents_expiring} expiring in 30 days")


def visible_links_prefetch(user: Any) -> Prefetch:
    """Creator links through which `user` sees performers; links to other creators stay hidden."""
    ids = tenancy.allowed_creator_ids(user, Performer, "view")
    links = CreatorPerformer.objects.select_related("creator").order_by("creator__stage_name")
    if ids is not tenancy.ALL:
        links = links.filter(creator_id__in=sorted(ids))
    return Prefetch("creator_links", queryset=links, to_attr="visible_links")


# --- Responses -----------------------------------------------------------------------------------


def document_response(data: bytes, doc: EncryptedFile, filename: str) -> HttpResponse:
    """A decrypted document as a download that no browser or proxy keeps."""
    response = HttpResponse(data, content_type=doc.content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = "no-store, private, max-age=0"
    response["Pragma"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
                             help_text="Recorded with the change and kept in the audit trail.")


class TakedownOutcomeForm(forms.Form):
    status = forms.ChoiceField(choices=[(s.value, s.label) for s in TakedownRequest.Status
                                        if s != TakedownRequest.Status.OPEN],
                               widget=UnfoldAdminSelectWidget)
    description = forms.CharField(max_length=4000, widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
                                  help_text="What was done: where the content was removed, or why the request "
                                            "was rejected.")


def render_action_form(request: HttpRequest, *, title: str, intro: str, form: forms.Form, submit_label: str,
                       items: list[Any] = (), opts: Any = None, danger: bool = False,
                       hidden: dict[str, Any] | None = None, kept: list[dict[str, str]] | None = None,
                       cancel_url: str = "") -> HttpResponse:
    """The intermediate page every confirm-with-a-reason action uses (revoke, erase, outcome).

    `hidden` carries a changelist action's selection back to it; a list value repeats the input.
    """
    pairs = [(name, v) for name, value in (hidden or {}).items()
             for v in (value if isinstance(value, list | tuple) else [value])]
    return render(request, "admin/action_form.html", _context(
        request, title, intro=intro, form=form, submit_label=submit_label, items=items, opts=opts, danger=danger,
        hidden=pairs, kept=kept or [], cancel_url=cancel_url))


# --- Documents -----------------------------------------------------------------------------------


def verification_document(request: HttpRequest, pk: int, side: str) -> HttpResponse:
    """Stream one side of an ID through `services.read_document` (audited)."""
    if side not in records.DOCUMENT_SIDES:
        raise Http404("No such document.")
    verification = in_reach(request, IdentityVerification, pk)
    doc = getattr(verification, side)
    if doc is None:
        raise Http404("No such document.")
    data = services.read_document(doc, actor=request.user, purpose=f"admin download ({side})",
                                  creator_id=records.creator_id_for(verification.performer, request.user),
                                  subject=verification)
    return document_response(data, doc, f"verification-{verification.pk}-{side}.{records.extension_for(doc)}")


def may_open_release(user: Any, consent: ConsentRecord) -> bool:
    """Compliance officers of one of the performer's creators, and the owner (accounts/roles.py)."""
    return tenancy.restrict(ConsentRecord.objects.filter(pk=consent.pk), user, RELEASE_ACTION).exists()


RELEASE_ACTION = "open_release"  # the permission `compliance.open_release_consentrecord`


def consent_release(request: HttpRequest, pk: int) -> HttpResponse:
    """Stream a signed release through `services.read_document` (audited). Whoever sees the consent but
    may not open its release (an account manager) gets 403: they know it exists, not what it says."""
    consent = in_reach(request, ConsentRecord, pk)
    if consent.release is None:
        raise Http404("No such document.")
    if not may_open_release(request.user, consent):
        raise PermissionDenied("Signed releases are opened by compliance officers and the agency owner.")
    data = services.read_document(consent.release, actor=request.user, purpose="admin download (release)",
                                  creator_id=records.creator_id_for(consent.performer, request.user),
                                  subject=consent)
    return document_response(data, consent.release,
                             f"consent-{consent.pk}-release.{records.extension_for(consent.release)}")


def verification_number(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a document number after a deliberate POST: each reveal is one audit event."""
    verification = in_reach(request, IdentityVerification, pk)
    number = None
    if request.method == "POST":
        number = services.read_document_number(verification, actor=request.user)
    response = render(request, "admin/compliance/document_number.html", _context(
        request, "Document number", verification=verification, number=number,
        opts=IdentityVerification._meta,
        back_url=reverse("admin:compliance_identityverification_change", args=[verification.pk])))
    response["Cache-Control"] = "no-store, private, max-age=0"
    return response


# --- Consents ------------------------------------------------------------------------------------


def revoke_consent(request: HttpRequest, pk: Any) -> HttpResponse:
    """Ask why, then revoke through `services.revoke_consent` (which signals scheduling once)."""
    consent = in_reach(request, ConsentRecord, pk, "change")
    change_url = reverse("admin:compliance_consentrecord_change", args=[consent.pk])
    if consent.is_revoked:
        messages.info(request, f"Consent #{consent.pk} was already revoked on {consent.revoked_at:%Y-%m-%d %H:%M} UTC.")
        return HttpResponseRedirect(change_url)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.revoke_consent(consent, reason=form.cleaned_data["reason"], actor=request.user)
        messages.success(request, f"Consent #{consent.pk} revoked. Scheduled publications depicting "
                                  f"{consent.performer} are being blocked.")
        return HttpResponseRedirect(change_url)
    return render_action_form(
        request, title=f"Revoke consent #{consent.pk}", form=form, submit_label="Revoke consent", danger=True,
        intro="Revocation takes effect now and cannot be undone: a new consent must be recorded to publish "
              "again. Scheduled publications depicting this performer are blocked.",
        items=[consent], opts=ConsentRecord._meta, cancel_url=change_url)


# --- Takedowns -----------------------------------------------------------------------------------


def takedown_outcome(request: HttpRequest, pk: Any) -> HttpResponse:
    takedown = in_reach(request, TakedownRequest, pk, "change")
    change_url = reverse("admin:compliance_takedownrequest_change", args=[takedown.pk])
    form = TakedownOutcomeForm(request.POST or None, initial={"status": TakedownRequest.Status.REMOVED})
    if request.method == "POST" and form.is_valid():
        services.log_takedown_action(takedown, description=form.cleaned_data["description"],
                                     status=form.cleaned_data["status"], actor=request.user)
        messages.success(request, f"Outcome recorded for takedown #{takedown.pk}.")
        return HttpResponseRedirect(change_url)
    return render_action_form(
        request, title=f"Record the outcome of takedown #{takedown.pk}", form=form, submit_label="Record outcome",
        intro="The outcome is added to the request's action log with your name and the time.",
        items=[takedown], opts=TakedownRequest._meta, cancel_url=change_url)


# --- Records of a performer ----------------------------------------------------------------------


def record_2257_json(request: HttpRequest, pk: Any) -> HttpResponse:
    performer = performer_for_records(request, pk)
    record = records.record_2257(performer, actor=request.user, fmt="json")
    response = HttpResponse(json.dumps(record, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"performer-{performer.pk}-2257.json")
    response["Cache-Control"] = "no-store, private, max-age=0"
    return response


def record_2257_print(request: HttpRequest, pk: Any) -> HttpResponse:
    performer = performer_for_records(request, pk)
    record = records.record_2257(performer, actor=request.user, fmt="html")
    response = render(request, "admin/compliance/record_2257.html", {"record": record, "performer": performer})
    response["Cache-Control"] = "no-store, private, max-age=0"
    return response


def export_data(request: HttpRequest, pk: Any) -> HttpResponse:
    performer = performer_for_records(request, pk)
    return zip_response(records.export_performer_data(performer, actor=request.user), performer)


def zip_response(data: bytes, performer: Performer) -> HttpResponse:
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"performer-{performer.pk}-data.zip")
    response["Cache-Control"] = "no-store, private, max-age=0"
    return response


ERASURE_INTRO = (
    "Erasure removes contact details, notes, aliases, and the images and numbers of identity checks that "
    "were never approved. When the performer passed an identity check, the 2257 record — legal name, date of "
    "birth, names used, the approved ID copy and the consents — is kept, as the law requires; otherwise it "
    "is erased too. The performer is marked erased and can no longer appear in publications."
)


def erase(request: HttpRequest, pk: Any) -> HttpResponse:
    performer = performer_for_records(request, pk, through=Performer, action="delete")
    if not request.user.has_perm("compliance.delete_performer"):
        raise PermissionDenied
    change_url = reverse("admin:compliance_performer_change", args=[performer.pk])
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = records.erase_performer(performer, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, erasure_message(performer, result))
        return HttpResponseRedirect(change_url)
    return render_action_form(
        request, title=f"Erase {performer} (data-subject request)", form=form, submit_label="Erase", danger=True,
        intro=ERASURE_INTRO, items=[performer], opts=Performer._meta, kept=records.what_is_kept(performer),
        cancel_url=change_url)


def erasure_message(performer: Performer, result: dict[str, Any]) -> str:
    if not result["changed"]:
        return f"Performer #{performer.pk} was already erased; nothing more to remove."
    kept = "the 2257 record was kept" if result["records_held"] else "no record had to be kept"
    return f"Performer #{performer.pk} erased ({kept}). What was kept and why is written on the record."


# --- The board -----------------------------------------------------------------------------------


@dataclass
class BlockedItem:
    performer: Performer
    platform: str
    rating: str
    reasons: list[dict[str, Any]] = field(default_factory=list)


def _probe(performer: Performer) -> tuple[str, str]:
    """The platform and use to ask the gate about: the latest consent's own scope, when there is one.

    Asking about a platform the performer never agreed to would report a missing consent that no
    one needs; asking about their own scope reports what actually stands in the way.
    """
    for consent in sorted(performer.consents.all(), key=lambda c: c.created_at, reverse=True):
        for platform in consent.platforms:
            use = Use.PROMOTION_ON_SOCIAL if platform in SOCIAL_PLATFORMS else Use.PUBLICATION
            if platform in PLATFORM_MAX_RATING and use in consent.uses:
                return platform, use
    return DEFAULT_PROBE_PLATFORM, Use.PUBLICATION


def blocked_items(performers: list[Performer], today: date) -> list[BlockedItem]:
    """Performers the gate refuses today, with its reason codes, from `services.consent_status`."""
    items = []
    for performer in performers:
        if performer.status == Performer.Status.ERASED:
            continue  # permanently out of publication; nothing to fix
        state = verification_state(performer, today)
        if state == "verified adult" and performer.consents_valid and performer.status == Performer.Status.ACTIVE:
            continue
        platform, use = _probe(performer)
        status = services.consent_status(performer, platform=platform, rating=Rating.SFW, use=use)
        if status["allowed"]:
            continue
        items.append(BlockedItem(performer=performer, platform=platform, rating=Rating.SFW.value,
                                 reasons=status["reasons"]))
    return items


def board(request: HttpRequest) -> HttpResponse:
    """Where a compliance officer starts the day: who may appear, what expires, what is due."""
    if not may_open_board(request.user):
        raise PermissionDenied
    now = timezone.now()
    today = now.date()
    reachable = performers_reachable(request.user)
    performers = list(
        with_standing(reachable, now)
        .prefetch_related(visible_links_prefetch(request.user), "consents")
        .order_by("legal_name", "pk")
    )
    for performer in performers:
        performer.verification = verification_state(performer, today)
        performer.verification_label = VERIFICATION_LABELS[performer.verification]
    expiring = (ConsentRecord.objects.filter(performer__in=reachable, revoked_at__isnull=True,
                                             valid_until__gt=now, valid_until__lte=now + EXPIRY_WINDOW)
                .select_related("performer").order_by("valid_until", "pk"))
    takedowns = list(tenancy.restrict(TakedownRequest.objects.all(), request.user)
                     .filter(status__in=TakedownRequest.OPEN_STATUSES)
                     .select_related("creator").prefetch_related("performers", "targets")
                     .order_by("due_at", "pk"))
    for takedown in takedowns:
        takedown.deadline = ("overdue" if takedown.due_at <= now else
                             "due < 12 h" if takedown.due_at - now < DUE_SOON else "open")
        takedown.time_left = takedown.due_at - now
    blocked = blocked_items(performers, today)
    return render(request, "admin/compliance/board.html", _context(
        request, "Compliance board",
        performers=performers, expiring=list(expiring), takedowns=takedowns, blocked=blocked, now=now,
        counts={"performers": len(performers), "blocked": len(blocked), "expiring": len(expiring),
                "overdue": sum(1 for t in takedowns if t.deadline == "overdue")},
    ))
