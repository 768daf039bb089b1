from __future__ import annotations

from rest_framework import exceptions
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer

from accounts import services
from accounts.api.filtersets import CreatorFilterSet
from accounts.api.serializers import CreatorSerializer
from accounts.api.viewsets import TenantModelViewSet, principal_of
from accounts.models import Creator


class CreatorViewSet(TenantModelViewSet):
    """Creators the caller may see. Only the agency owner creates or deletes creators."""

    queryset = Creator.objects.all()
    serializer_class = CreatorSerializer
    filterset_class = CreatorFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer: BaseSerializer) -> None:
        if not self.request.user.is_superuser or self.request.auth is not None:
            raise exceptions.PermissionDenied("Only the agency owner, signed in, creates creators.")
        creator = Creator(**serializer.validated_data)
        serializer.instance = services.save_creator(creator, actor=principal_of(self.request))

    def perform_update(self, serializer: BaseSerializer) -> None:
        creator = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(creator, field, value)
        services.save_creator(creator, actor=principal_of(self.request), changed=list(serializer.validated_data))


def register(router: BaseRouter) -> None:
    router.register("creators", CreatorViewSet, basename="creator")
