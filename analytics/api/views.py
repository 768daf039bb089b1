"""Read endpoints for analytics. Viewsets are queryset + serializer + filterset: tenancy and the
error format come from the base classes; lists page by cursor on an indexed ordering."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view

from accounts.api.viewsets import TenantReadOnlyViewSet
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
from analytics.models import DailyRollup, Fan, Subscription, Transaction
from config.api import CursorPagination


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
