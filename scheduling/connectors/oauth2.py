"""OAuth 2.0 client details for the platforms we connect with the authorization-code + PKCE flow,
and the one call to a token endpoint that both the connect flow and token refresh use.

Errors from a token endpoint are mapped for the refresh job: `invalid_grant` (a revoked, expired
or already-used refresh token) is `AuthError`, so the account goes to "needs re-authorisation";
a bad client id/secret is `PermanentError` (our configuration, not the account's); 429/5xx and
network failures are `TransientError`. A timeout after a refresh request was sent is also treated
as transient: if the platform did rotate the single-use refresh token, the next attempt gets
`invalid_grant` and a person reconnects — no state is ever guessed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from core.platforms import Capability, with_capability
from scheduling.connectors.base import AuthError, PermanentError, TransientError
from scheduling.connectors.http import client, error_message, raise_for

# Platforms whose accounts are connected through this flow.
OAUTH_PLATFORMS = tuple(p.key for p in with_capability(Capability.OAUTH))


@dataclass(frozen=True)
class Provider:
    platform: str
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False, default="")
    scopes: tuple[str, ...] = ()
    redirect_uri: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.authorize_url and self.token_url)


def provider(platform: str) -> Provider:
    """The platform's OAuth client, read from settings at call time (tests override settings)."""
    if platform == "fanvue":
        return Provider("fanvue", settings.FANVUE_AUTH_URL, settings.FANVUE_TOKEN_URL, settings.FANVUE_CLIENT_ID,
                        settings.FANVUE_CLIENT_SECRET, tuple(settings.FANVUE_SCOPES), settings.FANVUE_REDIRECT_URI)
    if platform == "x":
        return Provider("x", settings.X_AUTH_URL, settings.X_TOKEN_URL, settings.X_CLIENT_ID,
                        settings.X_CLIENT_SECRET, tuple(settings.X_SCOPES), settings.X_REDIRECT_URI)
    raise LookupError(f"{platform!r} accounts are not connected through OAuth.")


def token_grant(prov: Provider, data: dict[str, str]) -> dict[str, Any]:
    """POST a grant to the token endpoint and return its JSON.

    Confidential clients authenticate with HTTP Basic (client_secret_basic), which both Fanvue and
    X accept; public clients (no secret) send `client_id` in the body as RFC 6749 §2.3 allows.
    """
    headers = {"Accept": "application/json"}
    body = dict(data)
    if prov.client_secret:
        pair = f"{prov.client_id}:{prov.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        body["client_id"] = prov.client_id
    timeout = getattr(settings, "OAUTH_TOKEN_TIMEOUT_SECONDS", 20)
    try:
        with client("", headers=headers, timeout=timeout) as http:
            response = http.post(prov.token_url, data=body)
    except httpx.TransportError as exc:
        raise TransientError(f"Could not reach the {prov.platform} token endpoint ({exc.__class__.__name__}).") from exc
    if response.status_code in (400, 401):
        code = _error_code(response)
        if code == "invalid_grant" or (code == "invalid_request" and data.get("grant_type") == "refresh_token"):
            # X answers a spent refresh token with invalid_request; Fanvue (Ory Hydra) with invalid_grant.
            raise AuthError(error_message(response), status=response.status_code)
        if code in ("invalid_client", "unauthorized_client"):
            raise PermanentError(f"The {prov.platform} app credentials were refused: {error_message(response)}",
                                 status=response.status_code)
    raise_for(response)
    try:
        payload = response.json()
    except ValueError as exc:
        raise TransientError(f"The {prov.platform} token endpoint answered without JSON.") from exc
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise PermanentError(f"The {prov.platform} token endpoint answered without an access token.")
    return payload


def credentials_from(token: dict[str, Any], *, previous: dict[str, Any] | None = None,
                     now: datetime | None = None) -> tuple[dict[str, Any], datetime | None, str | None]:
    """(credentials to store, expiry, granted scopes) from a token response.

    A refresh response may omit the refresh token (the old one stays valid) or the scope (unchanged),
    so both fall back to what was stored before.
    """
    now = now or timezone.now()
    previous = previous or {}
    expires_in = token.get("expires_in")
    expires_at = now + timedelta(seconds=int(expires_in)) if expires_in not in (None, "") else None
    scope = token.get("scope")
    credentials = {
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token") or previous.get("refresh_token", ""),
        "token_type": token.get("token_type", "bearer"),
        "scope": scope if scope is not None else previous.get("scope", ""),
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    return credentials, expires_at, scope


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
