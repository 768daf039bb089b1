"""Writing audit events, with the request's actor, IP and id picked up from context.

Services call `record()` for every state change and every read of sensitive data. The request
middleware and the Celery task signals fill the context, so services need no request object.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from django.db import models

from accounts.actors import Actor, SystemActor
from accounts.models import ApiKey, AuditEvent, Creator


@dataclass(frozen=True)
class AuditContext:
    actor_id: int | None = None
    api_key_id: int | None = None
    actor_label: str = ""
    ip: str | None = None
    request_id: str = ""


_EMPTY = AuditContext()
_context: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("audit_context", default=None)


def set_context(ctx: AuditContext) -> contextvars.Token:
    return _context.set(ctx)


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)


def current_context() -> AuditContext:
    return _context.get() or _EMPTY


def _creator_id_of(obj: models.Model | None) -> int | None:
    if obj is None:
        return None

    if isinstance(obj, Creator):
        return obj.pk
    field = getattr(obj, "tenant_field", None)
    if not field or field == "pk":
        return None
    value: Any = obj
    for part in field.split("__"):
        value = getattr(value, part, None)
        if value is None or hasattr(value, "all"):  # a many-valued path: the caller names the creator
            return None
    return value.pk if isinstance(value, models.Model) else value


def build(
    action: str,
    obj: models.Model | None = None,
    *,
    creator_id: int | None = None,
    changes: dict[str, Any] | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """An unsaved event carrying the current context, for `record_many` (hot paths write a batch
    of events in one insert)."""
    ctx = current_context()
    return AuditEvent(
        actor_id=ctx.actor_id,
        api_key_id=ctx.api_key_id,
        actor_label=(actor_label or ctx.actor_label)[:100],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        creator_id=creator_id if creator_id is not None else _creator_id_of(obj),
        changes=changes or {},
        ip=ctx.ip,
        request_id=ctx.request_id,
    )


def record_many(events: list[AuditEvent]) -> None:
    if events:
        AuditEvent.objects.bulk_create(events, batch_size=500)


def record(
    action: str,
    obj: models.Model | None = None,
    *,
    creator_id: int | None = None,
    changes: dict[str, Any] | None = None,
    actor: Actor = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one event. `actor` overrides the context (e.g. a user acting outside a request); a
    `SystemActor` records no person, only its label."""
    ctx = current_context()
    actor_id = ctx.actor_id
    api_key_id = ctx.api_key_id
    if isinstance(actor, SystemActor):
        actor_id, api_key_id = None, None
        actor_label = actor_label or actor.label
    elif actor is not None:
        if isinstance(actor, ApiKey):
            api_key_id, actor_id = actor.pk, actor.owner_id
        else:
            actor_id, api_key_id = actor.pk, None
    return AuditEvent.objects.create(
        actor_id=actor_id,
        api_key_id=api_key_id,
        actor_label=(actor_label or ctx.actor_label)[:100],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        creator_id=creator_id if creator_id is not None else _creator_id_of(obj),
        changes=changes or {},
        ip=ctx.ip,
        request_id=ctx.request_id,
    )
