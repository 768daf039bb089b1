"""Filters for the scheduling API. Relations filter by id, never through a choice list: a choice
list would answer differently for an id that exists elsewhere and one that does not."""

import django_filters

from core.api.filters import BooleanFilter, FilterSet, IdFilter, UTCDateTimeFromToRangeFilter
from scheduling.models import Platform, PlatformAccount, Post, Publication, QueueSlot


class PlatformAccountFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")

    class Meta:
        model = PlatformAccount
        fields = ["creator", "platform", "state"]


class QueueSlotFilterSet(FilterSet):
    account = IdFilter(field_name="account_id", label="Platform account id")
    creator = IdFilter(field_name="account__creator_id", label="Creator id")

    class Meta:
        model = QueueSlot
        fields = ["account", "creator", "weekday"]


class PostFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    collection = IdFilter(field_name="collection_id", label="Collection id")
    approved = BooleanFilter(field_name="approved_at", lookup_expr="isnull", exclude=True,
                             label="Approved by a person")

    class Meta:
        model = Post
        fields = ["creator", "collection", "approved"]


class PublicationFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    account = IdFilter(field_name="account_id", label="Platform account id")
    post = IdFilter(field_name="post_id", label="Post id")
    platform = django_filters.ChoiceFilter(field_name="account__platform", choices=Platform.choices)
    # A column of this table: no join, so no DISTINCT (which would sort every matching row).
    status = django_filters.MultipleChoiceFilter(choices=Publication.Status.choices, distinct=False,
                                                 label="Status (repeat for several)")
    scheduled_at = UTCDateTimeFromToRangeFilter(
        label="Due between `scheduled_at_after` and `scheduled_at_before` (ISO datetimes, inclusive)")

    class Meta:
        model = Publication
        fields = ["creator", "account", "post", "platform", "status", "scheduled_at"]
