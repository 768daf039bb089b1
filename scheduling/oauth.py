"""Connecting platform accounts with OAuth 2.0 (authorization code + PKCE) and keeping their
tokens fresh.

The connect flow keeps its secrets server-side: `state` and the PKCE `code_verifier` live in the
staff member's Django session, keyed by state, and are single-use. The callback is accepted only
for the state this session issued for this account, so a forged or replayed callback cannot
attach someone else's platform account.

Refresh runs ahead of expiry from one beat job. Refresh tokens are often single-use (Fanvue
rotates them; X does too), so each account is refreshed under a row lock taken with
`SKIP LOCKED`: a second worker skips the account instead of spending the same token twice, and
re-checks the expiry once it holds the lock. A transient failure never disconnects an account
(it counts `refresh_failures` and keeps `last_error`); only the platform refusing the grant
(`AuthError`) moves it to "needs re-authorisation".

Contract with connectors: `connector.refresh(ref)` returns the credentials to store (merged over
the old ones) — optionally with `expires_at` (ISO 8601) and `scope` — or None when the account
has nothing to refresh.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import audit
from accounts.actors import Actor
from scheduling import services
from scheduling.connectors import connector_for, oauth2
from scheduling.connectors.base import AuthError, ConnectorError, PermanentError, TransientError
from scheduling.models import PlatformAccount

logger = logging.getLogger(__name__)

SESSION_KEY = "scheduling_oauth_pending"
# A connect attempt left unfinished for longer than this is forgotten.
PENDING_TTL_SECONDS = 15 * 60
MAX_PENDING = 5


class OAuthError(Exception):
    """The connect flow cannot continue; the message is meant for the staff member."""


def supports_oauth(account: PlatformAccount) -> bool:
    return account.platform in oauth2.OAUTH_PLATFORMS


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636 §4.1–4.2."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect_uri_for(prov: oauth2.Provider, request: HttpRequest) -> str:
    """The callback registered with the platform: configured, or this site's own callback URL."""
    return prov.redirect_uri or request.build_absolute_uri(reverse("admin:scheduling_platformaccount_oauth_callback"))


def authorize_url(account: PlatformAccount, request: HttpRequest) -> str:
    """Start connecting `account`: remember state + verifier in the session, return where to send the browser."""
    if not supports_oauth(account):
        raise OAuthError(f"{account.get_platform_display()} accounts are not connected through OAuth.")
    prov = oauth2.provider(account.platform)
    if not prov.configured:
        raise OAuthError(f"The {account.get_platform_display()} app is not configured: set "
                         f"{account.platform.upper()}_CLIENT_ID and {account.platform.upper()}_CLIENT_SECRET.")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    redirect_uri = redirect_uri_for(prov, request)
    now = time.time()
    pending = {k: v for k, v in request.session.get(SESSION_KEY, {}).items()
               if now - v.get("created", 0) < PENDING_TTL_SECONDS}
    pending[state] = {"account": account.pk, "verifier": verifier, "redirect_uri": redirect_uri, "created": now}
    # Keep only the newest few: a session cannot grow without bound from repeated clicks.
    request.session[SESSION_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1]["created"])[-MAX_PENDING:])
    audit.record("platform_account.oauth_started", account, actor=request.user,
                 changes={"platform": account.platform})
    params = {"response_type": "code", "client_id": prov.client_id, "redirect_uri": redirect_uri,
              "scope": " ".join(prov.scopes), "state": state, "code_challenge": challenge,
              "code_challenge_method": "S256"}
    separator = "&" if "?" in prov.authorize_url else "?"
    return f"{prov.authorize_url}{separator}{urlencode(params)}"


def pending_account_id(session: Any, state: str | None) -> int | None:
    """Which account this session started connecting with `state` (None: unknown or expired)."""
    entry = (session.get(SESSION_KEY) or {}).get(state or "")
    if not entry or time.time() - entry.get("created", 0) >= PENDING_TTL_SECONDS:
        return None
    return int(entry["account"])


