"""The AI studio in the admin: backends, prompt categories and templates, jobs, usage, caption templates
and hashtag sets.

Every state change goes through `content.studio`; the admin asks and reports. Creator-owned rows go
through the tenancy mixin. Backends and categories are agency-wide (owners configure them, the team
reads them), so their admins are plain ones guarded by model permissions; the roles table keeps
managers and editors at "view".
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldBooleanWidget

from accounts import tenancy
from accounts.actors import Actor
from accounts.admin_base import AtelierModelAdmin, TenantAdminMixin, TenantModelAdmin, permission_check
from content import studio, views, views_studio, wording
from content.models import (
    CaptionTemplate,
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    HashtagSet,
    PromptCategory,
    PromptTemplate,
)
from core import outbound, times
from core.admin import add_refusal, message_refusal
from core.money import format_money
from core.wording import code_and_sentence, counted

JOB_STATUS_LABELS = {"queued": "info", "running": "warning", "succeeded": "success", "failed": "danger",
                     "cancelled": "default"}
HEALTH_LABELS = {"ok": "success", "failing": "danger", "unknown": "default"}
J = GenerationJob.Status
ACTIVE, ENDED = (J.QUEUED, J.RUNNING), (J.FAILED, J.CANCELLED)  # what cancel, and try again, start from


def money(minor: int | None, currency: str) -> str:
    """Minor units as the currency reads them (€1.50, $0.06)."""
    return format_money(minor, currency)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- Backends ------------------------------------------------------------------------------------


class BackendForm(forms.ModelForm):
    """The API key is write-only: never rendered back, blank keeps the stored one, a box clears it."""

    api_key = forms.CharField(
        required=False, strip=True, label="API key", widget=UnfoldAdminPasswordWidget(render_value=False),
        help_text="Write-only: stored encrypted and never shown again. Leave empty to keep the current key.")
    clear_api_key = forms.BooleanField(required=False, label="Clear the stored key", widget=UnfoldBooleanWidget)

    class Meta:
        model = GenerationBackend
        fields = ["name", "kind", "purpose", "base_url", "model", "enabled", "is_default", "timeout_seconds",
                  "max_concurrency", "cost_per_image_minor", "cost_per_mtok_in_minor", "cost_per_mtok_out_minor",
                  "cost_per_hour_minor", "currency", "options"]

    def clean_base_url(self) -> str:
        """Refused here when it points inward (core.outbound); each call checks again, as DNS can change."""
        url = self.cleaned_data["base_url"]
        outbound.validate_url(url)
        return url

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("api_key") and cleaned.get("clear_api_key"):
            self.add_error("clear_api_key", "Either give a new key or clear the stored one, not both.")
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        if not self.errors:
            try:
                studio.validate_backend_config(self.instance)
            except ValidationError as exc:
                add_refusal(self, exc)

    def api_key_change(self) -> str | None:
        """What `save_backend` takes: None keeps the key, "" clears it, text replaces it."""
        if self.cleaned_data.get("clear_api_key"):
            return ""
        return self.cleaned_data.get("api_key") or None


@admin.register(GenerationBackend)
class GenerationBackendAdmin(AtelierModelAdmin):
    form = BackendForm
    list_display = ["name", "kind", "purpose", "enabled", "is_default", "max_concurrency", "health",
                    "last_health_detail", "last_checked_at", "source"]
    list_filter = ["purpose", "kind", "enabled"]
    search_fields = ["name", "model"]
    actions = ["check_health_selected"]
    actions_detail = ["check_health_detail"]
    readonly_fields = ["key_state", "source", "health", "last_health_detail", "last_checked_at"]

    def get_fieldsets(self, request: HttpRequest, obj: GenerationBackend | None = None) -> list:
        key = ["key_state"]
        if self.has_change_permission(request, obj) if obj is not None else self.has_add_permission(request):
            key = ["api_key", "clear_api_key", "key_state"] if obj is not None else ["api_key"]
        return [
            (None, {"fields": ["name", "kind", "purpose", "base_url", "model", "enabled", "is_default"]}),
            ("API key", {"fields": key}),
            ("Limits", {"fields": ["timeout_seconds", "max_concurrency"]}),
            ("Cost", {"fields": ["cost_per_image_minor", "cost_per_mtok_in_minor", "cost_per_mtok_out_minor",
                                 "cost_per_hour_minor", "currency"]}),
            ("Backend options", {"fields": ["options"], "classes": ["collapse"]}),
            ("Health", {"fields": ["health", "last_health_detail", "last_checked_at", "source"]}),
        ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows from the environment are re-read on every start: an admin edit would silently not stick.
        if isinstance(obj, GenerationBackend) and obj.managed_by_env:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if isinstance(obj, GenerationBackend) and obj.managed_by_env:
            return False
        return super().has_delete_permission(request, obj)

    has_check_permission = permission_check("content.change_generationbackend")

    def save_model(self, request: HttpRequest, obj: GenerationBackend, form: BackendForm, change: bool) -> None:
        studio.save_backend(obj, api_key=form.api_key_change(), actor=request.user)

    def delete_model(self, request: HttpRequest, obj: GenerationBackend) -> None:
        studio.delete_backend(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for backend in queryset:
            studio.delete_backend(backend, actor=request.user)

    @display(description="API key")
    def key_state(self, obj: GenerationBackend) -> str:
        return "stored (encrypted)" if obj.api_key_encrypted else "none"

    @display(description="Source")
    def source(self, obj: GenerationBackend) -> str:
        return "environment" if obj.managed_by_env else "admin"

    @display(description="Health", label=HEALTH_LABELS)
    def health(self, obj: GenerationBackend) -> str:
        if obj.last_health_ok is None:
            return "unknown"
        return "ok" if obj.last_health_ok else "failing"

    def _check(self, request: HttpRequest, backend: GenerationBackend) -> None:
        health = studio.check_health(backend, actor=request.user)
        level = messages.SUCCESS if health.ok else messages.ERROR
        messages.add_message(request, level, f"{backend}: {'answers' if health.ok else 'failing'} — {health.detail}")

    @action(description="Check health", permissions=["check"])
    def check_health_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for backend in queryset:
            self._check(request, backend)

    @action(description="Check health", url_path="check-health", icon="monitor_heart", permissions=["check"])
    def check_health_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        backend = GenerationBackend.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if backend is None or not self.has_check_permission(request):
            raise PermissionDenied
        change_url = reverse("admin:content_generationbackend_change", args=[backend.pk])
        form = views.ConfirmForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            self._check(request, backend)
            return HttpResponseRedirect(change_url)
        return views.render_action_form(request, title="Check health", submit_label="Check", items=[backend],
                                        intro="Asks the backend whether it answers and has its model.", form=form,
                                        cancel_url=change_url)


# --- Prompts -------------------------------------------------------------------------------------


@admin.register(PromptCategory)
class PromptCategoryAdmin(AtelierModelAdmin):
    list_display = ["name", "position", "template_count"]
    search_fields = ["name"]
    ordering = ["position", "name"]

    def save_model(self, request: HttpRequest, obj: PromptCategory, form: forms.ModelForm, change: bool) -> None:
        studio.save_prompt_category(obj, actor=request.user, changed=form.changed_data)

    def delete_model(self, request: HttpRequest, obj: PromptCategory) -> None:
        studio.delete_prompt_category(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for category in queryset:
            studio.delete_prompt_category(category, actor=request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(n_templates=Count("templates"))

    @display(description="Templates", ordering="n_templates")
    def template_count(self, obj: PromptCategory) -> int:
        return getattr(obj, "n_templates", 0)


class PromptTemplateForm(forms.ModelForm):
    """A template is a prompt waiting to be sent: screened here, so a refusal reads as a form error."""

    actor: Actor = None  # set per request by the admin's get_form

    class Meta:
        model = PromptTemplate
        fields = ["creator", "name", "category", "rating", "active", "prompt", "style", "negative_prompt",
                  "voice_guide", "width", "height", "steps", "count", "backend"]

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors or self.instance.creator_id is None:
            return
        try:
            studio.screen_template(self.instance, actor=self.actor)
        except studio.PromptRefused as refused:
            self.add_error(None, ["Refused by the compliance screen:", *refused.reasons])


@admin.register(PromptTemplate)
class PromptTemplateAdmin(TenantModelAdmin):
    form = PromptTemplateForm
    list_display = ["name", "creator", "category", "rating", "active", "placeholder_list", "generate_link"]
    list_filter = ["creator", ("category", RelatedOnlyFieldListFilter), "rating", "active"]
    list_select_related = ["creator", "category"]
    search_fields = ["name", "prompt"]
    ordering = ["creator", "name"]
    actions_detail = ["generate"]
    readonly_fields = ["placeholder_list"]
    fieldsets = [
        (None, {"fields": ["creator", "name", "category", "rating", "active"]}),
        ("Prompt", {"fields": ["prompt", "placeholder_list", "style", "negative_prompt"]}),
        ("Captions", {"fields": ["voice_guide"]}),
        ("Output", {"fields": ["width", "height", "steps", "count", "backend"]}),
    ]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Categories and backends are agency-wide: the tenancy mixin would hide them from non-owners.
        if db_field.name == "category":
            kwargs["queryset"] = PromptCategory.objects.all()
        elif db_field.name == "backend":
            kwargs["queryset"] = GenerationBackend.objects.filter(purpose=GenerationBackend.Purpose.IMAGES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: PromptTemplate | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        form_class = super().get_form(request, obj, change, **kwargs)
        form_class.actor = request.user  # a class made for this request by modelform_factory
        if "creator" in form_class.base_fields:
            form_class.base_fields["creator"].queryset = views.creators_for(
                request, "change" if obj is not None else "add", PromptTemplate)
        return form_class

    def save_model(self, request: HttpRequest, obj: PromptTemplate, form: forms.ModelForm, change: bool) -> None:
        studio.save_prompt_template(obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: PromptTemplate) -> None:
        studio.delete_prompt_template(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for template in tenancy.restrict(queryset, request.user, "delete"):
            studio.delete_prompt_template(template, actor=request.user)

    @display(description="Placeholders")
    def placeholder_list(self, obj: PromptTemplate) -> str:
        names = obj.placeholders() if obj.prompt else []
        return format_html_join(" ", "<code>{{{}}}</code>", ((n,) for n in names)) if names else "—"

    @display(description="")
    def generate_link(self, obj: PromptTemplate) -> str:
        if not obj.active:
            return format_html('<span class="text-font-subtle-light">{}</span>', "switched off")
        return format_html('<a class="text-primary-600 font-semibold" href="{}" data-testid="generate-link">'
                           'Generate</a>', reverse("admin:content_prompttemplate_generate", args=[obj.pk]))

    has_generate_permission = permission_check("content.add_generationjob")

    @action(description="Generate", url_path="generate", icon="auto_awesome", permissions=["generate"])
    def generate(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views_studio.generate(request, template=views_studio.template_in_reach(request, object_id))


# --- Jobs ----------------------------------------------------------------------------------------


@admin.register(GenerationJob)
class GenerationJobAdmin(TenantModelAdmin):
    """Jobs are created through Generate and change state through the studio's services only."""

    list_display = ["id", "kind", "creator", "backend", "status_badge", "created_local", "run_time", "cost"]
    list_display_links = ["id", "kind"]
    list_filter = ["status", "kind", ("backend", RelatedOnlyFieldListFilter), "creator"]
    list_select_related = ["creator", "backend"]
    search_fields = ["prompt"]
    ordering = ["-created_at", "-id"]
    actions = ["cancel_selected", "retry_selected"]
    actions_list = ["generate"]
    actions_detail = ["cancel_detail", "retry_detail"]
    # The prompt, parameters, error, texts and results are in the panel above the fields.
    fields = ["creator", "kind", "status_text", "backend", "template", "created_by", "rating", "variables", "seed_used",
              "attempts", "tokens_in", "tokens_out", "run_time", "cost", "created_at", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the page is for reading; cancel and retry are actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    has_manage_permission = permission_check("content.change_generationjob")

    def _state_allows(self, request: HttpRequest, obj: Any, states: tuple[str, ...]) -> bool:
        """Unfold asks about detail actions with the object's id: the buttons follow the job's state. A job
        out of reach answers True here so that its page answers 404, exactly like a missing one."""
        if obj is None:
            return True
        if isinstance(obj, GenerationJob):
            return obj.status in states
        status = (tenancy.restrict(GenerationJob.objects.filter(pk=obj), request.user, "change")
                  .values_list("status", flat=True).first() if str(obj).isdigit() else None)
        return status is None or status in states

    has_cancel_permission = permission_check(
        "content.change_generationjob", when=lambda self, request, obj: self._state_allows(request, obj, ACTIVE))
    has_retry_permission = permission_check(
        "content.change_generationjob", when=lambda self, request, obj: self._state_allows(request, obj, ENDED))
    has_generate_permission = permission_check("content.add_generationjob")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = dict(extra_context or {})
        job = (self.get_queryset(request).filter(pk=object_id).select_related("creator", "backend").first()
               if str(object_id).isdigit() else None)
        if job is not None:
            extra["job_panel"] = self.job_panel(job)
        return super().change_view(request, object_id, form_url, extra)

    def job_panel(self, job: GenerationJob) -> dict[str, Any]:
        assets = list(job.assets.order_by("pk").prefetch_related("renditions"))
        results = []
        for asset in assets:
            thumb = views.preview_rendition(list(asset.renditions.all()))
            results.append({"asset": asset, "thumb_url": views.rendition_url(thumb) if thumb else "",
                            "url": reverse("admin:content_asset_change", args=[asset.pk])})
        return {"job": job, "results": results, "refresh": not job.finished}

    # Columns.

    @display(description="Status", label=JOB_STATUS_LABELS, ordering="status")
    def status_badge(self, obj: GenerationJob) -> tuple[str, str]:
        return obj.status, wording.JOB_STATUS.say(obj.status)

    @display(description="Status")
    def status_text(self, obj: GenerationJob) -> str:
        return code_and_sentence(wording.JOB_STATUS.say(obj.status), obj.status)

    @display(description="Created", ordering="created_at")
    def created_local(self, obj: GenerationJob) -> str:
        return times.local(obj.created_at, obj.creator.timezone)

    @display(description="Duration")
    def run_time(self, obj: GenerationJob) -> str:
        if obj.seconds is not None:
            return duration(obj.seconds)
        if obj.started_at and obj.finished_at:
            return duration((obj.finished_at - obj.started_at).total_seconds())
        return "—"

    @display(description="Cost")
    def cost(self, obj: GenerationJob) -> str:
        return money(obj.cost_minor, obj.currency)

    # Actions.

    @action(description="Generate", url_path="generate", icon="auto_awesome", permissions=["generate"])
    def generate(self, request: HttpRequest) -> HttpResponse:
        return views_studio.generate(request)

    def _each(self, request: HttpRequest, jobs: Any, verb: str, fn: Any) -> list[GenerationJob]:
        done = []
        for job in jobs:
            try:
                done.append(fn(job, actor=request.user))
            except ValidationError as exc:
                message_refusal(request, exc, about=str(job))
            except studio.PromptRefused as refused:
                messages.error(request, f"{job}: {'; '.join(refused.reasons)}")
        if done:
            messages.success(request, f"{counted(len(done), 'job')} {verb}.")
        return done

    def _changeable(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return tenancy.restrict(queryset, request.user, "change").select_related("creator", "backend", "template")

    @action(description="Cancel", permissions=["manage"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, self._changeable(request, queryset), "cancelled", studio.cancel_job)

    @action(description="Try again", permissions=["manage"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, self._changeable(request, queryset), "queued again", studio.retry_job)

    def _detail(self, request: HttpRequest, object_id: str, *, title: str, intro: str, label: str, verb: str,
                fn: Any) -> HttpResponse:
        job = self._changeable(request, GenerationJob.objects.filter(pk=object_id)
                               if str(object_id).isdigit() else GenerationJob.objects.none()).first()
        if job is None:
            raise Http404("No such job.")
        page = reverse("admin:content_generationjob_change", args=[job.pk])
        form = views.ConfirmForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            done = self._each(request, [job], verb, fn)
            if done and done[0].pk != job.pk:
                return HttpResponseRedirect(reverse("admin:content_generationjob_change", args=[done[0].pk]))
            return HttpResponseRedirect(page)
        return views.render_action_form(request, title=title, intro=intro, form=form, submit_label=label,
                                        items=[job], cancel_url=page)

    @action(description="Cancel", url_path="cancel", icon="cancel", permissions=["cancel"])
    def cancel_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._detail(request, object_id, title="Cancel the job", label="Cancel job", verb="cancelled",
                            intro="A queued job stops at once; a running one when its backend answers.",
                            fn=studio.cancel_job)

    @action(description="Try again", url_path="retry", icon="replay", permissions=["retry"])
    def retry_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._detail(request, object_id, title="Try the job again", label="Try again", verb="queued again",
                            intro="A new job with the same request is queued; this one stays for the record.",
                            fn=studio.retry_job)


# --- Usage ---------------------------------------------------------------------------------------


@admin.register(GenerationUsage)
class GenerationUsageAdmin(TenantModelAdmin):
    list_display = ["at", "creator", "backend_name", "kind", "images", "tokens_in", "tokens_out", "gpu_time",
                    "cost"]
    list_filter = ["creator", ("backend", RelatedOnlyFieldListFilter), "kind", "at"]
    list_select_related = ["creator"]
    ordering = ["-at", "-id"]
    list_before_template = "admin/content/generationusage/totals_link.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the log of what was spent is never edited

    def get_urls(self) -> list[URLPattern]:
        return [path("monthly/", self.admin_site.admin_view(self.monthly_view), name="content_generationusage_monthly"),
                *super().get_urls()]

    @display(description="GPU time", ordering="seconds")
    def gpu_time(self, obj: GenerationUsage) -> str:
        return duration(obj.seconds)

    @display(description="Cost", ordering="cost_minor")
    def cost(self, obj: GenerationUsage) -> str:
        return money(obj.cost_minor, obj.currency)

    def monthly_view(self, request: HttpRequest) -> HttpResponse:
        """Totals of the rows the changelist shows: the same tenancy and the same filters."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        rows = studio.monthly_totals(changelist.queryset)
        per_currency: dict[str, int] = defaultdict(int)
        for row in rows:
            row["cost"] = money(row["cost_minor"], row["currency"])
            row["gpu_time"] = duration(row["seconds"] or 0)
            per_currency[row["currency"]] += row["cost_minor"] or 0
        query = request.GET.urlencode()
        return render(request, "admin/content/generationusage/monthly.html", {
            **self.admin_site.each_context(request), "title": "Generation usage — monthly totals",
            "opts": self.model._meta, "rows": rows,
            "totals": [{"currency": c, "cost_minor": v, "cost": money(v, c)} for c, v in sorted(per_currency.items())],
            "filtered": bool(query),
            "changelist_url": reverse("admin:content_generationusage_changelist") + (f"?{query}" if query else ""),
        })


# --- Caption templates and hashtag sets ----------------------------------------------------------


class CaptionMaterialForm(forms.ModelForm):
    """Screened like a prompt, so a blocked term reads as a form error (the refusal is audited)."""

    actor: Actor = None  # set per request by the admin's get_form

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            studio.screen_caption_material(self.instance, actor=self.actor)
        except studio.PromptRefused as refused:
            self.add_error(None, ["Refused by the compliance screen:", *refused.reasons])


class AgencyWideRowsAdmin(TenantModelAdmin):
    """Rows with no creator serve every creator: everyone sees them, only owners write them."""

    form = CaptionMaterialForm

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super(TenantAdminMixin, self).get_queryset(request).select_related("creator")
        ids = tenancy.allowed_creator_ids(request.user, self.model, "view")
        if ids is tenancy.ALL:
            return qs
        return qs.filter(Q(creator__in=sorted(ids)) | Q(creator__isnull=True))

    @staticmethod
    def _row(obj: Any) -> Any:
        return obj if isinstance(obj, CaptionTemplate | HashtagSet) else None  # unfold may pass an id string

    def _may_write(self, request: HttpRequest, obj: Any, action: str) -> bool:
        row = self._row(obj)
        if row is None:
            return True
        if row.creator_id is None:
            return request.user.is_superuser
        return tenancy.can_reach_creator(request.user, row.creator_id, self.model, action)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._may_write(request, obj, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_write(request, obj, "delete")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        form_class = super().get_form(request, obj, change, **kwargs)
        form_class.actor = request.user
        field = form_class.base_fields.get("creator")
        if field is not None:
            field.queryset = views.creators_for(request, "change" if obj is not None else "add", self.model)
            if request.user.is_superuser:
                field.help_text = "Empty: every creator may use it (agency-wide)."
            else:
                field.required = True
                field.help_text = "Agency-wide rows are the owner's; choose one of your creators."
        return form_class

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        if obj.creator_id is None and not request.user.is_superuser:
            raise PermissionDenied  # the form requires a creator; this guards a hand-made POST
        studio.save_caption_material(obj, actor=request.user, changed=form.changed_data)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        studio.delete_caption_material(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        if not request.user.is_superuser:
            queryset = tenancy.restrict(queryset, request.user, "delete")  # never an agency-wide row
        for item in queryset:
            studio.delete_caption_material(item, actor=request.user)

    @display(description="Scope")
    def scope(self, obj: Any) -> str:
        return obj.creator.stage_name if obj.creator_id else "Agency-wide"


@admin.register(CaptionTemplate)
class CaptionTemplateAdmin(AgencyWideRowsAdmin):
    list_display = ["__str__", "scope", "platform", "language", "tones", "active"]
    list_filter = ["creator", "platform", "language", "active"]
    search_fields = ["text", "tones"]
    fields = ["creator", "platform", "language", "text", "tones", "active"]


@admin.register(HashtagSet)
class HashtagSetAdmin(AgencyWideRowsAdmin):
    list_display = ["name", "scope", "platform", "language", "match", "active"]
    list_filter = ["creator", "platform", "language", "active"]
    search_fields = ["name", "match", "tags"]
    fields = ["creator", "name", "platform", "language", "match", "tags", "active"]
