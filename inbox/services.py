"""Domain operations on conversations: what admin views, API views, webhooks and tasks all call.

Every change of a conversation's state goes through here, so counters (`unread_count`, `waiting_since`,
`first_reply_at`) and reporting events stay true whichever door a change came in by. Callers pass rows
already narrowed by tenancy (`accounts.tenancy.restrict`); refusals are `ValidationError`s in words a
chatter can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.db.transaction import atomic
from django.utils import timezone
from rapidfuzz.distance import Levenshtein

from accounts import audit, tenancy
from accounts.actors import Actor, SystemActor
from accounts.models import Creator, Membership, Role, User
from analytics.ingest import upsert_fans
from analytics.models import Fan, Transaction
from compliance.blocklist import screen_fields
from content.models import Asset
from core import memo, platforms
from inbox import gate, signals
from inbox import scripts as script_tools
from inbox.channels.base import InboundMessage
from inbox.models import AIDraft, Conversation, FanNote, Message, ReportingEvent, Script, Shift
from notifications.services import notify, resolve_by_key
from scheduling.models import PlatformAccount

ROUND_ROBIN = SystemActor("inbox:round-robin")
ID_LENGTH = 200  # Message.external_id, Conversation.external_id
MAX_PRICE_MINOR = 2**31 - 1  # Message.price_minor
EARLIEST_MESSAGE = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SKEW = timedelta(minutes=10)
LOCK_SECONDS = 60  # a chatter's soft lock lapses this long after their last keystroke
FAN_NOTE_MAX = 5000  # characters in one note on a fan: the panel shows twenty of them

Origin = Message.Origin


# --- Receiving --------------------------------------------------------------------------------------------


def receive(account: PlatformAccount, incoming: InboundMessage, *, fan: Fan | None = None) -> Message | None:
    """Record one message read from the platform (a webhook or a reconciliation page), exactly once.

    Returns the new message, or None when it was already recorded (its read and purchase state are
    brought up to date). The fan and the conversation are created on first sight; a message from the fan
    reopens a closed or snoozed conversation and starts its wait, one written on the creator's side outside
    Atelier (the platform's own welcome, the creator's phone) ends it.
    """
    fans = {fan.external_id: fan} if fan is not None and fan.creator_id == account.creator_id else None
    return receive_many(account, [incoming], fans=fans)[0]


def receive_many(account: PlatformAccount, incomings: list[InboundMessage], *,
                 fans: dict[str, Fan] | None = None) -> list[Message | None]:
    """`receive` for many messages of one account at once (a burst of webhooks): the same rows, counters and
    signals as one at a time, in a fixed number of queries per batch instead of per message.

    Returns, for each incoming message in order, the new message or None (already recorded, or twice in the
    batch). `fans` are fans the caller already upserted, by their platform id.
    """
    incomings = [_checked(incoming) for incoming in incomings]
    results: list[Message | None] = [None] * len(incomings)
    named = [incoming.external_id for incoming in incomings if incoming.external_id]
    known = ({m.external_id: m for m in Message.objects.filter(account=account, external_id__in=named)}
             if named else {})
    fresh: list[int] = []
    taken: set[str] = set()
    for index, incoming in enumerate(incomings):
        if incoming.external_id in known:
            _refresh_known(known[incoming.external_id], incoming)
        elif incoming.external_id not in taken:  # twice in this batch: a redelivery of the first
            fresh.append(index)
            if incoming.external_id:
                taken.add(incoming.external_id)
    if not fresh:
        return results
    # No savepoint of its own (this runs for every webhook): an error leaves through the caller's transaction.
    with transaction.atomic(savepoint=False):
        fans = dict(fans or {})
        unseen = [incomings[i] for i in fresh if incomings[i].fan_id not in fans]
        if unseen:
            upserted, _ = upsert_fans(creator=account.creator, platform=account.platform, sightings=[
                (m.fan_id, m.fan_handle or m.fan_name, m.sent_at) for m in unseen])
            fans.update(upserted)
        chats = {fans[incomings[i].fan_id].pk: incomings[i].chat_id for i in fresh}
        conversations = _conversations_for(account, chats)
        rows = [_message_row(account, conversations[fans[incomings[i].fan_id].pk], incomings[i]) for i in fresh]
        try:
            with transaction.atomic():
                Message.objects.bulk_create(rows)
        except IntegrityError:  # one of them arrived by another door at the same moment
            if len(fresh) == 1:
                return results
            for i in fresh:
                results[i] = receive(account, incomings[i], fan=fans[incomings[i].fan_id])
            return results
        changed: dict[int, Conversation] = {}
        for message in rows:
            if _after_receipt(message.conversation, message):
                changed[message.conversation.pk] = message.conversation
        _save_counters(list(changed.values()))
        with memo.batch():  # the receivers of every message read the creator's endpoints and shifts once
            for i, message in zip(fresh, rows, strict=True):
                results[i] = message
                signals.message_received.send(sender=Message, message=message, conversation=message.conversation)
    return results


def _checked(incoming: InboundMessage) -> InboundMessage:
    """What a platform sent, made storable or refused in words: ids and a price that fit their columns, no
    NUL (PostgreSQL text cannot hold one), and a time no later than now (a clock or a payload far ahead would
    keep the thread on top of the inbox and its wait unmeasurable; a time before 2000 is no more credible)."""
    for name, value in (("message id", incoming.external_id), ("chat id", incoming.chat_id)):
        if len(value) > ID_LENGTH:
            raise ValidationError(f"The platform's {name} is longer than {ID_LENGTH} characters.")
    if incoming.price_minor is not None and not 0 < incoming.price_minor <= MAX_PRICE_MINOR:
        raise ValidationError("The message's price is out of range.")
    now = timezone.now()
    sent_at = incoming.sent_at
    if not EARLIEST_MESSAGE <= sent_at <= now + FUTURE_SKEW:
        sent_at = now
    text = incoming.text.replace("\x00", "")
    if sent_at is incoming.sent_at and text == incoming.text:
        return incoming
    return replace(incoming, sent_at=sent_at, text=text)


def _message_row(account: PlatformAccount, conversation: Conversation, incoming: InboundMessage) -> Message:
    inbound = incoming.direction == "in"
    return Message(
        creator_id=account.creator_id, conversation=conversation, account=account,
        direction=Message.Direction.IN if inbound else Message.Direction.OUT,
        external_id=incoming.external_id, text=incoming.text,
        # The platform's own automatic messages are PLATFORM; a reply typed on the platform by
        # the creator (her phone) is MANUAL with no sender recorded here: it ends the fan's wait.
        origin=Origin.FAN if inbound else Origin.PLATFORM if incoming.automated else Origin.MANUAL,
        send_status=Message.SendStatus.RECEIVED if inbound else Message.SendStatus.SENT,
        price_minor=incoming.price_minor, currency=incoming.currency if incoming.price_minor else "",
        purchased_at=incoming.sent_at if incoming.purchased else None,
        raw=incoming.raw, sent_at=incoming.sent_at,
        read_at=incoming.sent_at if incoming.read else None)


def _conversations_for(account: PlatformAccount, chats: dict[int, str]) -> dict[int, Conversation]:
    """The fans' conversations on this account (fan pk → its chat id on the platform), created on first sight,
    locked (only their own rows, in primary-key order, so two batches never wait on each other in a circle)
    until the caller's transaction ends: counters are then read and written by one process at a time."""
    locked = Conversation.objects.select_for_update(of=("self",)).filter(account=account)
    found = {c.fan_id: c for c in locked.filter(fan_id__in=list(chats)).order_by("pk")}
    for fan_id, chat_id in chats.items():
        conversation = found.get(fan_id)
        if conversation is None:
            try:
                with transaction.atomic():
                    Conversation.objects.create(creator_id=account.creator_id, account=account, fan_id=fan_id,
                                                external_id=chat_id or "")
            except IntegrityError:
                pass  # created by another process at the same moment: its row is locked below like any other
            found[fan_id] = locked.get(fan_id=fan_id)
        elif chat_id and not conversation.external_id:
            Conversation.objects.filter(pk=conversation.pk).update(external_id=chat_id)
            conversation.external_id = chat_id
    return found


