"""Base classes every creator-owned ModelAdmin uses, so tenancy is never re-done by hand.

`TenantModelAdmin` narrows the changelist, object pages (404 for what is out of reach), FK and
M2M choices, autocomplete results and relation filters through `accounts.tenancy.restrict`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Field, Model, QuerySet
from django.http import Http404, HttpRequest
from django.utils.functional import cached_property
from unfold.admin import ModelAdmin

from accounts import tenancy


class TenantRelatedFilter(RelatedFieldListFilter):
    """Relation filter listing only related objects the viewer may see."""

    def field_choices(self, field: Field, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        related = field.related_model
        qs = related._default_manager.all()
        if hasattr(related, "tenant_field"):
            qs = tenancy.restrict(qs, request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            qs = qs.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in qs]


class EstimatedCountPaginator(Paginator):
    """Skips the full COUNT(*) on huge tables: PostgreSQL's planner estimate when it is large."""

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and connection.vendor == "postgresql" and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
                               [qs.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] > 100_000:
                return int(row[0])
        return super().count


class TenantAdminMixin:
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return tenancy.restrict(super().get_queryset(request), request.user)

    def _restrict_related(self, db_field: Field, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        related = db_field.related_model
        if "queryset" not in kwargs and hasattr(related, "tenant_field"):
            kwargs["queryset"] = tenancy.restrict(related._default_manager.all(), request.user)

    def formfield_for_foreignkey(self, db_field: Field, request: HttpRequest, **kwargs: Any):  # noqa: ANN201
        self._restrict_related(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Field, request: HttpRequest, **kwargs: Any):  # noqa: ANN201
        self._restrict_related(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> list:
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry:
                field = self.model._meta.get_field(entry)
                if field.is_relation and hasattr(field.related_model, "tenant_field"):
                    entry = (entry, TenantRelatedFilter)
            filters.append(entry)
        return filters

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> None:
        # Django redirects with "doesn't exist" for a missing object; out of reach must look the
        # same as missing, and both are a plain 404.
        raise Http404("No such object.")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):  # noqa: ANN201
        # Autocomplete for a FK on *another* model's form lands here with this admin's queryset,
        # already restricted by get_queryset; nothing more to do but keep the hook explicit.
        return super().get_search_results(request, queryset, search_term)


class TenantModelAdmin(TenantAdminMixin, ModelAdmin):
    paginator = EstimatedCountPaginator
    list_per_page = 50


def object_in_reach(request: HttpRequest, model: type[Model], pk: Any) -> Model:
    """Fetch one creator-owned object for a custom admin view, or 404."""
    obj = tenancy.restrict(model._default_manager.all(), request.user).filter(pk=pk).first()
    if obj is None:
        raise Http404("No such object.")
    return obj
