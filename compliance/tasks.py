"""Daily compliance jobs (declared in compliance/apps.py, synced into beat)."""

from __future__ import annotations

from celery import shared_task

from compliance import services


@shared_task(name="compliance.tasks.expire_consents")
def expire_consents() -> dict[str, int]:
    """Signal lapsed consents once and warn 30/7/1 days ahead; safe to run any number of times."""
    return services.expire_consents()


@shared_task(name="compliance.tasks.expire_verifications")
def expire_verifications() -> dict[str, int]:
    """Warn 30/7/1 days before an identity document lapses and record its lapse once; idempotent."""
    return services.expire_verifications()


@shared_task(name="compliance.tasks.sweep_orphan_documents")
def sweep_orphan_documents() -> int:
    return services.sweep_orphan_documents()
