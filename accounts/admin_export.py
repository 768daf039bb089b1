"""`export_as_csv`: a changelist action any ModelAdmin can add to download the selected rows.

    from accounts.admin_export import export_as_csv

    class FanAdmin(TenantModelAdmin):
        actions = [export_as_csv]
        export_fields = ["handle", "platform", "lifetime_spend_minor"]  # optional; default list_display

The rows are the queryset the changelist hands over (the selection, or every filtered row with
"select all"), narrowed again through tenancy for creator-owned models so a custom admin that
forgot its restriction still cannot leak. The response streams, so a large table never sits in
memory. Cells go through `core.csv`, which neutralises text a spreadsheet would run as a formula;
numbers are written as numbers, so a refund stays -500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import label_for_field, lookup_field
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.http import content_disposition_header
from django.utils.text import capfirst

from accounts import audit, tenancy
from core import csv

CHUNK = 2000

# A list_display entry: a field or attribute name, or a callable that takes the row.
Column = str | Callable[[Any], Any]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _columns(modeladmin: admin.ModelAdmin, request: HttpRequest) -> list[Column]:
    names = getattr(modeladmin, "export_fields", None) or modeladmin.get_list_display(request)
    return [n for n in names if n != "action_checkbox"]


def _value(name: Column, obj: Model, modeladmin: admin.ModelAdmin) -> Any:
    try:
        field, _attr, value = lookup_field(name, obj, modeladmin)
    except (AttributeError, ObjectDoesNotExist):
        return ""
    if field is not None and getattr(field, "flatchoices", None):
        return dict(field.flatchoices).get(value, value)
    if isinstance(value, Model):
        return str(value)
    # list_display columns may render HTML (badges, links); the file carries their text.
    return strip_tags(value) if isinstance(value, str) else value


def _rows(modeladmin: admin.ModelAdmin, columns: list[Column], queryset: QuerySet) -> Iterator[list[Any]]:
    yield [capfirst(str(label_for_field(name, queryset.model, modeladmin))) for name in columns]
    for obj in queryset.iterator(chunk_size=CHUNK):
        yield [_value(name, obj, modeladmin) for name in columns]


@admin.action(description="Export selected to CSV", permissions=["view"])
def export_as_csv(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
    """Stream the rows as CSV and audit who exported what (the model, never the content)."""
    model = queryset.model
    if tenancy.is_creator_owned(model):
        queryset = tenancy.restrict(queryset, request.user)
    select_related = getattr(modeladmin, "list_select_related", None)
    if isinstance(select_related, list | tuple):
        queryset = queryset.select_related(*select_related)
    elif select_related is True:
        queryset = queryset.select_related()
    columns = _columns(modeladmin, request)
    audit.record("admin.changelist_exported", actor=request.user,
                 changes={"model": model._meta.label_lower, "columns": columns,
                          "all_matching": request.POST.get("select_across") == "1"})
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in _rows(modeladmin, columns, queryset)),
                                     content_type="text/csv; charset=utf-8")
    filename = f"{model._meta.model_name}-{timezone.localdate():%Y%m%d}.csv"
    disposition = content_disposition_header(as_attachment=True, filename=filename)
    if disposition is not None:  # always a header for an attachment; None is for an inline file without a name
        response["Content-Disposition"] = disposition
    response["Cache-Control"] = "no-store, private, max-age=0"
    return response
