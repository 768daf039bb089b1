"""Request context for the audit log, the viewer's timezone, and the optional two-factor requirement for staff."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from accounts.audit import AuditContext, reset_context, set_context


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is trivially forged unless a known proxy sets it, and
    # gunicorn behind a proxy should be configured with --forwarded-allow-ips instead.
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        actor_id = user.pk if user is not None and user.is_authenticated else None
        token = set_context(AuditContext(actor_id=actor_id, ip=client_ip(request),
                                         request_id=getattr(request, "request_id", "")))
        try:
            return self.get_response(request)
        finally:
            reset_context(token)


class ViewerTimezoneMiddleware:
    """Times on admin pages in the zone the signed-in person set on their account, else the agency's
    (`AGENCY_TIMEZONE`). Creator-owned columns that say "creator's time" use the creator's zone instead."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        name = (getattr(user, "timezone", "") if user is not None and user.is_authenticated else "") or \
            settings.AGENCY_TIMEZONE
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # validated on save; an old row may predate that
            zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def bind_api_principal(request: HttpRequest, api_key) -> None:  # noqa: ANN001
    """API key auth happens inside DRF, after middleware: refresh the audit context then."""
    set_context(AuditContext(actor_id=api_key.owner_id, api_key_id=api_key.pk, ip=client_ip(request),
                             request_id=getattr(request, "request_id", "")))


class RequireTwoFactorMiddleware:
    """With ATELIER_REQUIRE_2FA, a signed-in staff session must confirm a TOTP code first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.ATELIER_REQUIRE_2FA and request.path.startswith("/admin/"):
            user = request.user
            exempt = (reverse("admin:login"), reverse("admin:logout"), reverse("admin:two_factor"),
                      reverse("admin:two_factor_setup"))
            if user.is_authenticated and not user.is_verified() and request.path not in exempt:
                return HttpResponseRedirect(f"{reverse('admin:two_factor')}?next={request.path}")
        return self.get_response(request)
