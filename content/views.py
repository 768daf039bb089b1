"""Content pages in the admin: the multi-file upload, the renditions feed the asset page polls,
rendition files, and the confirm pages of review and bulk actions.

Every view is wired through `AssetAdmin.get_urls()` and `admin_site.admin_view`, finds its asset
through tenancy (404 when out of reach, exactly as when absent) and leaves every state change to
`content.services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from unfold.widgets import (
    UnfoldAdminDateWidget,
    UnfoldAdminSelectMultipleWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from accounts import tenancy
from accounts.actors import Actor
from accounts.models import Creator
from compliance.models import Performer
from content import services
from content.models import Asset, Collection, Rendition

PREVIEW_PRESETS = ("thumb", "poster")
POLL_STATES = (Asset.Processing.PENDING, Asset.Processing.RUNNING)


# --- Reach ---------------------------------------------------------------------------------------


def asset_in_reach(request: HttpRequest, pk: Any, action: str = "view") -> Asset:
    try:
        asset = tenancy.restrict(Asset.objects.select_related("creator"), request.user, action).filter(pk=pk).first()
    except (ValueError, ValidationError):
        asset = None
    if asset is None:
        raise Http404("No such asset.")
    return asset


def creators_for(request: HttpRequest, action: str = "add", model: type = Asset) -> QuerySet:
    """Creators for whom the user may `action` rows of `model` (an editor adds to A, not to B)."""
    ids = tenancy.allowed_creator_ids(request.user, model, action)
    return Creator.objects.all() if ids is tenancy.ALL else Creator.objects.filter(pk__in=sorted(ids))


def parse_tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]


# --- Renditions ----------------------------------------------------------------------------------


def rendition_url(rendition: Rendition) -> str:
    return reverse("admin:content_asset_rendition_file", args=[rendition.asset_id, rendition.preset])


def preview_rendition(renditions: list[Rendition]) -> Rendition | None:
    by_preset = {r.preset: r for r in renditions}
    return next((by_preset[p] for p in PREVIEW_PRESETS if p in by_preset), None)


def renditions_payload(asset: Asset, renditions: list[Rendition]) -> dict[str, Any]:
    preview = preview_rendition(renditions)
    return {
        "id": asset.pk,
        "processing": asset.processing,
        "processing_label": asset.get_processing_display(),
        "processing_error": asset.processing_error,
        "polling": asset.processing in POLL_STATES,
        "preview_url": rendition_url(preview) if preview else None,
        "renditions": [
            {"preset": r.preset, "mime": r.mime, "width": r.width, "height": r.height, "size_bytes": r.size_bytes,
             "size": filesizeformat(r.size_bytes), "url": rendition_url(r)}
            for r in renditions
        ],
    }


def asset_renditions(request: HttpRequest, pk: int) -> JsonResponse:
    """What the asset page polls while processing runs: the renditions and the processing state."""
    asset = asset_in_reach(request, pk)
    response = JsonResponse(renditions_payload(asset, list(asset.renditions.all())))
    response["Cache-Control"] = "no-store"
    return response


def rendition_file(request: HttpRequest, pk: int, preset: str) -> FileResponse:
    """A rendition's bytes, for whoever may see the asset; storage URLs are never handed out raw,
    so a private bucket or an unserved media folder previews the same way."""
    asset = asset_in_reach(request, pk)
    rendition = asset.renditions.filter(preset=preset).first()
    if rendition is None:
        raise Http404("No such rendition.")
    handle = storages["default"].open(rendition.file.name, "rb")
    response = FileResponse(handle, content_type=rendition.mime)
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Upload --------------------------------------------------------------------------------------


class UploadForm(forms.Form):
    creator = forms.ModelChoiceField(queryset=Creator.objects.none(), widget=UnfoldAdminSelectWidget)
    rating = forms.ChoiceField(choices=Asset.Rating.choices, initial=Asset.Rating.SFW, widget=UnfoldAdminSelectWidget)
    performers = forms.ModelMultipleChoiceField(
        queryset=Performer.objects.none(), required=False, widget=UnfoldAdminSelectMultipleWidget,
        help_text="Everyone depicted. Their consents are checked before anything is published.")
    tags = forms.CharField(required=False, widget=UnfoldAdminTextInputWidget,
                           help_text="Comma-separated, e.g. beach, summer.")
    production_date = forms.DateField(required=False, widget=UnfoldAdminDateWidget)
    origin = forms.ChoiceField(
        choices=[(Asset.Origin.UPLOAD, "A camera or an editor (not AI-made)"),
                 (Asset.Origin.AI, "AI-generated elsewhere (Midjourney, a local ComfyUI…)")],
        initial=Asset.Origin.UPLOAD, required=False, widget=UnfoldAdminSelectWidget, label="Made by",
        help_text="AI-generated images are marked on upload as Atelier marks its own (IPTC DigitalSourceType and "
                  "a signed C2PA manifest) and labelled as AI-generated.")
    no_real_person_attested = forms.BooleanField(
        required=False, widget=UnfoldBooleanSwitchWidget, label="No real person is depicted",
        help_text="For AI-generated media only: I attest that nobody real is shown. Otherwise list the performers.")

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["creator"].queryset = creators_for(request, "add")
        self.fields["performers"].queryset = tenancy.restrict(Performer.objects.all(), request.user)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        creator, performers = cleaned.get("creator"), cleaned.get("performers") or []
        if creator is not None:
            foreign = [p for p in performers
                       if not p.creator_links.filter(creator=creator).exists()]
            if foreign:
                self.add_error("performers", f"Not linked to {creator}: {', '.join(map(str, foreign))}.")
        if cleaned.get("no_real_person_attested") and cleaned.get("origin") != Asset.Origin.AI:
            self.add_error("no_real_person_attested",
                           "Only AI-generated media can attest that no real person is depicted; choose "
                           "“AI-generated elsewhere” or list the performers.")
        return cleaned


@dataclass(frozen=True)
class UploadOutcome:
    filename: str
    state: str  # uploaded | duplicate | refused
    message: str
    asset: Asset | None = None

    @property
    def url(self) -> str:
        return reverse("admin:content_asset_change", args=[self.asset.pk]) if self.asset else ""


def ingest_uploads(files: list[Any], data: dict[str, Any], actor: Actor) -> list[UploadOutcome]:
    """Each file through `services.ingest` on its own: one refusal never costs the others."""
    outcomes = []
    for upload in files:
        try:
            result = services.ingest(
                creator=data["creator"], source=upload, filename=upload.name, actor=actor, rating=data["rating"],
                performers=list(data.get("performers") or []), tags=parse_tags(data.get("tags") or ""),
                production_date=data.get("production_date"), origin=data.get("origin") or Asset.Origin.UPLOAD,
                no_real_person_attested=bool(data.get("no_real_person_attested")))
        except ValidationError as exc:
            outcomes.append(UploadOutcome(upload.name, "refused", " ".join(exc.messages)))
            continue
        outcomes.append(UploadOutcome(upload.name, "uploaded" if result.created else "duplicate", result.message,
                                      result.asset))
    return outcomes


def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request=request)
    outcomes: list[UploadOutcome] = []
    files = request.FILES.getlist("files") if request.method == "POST" else []
    if request.method == "POST":
        if not files:
            form.add_error(None, "Choose or drop at least one file.")
        if form.is_valid():
            outcomes = ingest_uploads(files, form.cleaned_data, request.user)
    return render(request, "admin/content/upload.html", {
        **admin.site.each_context(request), "title": "Upload to the vault", "form": form, "outcomes": outcomes,
        "opts": Asset._meta, "changelist_url": reverse("admin:content_asset_changelist"),
        "counts": {state: sum(o.state == state for o in outcomes) for state in ("uploaded", "duplicate", "refused")},
    })


# --- Confirm pages -------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
                             help_text="Shown to the editor and kept in the audit trail.")


class TagForm(forms.Form):
    tags = forms.CharField(max_length=600, widget=UnfoldAdminTextInputWidget,
                           help_text="Comma-separated; added to what each asset already has.")

    def clean_tags(self) -> list[str]:
        tags = parse_tags(self.cleaned_data["tags"])
        if not tags:
            raise ValidationError("Give at least one tag.")
        return tags


class CollectionChoiceForm(forms.Form):
    collection = forms.ModelChoiceField(queryset=Collection.objects.none(), widget=UnfoldAdminSelectWidget)

    def __init__(self, *args: Any, request: HttpRequest, creator_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = tenancy.restrict(
            Collection.objects.filter(creator_id=creator_id), request.user, "change")


class ConfirmForm(forms.Form):
    pass


def render_action_form(request: HttpRequest, *, title: str, intro: str, form: forms.Form, submit_label: str,
                       items: list[Any] = (), danger: bool = False, hidden: dict[str, Any] | None = None,
                       cancel_url: str = "") -> HttpResponse:
    """The intermediate page of actions that ask something first (a reason, tags, a collection)."""
    pairs = [(name, v) for name, value in (hidden or {}).items()
             for v in (value if isinstance(value, list | tuple) else [value])]
    return render(request, "admin/action_form.html", {
        **admin.site.each_context(request), "title": title, "intro": intro, "form": form,
        "submit_label": submit_label, "items": items, "danger": danger, "hidden": pairs, "cancel_url": cancel_url,
        "opts": Asset._meta})
