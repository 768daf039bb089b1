"""AI-studio pages in the admin: the Generate form and the asset page's provenance report.

The views are wired through the studio ModelAdmins' `get_urls()` behind `admin_site.admin_view`.
Each finds its creator or template through tenancy (404 when out of reach, exactly as when absent)
and leaves every state change to `content.studio`. The post form's caption suggestions are served
by scheduling (`scheduling.views_captions`), which owns posts.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from accounts import tenancy
from accounts.models import Creator
from content import studio
from content.models import Asset, GenerationBackend, GenerationJob, PromptTemplate
from content.provenance import XmpError, read_digital_source_type, read_manifest
from core.admin import add_refusal

logger = logging.getLogger("content.studio")

# Provenance is read from the stored bytes on the asset page; past this size the page would wait on
# storage for a report nobody needs at a glance, so it says so instead.
PROVENANCE_MAX_BYTES = 50 * 1024 * 1024


# --- Reach ---------------------------------------------------------------------------------------


def may_generate(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("content.add_generationjob"))


def creators_for_jobs(request: HttpRequest):  # noqa: ANN201 - a Creator queryset
    """Creators the user may queue jobs for (an editor of A generates for A, never for B)."""
    ids = tenancy.allowed_creator_ids(request.user, GenerationJob, "add")
    return Creator.objects.all() if ids is tenancy.ALL else Creator.objects.filter(pk__in=sorted(ids))


def template_in_reach(request: HttpRequest, pk: Any) -> PromptTemplate:
    """A template the user sees *and* may generate from; otherwise 404 (never "exists but forbidden")."""
    try:
        template = (tenancy.restrict(PromptTemplate.objects.select_related("creator", "backend"), request.user)
                    .filter(pk=pk).first())
    except (ValueError, ValidationError):
        template = None
    if template is None or not tenancy.can_reach_creator(request.user, template.creator_id, GenerationJob, "add"):
        raise Http404("No such prompt template.")
    return template


# --- Generate ------------------------------------------------------------------------------------


def image_backends():  # noqa: ANN201 - a GenerationBackend queryset
    return GenerationBackend.objects.filter(purpose=GenerationBackend.Purpose.IMAGES, enabled=True)


class GenerateForm(forms.Form):
    """One field per template placeholder, then the optional overrides of the template's settings."""

    creator = forms.ModelChoiceField(queryset=Creator.objects.none(), widget=UnfoldAdminSelectWidget)
    prompt = forms.CharField(max_length=studio.MAX_PROMPT_LENGTH, widget=UnfoldAdminTextareaWidget(attrs={"rows": 4}),
                             help_text="What to generate. Screened for hard-blocked terms before anything is sent.")
    negative_prompt = forms.CharField(required=False, widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
                                      help_text="What to avoid.")
    width = forms.IntegerField(required=False, min_value=64, max_value=4096, widget=UnfoldAdminIntegerFieldWidget)
    height = forms.IntegerField(required=False, min_value=64, max_value=4096, widget=UnfoldAdminIntegerFieldWidget)
    steps = forms.IntegerField(required=False, min_value=1, max_value=200, widget=UnfoldAdminIntegerFieldWidget)
    count = forms.IntegerField(required=False, min_value=1, max_value=16, widget=UnfoldAdminIntegerFieldWidget,
                               help_text="Images in this job.")
    seed = forms.IntegerField(required=False, min_value=0, widget=UnfoldAdminIntegerFieldWidget,
                              help_text="Empty for a random seed.")
    rating = forms.ChoiceField(choices=Asset.Rating.choices, initial=Asset.Rating.SFW, widget=UnfoldAdminSelectWidget)
    backend = forms.ModelChoiceField(queryset=GenerationBackend.objects.none(), required=False,
                                     widget=UnfoldAdminSelectWidget, empty_label="Default backend")

    def __init__(self, *args: Any, request: HttpRequest, template: PromptTemplate | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        self.fields["backend"].queryset = image_backends()
        if template is None:
            self.fields["creator"].queryset = creators_for_jobs(request)
            return
        # From a template: the creator is the template's, the prompt is filled from the variables.
        del self.fields["creator"], self.fields["prompt"]
        variables = {}
        for name in template.placeholders():
            variables[f"var_{name}"] = forms.CharField(
                label=name.replace("_", " ").capitalize(), max_length=studio.MAX_VARIABLE_LENGTH,
                widget=UnfoldAdminTextInputWidget, help_text=f"Fills {{{name}}} in the prompt.")
        self.fields = {**variables, **self.fields}
        self.fields["negative_prompt"].help_text = "Empty: the template's own."
        self.fields["backend"].empty_label = (f"The template's ({template.backend})" if template.backend_id
                                              else "Default backend")
        for name in ("width", "height", "steps", "count"):
            self.fields[name].initial = getattr(template, name)
        self.fields["negative_prompt"].initial = template.negative_prompt
        self.fields["rating"].initial = template.rating

    def variables(self) -> dict[str, str]:
        return {k.removeprefix("var_"): v for k, v in self.cleaned_data.items() if k.startswith("var_")}

    def params(self) -> studio.ImageParams:
        data, template = self.cleaned_data, self.template
        defaults = studio.ImageParams() if template is None else studio.ImageParams(
            width=template.width, height=template.height, steps=template.steps, count=template.count)
        return studio.ImageParams(
            width=data.get("width") or defaults.width, height=data.get("height") or defaults.height,
            steps=data.get("steps") or defaults.steps, count=data.get("count") or defaults.count,
            seed=data.get("seed"))


def generate(request: HttpRequest, template: PromptTemplate | None = None) -> HttpResponse:
    """The Generate page: from a template (its placeholders as fields) or a free prompt for a creator.

    A refusal by the compliance screen is shown with its reasons (the service has audited it); a
    request the service finds invalid is shown as form errors; a queued job opens its own page.
    """
    if not may_generate(request.user):
        raise PermissionDenied
    if template is None and request.GET.get("template"):
        template = template_in_reach(request, request.GET["template"])
    initial = {}
    if template is None and str(request.GET.get("creator", "")).isdigit():
        creator = creators_for_jobs(request).filter(pk=int(request.GET["creator"])).first()
        if creator is None:
            raise Http404("No such creator.")
        initial["creator"] = creator
    form = GenerateForm(request.POST if request.method == "POST" else None, request=request, template=template,
                        initial=initial)
    refusal: list[str] = []
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        creator = template.creator if template is not None else data["creator"]
        try:
            job = studio.queue_image_job(
                creator=creator, actor=request.user, template=template, prompt=data.get("prompt", ""),
                variables=form.variables(), negative_prompt=data.get("negative_prompt") or None,
                backend=data.get("backend"), rating=data.get("rating") or None, params=form.params())
        except studio.PromptRefused as refused:
            refusal = refused.reasons
            form.add_error(None, "Refused by the compliance screen; nothing was sent to the backend.")
        except ValidationError as exc:
            add_refusal(form, exc)
        else:
            messages.success(request, f"{job} queued on {job.backend}: the images land in review here.")
            return HttpResponseRedirect(reverse("admin:content_generationjob_change", args=[job.pk]))
    title = f"Generate from “{template}” for {template.creator}" if template else "Generate images"
    return render(request, "admin/content/studio/generate.html", {
        **admin.site.each_context(request), "title": title, "form": form, "template": template, "refusal": refusal,
        "opts": GenerationJob._meta, "has_backend": image_backends().exists(),
        "placeholders": template.placeholders() if template else [],
        "cancel_url": (reverse("admin:content_prompttemplate_change", args=[template.pk]) if template
                       else reverse("admin:content_generationjob_changelist")),
    }, status=400 if refusal else 200)


# --- Provenance on the asset page ----------------------------------------------------------------


def _read_small(field: FieldFile) -> tuple[bytes | None, str]:
    """The stored bytes, or None with a note when the file is too large to read for a page."""
    storage, name = field.storage, field.name
    size = storage.size(name)
    if size > PROVENANCE_MAX_BYTES:
        return None, f"Not read: the file is {size // (1024 * 1024)} MB (over {PROVENANCE_MAX_BYTES // 2**20} MB)."
    with storage.open(name, "rb") as handle:
        return handle.read(), ""


def _marking(data: bytes, mime: str) -> dict[str, Any]:
    info = read_manifest(data, mime)
    try:
        xmp = read_digital_source_type(data, mime)
    except XmpError:
        xmp = None  # a format without XMP support here: the manifest is what carries the marking
    return {"manifest": info, "xmp_source_type": xmp}


def provenance_report(asset: Asset) -> dict[str, Any]:
    """What the asset page's Provenance panel shows. Never raises: an error becomes part of the report."""
    if asset.kind != Asset.Kind.IMAGE:
        return {"applies": False}
    report: dict[str, Any] = {"applies": True, "error": "", "note": "", "renditions": []}
    try:
        data, report["note"] = _read_small(asset.file)
        if data is not None:
            report.update(_marking(data, asset.mime))
    except Exception as exc:  # the page must render and say what went wrong
        logger.warning("Provenance of asset %s could not be read: %s", asset.pk, exc)
        report["error"] = f"{type(exc).__name__}: {exc}"
    for rendition in asset.renditions.all().order_by("preset"):
        row: dict[str, Any] = {"preset": rendition.preset, "error": "", "note": ""}
        try:
            rdata, row["note"] = _read_small(rendition.file)
            if rdata is not None:
                marking = _marking(rdata, rendition.mime)
                row.update(marked=bool(marking["xmp_source_type"] or marking["manifest"].digital_source_type),
                           present=marking["manifest"].present, valid=marking["manifest"].valid)
        except Exception as exc:  # likewise, per rendition
            row["error"] = f"{type(exc).__name__}: {exc}"
        report["renditions"].append(row)
    return report
