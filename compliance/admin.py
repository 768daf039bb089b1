"""The compliance workspace: performers, identity checks, consents, takedowns, blocked terms.

Records here are evidence, so the admin never edits history: identity checks and consents are
read-only once recorded (a new row replaces them; revocation is the one change a consent takes),
and nothing is deleted — erasure for a data-subject request is its own, audited, path. Every add
form calls the service that owns the change, and a service's refusal comes back onto the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.db import models
from django.db.models import Field, Model, QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from unfold.admin import TabularInline
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectMultipleWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from accounts import tenancy
from accounts.admin_base import AtelierModelAdmin, TenantAdminMixin, TenantModelAdmin, permission_check
from accounts.models import Creator
from compliance import records, services, views, wording
from compliance.models import (
    PLATFORM_CHOICES,
    USE_CHOICES,
    BlockedTerm,
    ConsentRecord,
    CreatorPerformer,
    IdentityVerification,
    Performer,
    PerformerName,
    TakedownAction,
    TakedownRequest,
)
from core import times
from core.admin import adopt, call_service
from core.wording import code_and_sentence, day_text

DOCUMENT_ACCEPT = "image/jpeg,image/png,image/webp,image/heic,application/pdf"


# --- Shared machinery ----------------------------------------------------------------------------


def upload_bytes(upload: Any) -> bytes | None:
    if not upload:
        return None
    upload.seek(0)
    return upload.read()


class InMemoryDocumentUploadHandler(MemoryFileUploadHandler):
    """Keeps uploads in memory whatever their size, up to what three documents may weigh.

    Django writes uploads above FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file; an identity
    document must reach encryption without its plaintext ever touching a disk.
    """

    limit = 3 * services.MAX_DOCUMENT_BYTES + 1024 * 1024

    def handle_raw_input(self, input_data: Any, META: dict, content_length: int, boundary: bytes,
                         encoding: str | None = None) -> None:
        if content_length > self.limit:
            raise RequestDataTooBig("Documents are limited to 25 MB each.")
        self.activated = True


def document_upload_view(view: Any) -> Any:
    """Wrap an admin add view so its uploads stay in memory.

    Upload handlers must be set before anything reads the body, and the CSRF middleware reads it
    first; so the middleware is skipped here and the same CSRF check runs inside, after the switch.
    """

    @csrf_exempt
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.upload_handlers = [InMemoryDocumentUploadHandler(request)]
        return view(request, *args, **kwargs)

    return wrapped


def choices_for(request: HttpRequest, related: type[Model], acting_on: type[Model], action: str) -> QuerySet:
    """Rows of `related` belonging to creators where the user may `action` rows of `acting_on`.

    Offering a performer on a consent form asks "may I add consents for this performer's creator?",
    not "may I see this performer?": an editor sees performers but records nothing about them.
    """
    qs = related._default_manager.all()
    ids = tenancy.allowed_creator_ids(request.user, acting_on, action)
    if ids is tenancy.ALL:
        return qs
    field = tenancy.tenant_field_of(related)
    if field is None or not ids:
        return qs.none()
    if field == "pk":
        return qs.filter(pk__in=sorted(ids))
    return qs.filter(pk__in=related._default_manager.filter(**{f"{field}__in": sorted(ids)}).values("pk"))


class ComplianceChoicesMixin:
    """FK/M2M choices limited to creators where the user may add this admin's (or inline's) rows."""

    def _restrict_related(self, db_field: Field, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        related = db_field.related_model
        if "queryset" not in kwargs and hasattr(related, "tenant_field"):
            kwargs["queryset"] = choices_for(request, related, self.model, "add")


class TenantInlineMixin(ComplianceChoicesMixin, TenantAdminMixin):
    """Tenancy for inlines: their rows and their choices, as TenantModelAdmin does for its own form."""


class ComplianceModelAdmin(ComplianceChoicesMixin, TenantModelAdmin):
    def get_search_results(self, request: HttpRequest, queryset: QuerySet,
                           search_term: str) -> tuple[QuerySet, bool]:
        # Searching across every name joins one row per matching name; a subquery of ids gives each
        # record once without DISTINCT over the annotated columns.
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if may_have_duplicates:
            results = queryset.filter(pk__in=results.values("pk"))
        return results, False


class ReadOnlyInline(TenantInlineMixin, TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def _with_init(form_class: type[forms.BaseForm], setup: Any) -> type[forms.BaseForm]:
    """A per-request subclass whose fields are adjusted after copying (never the shared class)."""

    class Configured(form_class):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            setup(self)

    return Configured


def consent_state(consent: ConsentRecord, at: Any = None) -> str:
    at = at or timezone.now()
    if consent.revoked_at is not None:
        return "revoked"
    if consent.valid_from > at:
        return "not yet valid"
    if consent.valid_until is not None and consent.valid_until <= at:
        return "expired"
    if consent.valid_until is not None and consent.valid_until <= at + views.EXPIRY_WINDOW:
        return "expiring"
    return "valid"


CONSENT_LABELS = {"valid": "success", "expiring": "warning", "not yet valid": "info", "expired": "danger",
                  "revoked": "danger"}


def _document_line(doc: Any, label: str, url: str) -> tuple:
    return (url, label, doc.content_type, filesizeformat(doc.size), doc.sha256[:16])


RELEASE_ON_FILE = ('<div class="mb-1">Signed release on file <span class="text-font-subtle-light '
                   'dark:text-font-subtle-dark">{} · {} · sha256 {}… — opened by compliance officers and the '
                   'owner</span></div>')
DOCUMENT_LINK = ('<div class="mb-1"><a class="text-primary-600 font-semibold" href="{}">Download {}</a> '
                 '<span class="text-font-subtle-light dark:text-font-subtle-dark">{} · {} · sha256 {}…</span></div>')


# --- Performers ----------------------------------------------------------------------------------


class PerformerCreatorFilter(admin.SimpleListFilter):
    title = "creator"
    parameter_name = "creator"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[int, str]]:
        return [(c.pk, c.stage_name) for c in tenancy.restrict(Creator.objects.all(), request.user)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value or not str(value).isdigit():
            return queryset
        return queryset.filter(pk__in=CreatorPerformer.objects.filter(creator_id=int(value)).values("performer_id"))


class PerformerNameInline(TenantInlineMixin, TabularInline):
    model = PerformerName
    extra = 0
    fields = ["name", "kind"]
    verbose_name = "name"
    verbose_name_plural = "Every name used (records are found by any of them)"

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_change_permission(request, obj) and not _erased(obj)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_add_permission(request, obj) and not _erased(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not _erased(obj)


class CreatorLinkInline(PerformerNameInline):
    model = CreatorPerformer
    fields = ["creator", "relation"]
    verbose_name = "creator link"
    verbose_name_plural = "Creators"


class VerificationInline(ReadOnlyInline):
    model = IdentityVerification
    fields = ["document_kind", "result", "method", "provider", "verified_at", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "Identity checks"


class ConsentInline(ReadOnlyInline):
    model = ConsentRecord
    fields = ["platform_list", "max_rating", "use_list", "valid_from", "valid_until", "revoked_at"]
    readonly_fields = fields
    verbose_name_plural = "Consents"

    @display(description="Platforms")
    def platform_list(self, obj: ConsentRecord) -> str:
        return ", ".join(obj.platforms)

    @display(description="Uses")
    def use_list(self, obj: ConsentRecord) -> str:
        return ", ".join(u.replace("_", " ") for u in obj.uses)


def _erased(obj: Any) -> bool:
    return isinstance(obj, Performer) and obj.status == Performer.Status.ERASED


class PerformerStandingForm(forms.ModelForm):
    """Refuses, next to the date of birth, to keep someone under 18 today as an active performer.

    The rule is the service's (`check_may_be_active`); it runs here in `clean()` too so that the
    refused attempt's audit event survives: a refusal raised from save_model rolls the admin's
    transaction back, and the event with it."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "date_of_birth" in cleaned:
            probe = Performer(pk=self.instance.pk, date_of_birth=cleaned["date_of_birth"],
                              status=cleaned.get("status", self.instance.status or Performer.Status.ACTIVE))
            creators = list(cleaned.get("link_creators") or [])
            services.check_may_be_active(probe, creator_id=creators[0].pk if creators else None)
        return cleaned


