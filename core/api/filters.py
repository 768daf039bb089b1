"""Filters for the API's filtersets: datetimes read as UTC instants, refused out of range with 400."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters.fields import IsoDateTimeField, RangeField
from django_filters.widgets import BooleanWidget, DateRangeWidget

from core.api.instants import InstantOutOfRange, to_utc


class UTCDateTimeFormField(IsoDateTimeField):
    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return to_utc(parsed)
        except InstantOutOfRange as exc:
            raise forms.ValidationError(str(exc), code="out_of_range") from None


class UTCDateTimeRangeField(RangeField):
    widget = DateRangeWidget

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__((UTCDateTimeFormField(), UTCDateTimeFormField()), *args, **kwargs)


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeFormField


class UTCDateTimeFromToRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    field_class = UTCDateTimeRangeField


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number, or a 400. `NumberFilter` reads a decimal and the column rounds it, so `1.5`
    would answer with the rows of id 1. An id past any column finds nothing, like an id that does not exist."""

    field_class = forms.IntegerField


class YesNoWidget(BooleanWidget):
    """`true`/`false`/`1`/`0` as a yes or no; anything else is handed on as it came, for the field to refuse
    (django-filter's widgets read it as "not asked", so a typo silently lifted the filter)."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = super().value_from_datadict(data, files, name)
        raw = data.get(name)
        return raw if value is None and raw not in (None, "") else value


class YesNoField(forms.NullBooleanField):
    widget = YesNoWidget
    default_error_messages = {"invalid": "Use true or false."}

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # the stubs type NullBooleanField as BooleanField
        if isinstance(value, str):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return None if value is None else bool(value)


class BooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter: left out or empty, no filter; neither yes nor no, a 400."""

    field_class = YesNoField


class FilterSet(django_filters.FilterSet):
    """Every API filterset: a datetime filter generated from a model field is a UTC instant too."""

    FILTER_DEFAULTS = {**django_filters.FilterSet.FILTER_DEFAULTS,
                       models.DateTimeField: {"filter_class": UTCDateTimeFilter},
                       models.BooleanField: {"filter_class": BooleanFilter}}
