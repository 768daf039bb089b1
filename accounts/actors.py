"""Who acted: the type every service's `actor` argument takes, and the audit log records.

A person signed in to the admin (`User`), an API key acting for its owner (`ApiKey`), or the system
itself: a task, a signal receiver or a webhook, named by a `SystemActor` (or left as None with an
`actor_label` on the audit call, as older callers do). `AnonymousUser` is accepted because that is what
`request.user` may be; it counts as nobody, and the permission layer keeps it away from services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import ApiKey, User


@dataclass(frozen=True)
class SystemActor:
    """A task, signal or webhook acting on its own; the audit log shows its label (`task:expire_consents`)."""

    label: str


Actor: TypeAlias = "User | ApiKey | AnonymousUser | SystemActor | None"

# Who may be asked what they can reach (accounts.tenancy): a person or a key, never the system.
Principal: TypeAlias = "User | ApiKey | AnonymousUser"