COUNTERS = ["last_message_at", "unread_count", "last_inbound_at", "waiting_since", "status", "snoozed_until"]


def _after_receipt(conversation: Conversation, message: Message) -> bool:
    """Move the conversation's counters for a message just recorded, on the locked row in memory; True when
    something changed (`_save_counters` writes it)."""
    at = message.sent_at or timezone.now()
    before = [getattr(conversation, name) for name in COUNTERS]
    if conversation.last_message_at is None or at > conversation.last_message_at:
        conversation.last_message_at = at
    if message.direction == Message.Direction.IN:
        conversation.unread_count += 1
        conversation.last_inbound_at = max(at, conversation.last_inbound_at or at)
        if conversation.waiting_since is None:
            conversation.waiting_since = at
        if conversation.status != Conversation.Status.OPEN:
            conversation.status, conversation.snoozed_until = Conversation.Status.OPEN, None
    elif message.origin != Origin.PLATFORM:
        conversation.waiting_since = None
    return before != [getattr(conversation, name) for name in COUNTERS]


def _save_counters(conversations: list[Conversation]) -> None:
    """The rows are locked (`_conversations_for`), so the values in memory are the rows' values now."""
    if len(conversations) == 1:
        Conversation.objects.filter(pk=conversations[0].pk).update(
            **{name: getattr(conversations[0], name) for name in COUNTERS})
    elif conversations:
        Conversation.objects.bulk_update(conversations, COUNTERS)


