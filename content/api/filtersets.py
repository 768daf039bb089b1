"""Filters for the content API. Relations filter by id, never through a choice list: a choice
list would answer differently for an id that exists elsewhere and one that does not."""

import django_filters

from content.models import Asset, Collection, GenerationJob, GenerationUsage, PromptTemplate
from core.api.filters import FilterSet, IdFilter, UTCDateTimeFromToRangeFilter


class AssetFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact", label="Tag name")
    performer = IdFilter(field_name="performers__id", label="Performer id")

    class Meta:
        model = Asset
        fields = ["creator", "kind", "rating", "status", "origin", "processing"]


class CollectionFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")

    class Meta:
        model = Collection
        fields = ["creator", "kind"]


class PromptTemplateFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    category = IdFilter(field_name="category_id", label="Prompt category id")

    class Meta:
        model = PromptTemplate
        fields = ["creator", "category", "rating", "active"]


class GenerationJobFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    backend = IdFilter(field_name="backend_id", label="Backend id")
    template = IdFilter(field_name="template_id", label="Prompt template id")
    status = django_filters.MultipleChoiceFilter(choices=GenerationJob.Status.choices, distinct=False,
                                                 label="Status (repeat for several)")
    created_at = UTCDateTimeFromToRangeFilter(
        label="Created between `created_at_after` and `created_at_before` (ISO datetimes, inclusive)")

    class Meta:
        model = GenerationJob
        fields = ["creator", "kind", "status", "backend", "template", "created_at"]


class GenerationUsageFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    backend = IdFilter(field_name="backend_id", label="Backend id")
    at = django_filters.DateFromToRangeFilter(
        label="Between the days `at_after` and `at_before` (ISO dates, inclusive)")

    class Meta:
        model = GenerationUsage
        fields = ["creator", "backend", "kind", "at"]
