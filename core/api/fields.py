"""Serializer fields and the base serializer every API serializer derives from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from rest_framework import serializers

from core.api.instants import MAX_YEAR, MIN_YEAR, RANGE_MESSAGE, InstantOutOfRange, to_utc

# The widest integer column the schema uses (bigint).
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class UTCDateTimeField(serializers.DateTimeField):
    """An instant: any ISO 8601 offset in, UTC out (`…Z`); naive input is UTC; years out of range refused."""

    default_error_messages = {"out_of_range": InstantOutOfRange().args[0]}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> datetime:
        parsed = super().to_internal_value(value)
        try:
            return to_utc(parsed)
        except InstantOutOfRange:
            self.fail("out_of_range")
            raise  # unreachable: fail() raises


class DayField(serializers.DateField):
    """A calendar day in the years an instant may take (`core.api.instants`): a period built around it (the
    day after its end, a week before it, its midnight in any zone) is still a date, never an overflow."""

    default_error_messages = {"out_of_range": RANGE_MESSAGE}

    def to_internal_value(self, value: Any) -> date:
        day = super().to_internal_value(value)
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            self.fail("out_of_range")
        return day


class OptionalURLField(serializers.URLField):
    """A URL column that may be blank, shown as null rather than as "" (which no `uri` format accepts)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]  # null for blank, by design
        return value or None


def bounds_of(model_field: models.Field[Any, Any]) -> dict[str, int]:
    """`min_value`/`max_value` of an integer model field as the database enforces them."""
    bounds: dict[str, int] = {}
    for validator in model_field.validators:
        if isinstance(validator, MinValueValidator):
            bounds["min_value"] = max(bounds.get("min_value", BIGINT_MIN), validator.limit_value)
        elif isinstance(validator, MaxValueValidator):
            bounds["max_value"] = min(bounds.get("max_value", BIGINT_MAX), validator.limit_value)
    return bounds


def column_integer(model: type[models.Model], name: str, **kwargs: Any) -> serializers.IntegerField:
    """An IntegerField for a value stored in `model.name`: the column's range, narrowed by `kwargs`."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model._meta.label}.{name} is a relation, not a column.")
    bounds = bounds_of(field)
    for key, pick in (("min_value", max), ("max_value", min)):
        if key in kwargs and kwargs[key] is not None and key in bounds:
            kwargs[key] = pick(kwargs[key], bounds[key])
        elif key in bounds:
            kwargs[key] = bounds[key]
    return serializers.IntegerField(**kwargs)


class ModelSerializer(serializers.ModelSerializer[Any]):
    """Every model serializer of the API: datetimes as UTC instants."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateTimeField: UTCDateTimeField}
