import django_filters

from accounts.models import Creator
from core.api.filters import FilterSet


class CreatorFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="stage_name", lookup_expr="icontains", label="Stage name contains")

    class Meta:
        model = Creator
        fields = ["kind", "status", "language"]
