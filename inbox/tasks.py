"""The inbox's tasks: the send pipeline's moving parts (delivery runs, one task per message, the reaper and
the lookup of unknown outcomes) and the nightly purge. Thin: each calls a service module that keeps the rules
(`inbox.delivery`: messages are sent exactly like publications; `inbox.privacy`)."""

from __future__ import annotations

from celery import shared_task

from inbox import delivery, privacy


@shared_task(name="inbox.tasks.deliver_due", expires=9)
def deliver_due() -> int:
    """Every few seconds (control queue): hand queued messages whose time has come to workers."""
    return len(delivery.claim_due())


@shared_task(name="inbox.tasks.deliver", ignore_result=True, acks_late=True, max_retries=0,
             soft_time_limit=240, time_limit=300)
def deliver(message_id: int) -> str:
    """Never retried by Celery: retry timing is the row's (`next_attempt_at`), so a redelivered task finds
    the message no longer queued under a claim and does nothing."""
    return delivery.deliver(message_id)


@shared_task(name="inbox.tasks.reap_sending", ignore_result=True, expires=14)
def reap_sending() -> int:
    """Messages a killed worker left `sending` become `unknown` (looked up, never resent blindly)."""
    return delivery.reap_sending()


@shared_task(name="inbox.tasks.settle_unknown", ignore_result=True, expires=55, soft_time_limit=50,
             time_limit=58)
def settle_unknown() -> dict[str, int]:
    """Every minute: read back the chats of messages whose outcome is unknown."""
    return delivery.settle_unknown()



@shared_task(name="inbox.tasks.purge_expired_messages", ignore_result=True, expires=82800)
def purge_expired_messages() -> int:
    """Nightly: blank the words and media of messages past the retention period (idempotent)."""
    return privacy.purge_expired_messages()
