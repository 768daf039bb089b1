"""Filters for the content API. Relations filter by id, never through a choice list: a choice
list would answer differently for an id that exists elsewhere and one that does not."""

import django_filters

from content.models import Asset, Collection
from core.api.filters import FilterSet


class AssetFilterSet(FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label="Creator id")
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact", label="Tag name")
    performer = django_filters.NumberFilter(field_name="performers__id", label="Performer id")

    class Meta:
        model = Asset
        fields = ["creator", "kind", "rating", "status", "origin", "processing"]


class CollectionFilterSet(FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label="Creator id")

    class Meta:
        model = Collection
        fields = ["creator", "kind"]
