import django_filters

from accounts.models import Creator


class CreatorFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="stage_name", lookup_expr="icontains", label="Stage name contains")

    class Meta:
        model = Creator
        fields = ["kind", "status", "language"]
