from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import permissions
from rest_framework.request import Request

from accounts.models import ApiKey


class IsStaffOrApiKey(permissions.BasePermission):
    """Staff sessions (two-factor confirmed when required) or an API key; which rows is tenancy's job."""

    message = "Sign in as staff or present an API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            if request.method not in permissions.SAFE_METHODS and request.auth.scope != ApiKey.Scope.WRITE:
                self.message = "This API key is read-only."
                return False
            return True
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        if settings.ATELIER_REQUIRE_2FA and not user.is_verified():
            self.message = "Confirm your two-factor code in the admin first."
            return False
        return True
