from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from unfold.admin import TabularInline
from unfold.decorators import action, display

from accounts.admin_base import TenantAdminMixin, TenantModelAdmin
from scheduling import services
from scheduling.models import PlatformAccount, Post, PostAsset, Publication, QueueSlot

STATUS_COLOURS = {
    "draft": "info", "pending_approval": "info", "approved": "info", "scheduled": "primary",
    "claimed": "warning", "publishing": "warning", "published": "success", "failed": "danger",
    "unknown": "danger", "blocked": "danger", "cancelled": "info", "missed": "danger",
    "exported": "warning", "removed": "info",
}


class TenantInline(TenantAdminMixin, TabularInline):
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super(TenantAdminMixin, self).get_queryset(request)  # the parent object is already in reach


class QueueSlotInline(TenantInline):
    model = QueueSlot
    extra = 0


@admin.register(PlatformAccount)
class PlatformAccountAdmin(TenantModelAdmin):
    list_display = ["handle", "platform", "creator", "state", "token_expires_at", "max_rating"]
    list_filter = ["platform", "state", "creator"]
    search_fields = ["handle", "creator__stage_name"]
    list_select_related = ["creator"]
    fields = ["creator", "platform", "target_platform", "handle", "external_id", "state", "max_rating", "options",
              "token_expires_at", "last_error"]
    readonly_fields = ["token_expires_at", "last_error"]
    inlines = [QueueSlotInline]


class PostAssetInline(TenantInline):
    model = PostAsset
    extra = 0
    autocomplete_fields = ["asset"]


class PublicationInline(TenantInline):
    model = Publication
    extra = 0
    fields = ["account", "status", "scheduled_at", "external_url", "last_error"]
    readonly_fields = ["status", "scheduled_at", "external_url", "last_error"]
    show_change_link = True


@admin.register(Post)
class PostAdmin(TenantModelAdmin):
    list_display = ["__str__", "creator", "approved_at", "created_at"]
    list_filter = ["creator"]
    search_fields = ["caption"]
    list_select_related = ["creator"]
    inlines = [PostAssetInline, PublicationInline]
    fields = ["creator", "caption", "collection", "price_minor", "currency", "approved_at"]
    readonly_fields = ["approved_at"]


@admin.register(Publication)
class PublicationAdmin(TenantModelAdmin):
    list_display = ["id", "post", "account", "status_badge", "scheduled_at", "attempts", "external_link"]
    list_filter = ["status", "account__platform", "account"]
    list_select_related = ["post", "account", "post__creator"]
    search_fields = ["post__caption", "external_id"]
    date_hierarchy = "scheduled_at"
    ordering = ["-scheduled_at", "-id"]
    readonly_fields = ["status", "attempts", "idempotency_key", "external_id", "external_url", "published_at",
                       "lease_expires_at", "next_attempt_at", "last_error", "reasons"]
    fields = ["post", "account", "caption_override", "scheduled_at", *readonly_fields]
    actions = ["cancel_selected"]

    @display(description="Status", label=STATUS_COLOURS)
    def status_badge(self, obj: Publication) -> str:
        return obj.status

    @display(description="Link")
    def external_link(self, obj: Publication) -> str:
        return format_html('<a href="{}" target="_blank" rel="noopener">open</a>', obj.external_url) \
            if obj.external_url else "—"

    @display(description="Why it is blocked")
    def reasons(self, obj: Publication) -> str:
        if not obj.block_reasons:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join(
            "", "<li><code>{}</code> {}</li>", ((r.get("code"), r.get("message")) for r in obj.block_reasons)))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Status moves through services only; the form is for reading.
        return super().has_change_permission(request, obj) and (obj is None or obj.status in Publication.EDITABLE)

    @action(description="Cancel selected publications")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for pub in queryset:
            try:
                services.cancel(pub, actor=request.user)
                done += 1
            except ValidationError as exc:
                messages.error(request, f"#{pub.pk}: {' '.join(exc.messages)}")
        if done:
            messages.success(request, f"{done} publication(s) cancelled.")
