from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts import services
from accounts.middleware import bind_api_principal


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer atl_…` — the request acts as the key's owner, within the key's scope."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme not in ("Bearer", "Api-Key") or not raw.startswith(f"{services.KEY_PREFIX}_"):
            return None
        key = services.authenticate_api_key(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown, expired or revoked API key.")
        bind_api_principal(request._request, key)
        return key.owner, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An Atelier API key: `atl_<prefix>_<secret>`."}
