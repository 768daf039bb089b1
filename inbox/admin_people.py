"""Admin for the inbox's people side: the reporting events behind the chatter metrics (read-only), and
the pages wired through their admin — chatter performance and the message review.

Imported from `InboxConfig.ready()` (the chatter screen owns `inbox/admin.py`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path
from unfold.decorators import display

from accounts.admin_base import ReadOnlyAdminMixin, TenantModelAdmin
from core.money import format_money
from inbox import views_metrics, views_review
from inbox.models import ReportingEvent
from inbox.views_metrics import seconds_label


@admin.register(ReportingEvent)
class ReportingEventAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    list_display = ["at", "kind", "creator", "chatter", "response_time", "amount", "conversation"]
    list_filter = ["kind", "creator", "at"]
    list_select_related = ["creator", "chatter", "conversation__fan", "conversation__account"]
    ordering = ["-at", "-pk"]
    date_hierarchy = "at"

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [path("chatters/", site.admin_view(views_metrics.performance), name="inbox_chatter_performance"),
                path("review/", site.admin_view(views_review.review), name="inbox_message_review"),
                *super().get_urls()]

    @display(description="Response time")
    def response_time(self, obj: ReportingEvent) -> str:
        return seconds_label(obj.seconds) if obj.seconds is not None else "—"

    @display(description="Amount")
    def amount(self, obj: ReportingEvent) -> str:
        return format_money(obj.amount_minor, obj.currency) if obj.amount_minor is not None else "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