def _refresh_known(message: Message, incoming: InboundMessage) -> None:
    changes: dict[str, Any] = {}
    if incoming.read and message.read_at is None:
        changes["read_at"] = timezone.now()
    if incoming.purchased and message.purchased_at is None:
        changes["purchased_at"] = incoming.sent_at
    if changes:
        Message.objects.filter(pk=message.pk).update(**changes)


def mark_read_by_fan(account: PlatformAccount, fan_external_id: str, up_to: datetime) -> int:
    """The fan read what was sent to them up to `up_to` (Fanvue `message.read`)."""
    return Message.objects.filter(account=account, conversation__fan__external_id=fan_external_id,
                                  direction=Message.Direction.OUT, read_at__isnull=True,
                                  created_at__lte=up_to).update(read_at=up_to)


def read_on_platform(account: PlatformAccount, fan_external_id: str, count: int | None) -> int:
    """The creator's side read `count` of the fan's messages on the platform itself (Fanvue `message.read`,
    sent when the creator reads a chat there or a mirror client marks it read): the unread counter drops by
    as many, never below zero; `count` None clears it. Returns the conversations changed."""
    left = Value(0) if count is None else Greatest(F("unread_count") - max(0, count), Value(0))
    return Conversation.objects.filter(account=account, fan__external_id=fan_external_id,
                                       unread_count__gt=0).update(unread_count=left)


def mark_read(conversation: Conversation, by: User) -> None:
    """A chatter opened the thread: nothing unread is left on our side."""
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
    conversation.unread_count = 0


# --- Sending ----------------------------------------------------------------------------------------------


