"""The one error format of the API, built in one place: the DRF exception handler.

Every error answers `{"error": {"code": ..., "message": ..., "details": ...}}` so integrations
parse one shape whatever went wrong (documented by `config.api_schema`). Views raise; they never
build an error body by hand. A service's refusal (Django's `ValidationError`) is a 400 whose
`details` hold its messages by field (`non_field_errors` when it names none). A view that gives a
refusal another meaning says so by raising: `invalid(exc, field)` to put it on one field,
`conflict(exc)` for a 409 (the current state does not allow it), `Refused(...)` for any other status
and code (the gate's 422, a screened prompt).
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


class Refused(exceptions.APIException):
    """A refusal with the status and code the view gives it (409 when the current state does not
    allow the change, 422 when the compliance gate says no…) and `details` carried into the envelope
    as they are. Views raise it; the exception handler answers it like every other error."""

    status_code: int = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = Conflict.default_detail

    def __init__(self, message: str, *, code: str = "conflict", http_status: int = status.HTTP_409_CONFLICT,
                 details: Any = None) -> None:
        super().__init__(message, code)
        self.status_code = http_status
        self.details = details


def conflict(exc: DjangoValidationError, *, code: str = "conflict", itemised: bool = False) -> Refused:
    """A service's refusal of the current state as a 409: its messages joined as the message and,
    `itemised`, each of them also in `details` as `{"code", "message"}`."""
    messages = exc.messages
    details = [{"code": code, "message": m} for m in messages] if itemised else None
    return Refused(" ".join(messages), code=code, details=details)


def invalid(exc: DjangoValidationError, field: str) -> exceptions.ValidationError:
    """A service's refusal as a 400 on one field: for a service that judges one input (the uploaded
    file, the upload key) and whose every message is about it. Without a field to name, raise nothing:
    the handler answers a refusal by its own fields (`non_field_errors` when it names none)."""
    return exceptions.ValidationError({field: exc.messages})


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


def envelope(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The body of every error answer."""
    return {"error": {"code": code, "message": message, "details": details}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _api_exception(exc)
    if isinstance(exc, Refused):
        # A refusal is an answer, not a failure: what the service recorded before saying no (its audit
        # event) stays, so the request's transaction is not marked for rollback as DRF's handler would.
        return Response(envelope(_code_for(exc), str(exc.detail), exc.details), status=exc.status_code)
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
    response.data = envelope(_code_for(exc), message, details)
    return response