def complete(account: PlatformAccount, code: str, state: str, session: Any, *, actor: Actor = None) -> None:
    """Finish connecting: check state, exchange the code with the PKCE verifier, store the tokens.

    The state is consumed whatever happens next, so a callback URL works once. Tokens are stored
    encrypted through `services.store_credentials`, which audits and reconnects the account.
    """
    pending = dict(session.get(SESSION_KEY) or {})
    entry = pending.pop(state, None) if state else None
    session[SESSION_KEY] = pending
    if entry is None or entry.get("account") != account.pk \
            or time.time() - entry.get("created", 0) >= PENDING_TTL_SECONDS:
        audit.record("platform_account.oauth_refused", account, actor=actor, changes={"reason": "state"})
        raise OAuthError("This sign-in answer does not match a connection started here, or it has expired. "
                         "Start again with Connect.")
    if not code:
        raise OAuthError("The platform did not return an authorisation code.")
    prov = oauth2.provider(account.platform)
    try:
        token = oauth2.token_grant(prov, {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": entry["redirect_uri"], "code_verifier": entry["verifier"]})
    except ConnectorError as exc:
        raise OAuthError(f"{account.get_platform_display()} refused the sign-in: {exc.message}") from exc
    credentials, expires_at, scope = oauth2.credentials_from(token)
    services.store_credentials(account, credentials, expires_at=expires_at, scopes=scope or "", actor=actor)
    audit.record("platform_account.connected", account, actor=actor,
                 changes={"scopes": scope or "", "expires_at": expires_at.isoformat() if expires_at else None})


def refresh_account(account_id: int, *, due_before: datetime | None = None) -> str:
    """Refresh one account's token under its row lock. Returns what happened, for the task's tally.

    `due_before` makes the call a no-op when another worker refreshed the token meanwhile.
    """
    with transaction.atomic():
        account = (PlatformAccount.objects.select_for_update(skip_locked=True)
                   .filter(pk=account_id, state=PlatformAccount.State.CONNECTED).first())
        if account is None:
            return "skipped"
        if due_before is not None and (account.token_expires_at is None or account.token_expires_at > due_before):
            return "fresh"
        try:
            connector = connector_for(account.platform)
        except LookupError:
            return "no_connector"
        ref = services.account_ref(account, purpose="token_refresh")
        try:
            data = connector.refresh(ref)
        except AuthError as exc:
            services.mark_needs_reauth(account, f"Token refresh refused: {exc.message}")
            return "needs_reauth"
        except (TransientError, PermanentError) as exc:
            # Never a disconnect: the token may still work, and the next run tries again.
            PlatformAccount.objects.filter(pk=account.pk).update(
                refresh_failures=account.refresh_failures + 1, last_error=f"Token refresh failed: {exc.message}")
            audit.record("platform_account.refresh_failed", account, actor_label="task:refresh_tokens",
                         changes={"error": exc.message, "transient": isinstance(exc, TransientError)})
            return "failed"
        if data is None:
            return "not_refreshable"
        expires_at = _expiry(data.get("expires_at"))
        services.store_credentials(account, {**ref.credentials, **data}, expires_at=expires_at,
                                   scopes=data.get("scope"))
        return "refreshed"


def refresh_expiring(now: datetime | None = None, *, batch: int = 200) -> dict[str, int]:
    """Refresh every connected account whose token expires within SCHEDULING_REFRESH_AHEAD_SECONDS."""
    now = now or timezone.now()
    due_before = now + timedelta(seconds=settings.SCHEDULING_REFRESH_AHEAD_SECONDS)
    ids = list(PlatformAccount.objects.filter(state=PlatformAccount.State.CONNECTED,
                                              token_expires_at__lte=due_before)
               .exclude(credentials_encrypted="").order_by("token_expires_at").values_list("pk", flat=True)[:batch])
    tally: Counter[str] = Counter()
    for pk in ids:
        try:
            tally[refresh_account(pk, due_before=due_before)] += 1
        except Exception:  # one broken account must not stop the others; the task log keeps the trace
            logger.exception("Token refresh crashed for platform account %s", pk)
            tally["error"] += 1
    return dict(tally)


def _expiry(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parse_datetime(value)
    return None
