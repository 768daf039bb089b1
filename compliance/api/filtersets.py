"""Filters of the compliance API.

Relations that cross a many-valued path (a performer's names, a performer's creators) filter by a
subquery of ids rather than a join, so one performer never comes back twice.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from compliance.models import CreatorPerformer, Performer, PerformerName, TakedownRequest
from core.api.filters import BooleanFilter, FilterSet, IdFilter, UTCDateTimeFilter


class PerformerFilterSet(FilterSet):
    name = django_filters.CharFilter(method="filter_name",
                                     label="Any name contains (legal, former legal, stage name or alias)")
    status = django_filters.ChoiceFilter(choices=Performer.Status.choices)
    creator = IdFilter(method="filter_creator", label="Linked to this creator id")

    class Meta:
        model = Performer
        fields = ["name", "status", "creator"]

    def filter_name(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Records must be retrievable under every name a performer used, not only the current one.
        value = value.strip()
        if not value:
            return queryset
        known_as = PerformerName.objects.filter(name__icontains=value).values("performer_id")
        return queryset.filter(Q(legal_name__icontains=value) | Q(pk__in=known_as))

    def filter_creator(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        # A plain number, not a model choice: an out-of-reach creator id gives an empty list, the
        # same answer as an id that does not exist.
        linked = CreatorPerformer.objects.filter(creator_id=value).values("performer_id")
        return queryset.filter(pk__in=linked)


class TakedownFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=TakedownRequest.Status.choices)
    kind = django_filters.ChoiceFilter(choices=TakedownRequest.Kind.choices)
    creator = IdFilter(field_name="creator_id", label="Creator id")
    is_open = BooleanFilter(method="filter_is_open", label="Still open or in progress")
    due_before = UTCDateTimeFilter(field_name="due_at", lookup_expr="lte",
                                                  label="Due at or before (ISO 8601)")

    class Meta:
        model = TakedownRequest
        fields = ["status", "kind", "creator", "is_open", "due_before"]

    def filter_is_open(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        open_statuses = list(TakedownRequest.OPEN_STATUSES)
        return queryset.filter(status__in=open_statuses) if value else queryset.exclude(status__in=open_statuses)
