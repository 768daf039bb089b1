"""State changes people make to analytics rows: alert rules, offers, tracking links, report
subscriptions, exchange rates, fan notes, webhook receivers, and processing a stored event again.

Ingestion (`analytics.ingest`), rollups and the offers tick write the data the platforms send; these
are the changes staff make by hand, from the admin or the API. Each validates, keeps to the
creators the actor reaches (a row with no creator is agency-wide, and the owner's alone), runs in
one transaction and writes its audit event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model

from accounts import audit, tenancy
from accounts.actors import Actor
from analytics import ingest
from analytics.models import (
    AlertRule,
    ExchangeRate,
    Fan,
    InboundEvent,
    Offer,
    ReportSubscription,
    TrackingLink,
    WebhookReceiver,
)


def _may(actor: Actor, model: type[Model], action: str, creator_id: int | None) -> bool:
    """None is the system. A row without a creator belongs to whoever reaches every creator (the owner)."""
    if actor is None:
        return True
    ids = tenancy.allowed_creator_ids(actor, model, action)
    if ids is tenancy.ALL:
        return True
    return creator_id is not None and creator_id in ids


def _ensure(actor: Actor, row: Model, action: str) -> None:
    creator_id = getattr(row, "creator_id", None)
    if creator_id is None and hasattr(row, "account"):
        creator_id = row.account.creator_id
    if not _may(actor, type(row), action, creator_id):
        what = "agency-wide rows" if creator_id is None else "this creator's rows"
        raise PermissionDenied(f"You may not {action} {what} of {type(row)._meta.verbose_name_plural}.")


RowT = TypeVar("RowT", bound=Model)


def _save(row: RowT, *, actor: Actor, action: str, changed: Iterable[str] | None, **extra: Any) -> RowT:
    adding = row._state.adding
    _ensure(actor, row, "add" if adding else "change")
    row.full_clean()
    row.save()
    audit.record(f"{action}.created" if adding else f"{action}.updated", row, actor=actor,
                 changes={"fields": sorted(changed or []), **extra})
    return row


def _delete(row: Model, *, actor: Actor, action: str, **extra: Any) -> None:
    _ensure(actor, row, "delete")
    audit.record(f"{action}.deleted", row, actor=actor, changes=extra)
    row.delete()


# --- Alert rules ------------------------------------------------------------------------------------------


@transaction.atomic
def save_alert_rule(rule: AlertRule, *, actor: Actor = None, changed: Iterable[str] | None = None) -> AlertRule:
    """A rule without a creator watches every creator: the owner's to set. Audits `alert_rule.*`."""
    return _save(rule, actor=actor, action="alert_rule", changed=changed, kind=rule.kind)


@transaction.atomic
def delete_alert_rule(rule: AlertRule, *, actor: Actor = None) -> None:
    _delete(rule, actor=actor, action="alert_rule", kind=rule.kind)


# --- Offers -----------------------------------------------------------------------------------------------


def _check_offer(offer: Offer) -> None:
    if offer.account_id and offer.creator_id and offer.account.creator_id != offer.creator_id:
        raise ValidationError({"account": "The offer runs on one of its creator's own accounts."})


@transaction.atomic
def save_offer(offer: Offer, *, actor: Actor = None, changed: Iterable[str] | None = None) -> Offer:
    """Plan an offer, or change one that has not started: once the tick has started it, it is live on
    the platform and what it says must stay what staff switched on. Audits `offer.*`."""
    if not offer._state.adding:
        stored = Offer.objects.select_for_update().get(pk=offer.pk)
        if stored.status != Offer.Status.SCHEDULED:
            raise ValidationError(f"This offer is {stored.get_status_display().lower()}: only a scheduled offer "
                                  "can be changed.")
        offer.status = stored.status
    else:
        offer.status = Offer.Status.SCHEDULED
    _check_offer(offer)
    return _save(offer, actor=actor, action="offer", changed=changed, account=offer.account_id)


@transaction.atomic
def delete_offer(offer: Offer, *, actor: Actor = None) -> None:
    stored = Offer.objects.select_for_update().get(pk=offer.pk)
    if stored.status != Offer.Status.SCHEDULED:
        raise ValidationError("Only an offer that has not started can be deleted.")
    _delete(stored, actor=actor, action="offer", name_length=len(stored.name))


