"""The admin site staff work in: unfold's site plus Atelier's own pages (two-factor, boards)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from unfold.sites import UnfoldAdminSite

from accounts import views as account_views
from accounts.admin_export import export_as_csv
from config import hub, views_search
from inbox import views as inbox_views


class AtelierAdminSite(UnfoldAdminSite):
    site_title = "Atelier"
    site_header = "Atelier"
    index_title = "Dashboard"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        # Every changelist can be exported (tenancy re-applied, the export audited).
        self.add_action(export_as_csv, "export_as_csv")

    def extra_urls(self) -> list[URLPattern]:
        return [
            path("2fa/", account_views.two_factor, name="two_factor"),
            path("2fa/setup/", self.admin_view(account_views.two_factor_setup), name="two_factor_setup"),
            path("creators/<int:creator_id>/hub/", self.admin_view(self.creator_hub), name="creator_hub"),
            # The chatter's screen at /admin/inbox/ (ahead of the app index that URL would otherwise be).
            *inbox_views.urls(self),
        ]

    def search(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """`admin:search`: the sidebar and command palette ask with `s`, the full results page with `q`."""
        if "s" in request.GET:
            return views_search.fragment(self, request)
        return views_search.page(self, request)

    def creator_hub(self, request: HttpRequest, creator_id: int) -> HttpResponse:
        return hub.hub(self, request, creator_id)
