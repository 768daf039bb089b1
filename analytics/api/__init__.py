"""Analytics API: rollups, fans, subscriptions and transactions (read), webhook receivers."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from analytics.api import views


def register(router: BaseRouter) -> None:
    router.register("rollups", views.DailyRollupViewSet, basename="rollup")
    router.register("fans", views.FanViewSet, basename="fan")
    router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
    router.register("transactions", views.TransactionViewSet, basename="transaction")
    router.register("webhook-receivers", views.WebhookReceiverViewSet, basename="webhook-receiver")
