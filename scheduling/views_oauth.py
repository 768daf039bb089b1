"""The two admin views of the OAuth connect flow: start (redirect to the platform) and callback.

Both are wired through `PlatformAccountAdmin.get_urls()` and `admin_site.admin_view`, and find the
account through the admin's own tenant-restricted queryset, so a staff member can only connect
accounts they may change. The work itself is in `scheduling.oauth`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse

from scheduling import oauth
from scheduling.models import PlatformAccount


def _account_for(model_admin: Any, request: HttpRequest, pk: int) -> PlatformAccount:
    account = model_admin.get_queryset(request).filter(pk=pk).first()
    if account is None:
        raise Http404("No such platform account.")
    if not model_admin.has_change_permission(request, account):
        raise PermissionDenied
    return account


def _change_url(account: PlatformAccount) -> str:
    return reverse("admin:scheduling_platformaccount_change", args=[account.pk])


def connect(request: HttpRequest, pk: int, *, model_admin: Any) -> HttpResponse:
    """Send the browser to the platform's consent page for this account."""
    account = _account_for(model_admin, request, pk)
    try:
        return HttpResponseRedirect(oauth.authorize_url(account, request))
    except oauth.OAuthError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(_change_url(account))


def callback(request: HttpRequest, *, model_admin: Any) -> HttpResponse:
    """Where the platform sends the browser back. The state says which account; only this session's
    own, unexpired state is accepted."""
    state = request.GET.get("state", "")
    account_id = oauth.pending_account_id(request.session, state)
    if account_id is None:
        return HttpResponseBadRequest("This sign-in answer does not match a connection started from this session, "
                                      "or it has expired. Open the account in Atelier and press Connect again.",
                                      content_type="text/plain")
    account = _account_for(model_admin, request, account_id)
    if request.GET.get("error"):
        # The person declined, or the platform refused the request: forget the attempt.
        pending = dict(request.session.get(oauth.SESSION_KEY) or {})
        pending.pop(state, None)
        request.session[oauth.SESSION_KEY] = pending
        detail = request.GET.get("error_description") or request.GET["error"]
        messages.error(request, f"{account.get_platform_display()} did not connect: {detail[:200]}")
        return HttpResponseRedirect(_change_url(account))
    try:
        oauth.complete(account, request.GET.get("code", ""), state, request.session, actor=request.user)
    except oauth.OAuthError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(_change_url(account))
    messages.success(request, f"{account} is connected.")
    return HttpResponseRedirect(_change_url(account))