# --- Tracking links -----------------------------------------------------------------------------------------


@transaction.atomic
def save_tracking_link(link: TrackingLink, *, actor: Actor = None,
                       changed: Iterable[str] | None = None) -> TrackingLink:
    if link.account is not None and link.account.creator_id != link.creator_id:
        raise ValidationError({"account": "A tracking link points at one of its creator's own accounts."})
    return _save(link, actor=actor, action="tracking_link", changed=changed)


@transaction.atomic
def delete_tracking_link(link: TrackingLink, *, actor: Actor = None) -> None:
    _delete(link, actor=actor, action="tracking_link")


# --- Report subscriptions -------------------------------------------------------------------------------------


@transaction.atomic
def save_report_subscription(subscription: ReportSubscription, *, actor: Actor = None,
                             changed: Iterable[str] | None = None) -> ReportSubscription:
    """The owner subscribes anyone, agency-wide included; everyone else subscribes themselves to a
    creator they reach (a report carries that creator's money). Audits `report_subscription.*`."""
    owner = actor is None or tenancy.allowed_creator_ids(actor, ReportSubscription, "add") is tenancy.ALL
    if not owner and subscription.user_id != getattr(actor, "pk", None):
        raise PermissionDenied("You subscribe yourself; the owner subscribes others.")
    return _save(subscription, actor=actor, action="report_subscription", changed=changed,
                 period=subscription.period, format=subscription.format)


@transaction.atomic
def delete_report_subscription(subscription: ReportSubscription, *, actor: Actor = None) -> None:
    _delete(subscription, actor=actor, action="report_subscription")


# --- Exchange rates ------------------------------------------------------------------------------------------


@transaction.atomic
def save_exchange_rate(rate: ExchangeRate, *, actor: Actor = None,
                       changed: Iterable[str] | None = None) -> ExchangeRate:
    """Agency data, decided by the model permission (no creator). The next rollup of the days it
    covers uses it. Audits `exchange_rate.*` with the currency, day and rate."""
    adding = rate._state.adding
    rate.full_clean()
    rate.save()
    audit.record("exchange_rate.created" if adding else "exchange_rate.updated", rate, actor=actor,
                 changes={"fields": sorted(changed or []), "currency": rate.currency, "day": rate.day.isoformat(),
                          "rate": str(rate.rate)})
    return rate


@transaction.atomic
def delete_exchange_rate(rate: ExchangeRate, *, actor: Actor = None) -> None:
    audit.record("exchange_rate.deleted", rate, actor=actor,
                 changes={"currency": rate.currency, "day": rate.day.isoformat(), "rate": str(rate.rate)})
    rate.delete()


# --- Fans -------------------------------------------------------------------------------------------------


@transaction.atomic
def update_fan_notes(fan: Fan, *, tags: Any, notes: str, actor: Actor = None) -> Fan:
    """A chatter's or manager's own notes on a fan; everything else about a fan comes from the platform.
    Audits `fan.notes_changed` (which fields, never the notes: they are about a person)."""
    _ensure(actor, fan, "change")
    locked = Fan.objects.select_for_update().get(pk=fan.pk)
    changed = [name for name, value in (("tags", tags), ("notes", notes)) if getattr(locked, name) != value]
    locked.tags, locked.notes = tags, notes
    locked.full_clean()
    locked.save(update_fields=["tags", "notes"])
    audit.record("fan.notes_changed", locked, actor=actor, changes={"fields": changed})
    fan.tags, fan.notes = locked.tags, locked.notes
    return locked


# --- Webhook receivers and their events ------------------------------------------------------------------------


@transaction.atomic
def delete_receiver(receiver: WebhookReceiver, *, actor: Actor = None) -> None:
    """Close a receiver: its URL answers 404 from now on, and the platform's retries go nowhere."""
    _delete(receiver, actor=actor, action="analytics.webhook_receiver", account=receiver.account_id)


def reprocess_event(event: InboundEvent, *, actor: Actor = None) -> str:
    """Process a stored webhook again at a person's request (after a fix, or a fan that was missing).
    Processing is idempotent; the request is audited `inbound_event.reprocessed` with its outcome."""
    _ensure(actor, event, "change")
    outcome = ingest.process_event(event.pk)
    audit.record("inbound_event.reprocessed", event, actor=actor, changes={"outcome": outcome})
    return outcome