def send(conversation: Conversation, *, by: User | None, text: str,
         assets: Iterable[Asset] = (), price_minor: int | None = None, origin: str = Origin.MANUAL,
         script: Script | None = None, draft: AIDraft | None = None, idempotency_key: str | None = None,
         ai_generated: bool = False) -> Message:
    """Queue a message to the fan after the send gate passed; the worker delivers it (`tasks.deliver`).

    A repeated `idempotency_key` returns the message it first created, and queues nothing, when it asks for
    that same message again; a key the message keeps for good, long after a caller's stored answer expired,
    so the same key for another message is refused rather than answered with the first one as if the new
    one had been queued. `by` is None only for an automation (a disclosed AI persona's own reply); every
    other message names the person who sent it.
    """
    assets = list(assets)
    if idempotency_key:
        existing = Message.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.conversation_id != conversation.pk:
                raise ValidationError("This Idempotency-Key was used for another conversation.")
            if not _same_message(existing, text=text, assets=assets, price_minor=price_minor, script=script,
                                 draft=draft):
                raise ValidationError("This Idempotency-Key was used for another message: use a new key for a "
                                      "new message.")
            return existing
    ai_generated = ai_generated or origin in (Origin.AI_DRAFT, Origin.AUTOMATION)
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if draft is not None:
            _decide_draft(draft, conversation, by=by, text=text)
        disclose = ai_generated and _needs_ai_disclosure(conversation, origin)
        if disclose:
            text = f"{settings.INBOX_AI_DISCLOSURE} {text or ''}".strip()
        problems = check_send(conversation, by=by, text=text, assets=assets, price_minor=price_minor,
                              origin=origin, ai_generated=ai_generated)
        if problems:
            raise ValidationError(problems)
        now = timezone.now()
        if disclose:
            Conversation.objects.filter(pk=conversation.pk).update(ai_disclosed_at=now)
            conversation.ai_disclosed_at = now
        policy_currency = _price_currency(conversation)
        message = Message.objects.create(
            creator_id=conversation.creator_id, conversation=conversation, account_id=conversation.account_id,
            direction=Message.Direction.OUT, text=text, price_minor=price_minor,
            currency=policy_currency if price_minor is not None else "",
            sent_by=by if by is not None and by.is_authenticated else None, origin=origin, script=script,
            ai_draft=draft, ai_generated=ai_generated,
            send_status=Message.SendStatus.QUEUED, idempotency_key=idempotency_key or None,
            next_attempt_at=now)
        if assets:
            message.assets.set(assets)
        _after_reply(conversation, message, now)
        audit.record("inbox.message.queued", message, changes={"origin": origin, "assets": [a.pk for a in assets],
                                                              "price_minor": price_minor})
        signals.message_queued.send(sender=Message, message=message)
    return message


def _decide_draft(draft: AIDraft, conversation: Conversation, *, by: User | None, text: str) -> None:
    """A draft goes out once, from its own conversation, and records how much the person changed its words
    (accepted as written, or edited with the edit distance), whatever media and price they kept. Locked, so two
    sends of one draft cannot both pass."""
    locked = AIDraft.objects.select_for_update(of=("self",)).filter(pk=draft.pk, conversation=conversation).first()
    if locked is None:
        raise ValidationError("This AI draft belongs to another conversation.")
    if locked.outcome != AIDraft.Outcome.PENDING:
        raise ValidationError(f"This AI draft was already {locked.get_outcome_display().lower()}: draft again.")
    distance = Levenshtein.distance(locked.text, text or "")
    outcome = AIDraft.Outcome.ACCEPTED if distance == 0 else AIDraft.Outcome.EDITED
    AIDraft.objects.filter(pk=draft.pk).update(outcome=outcome, edit_distance=distance,
                                               decided_by=by if by is not None and by.is_authenticated else None,
                                               decided_at=timezone.now())


def _same_message(message: Message, *, text: str, assets: list[Asset], price_minor: int | None,
                  script: Script | None, draft: AIDraft | None) -> bool:
    """Whether `message` is what a send with these values would have queued (its text may carry the AI
    disclosure the first send put in front)."""
    disclosed = f"{settings.INBOX_AI_DISCLOSURE} {text or ''}".strip()
    return (message.text in (text, disclosed) and message.price_minor == price_minor
            and message.script_id == (script.pk if script is not None else None)
            and message.ai_draft_id == (draft.pk if draft is not None else None)
            and set(message.assets.values_list("pk", flat=True)) == {a.pk for a in assets})


def check_send(conversation: Conversation, *, by: User | None, text: str, assets: list[Asset],
               price_minor: int | None, origin: str, ai_generated: bool = False) -> list[str]:
    """Everything that stops this message, in words (the send gate, `inbox.gate`)."""
    return gate.problems(conversation, by=by, text=text, assets=assets, price_minor=price_minor, origin=origin,
                         ai_generated=ai_generated)


def _needs_ai_disclosure(conversation: Conversation, origin: str) -> bool:
    """The fan is told they talk to an AI in the first AI message of the conversation: every message the
    AI persona sends on its own, and any AI-written message of a creator who is an AI persona."""
    if conversation.ai_disclosed_at is not None:
        return False
    return origin == Origin.AUTOMATION or conversation.creator.kind == Creator.Kind.AI_PERSONA


