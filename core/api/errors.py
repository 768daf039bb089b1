"""The one error format of the API, built in one place: the DRF exception handler.

Every error answers `{"error": {"code": ..., "message": ..., "details": ...}}` so integrations
parse one shape whatever went wrong (documented by `config.api_schema`). Views raise; they never
build an error body by hand. A service's refusal (Django's `ValidationError`) is a 400 whose
`details` hold its messages by field (`non_field_errors` when it names none); a view that must
name the field for a field-less refusal raises `refused(exc, field)`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


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

