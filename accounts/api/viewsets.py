"""Base viewset: every API queryset is restricted by tenancy, by construction.

Rows outside the principal's creators are absent (404). A row the principal can see but may not
change answers 403. New rows must name a creator the principal may add to.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import exceptions, viewsets
from rest_framework.request import Request

from accounts import tenancy
from accounts.actors import Principal
from core.idempotency import IdempotentPostMixin

ACTION_FOR_METHOD = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def principal_of(request: Request) -> Principal:
    """Who is asking: the API key when the request carries one, else the signed-in user."""
    auth: Any = request.auth
    principal: Principal = auth if auth is not None and hasattr(auth, "scope") else request.user
    return principal


class TenantViewSetMixin(IdempotentPostMixin):
    """Tenancy on every queryset and object check; every POST honours `Idempotency-Key`."""

    queryset: QuerySet

    def get_queryset(self) -> QuerySet:
        return tenancy.restrict(super().get_queryset(), principal_of(self.request), "view")

    def check_object_permissions(self, request: Any, obj: object) -> None:
        super().check_object_permissions(request, obj)
        action = ACTION_FOR_METHOD.get(request.method)
        # The browsable API asks about whatever an action answered (a verdict, a dict) to decide on
        # its form; only a row has a tenancy to check, and the action checked its own row already.
        if action is None or not isinstance(obj, Model):
            return
        allowed = tenancy.restrict(type(obj)._default_manager.filter(pk=obj.pk), principal_of(request), action)
        if not allowed.exists():
            raise exceptions.PermissionDenied("You may view this but not change it.")

    def ensure_creator_writable(self, creator_id: int | None, model: type[Model]) -> None:
        """For creates: the creator must be one the principal may add to, else it 'does not exist'."""
        if creator_id is None or not tenancy.can_reach_creator(principal_of(self.request), creator_id, model, "add"):
            raise exceptions.ValidationError({"creator": ["Unknown creator."]})


class TenantModelViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    pass


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
