"""Admin for what ingestion receives: webhook receivers, inbound events and metric snapshots.

All three are written by services (the receiver view, `process_event`, `sync_metrics`); here
they are read, and the only changes are service calls: open a receiver, set or rotate its
secret, process a stored event again.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from unfold.decorators import action, display

from accounts.admin_base import ReadOnlyAdminMixin, TenantModelAdmin, permission_check
from analytics import ingest, services
from analytics.models import InboundEvent, MetricSnapshot, WebhookReceiver
from core.admin import message_refusal

# The receiver views: Fanvue's here, Telegram's in the inbox (`inbox.webhooks`), named so no import goes up.
RECEIVER_URL_NAMES = {"fanvue": "analytics_fanvue_webhook", "telegram": "inbox_telegram_webhook"}


class ReceiverForm(forms.ModelForm):
    signing_secret = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False),
        help_text="Paste the secret the platform shows (Fanvue: developer area → View Signing Secret). "
                  "Leave empty to keep the current one, or to generate one for a new receiver.")

    class Meta:
        model = WebhookReceiver
        fields = ["account"]


@admin.register(WebhookReceiver)
class WebhookReceiverAdmin(TenantModelAdmin):
    form = ReceiverForm
    list_display = ["account", "receiver_url", "created_at", "last_event_at"]
    list_select_related = ["account__creator"]
    readonly_fields = ["receiver_url", "created_at", "last_event_at"]
    autocomplete_fields = ["account"]
    search_fields = ["account__handle", "account__creator__stage_name"]
    ordering = ["-created_at"]
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookReceiver | None = None) -> list[str]:
        # The account of an existing receiver is fixed: its URL is already configured on the platform.
        return [*self.readonly_fields, "account"] if obj else self.readonly_fields

    @display(description="Receiver URL")
    def receiver_url(self, obj: WebhookReceiver) -> str:
        name = RECEIVER_URL_NAMES.get(obj.account.platform) if obj.pk else None
        if not name:
            return "—"
        return format_html("<code>{}</code>", reverse(name, kwargs={"token": obj.token}))

    def save_model(self, request: HttpRequest, obj: WebhookReceiver, form: forms.ModelForm, change: bool) -> None:
        secret = form.cleaned_data.get("signing_secret") or None
        try:
            if change:
                if secret:
                    ingest.rotate_receiver_secret(obj, secret=secret, actor=request.user)
                    messages.success(request, "Signing secret replaced.")
                return
            receiver, shown = ingest.create_receiver(obj.account, secret=secret, actor=request.user)
        except ValidationError as exc:
            message_refusal(request, exc)
            return
        obj.pk, obj.token, obj.created_at = receiver.pk, receiver.token, receiver.created_at
        if secret is None:
            messages.warning(request, f"Signing secret (shown once, copy it now): {shown}")

    def delete_model(self, request: HttpRequest, obj: WebhookReceiver) -> None:
        services.delete_receiver(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for receiver in queryset.select_related("account"):
            services.delete_receiver(receiver, actor=request.user)

    @action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        for receiver in queryset.select_related("account"):
            secret = ingest.rotate_receiver_secret(receiver, actor=request.user)
            messages.warning(request, f"New signing secret for {receiver.account} (shown once): {secret}")


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    """What the platforms sent, kept as evidence: read, and processed again on request."""

    list_display = ["received_at", "kind", "account", "processed_at", "has_error"]
    list_filter = ["kind", ("processed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["account__creator"]
    search_fields = ["event_key", "account__handle"]
    ordering = ["-received_at", "-pk"]
    readonly_fields = ["account", "event_key", "kind", "payload", "received_at", "processed_at", "error"]
    actions = ["process_again"]

    @display(description="Error", boolean=True)
    def has_error(self, obj: InboundEvent) -> bool:
        return bool(obj.error)

    has_process_permission = permission_check("analytics.change_inboundevent")

    @action(description="Process again", permissions=["process"])
    def process_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        outcomes: dict[str, int] = {}
        for event in queryset:
            outcome = services.reprocess_event(event, actor=request.user)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        messages.info(request, ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())) or "Nothing to do.")


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    list_display = ["taken_at", "publication", "views", "likes", "comments", "shares", "clicks", "purchases"]
    list_select_related = ["publication__post", "publication__account"]
    readonly_fields = list_display
    ordering = ["-taken_at", "-pk"]
    raw_id_fields = ["publication"]
