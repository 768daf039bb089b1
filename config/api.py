"""API plumbing shared by every app: pagination and the one error format (documented by `config.api_schema`).

Every error answers `{"error": {"code": ..., "message": ..., "details": ...}}` so integrations
parse one shape whatever went wrong.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models
from django.db.models import ProtectedError, QuerySet, RestrictedError
from django.http import Http404
from rest_framework import exceptions, pagination, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.api.fields import bounds_of
from core.api.instants import InstantOutOfRange, to_utc

INVALID_CURSOR = "The cursor is invalid: follow the `next` and `previous` links as the API gave them."


class CursorPagination(pagination.CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list | None:
        self._queryset = queryset  # the cursor's position is checked against the ordering's field
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        """A cursor is opaque text from the client: anything but a position of the ordering's type is a 400,
        never a missing page nor a value the database refuses."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = parse_qs(b64decode(encoded.encode("ascii"), validate=True).decode("ascii"),
                              keep_blank_values=True)
            if not tokens or set(tokens) - {"o", "r", "p"}:
                raise exceptions.NotFound
            cursor = super().decode_cursor(request)
        except (exceptions.NotFound, ValueError, binascii.Error):
            raise exceptions.ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if cursor is None or cursor.position is None:
            return cursor
        try:
            position = self._checked_position(cursor.position)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise exceptions.ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        return cursor._replace(position=position)

    def _checked_position(self, position: str) -> str:
        if "\x00" in position:
            raise ValueError(position)
        field = self._ordering_field()
        if field is None:
            return position
        value = field.to_python(position)
        if isinstance(field, models.DateTimeField):
            try:
                return str(to_utc(value))
            except InstantOutOfRange:
                raise ValueError(position) from None
        if isinstance(field, models.IntegerField):
            bounds = bounds_of(field)
            if not bounds.get("min_value", value) <= value <= bounds.get("max_value", value):
                raise ValueError(position)
        return position

    def _ordering_field(self) -> models.Field | None:
        name = self.ordering[0].lstrip("-")
        query = self._queryset.query
        if name in query.annotations:
            return query.annotations[name].output_field
        opts = self._queryset.model._meta
        return opts.pk if name == "pk" else opts.get_field(name)


def _code_for(exc: Exception) -> str:
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            return codes
        return "invalid" if isinstance(exc, exceptions.ValidationError) else exc.default_code
    return "error"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "This conflicts with the current state; read it again and retry."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is too large."


def _api_exception(exc: Exception) -> Exception:
    """Django's and the database's exceptions as the API answers them: the one place that decides."""
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # A row deleted while the request ran is as absent as one that never was.
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, ProtectedError | RestrictedError):
        return Conflict("Other records still use this one, so it cannot be deleted; remove them first.")
    if isinstance(exc, IntegrityError):
        # A concurrent request created the same unique row between our check and our insert.
        return Conflict("A record like this was just created or changed by another request; "
                        "read the current state and retry if it is still needed.")
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
                               f"upload files as multipart or through a presigned upload.")
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(str(exc) or "The request is malformed.")
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        message = "The request has invalid fields." if isinstance(data, dict) else "The request is invalid."
        details: Any = data
    else:
        message = str(data.get("detail", exc)) if isinstance(data, dict) else str(exc)
        details = None
    response.data = {"error": {"code": _code_for(exc), "message": message, "details": details}}
    return response


def error_response(http_status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    """An error answered rather than raised (when what happened before it must stay committed)."""
    return Response({"error": {"code": code, "message": message, "details": details}}, status=http_status,
                    headers=headers)

