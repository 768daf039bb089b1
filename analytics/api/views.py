"""Read endpoints for analytics. Viewsets are queryset + serializer + filterset: tenancy and the
error format come from the base classes; lists page by cursor on an indexed ordering."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from accounts import tenancy
from accounts.api.viewsets import TenantReadOnlyViewSet, TenantViewSetMixin, principal_of
from analytics import ingest
from analytics.admin_ingest import RECEIVER_URL_NAMES
from analytics.api.filtersets import (
    DailyRollupFilterSet,
    FanFilterSet,
    SubscriptionFilterSet,
    TransactionFilterSet,
)
from analytics.api.serializers import (
    DailyRollupSerializer,
    FanSerializer,
    SubscriptionSerializer,
    TransactionSerializer,
)
from analytics.models import DailyRollup, Fan, Subscription, Transaction, WebhookReceiver
from core.api import errors
from core.api.fields import ModelSerializer
from core.api.pagination import CursorPagination
from scheduling.models import PlatformAccount


class RollupPagination(CursorPagination):
    ordering = ("-day", "-id")


class TransactionPagination(CursorPagination):
    ordering = ("-occurred_at", "-id")


@extend_schema_view(list=extend_schema(summary="Daily rollups (creator × platform × local day), agency currency"),
                    retrieve=extend_schema(summary="One daily rollup"))
class DailyRollupViewSet(TenantReadOnlyViewSet):
    queryset = DailyRollup.objects.all()
    serializer_class = DailyRollupSerializer
    filterset_class = DailyRollupFilterSet
    pagination_class = RollupPagination


@extend_schema_view(list=extend_schema(summary="Fans (filter by creator, platform, segment)"),
                    retrieve=extend_schema(summary="One fan"))
class FanViewSet(TenantReadOnlyViewSet):
    queryset = Fan.objects.all()
    serializer_class = FanSerializer
    filterset_class = FanFilterSet


@extend_schema_view(list=extend_schema(summary="Subscriptions"), retrieve=extend_schema(summary="One subscription"))
class SubscriptionViewSet(TenantReadOnlyViewSet):
    queryset = Subscription.objects.all()
    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilterSet


@extend_schema_view(list=extend_schema(summary="Transactions, newest first; original amounts and currency"),
                    retrieve=extend_schema(summary="One transaction"))
class TransactionViewSet(TenantReadOnlyViewSet):
    queryset = Transaction.objects.all()
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilterSet
    pagination_class = TransactionPagination


class WebhookReceiverSerializer(ModelSerializer):
    account_id = serializers.IntegerField(read_only=True)
    platform = serializers.CharField(source="account.platform", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = WebhookReceiver
        fields = ["id", "account_id", "platform", "url", "created_at", "last_event_at"]

    def get_url(self, obj: WebhookReceiver) -> str:
        name = RECEIVER_URL_NAMES.get(obj.account.platform)
        if not name:
            return ""
        path = reverse(name, kwargs={"token": obj.token})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ReceiverCreateSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    secret = serializers.CharField(required=False, allow_blank=False, write_only=True,
                                   help_text="The platform's signing secret (Fanvue shows it in its developer area).")


class ReceiverSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(required=False, allow_blank=False, write_only=True)


@extend_schema_view(list=extend_schema(summary="Where each platform account's webhooks are received (no secrets)"),
                    retrieve=extend_schema(summary="One webhook receiver"))
class WebhookReceiverViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             viewsets.GenericViewSet):
    """Receiver URLs per platform account. The signing secret is returned once, on create or rotate."""

    queryset = WebhookReceiver.objects.select_related("account").order_by("pk")
    serializer_class = WebhookReceiverSerializer

    @extend_schema(summary="Open a receiver for a platform account; the secret is in this answer only",
                   request=ReceiverCreateSerializer, responses={201: WebhookReceiverSerializer})
    def create(self, request: Request) -> Response:
        incoming = ReceiverCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        account = tenancy.restrict(PlatformAccount.objects.all(), principal_of(request), "change").filter(
            pk=incoming.validated_data["account_id"]).first()
        if account is None:
            raise exceptions.ValidationError({"account_id": ["Unknown account."]})
        self.ensure_creator_writable(account.creator_id, WebhookReceiver)
        try:
            receiver, secret = ingest.create_receiver(account, secret=incoming.validated_data.get("secret"),
                                                      actor=principal_of(request))
        except DjangoValidationError as exc:
            raise errors.invalid(exc, "account_id") from None
        body = {**WebhookReceiverSerializer(receiver, context={"request": request}).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Replace the signing secret; the new one is in this answer only",
                   request=ReceiverSecretSerializer, responses={200: WebhookReceiverSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        receiver = self.get_object()
        if not tenancy.can_reach_creator(principal_of(request), receiver.account.creator_id, WebhookReceiver,
                                         "change"):
            raise exceptions.PermissionDenied("You may not change this receiver.")
        incoming = ReceiverSecretSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            secret = ingest.rotate_receiver_secret(receiver, secret=incoming.validated_data.get("secret"),
                                                   actor=principal_of(request))
        except DjangoValidationError as exc:
            raise errors.invalid(exc, "secret") from None
        return Response({**WebhookReceiverSerializer(receiver, context={"request": request}).data,
                         "secret": secret})


def register(router: BaseRouter) -> None:
    router.register("rollups", DailyRollupViewSet, basename="rollup")
    router.register("fans", FanViewSet, basename="fan")
    router.register("subscriptions", SubscriptionViewSet, basename="subscription")
    router.register("transactions", TransactionViewSet, basename="transaction")
    router.register("webhook-receivers", WebhookReceiverViewSet, basename="webhook-receiver")
