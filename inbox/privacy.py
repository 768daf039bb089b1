"""Fans' messages are personal data: how long the inbox keeps them, a fan's data export and erasure.

- Retention (GDPR art. 5(1)(e), storage limitation): the words and media of a message older than
  `INBOX_RETENTION_DAYS` are purged every night: text, raw platform payload and vault links go; the row
  stays with its direction, times, price, currency, purchase and sender, so counts, chatter metrics and
  money facts stay true. Running it twice purges nothing more.
- Export (art. 15 and 20): everything the inbox holds about one fan as JSON — the fan, conversations,
  messages, notes and purchases.
- Erasure (art. 17): personal fields blanked, notes deleted, messages emptied; the ledger keeps its
  amounts (tax and accounting law require them), attached to a fan row that no longer says who it was.

Every export and erasure writes an audit event; callers pass a fan they reached through tenancy and
check the permission (`PRIVACY_PERMISSION`: managers and the owner).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from analytics.models import Fan, Subscription, Transaction
from inbox.models import AIDraft, Conversation, FanNote, Message

# Who may export or erase a fan's data: the permission to delete conversations (managers, the owner).
PRIVACY_PERMISSION = "inbox.delete_conversation"
PURGE_BATCH = 2000
ERASED_PREFIX = "erased:"

MessageAsset = Message.assets.through


# --- Retention --------------------------------------------------------------------------------------------


def retention_days() -> int:
    days = int(settings.INBOX_RETENTION_DAYS)
    if days < 1:
        raise ImproperlyConfigured("INBOX_RETENTION_DAYS must be at least 1.")
    return days


def _has_content() -> Q:
    return ~Q(text="") | ~Q(raw={}) | Q(pk__in=MessageAsset.objects.values("message_id"))


def purge_expired_messages(now: datetime | None = None, *, days: int | None = None) -> int:
    """Blank the text, raw payload and media links of messages older than the retention period.

    Keeps every row and its facts (direction, times, price, purchase, sender). Works in batches, each
    its own transaction, so a long backlog never holds one lock for long; returns how many messages
    were purged (0 on a second run)."""
    cutoff = (now or timezone.now()) - timedelta(days=days if days is not None else retention_days())
    purged, last_pk = 0, 0
    while True:
        # Walk forward by id: each batch starts where the last one ended instead of rescanning purged rows.
        ids = list(Message.objects.filter(created_at__lt=cutoff, pk__gt=last_pk).filter(_has_content())
                   .order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            break
        last_pk = ids[-1]
        with transaction.atomic():
            MessageAsset.objects.filter(message_id__in=ids).delete()
            purged += Message.objects.filter(pk__in=ids).update(text="", raw={})
    drafts = AIDraft.objects.filter(created_at__lt=cutoff).exclude(text="").update(text="", screening={})
    if purged or drafts:
        audit.record("inbox.retention.purged", changes={"messages": purged, "drafts": drafts,
                                                        "before": cutoff.isoformat()},
                     actor_label="inbox retention")
    return purged


# --- Export -----------------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_fan(fan: Fan, *, actor: Actor) -> dict[str, Any]:
    """Everything the inbox and the ledger hold about one fan, as JSON-ready data. Audited."""
    conversations = list(Conversation.objects.filter(fan=fan).select_related("account").order_by("pk"))
    messages = (Message.objects.filter(conversation__fan=fan).select_related("sent_by")
                .prefetch_related("assets").order_by("conversation_id", "created_at", "pk"))
    data = {
        "fan": {"id": fan.pk, "creator": fan.creator.stage_name, "platform": fan.platform,
                "external_id": fan.external_id, "handle": fan.handle, "first_seen": _iso(fan.first_seen),
                "last_seen": _iso(fan.last_seen), "lifetime_spend_minor": fan.lifetime_spend_minor,
                "segment": fan.segment, "tags": fan.tags, "notes": fan.notes},
        "conversations": [
            {"id": c.pk, "platform": c.account.platform, "account": c.account.handle, "status": c.status,
             "created_at": _iso(c.created_at), "last_message_at": _iso(c.last_message_at)}
            for c in conversations],
        "messages": [
            {"id": m.pk, "conversation": m.conversation_id, "direction": m.direction, "text": m.text,
             "media": [a.pk for a in m.assets.all()], "price_minor": m.price_minor, "currency": m.currency,
             "purchased_at": _iso(m.purchased_at), "sent_at": _iso(m.sent_at or m.created_at),
             "read_at": _iso(m.read_at), "written_by": _writer(m)}
            for m in messages.iterator(chunk_size=1000)],
        "notes": [{"id": n.pk, "text": n.text, "created_at": _iso(n.created_at)}
                  for n in FanNote.objects.filter(fan=fan).order_by("created_at", "pk")],
        "purchases": [
            {"id": t.pk, "kind": t.kind, "gross_minor": t.gross_minor, "currency": t.currency,
             "occurred_at": _iso(t.occurred_at), "platform": t.platform}
            for t in Transaction.objects.filter(fan=fan).order_by("occurred_at", "pk")],
        "subscriptions": [
            {"id": s.pk, "platform": s.platform, "started_at": _iso(s.started_at), "ends_at": _iso(s.ends_at),
             "price_minor": s.price_minor, "currency": s.currency, "cancelled_at": _iso(s.cancelled_at)}
            for s in Subscription.objects.filter(fan=fan).order_by("started_at", "pk")],
    }
    audit.record("inbox.fan.exported", fan, actor=actor,
                 changes={"conversations": len(data["conversations"]), "messages": len(data["messages"])})
    return data


def _writer(message: Message) -> str:
    if message.direction == Message.Direction.IN:
        return "fan"
    if message.sent_by is not None:
        return f"{message.get_origin_display()}: {message.sent_by.get_username()}"
    return message.get_origin_display()


# --- Erasure ----------------------------------------------------------------------------------------------


def erase_fan(fan: Fan, *, actor: Actor, reason: str) -> dict[str, int]:
    """Erase one fan's personal data on a data-subject request. Idempotent.

    Blanks the fan's handle, tags and notes and replaces the platform id (a later message from the same
    person starts a new fan), deletes notes written about them, empties every message and draft of their
    conversations (internal notes in the thread are deleted), and keeps the ledger's amounts on the
    anonymised row. Audits `inbox.fan.erased` with the counts and the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the fan's data is erased (e.g. the request's reference)."})
    with transaction.atomic():
        locked = Fan.objects.select_for_update().get(pk=fan.pk)
        thread = Message.objects.filter(conversation__fan=locked)
        notes_in_thread = thread.filter(direction=Message.Direction.NOTE)
        deleted_thread_notes = notes_in_thread.delete()[0]
        thread_ids = list(thread.values_list("pk", flat=True))
        MessageAsset.objects.filter(message_id__in=thread_ids).delete()
        emptied = Message.objects.filter(pk__in=thread_ids).filter(~Q(text="") | ~Q(raw={})).update(text="", raw={})
        drafts = AIDraft.objects.filter(conversation__fan=locked).exclude(text="").update(text="", screening={})
        deleted_notes = FanNote.objects.filter(fan=locked).delete()[0]
        Conversation.objects.filter(fan=locked).update(external_id="", held_reason="")
        locked.handle, locked.tags, locked.notes = "", [], ""
        if not locked.external_id.startswith(ERASED_PREFIX):
            locked.external_id = f"{ERASED_PREFIX}{locked.pk}"
        locked.save(update_fields=["handle", "tags", "notes", "external_id"])
        counts = {"messages_emptied": emptied, "drafts_emptied": drafts,
                  "notes_deleted": deleted_notes + deleted_thread_notes,
                  "purchases_kept": Transaction.objects.filter(fan=locked).count()}
        audit.record("inbox.fan.erased", locked, actor=actor, changes={**counts, "reason": reason[:500]})
    fan.refresh_from_db()
    return counts


def is_erased(fan: Fan) -> bool:
    return fan.external_id.startswith(ERASED_PREFIX)
