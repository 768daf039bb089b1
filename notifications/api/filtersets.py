"""Notifications API filters."""

from __future__ import annotations

import django_filters

from core.api.filters import FilterSet
from notifications.models import Notification, WebhookEndpoint


class WebhookEndpointFilterSet(FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label="Creator id")

    class Meta:
        model = WebhookEndpoint
        fields = ["creator", "active"]


class NotificationFilterSet(FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label="Creator id")
    open = django_filters.BooleanFilter(field_name="resolved_at", lookup_expr="isnull", label="Not yet resolved")

    class Meta:
        model = Notification
        fields = ["creator", "kind", "level", "open"]