class PerformerAddForm(PerformerStandingForm):
    link_creators = forms.ModelMultipleChoiceField(
        queryset=Creator.objects.none(), label="Creators", required=False, widget=UnfoldAdminSelectMultipleWidget,
        help_text="The creators this performer works for; their compliance officers will see the record.")
    link_relation = forms.ChoiceField(choices=CreatorPerformer.Relation.choices, label="Relation",
                                      initial=CreatorPerformer.Relation.SELF, widget=UnfoldAdminSelectWidget)

    class Meta:
        model = Performer
        fields = ["legal_name", "date_of_birth", "country", "email", "phone", "notes"]


@admin.register(Performer)
class PerformerAdmin(ComplianceModelAdmin):
    form = PerformerStandingForm
    add_form = PerformerAddForm
    list_display = ["legal_name", "status_badge", "verification", "consents", "creator_list"]
    list_filter = ["status", PerformerCreatorFilter]
    search_fields = ["legal_name", "names__name"]
    ordering = ["legal_name", "pk"]
    actions = ["export_data", "erase_selected"]
    actions_detail = ["record_2257_json", "record_2257_print", "export_data_detail", "erase_detail"]
    readonly_fields = ["verification_detail", "consent_detail", "erased_at", "erasure_reason"]
    add_fieldsets = [
        (None, {"fields": ["legal_name", "date_of_birth", "country"]}),
        ("Creators", {"fields": ["link_creators", "link_relation"]}),
        ("Contact", {"fields": ["email", "phone"]}),
        ("Notes", {"fields": ["notes"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Performer | None = None) -> list:
        if obj is None:
            return self.add_fieldsets
        fieldsets = [
            (None, {"fields": ["legal_name", "date_of_birth", "country", "status"]}),
            ("Standing", {"fields": ["verification_detail", "consent_detail"]}),
            ("Contact", {"fields": ["email", "phone"]}),
            ("Notes", {"fields": ["notes"]}),
        ]
        if _erased(obj):
            fieldsets.append(("Erasure", {"fields": ["erased_at", "erasure_reason"]}))
        return fieldsets

    def get_form(self, request: HttpRequest, obj: Performer | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = self.add_form
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            return form_class
        creators = choices_for(request, Creator, CreatorPerformer, "add")
        owner = request.user.is_superuser

        def setup(form: forms.BaseForm) -> None:
            form.fields["link_creators"].queryset = creators
            # A performer linked to no creator is visible to the owner alone.
            form.fields["link_creators"].required = not owner

        return _with_init(form_class, setup)

    def formfield_for_choice_field(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> forms.Field:
        if db_field.name == "status":
            # Only a data-subject erasure sets a performer to erased, with what it kept and why.
            kwargs["choices"] = [c for c in Performer.Status.choices if c[0] != Performer.Status.ERASED]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_inlines(self, request: HttpRequest, obj: Performer | None) -> list:
        if obj is None:
            return [PerformerNameInline]
        return [PerformerNameInline, CreatorLinkInline, VerificationInline, ConsentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return views.with_standing(super().get_queryset(request)).prefetch_related(
            views.visible_links_prefetch(request.user))

    def get_urls(self) -> list[URLPattern]:
        return [path("board/", self.admin_site.admin_view(views.board), name="compliance_board"),
                *super().get_urls()]

    # Permissions: records are erased through a data-subject request, never deleted.
    def has_delete_permission(self, request: HttpRequest, obj: Performer | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Performer | None = None) -> bool:
        return super().has_change_permission(request, obj) and not _erased(obj)

    # Records carry identity documents: reached through the identity-check permission, per creator.
    has_records_permission = permission_check("compliance.view_identityverification")
    has_erase_permission = permission_check("compliance.delete_performer")

    # Columns.
    @display(description="Status", label={"active": "success", "suspended": "warning", "erased": "danger"})
    def status_badge(self, obj: Performer) -> tuple[str, str]:
        return obj.status, wording.status_sentence(Performer.Status, obj.status)

    @display(description="Verification", label=views.VERIFICATION_LABELS)
    def verification(self, obj: Performer) -> str:
        return views.verification_state(obj)

    @display(description="Consents")
    def consents(self, obj: Performer) -> str:
        return views.consent_summary(obj)

    @display(description="Creators")
    def creator_list(self, obj: Performer) -> str:
        return ", ".join(link.creator.stage_name for link in getattr(obj, "visible_links", [])) or "—"

    @display(description="Identity")
    def verification_detail(self, obj: Performer) -> str:
        return views.verification_state(obj).capitalize()

    @display(description="Consents")
    def consent_detail(self, obj: Performer) -> str:
        return views.consent_summary(obj)

    # Saving.
    def save_model(self, request: HttpRequest, obj: Performer, form: forms.ModelForm, change: bool) -> None:
        if change:
            services.update_performer(obj, changed=form.changed_data, actor=request.user,
                                      creator_id=records.creator_id_for(obj, request.user))
            return
        data = form.cleaned_data
        saved = call_service(
            services.create_performer, legal_name=obj.legal_name, date_of_birth=obj.date_of_birth,
            creators=list(data.get("link_creators") or []), relation=data.get("link_relation") or "self",
            actor=request.user, country=obj.country, email=obj.email, phone=obj.phone, notes=obj.notes)
        adopt(obj, saved)

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        performer = form.instance
        if formset.model is PerformerName:
            names = formset.save(commit=False)
            services.change_performer_names(
                performer, added=[(n.name, n.kind) for n in names if n.pk is None],
                changed=[n for n in names if n.pk is not None], removed=formset.deleted_objects,
                actor=request.user, creator_id=records.creator_id_for(performer, request.user))
            return
        if formset.model is CreatorPerformer:
            links = formset.save(commit=False)
            for gone in formset.deleted_objects:
                services.unlink_performer(gone, actor=request.user)
            changed = dict(formset.changed_objects)
            for link in links:
                services.save_creator_link(link, actor=request.user, changed=changed.get(link))
            return
        if formset.save(commit=False) or formset.deleted_objects:  # read-only inlines post nothing to save
            raise ImproperlyConfigured(f"No service saves {formset.model._meta.label} rows from the performer page.")

    # Record exports and erasure.
    @action(description="2257 record (JSON)", url_path="record-2257", permissions=["records"], icon="description")
    def record_2257_json(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views.record_2257_json(request, object_id)

    @action(description="2257 record (print)", url_path="record-2257/print", permissions=["records"], icon="print")
    def record_2257_print(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views.record_2257_print(request, object_id)

    @action(description="Export all data (zip)", url_path="export", permissions=["records"], icon="download")
    def export_data_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views.export_data(request, object_id)

    @action(description="Erase (data-subject request)", url_path="erase", permissions=["erase"],
            icon="person_remove")
    def erase_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views.erase(request, object_id)

    @action(description="Export all data (zip)", permissions=["records"])
    def export_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        chosen = list(queryset.filter(pk__in=views.performers_reachable(request.user).values("pk"))[:2])
        if not chosen:
            messages.error(request, "None of the selected performers' records is yours to export.")
            return None
        if len(chosen) > 1:
            messages.error(request, "Export one performer at a time: each export answers one person's request.")
            return None
        return views.zip_response(records.export_performer_data(chosen[0], actor=request.user), chosen[0])

    @action(description="Erase (data-subject request)", permissions=["erase"])
    def erase_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        performers = list(queryset.filter(pk__in=views.performers_reachable(request.user, Performer, "delete")
                                          .values("pk")))
        if not performers:
            messages.error(request, "None of the selected performers is yours to erase.")
            return None
        form = views.ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            for performer in performers:
                result = records.erase_performer(performer, actor=request.user, reason=form.cleaned_data["reason"])
                messages.success(request, views.erasure_message(performer, result))
            return None
        return views.render_action_form(
            request, title="Erase performers (data-subject request)", intro=views.ERASURE_INTRO, form=form,
            submit_label="Erase", items=performers, opts=self.model._meta, danger=True,
            hidden={"action": "erase_selected", ACTION_CHECKBOX_NAME: [p.pk for p in performers], "apply": "1"},
            cancel_url=reverse("admin:compliance_performer_changelist"))


# --- Identity checks -----------------------------------------------------------------------------


class VerificationAddForm(forms.ModelForm):
    document_number = forms.CharField(
        max_length=100, required=False, widget=UnfoldAdminTextInputWidget,
        help_text="Stored encrypted. Shown again only on request, and every showing is logged.")
    front_file = forms.FileField(label="Front of the document", required=False,
                                 widget=UnfoldAdminFileFieldWidget(attrs={"accept": DOCUMENT_ACCEPT}))
    back_file = forms.FileField(label="Back of the document", required=False,
                                widget=UnfoldAdminFileFieldWidget(attrs={"accept": DOCUMENT_ACCEPT}))
    selfie_file = forms.FileField(label="Selfie holding the document", required=False,
                                  widget=UnfoldAdminFileFieldWidget(attrs={"accept": DOCUMENT_ACCEPT}))

    class Meta:
        model = IdentityVerification
        fields = ["performer", "document_kind", "document_country", "document_expiry", "method", "provider",
                  "provider_session_id", "provider_decision", "provider_reason", "result", "notes"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("performer") is not None:  # refused and audited without a date of birth
            services.check_may_be_verified(cleaned["performer"])
        return cleaned

    def _post_clean(self) -> None:
        # The model's rules look at the stored documents, which exist only once the service has
        # encrypted the uploads: record_verification runs them then, and ServiceFormMixin brings
        # its refusal back here. Field-level checks (choices, lengths) have already run.
        self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)


@admin.register(IdentityVerification)
class IdentityVerificationAdmin(ComplianceModelAdmin):
    add_form = VerificationAddForm
    list_display = ["performer", "document_kind", "result_badge", "method", "provider", "verified_at", "created_at"]
    list_filter = ["result", "document_kind", "method"]
    search_fields = ["performer__legal_name", "performer__names__name", "provider_session_id"]
    list_select_related = ["performer"]
    autocomplete_fields = ["performer"]
    ordering = ["-created_at", "-pk"]
    readonly_fields = ["document_number_masked", "documents"]
    add_fieldsets = [
        (None, {"fields": ["performer", "document_kind", "document_country", "document_expiry", "document_number"]}),
        ("Documents", {"fields": ["front_file", "back_file", "selfie_file"]}),
        ("Check", {"fields": ["method", "provider", "provider_session_id", "provider_decision", "provider_reason",
                              "result", "notes"]}),
    ]
    fieldsets = [
        (None, {"fields": ["performer", "document_kind", "document_country", "document_expiry",
                           "document_number_masked"]}),
        ("Documents", {"fields": ["documents"]}),
        ("Check", {"fields": ["method", "provider", "provider_session_id", "provider_decision", "provider_reason",
                              "result", "verified_by", "verified_at", "notes", "created_at"]}),
    ]

    def get_form(self, request: HttpRequest, obj: IdentityVerification | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [
            path("add/", document_upload_view(site.admin_view(self.add_view)),
                 name="compliance_identityverification_add"),
            path("<int:pk>/document/<str:side>/", site.admin_view(views.verification_document),
                 name="compliance_identityverification_document"),
            path("<int:pk>/document-number/", site.admin_view(views.verification_number),
                 name="compliance_identityverification_number"),
            *super().get_urls(),
        ]

    def has_change_permission(self, request: HttpRequest, obj: IdentityVerification | None = None) -> bool:
        return False  # a check is evidence: a new check is recorded, this one stays as it was

    def has_delete_permission(self, request: HttpRequest, obj: IdentityVerification | None = None) -> bool:
        return False

    @display(description="Result", label={"approved": "success", "pending": "warning", "rejected": "danger",
                                          "expired": "danger"})
    def result_badge(self, obj: IdentityVerification) -> tuple[str, str]:
        return obj.result, wording.status_sentence(IdentityVerification.Result, obj.result)

    @display(description="Document number")
    def document_number_masked(self, obj: IdentityVerification) -> str:
        if not obj.document_number_encrypted:
            return "—"
        url = reverse("admin:compliance_identityverification_number", args=[obj.pk])
        return format_html('•••••••• <a class="text-primary-600 font-semibold ml-2" href="{}">Reveal</a> '
                           '<span class="text-font-subtle-light">(logged)</span>', url)

    @display(description="Stored copies")
    def documents(self, obj: IdentityVerification) -> str:
        lines = [
            _document_line(getattr(obj, side), side, reverse("admin:compliance_identityverification_document",
                                                             args=[obj.pk, side]))
            for side in records.DOCUMENT_SIDES if getattr(obj, f"{side}_id")
        ]
        if not lines:
            return "No document stored."
        return format_html_join("", DOCUMENT_LINK, lines)

    def save_model(self, request: HttpRequest, obj: IdentityVerification, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        saved = call_service(
            services.record_verification, performer=data["performer"], document_kind=data["document_kind"],
            result=data["result"], actor=request.user, document_number=data.get("document_number") or "",
            front=upload_bytes(data.get("front_file")), back=upload_bytes(data.get("back_file")),
            selfie=upload_bytes(data.get("selfie_file")), document_country=data.get("document_country") or "",
            document_expiry=data.get("document_expiry"), method=data["method"], provider=data.get("provider") or "",
            provider_session_id=data.get("provider_session_id") or "",
            provider_decision=data.get("provider_decision") or "", provider_reason=data.get("provider_reason") or "",
            notes=data.get("notes") or "")
        adopt(obj, saved)


# --- Consents ------------------------------------------------------------------------------------


class ConsentAddForm(forms.ModelForm):
    platforms = forms.MultipleChoiceField(choices=PLATFORM_CHOICES, widget=UnfoldAdminCheckboxSelectMultipleWidget)
    uses = forms.MultipleChoiceField(choices=USE_CHOICES, widget=UnfoldAdminCheckboxSelectMultipleWidget)
    release_file = forms.FileField(label="Signed release", required=False,
                                   widget=UnfoldAdminFileFieldWidget(attrs={"accept": DOCUMENT_ACCEPT}),
                                   help_text="PDF or image of the signed release. Stored encrypted.")

    class Meta:
        model = ConsentRecord
        fields = ["performer", "platforms", "max_rating", "uses", "signed_at", "valid_from", "valid_until",
                  "supersedes"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "valid_from" in self.fields:
            self.fields["valid_from"].required = False
            self.fields["valid_from"].help_text = "Leave empty to start at the signing time."

    def clean(self) -> dict[str, Any]:
        # The service's rule, run here so the refused attempt's audit event is kept (see
        # PerformerStandingForm): no consent without a date of birth, none from a minor.
        cleaned = super().clean()
        if cleaned.get("performer") is not None:
            services.check_may_consent(cleaned["performer"])
        return cleaned


class ConsentStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("valid", "Valid"), ("expiring", "Expiring within 30 days"), ("expired", "Expired"),
                ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        live = queryset.filter(revoked_at__isnull=True)
        match self.value():
            case "valid":
                return live.filter(views.valid_consents_q(now))
            case "expiring":
                return live.filter(views.valid_consents_q(now), valid_until__lte=now + views.EXPIRY_WINDOW)
            case "expired":
                return live.filter(valid_until__lte=now)
            case "revoked":
                return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ComplianceModelAdmin):
    add_form = ConsentAddForm
    list_display = ["id", "performer", "platform_list", "max_rating", "use_list", "valid_from", "valid_until",
                    "state"]
    list_filter = [ConsentStateFilter, "max_rating"]
    search_fields = ["performer__legal_name", "performer__names__name"]
    list_select_related = ["performer"]
    autocomplete_fields = ["performer", "supersedes"]
    ordering = ["-created_at", "-pk"]
    actions = ["revoke_selected"]
    actions_detail = ["revoke"]
    readonly_fields = ["state", "release_link", "release_on_file", "platform_list", "use_list"]
    add_fieldsets = [
        (None, {"fields": ["performer", "supersedes"]}),
        ("Scope", {"fields": ["platforms", "max_rating", "uses"]}),
        ("Signature and validity", {"fields": ["release_file", "signed_at", "valid_from", "valid_until"]}),
    ]
    fieldsets = [
        (None, {"fields": ["performer", "state", "supersedes"]}),
        ("Scope", {"fields": ["platform_list", "max_rating", "use_list"]}),
        ("Signature and validity", {"fields": ["release_link", "signed_at", "valid_from", "valid_until",
                                               "collected_by", "created_at"]}),
        ("Revocation", {"fields": ["revoked_at", "revoked_reason", "revoked_by"]}),
    ]

    def get_form(self, request: HttpRequest, obj: ConsentRecord | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [
            path("add/", document_upload_view(site.admin_view(self.add_view)), name="compliance_consentrecord_add"),
            path("<int:pk>/release/", site.admin_view(views.consent_release), name="compliance_consentrecord_release"),
            *super().get_urls(),
        ]

    def get_actions_detail(self, request: HttpRequest, object_id: Any) -> list:
        available = super().get_actions_detail(request, object_id)
        consent = ConsentRecord.objects.filter(pk=object_id).only("revoked_at").first() if object_id else None
        if consent is None or consent.is_revoked:
            return [a for a in available if not a.action_name.endswith("_revoke")]
        return available

    def has_change_permission(self, request: HttpRequest, obj: ConsentRecord | None = None) -> bool:
        return False  # a consent is never edited: record a new one, or revoke this one

    def has_delete_permission(self, request: HttpRequest, obj: ConsentRecord | None = None) -> bool:
        return False

    has_revoke_permission = permission_check("compliance.change_consentrecord")

    @display(description="Platforms")
    def platform_list(self, obj: ConsentRecord) -> str:
        return ", ".join(obj.platforms)

    @display(description="Uses")
    def use_list(self, obj: ConsentRecord) -> str:
        return ", ".join(u.replace("_", " ") for u in obj.uses)

    @display(description="State", label=CONSENT_LABELS)
    def state(self, obj: ConsentRecord) -> str:
        return consent_state(obj)

    @display(description="Signed release")
    def release_link(self, obj: ConsentRecord) -> str:
        if not obj.release_id:
            return "No release stored."
        url = reverse("admin:compliance_consentrecord_release", args=[obj.pk])
        return format_html(DOCUMENT_LINK, *_document_line(obj.release, "release", url))

    @display(description="Signed release")
    def release_on_file(self, obj: ConsentRecord) -> str:
        if not obj.release_id:
            return "No release stored."
        return format_html(RELEASE_ON_FILE, obj.release.content_type, filesizeformat(obj.release.size),
                           obj.release.sha256[:16])

    def get_fieldsets(self, request: HttpRequest, obj: ConsentRecord | None = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or views.may_open_release(request.user, obj):
            return fieldsets
        # Whoever may see the consent but not open its release learns that it exists, not what it says.
        return [(name, {**options, "fields": ["release_on_file" if f == "release_link" else f
                                              for f in options["fields"]]})
                for name, options in fieldsets]

    def save_model(self, request: HttpRequest, obj: ConsentRecord, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        saved = call_service(
            services.record_consent, performer=data["performer"], platforms=list(data["platforms"]),
            max_rating=data["max_rating"], uses=list(data["uses"]), signed_at=data["signed_at"],
            valid_from=data.get("valid_from"), valid_until=data.get("valid_until"),
            release=upload_bytes(data.get("release_file")), actor=request.user, supersedes=data.get("supersedes"))
        adopt(obj, saved)

    @action(description="Revoke", url_path="revoke", permissions=["revoke"], icon="block")
    def revoke(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views.revoke_consent(request, object_id)

    @action(description="Revoke selected consents", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        consents = list(tenancy.restrict(queryset, request.user, "change").filter(revoked_at__isnull=True)
                        .select_related("performer"))
        if not consents:
            messages.info(request, "None of the selected consents can be revoked: they already are.")
            return None
        form = views.ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            for consent in consents:
                services.revoke_consent(consent, reason=form.cleaned_data["reason"], actor=request.user)
            messages.success(request, f"{len(consents)} consent(s) revoked; scheduled publications depicting "
                                      f"these performers are being blocked.")
            return None
        return views.render_action_form(
            request, title="Revoke consents", form=form, submit_label="Revoke consents", danger=True,
            intro="Revocation takes effect now and cannot be undone. Scheduled publications depicting these "
                  "performers are blocked.",
            items=consents, opts=self.model._meta,
            hidden={"action": "revoke_selected", ACTION_CHECKBOX_NAME: [c.pk for c in consents], "apply": "1"},
            cancel_url=reverse("admin:compliance_consentrecord_changelist"))


# --- Takedowns -----------------------------------------------------------------------------------


class TakedownActionInline(TenantInlineMixin, TabularInline):
    model = TakedownAction
    extra = 1
    can_delete = False
    fields = ["logged_at", "logged_by", "description"]
    readonly_fields = ["logged_at", "logged_by"]
    formfield_overrides = {models.TextField: {"widget": UnfoldAdminTextareaWidget(attrs={"rows": 2})}}
    verbose_name = "action"
    verbose_name_plural = "Action log"

    # A new row is stamped by the service when saved; showing "now" beside it would be a guess.
    @display(description="At")
    def logged_at(self, obj: TakedownAction) -> str:
        return f"{obj.at:%Y-%m-%d %H:%M} UTC" if obj.pk else "when saved"

    @display(description="By")
    def logged_by(self, obj: TakedownAction) -> str:
        return str(obj.by) if obj.pk and obj.by_id else ("you" if not obj.pk else "—")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # the log is appended to, never rewritten

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.has_perm("compliance.change_takedownrequest")


TAKEDOWN_FIELDS = ["kind", "creator", "performers", "received_at", "requester_name", "requester_contact",
                   "signature", "content_description", "content_locations", "non_consent_statement"]


def _split_ids(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


class TakedownRequestForm(forms.ModelForm):
    """What the request concerns beyond performers. Assets and publications belong to apps compliance
    does not import, so they are entered by id (shown on the asset and publication pages) and checked by
    the service against the request's creator; URLs are matched to that creator's publications."""

    asset_ids = forms.CharField(
        required=False, label="Assets", widget=UnfoldAdminTextInputWidget(),
        help_text="Ids of the creator's assets the request concerns, separated by commas or spaces. Only "
                  "these are blocked: name performers above only when it is about their whole likeness.")
    publication_ids = forms.CharField(
        required=False, label="Publications", widget=UnfoldAdminTextInputWidget(),
        help_text="Ids of publications it concerns; the same post on every other account is blocked too.")
    urls = forms.CharField(
        required=False, label="URLs", widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text="Addresses where the content is, one per line (URLs under “Where it is” count too).")

    class Meta:
        model = TakedownRequest
        fields = TAKEDOWN_FIELDS


@admin.register(TakedownRequest)
class TakedownRequestAdmin(ComplianceModelAdmin):
    form = TakedownRequestForm
    list_display = ["id", "kind", "creator", "received_local", "due_local", "deadline", "status_text"]
    list_filter = ["status", "kind", "creator"]
    search_fields = ["requester_name", "content_description", "content_locations"]
    list_select_related = ["creator"]
    autocomplete_fields = ["performers"]
    ordering = ["due_at", "pk"]
    actions = ["mark_removed", "mark_rejected", "mark_closed"]
    actions_detail = ["record_outcome"]
    add_fieldsets = [
        (None, {"fields": ["kind", "creator", "received_at"]}),
        ("What it concerns", {"fields": ["performers", "asset_ids", "publication_ids", "urls"]}),
        ("Requester", {"fields": ["requester_name", "requester_contact", "signature"]}),
        ("Content", {"fields": ["content_description", "content_locations", "non_consent_statement"]}),
    ]
    fieldsets = [
        (None, {"fields": ["kind", "creator", "deadline", "status_text"]}),
        ("What it concerns", {"fields": ["performers", "concerns"]}),
        ("Dates", {"fields": ["received_at", "due_at", "closed_at"]}),
        ("Requester", {"fields": ["requester_name", "requester_contact", "signature"]}),
        ("Content", {"fields": ["content_description", "content_locations", "non_consent_statement"]}),
        ("Outcome", {"fields": ["resolution"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: TakedownRequest | None = None) -> list[str]:
        if obj is None:
            return []
        # What was asked is evidence; what happened goes into the action log.
        return [*TAKEDOWN_FIELDS, "deadline", "status_text", "due_at", "closed_at", "resolution", "concerns"]

    @display(description="Status", ordering="status")
    def status_text(self, obj: TakedownRequest) -> str:
        zone = times.zone(obj.creator.timezone) if obj.creator_id else None
        return code_and_sentence(wording.status_sentence(TakedownRequest.Status, obj.status,
                                                         when=day_text(obj.due_at, zone)), obj.status)

    @display(description="Received", ordering="received_at")
    def received_local(self, obj: TakedownRequest) -> str:
        return times.local(obj.received_at, obj.creator.timezone if obj.creator_id else None)

    @display(description="Due", ordering="due_at")
    def due_local(self, obj: TakedownRequest) -> str:
        return times.local(obj.due_at, obj.creator.timezone if obj.creator_id else None)

    def get_inlines(self, request: HttpRequest, obj: TakedownRequest | None) -> list:
        return [] if obj is None else [TakedownActionInline]

    @display(description="Assets, publications and URLs")
    def concerns(self, obj: TakedownRequest) -> str:
        rows = list(obj.targets.all())
        if not rows:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}: {}", ((t.get_kind_display(), str(t)) for t in rows))

    def get_form(self, request: HttpRequest, obj: TakedownRequest | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is not None or request.user.is_superuser:
            return form_class

        def setup(form: forms.BaseForm) -> None:
            # A takedown filed under no creator is visible to the owner alone.
            form.fields["creator"].required = True

        return _with_init(form_class, setup)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"received_at": timezone.now(), **super().get_changeform_initial_data(request)}

    def has_delete_permission(self, request: HttpRequest, obj: TakedownRequest | None = None) -> bool:
        return False

    @display(description="Deadline", label={"overdue": "danger", "due < 12 h": "warning", "open": "info",
                                            "removed": "success", "rejected": "default", "closed": "success"})
    def deadline(self, obj: TakedownRequest) -> str:
        if not obj.is_open:
            return obj.status
        left = obj.due_at - timezone.now()
        if left.total_seconds() <= 0:
            return "overdue"
        return "due < 12 h" if left < views.DUE_SOON else "open"

    def save_model(self, request: HttpRequest, obj: TakedownRequest, form: forms.ModelForm, change: bool) -> None:
        if change:
            return  # every field is read-only after opening; the inline log is saved through the service
        data = form.cleaned_data
        fields = {name: data.get(name) or "" for name in ("requester_name", "requester_contact", "signature",
                                                            "content_description", "content_locations",
                                                            "non_consent_statement")}
        saved = call_service(services.open_takedown, kind=data["kind"], creator=data.get("creator"),
                             performers=list(data.get("performers") or []), received_at=data.get("received_at"),
                             asset_ids=_split_ids(data.get("asset_ids") or ""),
                             publication_ids=_split_ids(data.get("publication_ids") or ""),
                             urls=(data.get("urls") or "").split(), actor=request.user, **fields)
        adopt(obj, saved)
        obj.due_at = saved.due_at

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        if change:  # on add the service has set the performers already
            for formset in formsets:
                self.save_formset(request, form, formset, change)

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        for entry in formset.save(commit=False):
            if entry.pk is None:
                services.log_takedown_action(form.instance, description=entry.description, actor=request.user)

    @action(description="Record outcome", url_path="outcome", permissions=["change"], icon="task_alt")
    def record_outcome(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views.takedown_outcome(request, object_id)

    def _mark(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        label = TakedownRequest.Status(status).label
        done = 0
        for takedown in tenancy.restrict(queryset, request.user, "change"):
            if takedown.status == status:
                continue
            services.log_takedown_action(takedown, description=f"Marked “{label}” from the takedown list.",
                                         status=status, actor=request.user)
            done += 1
        messages.success(request, f"{done} takedown request(s) marked “{label}”.")

    @action(description="Mark content removed", permissions=["change"])
    def mark_removed(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._mark(request, queryset, TakedownRequest.Status.REMOVED)

    @action(description="Mark rejected (not a valid request)", permissions=["change"])
    def mark_rejected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._mark(request, queryset, TakedownRequest.Status.REJECTED)

    @action(description="Mark closed", permissions=["change"])
    def mark_closed(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._mark(request, queryset, TakedownRequest.Status.CLOSED)


# --- Blocked terms -------------------------------------------------------------------------------


@admin.register(BlockedTerm)
class BlockedTermAdmin(AtelierModelAdmin):
    """The agency's additions to the hard-block list: agency-wide, so permission-based, not per creator."""

    list_display = ["term", "note", "added_by", "created_at"]
    search_fields = ["term", "note"]
    fields = ["term", "note", "added_by", "created_at"]
    readonly_fields = ["added_by", "created_at"]
    list_select_related = ["added_by"]

    def has_change_permission(self, request: HttpRequest, obj: BlockedTerm | None = None) -> bool:
        return False  # a term is removed and added, never rewritten: the log stays clear

    def save_model(self, request: HttpRequest, obj: BlockedTerm, form: forms.ModelForm, change: bool) -> None:
        adopt(obj, call_service(services.add_blocked_term, term=obj.term, note=obj.note, actor=request.user))

    def delete_model(self, request: HttpRequest, obj: BlockedTerm) -> None:
        services.remove_blocked_term(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for term in queryset:
            services.remove_blocked_term(term, actor=request.user)
