"""Signals scheduling acts on. Sent after the transaction commits, each carrying performer ids.

- consent_revoked(performer_ids: list[int], consent_id: int, revoked_at: datetime)
- consent_expired(performer_ids: list[int], consent_ids: list[int])
- takedown_opened(performer_ids: list[int], takedown_id: int, due_at: datetime, creator_id: int | None)
  (also sent when a closed request is reopened)
- takedown_closed(takedown_id: int, status: str, actor: User | None): the request was removed, rejected
  or closed; what it named is read through `compliance.services.takedown_named`.
- standing_changed(performer_ids: list[int], reason_code: str, message: str) — a fact the gate reads
  was corrected or lapsed (date of birth, status, an identity check, a superseding consent): what
  depicts these performers is judged again and handled like a revocation where it no longer passes.
- verification_expiring(performer_ids: list[int], verification_id: int, expires_on: date, days: int)
  — an approved identity check's document lapses soon: the people in charge are told.
"""

from django.dispatch import Signal

consent_revoked = Signal()
consent_expired = Signal()
takedown_opened = Signal()
takedown_closed = Signal()
standing_changed = Signal()
verification_expiring = Signal()