def display_name(user: User | None) -> str:
    """How the team sees a person in the inbox: their full name, else their username."""
    if user is None:
        return "Someone"
    return user.get_full_name() or user.get_username()


def _price_currency(conversation: Conversation) -> str:
    policy = platforms.get(conversation.account.platform).chat
    return policy.price_currency if policy is not None else ""


def _after_reply(conversation: Conversation, message: Message, now: datetime) -> None:
    changes: dict[str, Any] = {"last_message_at": now}
    chatter = message.sent_by
    shift = on_shift(conversation.creator_id, now, chatter_id=chatter.pk) if chatter is not None else None
    if conversation.waiting_since is not None:
        seconds = max(0, int((now - conversation.waiting_since).total_seconds()))
        kind = ReportingEvent.Kind.FIRST_RESPONSE if conversation.first_reply_at is None else ReportingEvent.Kind.REPLY
        ReportingEvent.objects.create(creator_id=conversation.creator_id, conversation=conversation, kind=kind,
                                      message=message, chatter=chatter, shift=shift, seconds=seconds, at=now)
        changes["waiting_since"] = None
    if conversation.first_reply_at is None:
        changes["first_reply_at"] = now
    if conversation.status == Conversation.Status.OPEN:
        changes["status"] = Conversation.Status.PENDING
    Conversation.objects.filter(pk=conversation.pk).update(**changes)


# --- Purchases --------------------------------------------------------------------------------------------


def credit_purchase(message: Message, transaction: Transaction, *, unlocks: bool = True) -> bool:
    """The sale `transaction` came from `message`: credit the person who sent it, once.

    A purchase (`unlocks`) also marks the message bought; a tip on a message only credits it, so PPV
    bought-versus-sent counts stay true. False, and nothing changed, when the sale already credited a
    message, or a purchase finds the message already carrying another sale: a sale delivered twice, or by
    two doors, counts once. The credit names the sender and the shift they were on when they sent it, so
    revenue per chatter and per shift add up to the ledger.
    """
    kind = ReportingEvent.Kind.PURCHASE_CREDITED
    with atomic():
        if ReportingEvent.objects.filter(kind=kind, transaction=transaction).exists():
            return False
        if unlocks:
            taken = Message.objects.filter(pk=message.pk, transaction__isnull=True).update(
                transaction=transaction, purchased_at=Coalesce(F("purchased_at"), Value(transaction.occurred_at)))
            if not taken:
                return False
            message.refresh_from_db(fields=["transaction", "purchased_at"])
        chatter_id = message.sent_by_id
        sent = message.sent_at or message.created_at
        shift = on_shift(message.creator_id, sent, chatter_id=chatter_id) if chatter_id is not None else None
        try:
            with atomic():
                ReportingEvent.objects.create(creator_id=message.creator_id, conversation_id=message.conversation_id,
                                              kind=kind, message=message, chatter_id=chatter_id, shift=shift,
                                              amount_minor=transaction.gross_minor, currency=transaction.currency,
                                              transaction=transaction, at=transaction.occurred_at)
        except IntegrityError:  # credited by a concurrent delivery of the same sale
            return False
    return True


# --- Notes, locks, assignment, status ----------------------------------------------------------------------


def add_note(conversation: Conversation, *, by: User, text: str) -> Message:
    """An internal note in the thread: seen by the team, never sent."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("A note needs some text.")
    note = Message.objects.create(creator_id=conversation.creator_id, conversation=conversation,
                                  account_id=conversation.account_id, direction=Message.Direction.NOTE, text=text,
                                  sent_by=by, origin=Origin.MANUAL, send_status=Message.SendStatus.SENT,
                                  sent_at=timezone.now())
    return note


def add_fan_note(conversation: Conversation, *, by: User, text: str) -> FanNote:
    """A note on the fan for the team, kept whole: one too long is refused, never cut where nobody sees."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("A note needs some text.")
    if len(text) > FAN_NOTE_MAX:
        raise ValidationError(f"A note on the fan holds at most {FAN_NOTE_MAX:,} characters; this one has "
                              f"{len(text):,}. Shorten it, or keep the details elsewhere.")
    return FanNote.objects.create(creator_id=conversation.creator_id, fan_id=conversation.fan_id, author=by,
                                  text=text)


