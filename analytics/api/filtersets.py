"""Filters for the analytics API. Creators filter by id, never through a choice list, so an id
out of reach and one that does not exist answer the same (an empty page)."""

from __future__ import annotations

import django_filters

from analytics.models import SOURCE_PLATFORMS, DailyRollup, Fan, Subscription, Transaction
from core.api.filters import FilterSet, IdFilter, UTCDateTimeFromToRangeFilter


class DailyRollupFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    platform = django_filters.ChoiceFilter(choices=SOURCE_PLATFORMS)
    day = django_filters.DateFromToRangeFilter(label="Days between `day_after` and `day_before` (inclusive)")

    class Meta:
        model = DailyRollup
        fields = ["creator", "platform", "day"]


class FanFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    platform = django_filters.ChoiceFilter(choices=SOURCE_PLATFORMS)
    segment = django_filters.ChoiceFilter(choices=Fan.Segment.choices)

    class Meta:
        model = Fan
        fields = ["creator", "platform", "segment"]


class SubscriptionFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    fan = IdFilter(field_name="fan_id", label="Fan id")
    platform = django_filters.ChoiceFilter(choices=SOURCE_PLATFORMS)
    started_at = UTCDateTimeFromToRangeFilter(
        label="Started between `started_at_after` and `started_at_before` (ISO datetimes)")

    class Meta:
        model = Subscription
        fields = ["creator", "fan", "platform", "started_at"]


class TransactionFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    fan = IdFilter(field_name="fan_id", label="Fan id")
    platform = django_filters.ChoiceFilter(choices=SOURCE_PLATFORMS)
    kind = django_filters.MultipleChoiceFilter(choices=Transaction.Kind.choices, distinct=False,
                                               label="Kind (repeat for several)")
    occurred_at = UTCDateTimeFromToRangeFilter(
        label="Occurred between `occurred_at_after` and `occurred_at_before` (ISO datetimes, inclusive)")

    class Meta:
        model = Transaction
        fields = ["creator", "fan", "platform", "kind", "occurred_at"]
