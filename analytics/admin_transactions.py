"""Admin for the ledger: transactions (with statement imports and manual entries), fans, subscriptions.

Transactions are never edited in place: a correction is a new entry (a refund), so the ledger and
the rollups built on it stay explainable. Both ways in — a statement import and the manual add
form — go through `analytics.ingest.record_transaction`, and ask it to validate by a rolled-back
dry run before anything is kept, so the admin never carries its own copy of the rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.apps import apps as django_apps
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Field, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextInputWidget,
)

from accounts import tenancy
from accounts.admin_base import TenantModelAdmin, permission_check
from accounts.admin_export import export_as_csv
from accounts.models import Creator
from analytics import extensions, imports, ingest, services
from analytics.currency import agency_currency
from analytics.models import SOURCE_PLATFORMS, Fan, Subscription, Transaction
from core import times
from core.admin import add_refusal
from core.money import format_money

IMPORT_SALT = "analytics.statement-import"
IMPORT_TOKEN_MAX_AGE = 3600
PREVIEW_ROWS = 1000  # beyond this many, the preview lists only the rows that will not be imported
STAGING_DIR = "statement-imports"


def format_minor(minor: int | None, currency: str) -> str:
    return format_money(minor, currency or "USD", empty="")


def creators_for_adding(request: HttpRequest) -> QuerySet[Creator]:
    """Creators the person may record money for: the add right on Transaction, not merely a view."""
    ids = tenancy.allowed_creator_ids(request.user, Transaction, "add")
    if ids is tenancy.ALL:
        return Creator.objects.all()
    return Creator.objects.filter(pk__in=sorted(ids or ()))


class _Rollback(Exception):
    pass


def dry_run_record(**kwargs: Any) -> bool:
    """Ask `record_transaction` whether it would accept this entry; nothing is kept. True if new."""
    try:
        with transaction.atomic():
            _tx, created = ingest.record_transaction(**kwargs)
            raise _Rollback
    except _Rollback:
        return created


# --- Statement import ---------------------------------------------------------------------------


class StatementUploadForm(forms.Form):
    creator = forms.ModelChoiceField(queryset=Creator.objects.none(), widget=UnfoldAdminSelectWidget)
    statement_format = forms.ChoiceField(
        label="Statement format", widget=UnfoldAdminSelectWidget,
        choices=[(f.key, f.label) for f in imports.FORMATS.values()],
        help_text=" ".join(f.help() for f in imports.FORMATS.values()))
    platform = forms.ChoiceField(
        required=False, widget=UnfoldAdminSelectWidget, choices=[("", "The format's platform"), *SOURCE_PLATFORMS],
        help_text="Required for the generic format.")
    currency = forms.CharField(
        required=False, max_length=3, widget=UnfoldAdminTextInputWidget,
        help_text="ISO code for amounts when the file has no currency column (e.g. USD).")
    file = forms.FileField(widget=UnfoldAdminFileFieldWidget, help_text="CSV export of the earnings statement.")

    def __init__(self, *args: Any, creators: QuerySet[Creator], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["creator"].queryset = creators

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        fmt = imports.FORMATS.get(data.get("statement_format", ""))
        if fmt is not None:
            data["platform"] = data.get("platform") or fmt.platform or ""
            if not data["platform"]:
                self.add_error("platform", "Say which platform this statement comes from.")
        upload = data.get("file")
        if upload is not None and upload.size > imports.MAX_BYTES:
            self.add_error("file", f"At most {imports.MAX_BYTES // (1024 * 1024)} MB per import.")
        return data


def _stage_upload(content: bytes, filename: str) -> str:
    """Keep the file between preview and confirm in private storage: it names fans, so never media.

    Previews nobody confirmed would pile up; each new one removes those whose token has expired.
    """
    storage = storages["private"]
    cutoff = timezone.now() - timedelta(seconds=IMPORT_TOKEN_MAX_AGE)
    try:
        stale = [name for name in storage.listdir(STAGING_DIR)[1]
                 if storage.get_modified_time(f"{STAGING_DIR}/{name}") < cutoff]
    except (FileNotFoundError, NotImplementedError):
        stale = []
    for name in stale:
        storage.delete(f"{STAGING_DIR}/{name}")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "csv"
    return storage.save(f"{STAGING_DIR}/{uuid.uuid4().hex}.{extension[:8]}", ContentFile(content))


def _preview_rows(report: imports.ImportReport) -> tuple[list[dict[str, Any]], int]:
    tz = report.zone
    listed, hidden = [], 0
    for result in report.rows:
        if len(report.rows) > PREVIEW_ROWS and result.outcome == imports.Outcome.NEW:
            hidden += 1
            continue
        row = result.row
        listed.append({
            "line": result.line, "outcome": result.outcome, "label": result.label, "message": result.message,
            # Formatted here, on the statement's clock: the template's `date` filter would convert the
            # time to the server's zone (UTC) first, so 20:15 in New York showed as 01:15 the next day.
            "occurred_at": f"{row.occurred_at.astimezone(tz):%Y-%m-%d %H:%M}" if row else "",
            "kind": Transaction.Kind(row.kind).label if row else "",
            "gross": format_minor(row.gross_minor, row.currency) if row else "",
            "fee": format_minor(row.fee_minor, row.currency) if row else "",
            "net": format_minor(row.gross_minor - row.fee_minor, row.currency) if row else "",
            "currency": row.currency if row else "", "fan": row.fan if row else "",
            "external_id": "" if row is None or row.generated_id else row.external_id,
        })
    return listed, hidden


class StatementImportMixin:
    """The "Import statement" button on the transactions changelist: upload → preview → confirm."""

    actions_list = ["import_statement"]

    # Which creators: those where the person may add transactions (the import page offers only those).
    has_import_statement_permission = permission_check("analytics.add_transaction")

    @action(description="Import statement", url_path="import-statement", icon="upload_file",
            permissions=["import_statement"])
    def import_statement(self, request: HttpRequest) -> HttpResponse:
        creators = creators_for_adding(request)
        if not creators.exists():
            raise PermissionDenied
        if request.method == "POST" and "token" in request.POST:
            return self._confirm_import(request, creators)
        form = StatementUploadForm(request.POST or None, request.FILES or None, creators=creators)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            content = upload.read()
            params = {"creator": form.cleaned_data["creator"].pk, "platform": form.cleaned_data["platform"],
                      "statement_format": form.cleaned_data["statement_format"],
                      "default_currency": form.cleaned_data["currency"]}
            try:
                report = imports.preview_statement(content, upload.name, creator=form.cleaned_data["creator"],
                                                   platform=params["platform"],
                                                   statement_format=params["statement_format"],
                                                   default_currency=params["default_currency"])
            except imports.StatementError as exc:
                form.add_error("file", str(exc))
            else:
                token = ""
                if report.importable:
                    staged = _stage_upload(content, upload.name)
                    token = signing.dumps({**params, "staged": staged, "filename": upload.name[:200]},
                                          salt=IMPORT_SALT)
                return self._render_import(request, "preview", report=report, token=token)
        return self._render_import(request, "upload", form=form)

    def _confirm_import(self, request: HttpRequest, creators: QuerySet[Creator]) -> HttpResponse:
        changelist = reverse("admin:analytics_transaction_changelist")
        try:
            params = signing.loads(request.POST["token"], salt=IMPORT_SALT, max_age=IMPORT_TOKEN_MAX_AGE)
        except signing.BadSignature:
            messages.error(request, "This preview has expired; upload the statement again.")
            return HttpResponseRedirect(request.path)
        creator = creators.filter(pk=params["creator"]).first()
        if creator is None:
            raise PermissionDenied
        storage = storages["private"]
        try:
            with storage.open(params["staged"], "rb") as handle:
                content = handle.read()
        except FileNotFoundError:
            messages.error(request, "This statement was already imported or has expired; upload it again.")
            return HttpResponseRedirect(request.path)
        report = imports.import_statement(content, params["filename"], creator=creator, platform=params["platform"],
                                          statement_format=params["statement_format"],
                                          default_currency=params["default_currency"])
        storage.delete(params["staged"])
        summary = report.summary
        if report.committed:
            messages.success(request, f"Statement for {creator}: {summary}")
        else:
            messages.warning(request, f"Nothing imported for {creator}: {summary}")
        query = urlencode({"creator__id__exact": creator.pk, "source__exact": Transaction.Source.IMPORT})
        return HttpResponseRedirect(f"{changelist}?{query}")

    def _render_import(self, request: HttpRequest, step: str, **context: Any) -> HttpResponse:
        report: imports.ImportReport | None = context.get("report")
        if report is not None:
            context["rows"], context["hidden_new"] = _preview_rows(report)
            counts = report.counts
            context["counts"] = [(o.label, counts[o.value], o.value) for o in imports.Outcome]
        return render(request, "admin/analytics/statement_import.html", {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.model._meta,  # type: ignore[attr-defined]
            "title": "Import statement" if step == "upload" else "Preview statement import",
            "step": step, **context})


# --- Manual entry -------------------------------------------------------------------------------


class ManualTransactionForm(forms.ModelForm):
    gross = forms.DecimalField(label="Gross amount", max_digits=16, decimal_places=4,
                               help_text="As the fan paid it, e.g. 12.50. A refund is entered positive.")
    fee = forms.DecimalField(label="Platform fee", max_digits=16, decimal_places=4, initial=Decimal(0),
                             required=False)
    occurred_local = forms.SplitDateTimeField(label="Occurred at", widget=UnfoldAdminSplitDateTimeWidget,
                                              help_text="Wall time in the creator's timezone.")
    entry_key = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Transaction
        fields = ["creator", "platform", "kind", "currency", "fan", "external_id"]
        help_texts = {"external_id": "The platform's id for this payment, if it shows one: it keeps a later "
                                     "statement import from counting it twice."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entry_key"].initial = uuid.uuid4().hex  # a double submit records one entry
        self.fields["currency"].initial = "USD"
        self.record_kwargs: dict[str, Any] = {}

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def _local(self, creator: Creator, moment: datetime) -> datetime:
        # The widget made the value aware in the server's zone; the person typed the creator's wall time.
        return moment.replace(tzinfo=None).replace(tzinfo=creator.tzinfo)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        creator, moment = data.get("creator"), data.get("occurred_local")
        if self.errors or creator is None or moment is None:
            return data
        currency = data["currency"]
        try:
            gross = imports.to_minor(data["gross"], currency)
            fee = imports.to_minor(data.get("fee") or Decimal(0), currency)
        except imports.RowError as exc:
            raise forms.ValidationError(str(exc)) from None
        external_id = (data.get("external_id") or "").strip()
        self.generated_id = not external_id
        key = (data.get("entry_key") or "").strip() or uuid.uuid4().hex
        self.record_kwargs = {
            "creator": creator, "platform": data["platform"], "kind": data["kind"], "gross_minor": gross,
            "fee_minor": fee, "currency": currency, "occurred_at": self._local(creator, moment),
            "external_id": external_id or f"manual-{key[:64]}", "source": Transaction.Source.MANUAL,
            "fan": data.get("fan")}
        try:
            created = dry_run_record(**self.record_kwargs)
        except ValidationError as exc:
            add_refusal(self, exc)
            return data
        if not created and not self.generated_id:
            self.add_error("external_id", "A transaction with this id is already stored for this platform.")
        return data


# --- Admins ---------------------------------------------------------------------------------------


@admin.register(Transaction)
class TransactionAdmin(StatementImportMixin, TenantModelAdmin):
    list_display = ["occurred_local", "creator", "platform", "kind", "gross_display", "fee_display", "net_display",
                    "currency", "fan", "source", "external_id"]
    list_filter = ["creator", "platform", "kind", "source", "occurred_at"]
    search_fields = ["=external_id", "^fan__handle", "=fan__external_id"]
    search_help_text = "Exact transaction id, fan id, or the start of a fan's handle."
    list_select_related = ["creator", "fan"]
    ordering = ["-occurred_at", "-pk"]
    autocomplete_fields = ["fan"]
    actions = [export_as_csv]
    export_fields = ["occurred_at", "creator", "platform", "kind", "gross_minor", "fee_minor", "net_minor",
                     "currency", "fan", "source", "external_id"]

    @display(description="When (creator's time)", ordering="occurred_at")
    def occurred_local(self, obj: Transaction) -> str:
        return times.local(obj.occurred_at, obj.creator.timezone)

    @display(description="Gross", ordering="gross_minor")
    def gross_display(self, obj: Transaction) -> str:
        return format_minor(obj.gross_minor, obj.currency)

    @display(description="Fee", ordering="fee_minor")
    def fee_display(self, obj: Transaction) -> str:
        return format_minor(obj.fee_minor, obj.currency)

    @display(description="Net", ordering="net_minor")
    def net_display(self, obj: Transaction) -> str:
        return format_minor(obj.net_minor, obj.currency)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # ledger rows are corrected by a new entry, never rewritten

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nor deleted: a refund is a new entry, and rollups were built on this one

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> type:
        if obj is None:
            kwargs["form"] = ManualTransactionForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        if obj is None:
            return [(None, {"fields": ["creator", "platform", "kind", ("gross", "fee"), "currency",
                                       "occurred_local", "fan", "external_id", "entry_key"]})]
        return super().get_fieldsets(request, obj)

    def formfield_for_foreignkey(self, db_field: Field, request: HttpRequest, **kwargs: Any):  # noqa: ANN201
        if db_field.name == "creator":
            kwargs["queryset"] = creators_for_adding(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Transaction, form: forms.ModelForm, change: bool) -> None:
        """Record through the ingestion service; the admin's own instance only carries the result."""
        tx, created = ingest.record_transaction(**form.record_kwargs, actor=request.user)
        if not created:
            messages.info(request, "This entry was already recorded; nothing was added twice.")
        obj.__dict__.update({f.attname: getattr(tx, f.attname) for f in Transaction._meta.concrete_fields})
        obj._state.adding, obj._state.db = False, tx._state.db


