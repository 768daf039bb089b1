"""Notifications, webhook endpoints and their deliveries in the admin. State changes go through
`notifications.services`; secrets are shown once, in a message, and never stored in clear."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from unfold.decorators import action, display

from accounts import tenancy
from accounts.admin_base import TenantModelAdmin, permission_check
from core.wording import counted
from notifications import services, views_inbox, wording
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint

LEVEL_COLOURS = {"info": "info", "warning": "warning", "error": "danger"}
DELIVERY_COLOURS = {"pending": "warning", "delivered": "success", "failed": "danger"}


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Open"), ("no", "Resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


class KindFilter(admin.SimpleListFilter):
    """Kinds present in what the viewer can see (free-text kinds, so no fixed choices)."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        kinds = model_admin.get_queryset(request).order_by("kind").values_list("kind", flat=True).distinct()
        return [(k, k) for k in kinds]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Notification)
class NotificationAdmin(TenantModelAdmin):
    list_display = ["title", "creator", "kind", "level_badge", "created_at", "resolved_at", "open_link"]
    list_filter = [OpenFilter, KindFilter, "level", "creator"]
    list_select_related = ["creator"]
    search_fields = ["title", "body"]
    ordering = ["-created_at", "-id"]
    actions = ["mark_resolved"]
    fields = ["creator", "kind", "level", "title", "body", "open_link", "subject", "payload", "created_at",
              "emailed_at", "resolved_at"]
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        # Each person's own notices (the bell): open to every staff member, showing only their copies.
        site = self.admin_site
        return [path("mine/", site.admin_view(views_inbox.inbox), name="notifications_inbox"),
                path("mine/<int:receipt_id>/open/", site.admin_view(views_inbox.open_notice),
                     name="notifications_inbox_open"),
                path("mine/read/", site.admin_view(views_inbox.mark_read), name="notifications_inbox_read"),
                *super().get_urls()]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # raised by the system, never typed in

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the page is for reading; resolving is an action

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # resolved, not deleted: the history is what staff look back at

    has_resolve_permission = permission_check("notifications.change_notification")

    @display(description="Level", label=LEVEL_COLOURS)
    def level_badge(self, obj: Notification) -> str:
        return obj.level

    @display(description="Object")
    def open_link(self, obj: Notification) -> str:
        return format_html('<a href="{}">open</a>', obj.link) if obj.link.startswith("/") else "—"

    @action(description="Mark resolved", permissions=["resolve"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = sum(services.resolve(note, actor=request.user)
                   for note in queryset.filter(resolved_at__isnull=True).select_related("creator"))
        messages.success(request, f"{counted(done, 'notification')} resolved.")


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events_text = forms.CharField(
        label="Events", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Notification kinds to send, one per line (e.g. publication.failed). Empty = all.")

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "creator", "url", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["events_text"].initial = "\n".join(self.instance.events)

    def clean_events_text(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["events_text"].splitlines() if line.strip()]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantModelAdmin):
    form = EndpointForm
    list_display = ["name", "creator", "url", "active", "last_success_at", "last_failure_at"]
    list_filter = ["active", "creator"]
    list_select_related = ["creator"]
    search_fields = ["name", "url"]
    fields = ["name", "creator", "url", "events_text", "active", "last_success_at", "last_failure_at",
              "last_error"]
    readonly_fields = ["last_success_at", "last_failure_at", "last_error"]
    actions = ["rotate_secrets", "send_test_events"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # An endpoint stays with the creator it was made for (the service refuses to move it).
        return [*super().get_readonly_fields(request, obj), *(["creator"] if obj is not None else [])]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # An endpoint without a creator receives every creator's events: owners only.
        if "creator" in form.base_fields:
            owner = tenancy.allowed_creator_ids(request.user, WebhookEndpoint, "add") is tenancy.ALL
            form.base_fields["creator"].required = not owner
        return form

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        events = form.cleaned_data.get("events_text", [])
        if change:
            # The form has already written its values onto `obj`; the service compares them with the row.
            changes = {field: getattr(obj, field) for field in services.ENDPOINT_EDITABLE if field != "events"}
            services.update_endpoint(WebhookEndpoint.objects.get(pk=obj.pk), {**changes, "events": events},
                                     actor=request.user)
            return
        endpoint, secret = services.create_endpoint(obj.creator, obj.name, obj.url, events, actor=request.user)
        if not obj.active:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
        obj.pk, obj.events, obj.secret_encrypted = endpoint.pk, endpoint.events, endpoint.secret_encrypted
        messages.warning(request, format_html(
            "Signing secret for “{}”: <code>{}</code> — copy it into the receiver now; it is not shown again.",
            endpoint.name, secret))

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.delete_endpoint(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            services.delete_endpoint(endpoint, actor=request.user)

    @action(description="Rotate signing secret", permissions=["change"])
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            secret = services.rotate_secret(endpoint, actor=request.user)
            messages.warning(request, format_html(
                "New signing secret for “{}”: <code>{}</code> — the old one no longer signs; shown once.",
                endpoint.name, secret))

    @action(description="Send test event", permissions=["change"])
    def send_test_events(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent = [services.send_test_event(endpoint, actor=request.user) for endpoint in queryset.filter(active=True)]
        messages.success(request, f"{counted(len(sent), 'test event')} queued; see Webhook deliveries for the outcome.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantModelAdmin):
    list_display = ["event", "endpoint", "status_badge", "attempts", "next_attempt_at", "response_status",
                    "created_at", "delivered_at"]
    list_filter = ["status", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["event", "event_id"]
    ordering = ["-created_at", "-id"]
    actions = ["retry_now"]
    fields = ["endpoint", "notification", "event", "event_id", "status", "attempts", "next_attempt_at",
              "response_status", "response_excerpt", "delivered_at", "created_at", "payload"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the delivery log is a record; a retry is an action

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    has_retry_permission = permission_check("notifications.change_webhookdelivery")

    @display(description="Status", label=DELIVERY_COLOURS)
    def status_badge(self, obj: WebhookDelivery) -> tuple[str, str]:
        return obj.status, wording.DELIVERY_STATUS.say(obj.status)

    @action(description="Retry now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued = sum(services.retry_delivery(d, actor=request.user)
                     for d in queryset.exclude(status=WebhookDelivery.Status.DELIVERED).select_related("endpoint"))
        messages.success(request, f"{queued} delivery(ies) queued at {timezone.now():%H:%M:%S} UTC.")
