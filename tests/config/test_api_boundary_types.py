"""Every datetime the API reads goes through one field and one filter that normalise it to UTC and refuse
years out of range, and every JSON body through the parser that bounds nesting and refuses NUL.

Checked over every serializer and filterset the API modules define, so a new one that reaches for DRF's
or django-filter's plain datetime types fails here rather than in production."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import django_filters
import pytest
from django import forms
from django.urls import get_resolver
from django_filters.fields import IsoDateTimeRangeField
from rest_framework import serializers

from core.api.fields import UTCDateTimeField
from core.api.filters import IdFilter, UTCDateTimeFormField, UTCDateTimeRangeField, YesNoField
from core.api.parsers import JSONParser

ROOT = Path(__file__).resolve().parents[2]


def api_modules() -> list[str]:
    paths = [*ROOT.glob("*/api/*.py"), *ROOT.glob("*/api.py")]
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in paths if p.name != "__init__.py")


def defined_here(base: type) -> Iterator[type]:
    for name in api_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base) and value.__module__ == name:
                yield value


def fields_of(serializer: serializers.BaseSerializer, path: str) -> Iterator[tuple[str, serializers.Field]]:
    for name, field in serializer.fields.items():
        yield f"{path}.{name}", field
        child = getattr(field, "child", None)
        if isinstance(field, serializers.ListSerializer):
            child = field.child
        if isinstance(child, serializers.BaseSerializer):
            yield from fields_of(child, f"{path}.{name}[]")
        elif isinstance(field, serializers.BaseSerializer):
            yield from fields_of(field, f"{path}.{name}")


def test_every_serializer_datetime_is_a_utc_instant():
    plain = []
    serializer_classes = [cls for cls in defined_here(serializers.BaseSerializer)
                          if not issubclass(cls, serializers.ListSerializer)
                          and (hasattr(cls, "Meta") or not issubclass(cls, serializers.ModelSerializer))]
    assert len(serializer_classes) > 30
    for cls in serializer_classes:
        for path, field in fields_of(cls(), cls.__name__):
            if isinstance(field, serializers.DateTimeField) and not isinstance(field, UTCDateTimeField):
                plain.append(path)
    assert not plain, plain


def test_every_filterset_datetime_is_a_utc_instant():
    plain = []
    filtersets = list(defined_here(django_filters.FilterSet))
    assert len(filtersets) > 10
    for cls in filtersets:
        for name, flt in cls.base_filters.items():
            field_class = flt.field_class
            if issubclass(field_class, forms.DateTimeField) and not issubclass(field_class, UTCDateTimeFormField):
                plain.append(f"{cls.__name__}.{name}")
            if issubclass(field_class, IsoDateTimeRangeField) or (
                    "DateTimeRange" in field_class.__name__ and not issubclass(field_class, UTCDateTimeRangeField)):
                plain.append(f"{cls.__name__}.{name}")
    assert not plain, plain


def test_every_filterset_id_takes_whole_numbers_and_every_yes_no_refuses_what_is_neither():
    """`NumberFilter` reads 1.5 and the column rounds it (`creator=1.5` listed creator 1's rows); django-filter's
    yes/no reads a typo as "not asked" (`mine=yes` lifted the filter). Every filterset uses the strict ones."""
    loose = []
    for cls in defined_here(django_filters.FilterSet):
        for name, flt in cls.base_filters.items():
            if isinstance(flt, django_filters.NumberFilter) and issubclass(flt.field_class, forms.DecimalField):
                loose.append(f"{cls.__name__}.{name}")
            if isinstance(flt, django_filters.BooleanFilter) and not issubclass(flt.field_class, YesNoField):
                loose.append(f"{cls.__name__}.{name}")
    assert not loose, loose
    assert YesNoField().to_python(None) is None
    for value in ("yes", "maybe", "2"):
        with pytest.raises(forms.ValidationError):
            YesNoField().clean(value)
    with pytest.raises(forms.ValidationError):
        IdFilter().field.clean("1.5")


def test_every_api_view_parses_json_with_the_bounded_parser():
    loose = []
    for pattern in get_resolver().url_patterns:
        for view in _views(pattern):
            for parser in getattr(view, "parser_classes", []):
                if "json" in parser.media_type and not issubclass(parser, JSONParser):
                    loose.append(f"{view.__name__}: {parser.__name__}")
    assert not loose, loose


def _views(pattern) -> Iterator[type]:
    if hasattr(pattern, "url_patterns"):
        for sub in pattern.url_patterns:
            yield from _views(sub)
    else:
        cls = getattr(pattern.callback, "cls", None)
        if cls is not None:
            yield cls
