"""The admin site staff work in: unfold's site plus Atelier's own pages (two-factor, boards)."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from unfold.sites import UnfoldAdminSite

from accounts import views as account_views
from accounts.admin_export import export_as_csv


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
        ]
