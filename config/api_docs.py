"""The OpenAPI schema and its Swagger UI page, for staff and API keys only.

The schema is a map of every endpoint, filter and field: useful to whoever probes the API, so it
is served to the same people the API serves (a staff session or an API key, `IsStaffOrApiKey`).
The docs page is a browser page, so someone signed out is sent to the admin login instead of
getting a JSON error. Swagger UI's files come from our own static files and its start-up script
from a second request, so the page runs under the Content-Security-Policy without inline script.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from accounts.api.permissions import IsStaffOrApiKey


class _JsonErrors:
    """Refusals in the API's one JSON error shape, whatever the page itself renders (YAML, HTML)."""

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = JSONRenderer.media_type  # type: ignore[attr-defined]
        return response


class SchemaView(_JsonErrors, SpectacularAPIView):
    permission_classes = [IsStaffOrApiKey]


class DocsView(_JsonErrors, SpectacularSwaggerSplitView):
    permission_classes = [IsStaffOrApiKey]
    url_name = "api-schema"

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed) \
                and "Authorization" not in self.request.headers:
            return redirect_to_login(self.request.get_full_path(), reverse("admin:login"))
        return super().handle_exception(exc)
