"""Notifications API: the notices staff see, and the signed webhook endpoints internal systems
register to receive them.

A signing secret is returned once, in the answer to create or rotate-secret, and never again: it is
stored encrypted and the receiver's owner must copy it then. An endpoint without a creator gets
every creator's events, so only agency owners (who reach every creator) may hold one."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from accounts import tenancy
from accounts.api.viewsets import TenantModelViewSet, TenantViewSetMixin, principal_of
from accounts.models import Creator
from notifications import services
from notifications.api.filtersets import NotificationFilterSet, WebhookEndpointFilterSet
from notifications.api.serializers import (
    NotificationSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)
from notifications.models import Notification, WebhookEndpoint


@extend_schema_view(
    list=extend_schema(summary="Webhook endpoints the caller may see (never their secrets)"),
    retrieve=extend_schema(summary="One webhook endpoint with its last delivery outcome"),
    partial_update=extend_schema(summary="Change name, URL, events or active"),
    update=extend_schema(summary="Change name, URL, events or active"),
)
class WebhookEndpointViewSet(TenantModelViewSet):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilterSet

    def _creator(self, creator_id: int | None) -> Creator | None:
        if creator_id is None:
            if tenancy.allowed_creator_ids(principal_of(self.request), WebhookEndpoint, "add") is not tenancy.ALL:
                raise exceptions.ValidationError(
                    {"creator": ["Only agency owners may receive every creator's events; name a creator."]})
            return None
        self.ensure_creator_writable(creator_id, WebhookEndpoint)
        return Creator.objects.get(pk=creator_id)

    @extend_schema(summary="Register an endpoint; the answer carries its signing secret, once",
                   responses={201: WebhookEndpointWithSecretSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        creator = self._creator(data.get("creator_id"))
        endpoint, secret = services.create_endpoint(creator, data["name"], data["url"], data["events"],
                                                    active=data.get("active", True), actor=principal_of(request))
        endpoint.secret = secret
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        endpoint: WebhookEndpoint = serializer.instance
        data = dict(serializer.validated_data)
        if "creator_id" in data and data.pop("creator_id") != endpoint.creator_id:
            raise exceptions.ValidationError({"creator": ["An endpoint stays with its creator."]})
        services.update_endpoint(endpoint, data, actor=principal_of(self.request))

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        services.delete_endpoint(instance, actor=principal_of(self.request))

    @extend_schema(summary="Replace the signing secret now; the answer carries the new one, once", request=None,
                   responses={200: WebhookEndpointWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret", filter_backends=[], pagination_class=None)
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        self._require_change(endpoint)
        endpoint.secret = services.rotate_secret(endpoint, actor=principal_of(request))
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)

    @extend_schema(summary="Queue a `webhook.test` event to this endpoint", request=None,
                   responses={202: WebhookEndpointSerializer})
    @action(detail=True, methods=["post"], url_path="test", filter_backends=[], pagination_class=None)
    def send_test(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        self._require_change(endpoint)
        services.send_test_event(endpoint, actor=principal_of(request))
        return Response(WebhookEndpointSerializer(endpoint).data, status=status.HTTP_202_ACCEPTED)

    def _require_change(self, endpoint: WebhookEndpoint) -> None:
        allowed = tenancy.restrict(WebhookEndpoint.objects.filter(pk=endpoint.pk), principal_of(self.request),
                                   "change")
        if not allowed.exists():
            raise exceptions.PermissionDenied("You may view this but not change it.")


@extend_schema_view(
    list=extend_schema(summary="Notices for the caller's creators, newest first (agency-wide ones for owners)"),
    retrieve=extend_schema(summary="One notice"),
)
class NotificationViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet

    @extend_schema(summary="Mark the notice resolved; the same condition may then be raised again",
                   request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        note = self.get_object()
        if not tenancy.restrict(Notification.objects.filter(pk=note.pk), principal_of(request), "change").exists():
            raise exceptions.PermissionDenied("You may view this but not change it.")
        services.resolve(note, actor=principal_of(request))
        return Response(NotificationSerializer(self.get_queryset().get(pk=note.pk)).data)


def register(router: BaseRouter) -> None:
    router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
    router.register("notifications", NotificationViewSet, basename="notification")
