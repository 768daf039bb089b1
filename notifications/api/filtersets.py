"""Notifications API filters."""

from __future__ import annotations

from core.api.filters import BooleanFilter, FilterSet, IdFilter
from notifications.models import Notification, WebhookEndpoint


class WebhookEndpointFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")

    class Meta:
        model = WebhookEndpoint
        fields = ["creator", "active"]


class NotificationFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    open = BooleanFilter(field_name="resolved_at", lookup_expr="isnull", label="Not yet resolved")

    class Meta:
        model = Notification
        fields = ["creator", "kind", "level", "open"]