def acquire_lock(conversation: Conversation, by: User) -> bool:
    """Hold the conversation while `by` types; False (and nothing changed) when someone else holds it."""
    now = timezone.now()
    free = Q(locked_by__isnull=True) | Q(locked_until__isnull=True) | Q(locked_until__lte=now) | Q(locked_by=by.pk)
    taken = Conversation.objects.filter(free, pk=conversation.pk).update(
        locked_by=by.pk, locked_until=now + timedelta(seconds=LOCK_SECONDS))
    return bool(taken)


def release_lock(conversation: Conversation, by: User) -> None:
    Conversation.objects.filter(pk=conversation.pk, locked_by=by.pk).update(locked_by=None, locked_until=None)


def lock_holder(conversation: Conversation, now: datetime | None = None) -> int | None:
    """The id of the person typing in this conversation, if their lock has not lapsed."""
    now = now or timezone.now()
    if conversation.locked_by_id and conversation.locked_until and conversation.locked_until > now:
        return conversation.locked_by_id
    return None


def on_shift(creator_id: int, at: datetime, *, chatter_id: int | None = None) -> Shift | None:
    shifts = Shift.objects.filter(creator_id=creator_id, starts_at__lte=at, ends_at__gt=at)
    if chatter_id is not None:
        shifts = shifts.filter(chatter_id=chatter_id)
    return shifts.order_by("starts_at", "pk").first()


def auto_assign(conversation: Conversation, at: datetime | None = None) -> User | None:
    """Round-robin a conversation nobody holds among the chatters on shift for its creator.

    The next chatter is the one after whoever received the creator's most recent assigned conversation,
    in a fixed order (by id), so turns go round without a counter to keep; a chatter whose membership
    ended is skipped. Nobody on shift: it stays in the pool. Never takes a conversation from its assignee.
    """
    at = at or timezone.now()
    chatters = memo.shared(("chatters-on-shift", conversation.creator_id), lambda: list(User.objects.filter(
        is_active=True, shifts__creator_id=conversation.creator_id, shifts__starts_at__lte=at,
        shifts__ends_at__gt=at, memberships__creator_id=conversation.creator_id,
        memberships__role__in=(Role.CHATTER, Role.MANAGER)).distinct().order_by("pk")))
    if not chatters:
        return None
    last = (Conversation.objects.filter(creator_id=conversation.creator_id, assignee__in=chatters)
            .exclude(pk=conversation.pk).order_by("-created_at", "-pk").values_list("assignee_id", flat=True)
            .first())
    ids = [c.pk for c in chatters]
    chosen = chatters[(ids.index(last) + 1) % len(chatters)] if last in ids else chatters[0]
    taken = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(assignee=chosen)
    if not taken:
        return None
    conversation.assignee = chosen
    audit.record("inbox.conversation.assigned", conversation, actor=ROUND_ROBIN,
                 changes={"assignee": chosen.pk})
    return chosen


def assign_on_arrival(sender: object, *, message: Message, conversation: Conversation, **kwargs: Any) -> None:
    """`message_received` receiver: a fan's message in a conversation nobody holds goes to the next chatter."""
    if message.direction == Message.Direction.IN and conversation.assignee_id is None:
        auto_assign(conversation)


def assign(conversation: Conversation, to: User | None, *, by: User | None) -> None:
    """Give the conversation to a chatter (None: back to the pool). Only someone who can reach the creator's
    conversations may hold one: checked here, whichever door (screen, API, round-robin) assigns."""
    if to is not None and not (to.is_active and tenancy.can_reach_creator(to, conversation.creator_id, Conversation)):
        raise ValidationError("Only a person of this creator's team can be given the conversation.")
    Conversation.objects.filter(pk=conversation.pk).update(assignee=to)
    conversation.assignee = to
    audit.record("inbox.conversation.assigned", conversation, actor=by,
                 changes={"assignee": to.pk if to is not None else None})


