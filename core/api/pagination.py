"""Cursor pagination for every list of the API: pages seek on the whole ordering.

A cursor the client sends back that `encode_cursor` did not make is a 400 in the API's error format.
"""

from __future__ import annotations

import binascii
import json
from base64 import b64decode
from collections.abc import Sequence
from datetime import date, time
from typing import Any, cast
from urllib.parse import parse_qs

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Field, Model, Q, QuerySet
from rest_framework import exceptions, pagination
from rest_framework.pagination import _reverse_ordering
from rest_framework.request import Request

from core.api.fields import bounds_of
from core.api.instants import InstantOutOfRange, to_utc

INVALID_CURSOR = "The cursor is invalid: follow the `next` and `previous` links as the API gave them."


class CursorPagination(pagination.CursorPagination):
    """Cursor pages that seek on the whole ordering, which always ends with the primary key.

    DRF's cursor keeps only the first ordering field and steps over rows that share it with an
    offset capped at 1,000: on a list ordered by a value many rows share (a statement imported with
    date-only times puts a day's transactions at midnight) the walk would repeat one page forever.
    Here the position holds every ordering field, so a page is
    `a <= x AND (a < x OR (a = x AND id < y))`: the first term lets PostgreSQL start an index scan
    at the position, and page 1,000 costs what page 1 costs. Ordering fields must be non-null
    columns of the model; lists choose orderings an index serves.
    """

    ordering: str | list[str] | tuple[str, ...] = "-pk"
    page_size: int | None = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_ordering(self, request: Any, queryset: QuerySet[Any], view: Any) -> tuple[str, ...]:
        ordering = tuple(super().get_ordering(request, queryset, view))
        if ordering[-1].lstrip("-") not in ("pk", queryset.model._meta.pk.name):
            ordering += ("-pk" if ordering[-1].startswith("-") else "pk",)
        return ordering

    def paginate_queryset(self, queryset: QuerySet[Any], request: Any, view: Any = None) -> list[Any] | None:
        # DRF's method, with its first-field filter replaced by `_after` (the whole position).
        self.request = request
        page_size = self.page_size = self.get_page_size(request)
        if not page_size:
            return None
        self.base_url = request.build_absolute_uri()
        forwards = self.ordering = self.get_ordering(request, queryset, view)
        cursor = self.cursor = self.decode_cursor(request)
        offset, reverse = (cursor.offset, cursor.reverse) if cursor is not None else (0, False)
        # djangorestframework-stubs types the position as an int; it is the text `encode_cursor` wrote.
        current_position = cast(str | None, cursor.position if cursor is not None else None)
        ordering = _reverse_ordering(forwards) if reverse else forwards
        queryset = queryset.order_by(*ordering)
        if current_position is not None:
            queryset = queryset.filter(self._after(queryset.model, ordering, current_position))
        results = list(queryset[offset:offset + page_size + 1])
        page = self.page = list(results[:page_size])
        has_following_position = len(results) > len(page)
        following_position = (self._get_position_from_instance(results[-1], forwards)
                              if has_following_position else None)
        if reverse:
            page = self.page = list(reversed(page))
            self.has_next = current_position is not None or offset > 0
            self.has_previous = has_following_position
            if self.has_next:
                self.next_position = current_position
            if self.has_previous:
                self.previous_position = following_position
        else:
            self.has_next = has_following_position
            self.has_previous = current_position is not None or offset > 0
            if self.has_next:
                self.next_position = following_position
            if self.has_previous:
                self.previous_position = current_position
        if (self.has_previous or self.has_next) and self.template is not None:
            self.display_page_controls = True
        return page

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        """A cursor is opaque text from the client: anything but what `encode_cursor` made is a 400,
        never a missing page nor a value the database refuses (see `_position_values`)."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = parse_qs(b64decode(encoded.encode("ascii"), validate=True).decode("ascii"),
                              keep_blank_values=True)
            if not tokens or set(tokens) - {"o", "r", "p"}:
                raise exceptions.NotFound
            return super().decode_cursor(request)
        except (exceptions.NotFound, ValueError, binascii.Error):
            raise exceptions.ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None

    def _get_position_from_instance(self, instance: Any, ordering: Sequence[str]) -> str:
        values = [instance[name] if isinstance(instance, dict) else getattr(instance, name)
                  for name in (item.lstrip("-") for item in ordering)]
        return json.dumps([v.isoformat() if isinstance(v, date | time) else v for v in values], default=str)

    def _after(self, model: type[Model], ordering: tuple[str, ...], position: str) -> Q:
        """Rows that come after `position` in `ordering` (already reversed for a backwards page)."""
        names = [item.lstrip("-") for item in ordering]
        values = self._position_values(model, names, position)
        descending = [item.startswith("-") for item in ordering]
        after, tied = Q(), Q()
        for name, value, desc in zip(names, values, descending, strict=True):
            after |= tied & Q(**{f"{name}__{'lt' if desc else 'gt'}": value})
            tied &= Q(**{name: value})
        if len(names) == 1:
            return after
        return Q(**{f"{names[0]}__{'lte' if descending[0] else 'gte'}": values[0]}) & after

    def _position_values(self, model: type[Model], names: list[str], position: str) -> list[Any]:
        """The position's values as the fields' types; a forged or stale cursor is a bad request."""
        try:
            raw = json.loads(position)
            if not isinstance(raw, list) or len(raw) != len(names):
                raise ValueError("the position does not match the ordering")
            return [_checked(_field(model, name), value) for name, value in zip(names, raw, strict=True)]
        except (ValueError, TypeError, OverflowError, RecursionError, DjangoValidationError, InstantOutOfRange):
            raise exceptions.ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, Field):
        raise ValueError(f"{name} is a relation, not a column: a position cannot hold it")
    return field


def _checked(field: Field[Any, Any], raw: Any) -> Any:
    """One position value as its field's type, refused when the database could not compare it
    (NUL in text, an instant outside the calendar the API accepts, an integer beyond the column)."""
    if isinstance(raw, str) and "\x00" in raw:
        raise ValueError("NUL in a cursor")
    value = field.to_python(raw)
    if isinstance(field, models.DateTimeField) and value is not None:
        return to_utc(value)
    if isinstance(field, models.IntegerField | models.AutoField) and value is not None:
        bounds = bounds_of(field)
        if not bounds.get("min_value", value) <= value <= bounds.get("max_value", value):
            raise ValueError("an integer beyond the column")
    return value
