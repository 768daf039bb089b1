"""`Idempotency-Key` for every POST of the API: a retried request is answered, not acted on twice.

A client that lost an answer (a timeout, a dropped connection) resends the same POST with the same key:
it gets the first answer again and no second row. The same key with another request is a mistake the
client must see (422); a retry that arrives while the first is still running is told to wait (409 with
`Retry-After`). Only successful answers are kept: any other answer frees the key, so a client may fix
its request and send it again under the same key.

Keys belong to their principal (an API key, or a signed-in user). Answers are kept `IDEMPOTENCY_KEY_HOURS`
and encrypted with the cipher an app registers (`set_cipher`), since some carry a secret shown once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.models import IdempotencyRecord

if TYPE_CHECKING:
    from django.http import QueryDict
    from rest_framework.views import APIView

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Longer than any request may run (the web server's timeout is 30 s): a claim older than this was
# abandoned by a request that died, and the key is free again.
LEASE = timedelta(seconds=120)

_cipher: tuple[Callable[[str], str], Callable[[str], str]] | None = None


def set_cipher(encrypt: Callable[[str], str], decrypt: Callable[[str], str]) -> None:
    """Register how stored answers are encrypted (an app with the key ring calls this when ready)."""
    global _cipher
    _cipher = (encrypt, decrypt)


def _get_cipher() -> tuple[Callable[[str], str], Callable[[str], str]]:
    if _cipher is None:
        raise ImproperlyConfigured("No cipher registered for stored API answers (core.idempotency.set_cipher).")
    return _cipher


class KeyInFlight(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_in_flight"
    default_detail = "A request with this Idempotency-Key is still being answered; retry in a moment."
    wait = 1  # DRF's handler turns this into `Retry-After: 1`


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = ("This Idempotency-Key was already used for a different request; use a new key for a new "
                      "request.")


class AnswerUnreadable(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_answer_unreadable"
    default_detail = ("This Idempotency-Key was already answered, but the answer can no longer be read (the "
                      "encryption key changed); check the result and use a new key.")


def principal_label(request: Request) -> str:
    """The owner of a key: the API key that authenticated the request, else the signed-in user."""
    auth = request.auth
    if auth is not None and getattr(auth, "pk", None) is not None:
        return f"{type(auth).__name__.lower()}:{auth.pk}"
    return f"user:{request.user.pk}"


def fingerprint(method: str, path: str, media_type: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), media_type.encode()):
        digest.update(part + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _body_of(request: Request) -> bytes:
    """The request's content for comparison. Multipart is compared field by field and file by file
    (its boundary changes between two sends of the same upload); anything else byte for byte."""
    if not request.content_type.startswith("multipart/"):
        return request.body
    digest = hashlib.sha256()
    data = cast("QueryDict", request.data)  # multipart data is a QueryDict; drf-stubs say dict
    for name, values in sorted(data.lists()):
        for value in values:
            digest.update(f"{name}\0{value}\0".encode())
    for name, files in sorted(request.FILES.lists()):
        for upload in files:
            digest.update(f"{name}\0{upload.name}\0{upload.size}\0".encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest().encode()


def _claim(principal: str, key: str, method: str, path: str, print_: str) -> IdempotencyRecord | HttpResponse:
    """Own the key for this request (a new row, or one whose time is up), or answer from what is stored."""
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(principal=principal, key=key, method=method, path=path,
                                                        fingerprint=print_, expires_at=now + LEASE)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
        if record is None:  # purged between our insert and our read
            continue
        if record.expires_at <= now:
            # An answer past its window, or a claim whose request died: whoever updates it first owns it.
            fields = {"method": method, "path": path, "fingerprint": print_, "state": IdempotencyRecord.State.IN_FLIGHT,
                      "status_code": None, "content_type": "", "response_encrypted": "", "created_at": now,
                      "expires_at": now + LEASE}
            if IdempotencyRecord.objects.filter(pk=record.pk, expires_at=record.expires_at).update(**fields):
                record.refresh_from_db()
                return record
            continue
        if record.fingerprint != print_:
            raise KeyReused()
        if record.state == IdempotencyRecord.State.IN_FLIGHT:
            raise KeyInFlight()
        return _replay(record)
    raise KeyInFlight()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    try:
        content = _get_cipher()[1](record.response_encrypted)
    except ImproperlyConfigured:
        raise
    except Exception:
        raise AnswerUnreadable() from None
    response = HttpResponse(content.encode(), status=record.status_code, content_type=record.content_type)
    response[REPLAYED_HEADER] = "true"
    return response


def _keep(record: IdempotencyRecord, response: HttpResponse) -> None:
    """Keep a successful answer for retries; free the key after any other."""
    if not 200 <= response.status_code < 300:
        IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).delete()
        return
    if hasattr(response, "render"):
        response.render()
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE, status_code=response.status_code,
        content_type=response.get("Content-Type", ""), response_encrypted=_get_cipher()[0](response.content.decode()),
        expires_at=timezone.now() + timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS))


# The mixin's methods extend APIView's; mypy sees that base, the runtime MRO puts the view's class there.
if TYPE_CHECKING:
    _ViewBase = APIView
else:
    _ViewBase = object


class IdempotentPostMixin(_ViewBase):
    """For a DRF view: every POST honours `Idempotency-Key`. Checked after authentication and permissions,
    before the handler runs, so a replay costs no work and a refusal changes nothing."""

    _idempotency_record: IdempotencyRecord | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
            raise exceptions.ValidationError({HEADER: [f"Use 1 to {MAX_KEY_LENGTH} characters, e.g. a UUID."]})
        claimed = _claim(principal_label(request), key, request.method, request.path,
                         fingerprint(request.method, request.get_full_path(), request.content_type, _body_of(request)))
        if isinstance(claimed, HttpResponse):
            # The handler for this request is the stored answer.
            setattr(self, request.method.lower(), lambda *a, **k: claimed)
        else:
            self._idempotency_record = claimed

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            _keep(record, response)
        return response

    def raise_uncaught_exception(self, exc: Exception) -> NoReturn:
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).delete()
        super().raise_uncaught_exception(exc)


def purge_expired(now: Any = None) -> int:
    """Delete answers past their window and abandoned claims; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