def set_status(conversation: Conversation, status: str, *, by: User | None,
               snoozed_until: datetime | None = None) -> None:
    if status not in Conversation.Status.values:
        raise ValidationError(f"Unknown status {status!r}.")
    if status == Conversation.Status.SNOOZED and snoozed_until is None:
        raise ValidationError("Say until when the conversation is snoozed.")
    now = timezone.now()
    if status == Conversation.Status.SNOOZED and snoozed_until is not None and snoozed_until <= now:
        raise ValidationError("Snooze the conversation until a time still to come.")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(
            status=status, snoozed_until=snoozed_until if status == Conversation.Status.SNOOZED else None)
        if status == Conversation.Status.CLOSED and conversation.status != Conversation.Status.CLOSED:
            ReportingEvent.objects.create(creator_id=conversation.creator_id, conversation=conversation,
                                          kind=ReportingEvent.Kind.RESOLVED,
                                          chatter=by if by is not None and by.is_authenticated else None, at=now)
    conversation.status = status


# --- Mode, compliance hold --------------------------------------------------------------------------------


def set_mode(conversation: Conversation, mode: str, *, by: User | None) -> None:
    """Who writes the replies. Automatic AI replies only for a disclosed AI persona on a platform that
    allows them, and never in a conversation held for compliance (`gate.ai_auto_allowed`)."""
    if mode not in Conversation.Mode.values:
        raise ValidationError(f"Unknown mode {mode!r}.")
    if mode == Conversation.Mode.AI_AUTO:
        refused = gate.ai_auto_allowed(conversation)
        if refused:
            raise ValidationError(refused)
    if mode != Conversation.Mode.HUMAN and conversation.held_at is not None:
        raise ValidationError(gate.HELD)
    Conversation.objects.filter(pk=conversation.pk).update(mode=mode)
    conversation.mode = mode
    audit.record("inbox.conversation.mode", conversation, actor=by, changes={"mode": mode})


def hold(conversation: Conversation, reason: str, *, message: Message | None = None) -> bool:
    """Hold the conversation for compliance (a fan's message signals a minor): a person writes every
    reply, no paid content, no AI; the creator's compliance officers and managers are told once.
    Returns False when it was already held."""
    now = timezone.now()
    held = Conversation.objects.filter(pk=conversation.pk, held_at__isnull=True).update(
        held_at=now, held_reason=reason[:300], mode=Conversation.Mode.HUMAN)
    if not held:
        return False
    conversation.held_at, conversation.held_reason, conversation.mode = now, reason[:300], Conversation.Mode.HUMAN
    audit.record("inbox.conversation.held", conversation, actor_label="system",
                 changes={"reason": reason[:300], "message": message.pk if message is not None else None})
    officers = Membership.objects.filter(creator_id=conversation.creator_id, role=Role.COMPLIANCE).values_list(
        "user_id", flat=True)
    notify(HOLD_NOTICE, creator_id=conversation.creator_id, level="error",
           title=f"Conversation with {conversation.fan} held: a message may come from a minor",
           body=f"{reason}\nAI replies and paid content are off for this fan until compliance lifts the hold.",
           link=f"/admin/inbox/conversation/{conversation.pk}/change/",
           subject=f"inbox.conversation:{conversation.pk}", dedupe_key=f"{HOLD_NOTICE}:{conversation.pk}",
           payload={"conversation_id": conversation.pk, "message_id": message.pk if message is not None else None},
           recipients=list(officers))
    return True


HOLD_NOTICE = "inbox.conversation.held"


