"""`/api/v1/` routes of the scheduling app."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from scheduling.api import views


def register(router: BaseRouter) -> None:
    router.register("platform-accounts", views.PlatformAccountViewSet, basename="platform-account")
    router.register("queue-slots", views.QueueSlotViewSet, basename="queue-slot")
    router.register("posts", views.PostViewSet, basename="post")
    router.register("publications", views.PublicationViewSet, basename="publication")
    router.register("calendar", views.CalendarViewSet, basename="calendar")