@admin.register(Fan)
class FanAdmin(TenantModelAdmin):
    list_display = ["__str__", "creator", "platform", "segment", "lifetime_spend", "last_seen", "first_seen"]
    list_filter = ["creator", "platform", "segment"]
    search_fields = ["^handle", "=external_id"]
    search_help_text = "The start of the handle, or the platform's exact fan id."
    list_select_related = ["creator"]
    ordering = ["-lifetime_spend_minor", "pk"]
    readonly_fields = ["creator", "platform", "external_id", "handle", "first_seen", "last_seen",
                       "lifetime_spend_minor", "segment"]
    fields = [*readonly_fields, "tags", "notes"]
    actions = [export_as_csv]
    export_fields = ["handle", "external_id", "creator", "platform", "segment", "lifetime_spend_minor",
                     "first_seen", "last_seen"]

    @display(description="Lifetime spend", ordering="lifetime_spend_minor")
    def lifetime_spend(self, obj: Fan) -> str:
        return format_minor(obj.lifetime_spend_minor, agency_currency())

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Actions apps above add (the inbox's data export and erasure): each for who holds its
        # permission, run only on the selected fans of creators where they hold it.
        found = super().get_actions(request)
        for extra in extensions.fan_actions():
            if request.user.has_perm(extra.permission):
                found[extra.name] = (_fan_action(extra), extra.name, extra.description)
        return found

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # fans arrive with their first webhook, backfill or statement row

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # their transactions and subscriptions point at them

    def save_model(self, request: HttpRequest, obj: Fan, form: forms.ModelForm, change: bool) -> None:
        services.update_fan_notes(obj, tags=obj.tags, notes=obj.notes, actor=request.user)


def _fan_action(extra: extensions.FanAction) -> Any:
    app_label, codename = extra.permission.split(".", 1)
    action_name, _, model_name = codename.rpartition("_")

    def run(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        model = django_apps.get_model(app_label, model_name)
        reachable = tenancy.restrict(queryset, request.user, action_name, via=model)
        if not reachable.exists():
            raise Http404("None of the selected fans is yours to act on.")
        return extra.run(request, reachable)

    run.guarded = True  # type: ignore[attr-defined]  # its own reach check, as ActionGuardMixin's
    run.__name__ = extra.name
    return run


@admin.register(Subscription)
class SubscriptionAdmin(TenantModelAdmin):
    list_display = ["fan", "creator", "platform", "started_at", "ends_at", "price", "auto_renew", "trial",
                    "cancelled_at"]
    list_filter = ["creator", "platform", "auto_renew", "trial", "started_at"]
    search_fields = ["^fan__handle", "=fan__external_id", "=external_id"]
    search_help_text = "The start of the fan's handle, or an exact fan or subscription id."
    list_select_related = ["creator", "fan"]
    ordering = ["-started_at", "pk"]
    actions = [export_as_csv]
    export_fields = ["fan", "creator", "platform", "started_at", "ends_at", "price_minor", "currency",
                     "auto_renew", "trial", "cancelled_at", "external_id"]

    @display(description="Price", ordering="price_minor")
    def price(self, obj: Subscription) -> str:
        return format_minor(obj.price_minor, obj.currency)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # subscriptions are ingested from the platforms

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