def may_release_hold(conversation: Conversation, user: User) -> bool:
    """Only an owner or one of the creator's compliance officers lifts a hold."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or Membership.objects.filter(
        user=user, creator_id=conversation.creator_id, role=Role.COMPLIANCE).exists())


def release_hold(conversation: Conversation, *, by: User, note: str = "") -> None:
    """Lift a compliance hold after review; refused to anyone but an owner or a compliance officer."""
    if not may_release_hold(conversation, by):
        raise ValidationError("Only a compliance officer of this creator or an owner may lift a compliance hold.")
    if not Conversation.objects.filter(pk=conversation.pk, held_at__isnull=False).update(held_at=None,
                                                                                         held_reason=""):
        raise ValidationError("This conversation is not held.")
    conversation.held_at, conversation.held_reason = None, ""
    audit.record("inbox.conversation.hold_released", conversation, actor=by, changes={"note": note[:500]})
    resolve_by_key(f"{HOLD_NOTICE}:{conversation.pk}", actor=by)


# --- Scripts and shifts (what managers edit in the admin) --------------------------------------------------

def script_problems(script: Script, assets: Iterable[Asset] = ()) -> list[str]:
    """What is wrong with a saved reply before anyone may send it: unknown placeholders, hard-blocked words,
    a claim to be the creator or that she is online where a platform she chats on forbids it (read with her
    name in place of {creator_name}, as the fan would), media of another creator or not approved."""
    out = [f"Unknown placeholder {{{name}}}: use {{fan_name}}, {{fan_handle}} or {{creator_name}}."
           for name in script_tools.unknown_placeholders(script.text or "")]
    out += [f"Refused: {hit}" for hit in screen_fields({"script": script.text or ""})]
    if script.creator_id is not None:
        creator = script.creator
        said = (script.text or "").replace("{creator_name}", creator.stage_name)
        out += gate.conduct_of_script(creator, said)
    for asset in assets:
        if asset.creator_id != script.creator_id:
            out.append(f"{asset} belongs to another creator.")
        elif asset.status != Asset.Status.APPROVED:
            out.append(f"{asset} is not approved: only approved media go into a script.")
    return out


def save_script(script: Script, *, actor: Actor = None, assets: Iterable[Asset] | None = None,
                changed: Iterable[str] = ()) -> Script:
    """Create or change a script after `script_problems` (admin and API); audited."""
    chosen = list(assets) if assets is not None else (list(script.assets.all()) if script.pk else [])
    problems = script_problems(script, chosen)
    if problems:
        raise ValidationError(problems)
    created = script.pk is None
    with transaction.atomic():
        if created and script.created_by_id is None and isinstance(actor, User):
            script.created_by = actor
        script.save()
        if assets is not None:
            script.assets.set(chosen)
        audit.record("inbox.script.created" if created else "inbox.script.changed", script, actor=actor,
                     changes={"fields": sorted(changed)})
    return script


def delete_script(script: Script, *, actor: Actor = None) -> None:
    """Remove a saved reply; messages sent from it keep their text and lose the link. Audited."""
    with transaction.atomic():
        audit.record("inbox.script.deleted", script, actor=actor, changes={"name": script.name})
        script.delete()


def shift_problems(shift: Shift) -> list[str]:
    """A shift covers a creator with someone on their team, ends after it starts and overlaps no other shift
    of the same person for the same creator."""
    out = []
    if shift.starts_at and shift.ends_at and shift.ends_at <= shift.starts_at:
        out.append("A shift ends after it starts.")
    if shift.chatter_id and shift.creator_id and not Membership.objects.filter(
            user_id=shift.chatter_id, creator_id=shift.creator_id, role__in=(Role.CHATTER, Role.MANAGER)).exists():
        out.append("Only a chatter or manager of this creator can cover their inbox.")
    if not out and shift.starts_at and shift.ends_at and Shift.objects.filter(
            creator_id=shift.creator_id, chatter_id=shift.chatter_id, starts_at__lt=shift.ends_at,
            ends_at__gt=shift.starts_at).exclude(pk=shift.pk).exists():
        out.append("This person already has a shift for this creator at that time.")
    return out


def save_shift(shift: Shift, *, actor: User | None, changed: Iterable[str] = ()) -> Shift:
    problems = shift_problems(shift)
    if problems:
        raise ValidationError(problems)
    created = shift.pk is None
    with transaction.atomic():
        shift.save()
        audit.record("inbox.shift.created" if created else "inbox.shift.changed", shift, actor=actor,
                     changes={"fields": sorted(changed), "chatter": shift.chatter_id})
    return shift


def delete_shift(shift: Shift, *, actor: User | None) -> None:
    with transaction.atomic():
        audit.record("inbox.shift.deleted", shift, actor=actor, changes={"chatter": shift.chatter_id})
        shift.delete()
