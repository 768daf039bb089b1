"""What the chatter's screen reads: the conversation list, a thread, the fan panel, the vault and scripts.

Pure reads, kept apart from the HTTP views (`inbox.views`) so the live endpoint and the page build the
same rows with the same queries. Every queryset starts from `accounts.tenancy.restrict`, and each pane
costs a fixed number of queries whatever the number of rows (select_related, prefetches, one aggregate),
which the tests hold to a bound.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from accounts import tenancy
from accounts.models import Membership, Role, User
from analytics.currency import agency_currency
from analytics.models import Fan, Subscription, Transaction
from content.models import Asset, Rendition
from content.views import PREVIEW_PRESETS, preview_rendition, rendition_url
from core import money, platforms
from inbox import gate
from inbox.models import AIDraft, Conversation, FanNote, Message, Script, Shift
from inbox.services import display_name, lock_holder

LIST_SIZE = 50  # conversations in the left pane
THREAD_SIZE = 100  # the newest messages of a thread shown (older ones: the message admin)
NEW_MESSAGES_MAX = 50  # a live delta larger than this asks the page to reload the thread
VAULT_SIZE = 30  # each asset is asked of the send gate (its consents, its rating) before it is offered
PREVIEW_CHARS = 90
SEARCH_CAP = 2000  # matching messages (and fans) looked up directly before a search counts as common
PURCHASES_SHOWN = 10
NOTES_SHOWN = 20

# The left pane's views: the key in `?show=` and its label.
VIEWS: dict[str, str] = {
    "all": "All open",
    "unread": "Unread",
    "waiting": "Unanswered (longest first)",
    "spenders": "Top spenders",
    "mine": "Mine",
    "onshift": "My shift's creators",
    "closed": "Closed",
}

T = Transaction.Kind
PURCHASE_KINDS = (T.PAID_MESSAGE, T.PAID_POST, T.PACK)
RISK_KINDS = (T.REFUND, T.CHARGEBACK)
TZ_TAG = "tz:"  # a fan's zone, as a chatter records it in the fan's tags ("tz:Europe/Berlin")


# --- The conversation list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    show: str = "all"
    q: str = ""

    @classmethod
    def from_params(cls, params: Any) -> ListQuery:
        show = params.get("show", "all")
        q = (params.get("q") or "").replace("\x00", "").strip()[:100]  # PostgreSQL text holds no NUL
        return cls(show=show if show in VIEWS else "all", q=q)


@dataclass
class Row:
    conversation: Conversation
    platform: platforms.Platform
    preview: str
    waiting: str
    locked_by: str
    spend: str

    @property
    def key(self) -> tuple[Any, ...]:
        c = self.conversation
        return (c.pk, c.last_message_at, c.unread_count, c.assignee_id, c.waiting_since, c.held_at, c.status,
                self.locked_by, self.preview)


def conversations_in_reach(user: User, action: str = "view") -> QuerySet[Conversation]:
    return tenancy.restrict(Conversation.objects.all(), user, action)


def list_rows(user: User, query: ListQuery, now: datetime | None = None) -> list[Row]:
    """The left pane: at most LIST_SIZE conversations in one query (the last message's words included)."""
    now = now or timezone.now()
    last_text = Message.objects.filter(conversation=OuterRef("pk")).exclude(direction=Message.Direction.NOTE) \
        .order_by("-created_at", "-pk").values("text")[:1]
    qs = conversations_in_reach(user).select_related("creator", "account", "fan", "assignee", "locked_by") \
        .annotate(preview=Subquery(last_text))
    if query.show == "closed":
        qs = qs.filter(status=Conversation.Status.CLOSED)
    else:
        qs = qs.exclude(status=Conversation.Status.CLOSED)
    if query.show == "unread":
        qs = qs.filter(unread_count__gt=0)
    elif query.show == "waiting":
        qs = qs.filter(waiting_since__isnull=False).order_by("waiting_since", "pk")
    elif query.show == "spenders":
        qs = qs.order_by("-fan__lifetime_spend_minor", "-last_message_at", "-pk")
        creators = tenancy.allowed_creator_ids(user, Conversation)
        if creators is not None:  # lets PostgreSQL read only these creators' fans, not every fan, to rank them
            qs = qs.filter(fan__creator_id__in=creators)
    elif query.show == "mine":
        qs = qs.filter(assignee=user)
    elif query.show == "onshift":
        qs = qs.filter(creator_id__in=Shift.objects.filter(chatter=user, starts_at__lte=now, ends_at__gt=now)
                       .values("creator_id"))
    if query.q:
        qs = qs.filter(matching(user, query.q))
    currency = agency_currency()
    rows = []
    for c in qs[:LIST_SIZE]:
        holder = lock_holder(c, now)
        rows.append(Row(conversation=c, platform=platforms.get(c.account.platform),
                        preview=(getattr(c, "preview", None) or "")[:PREVIEW_CHARS],
                        waiting=waited(c.waiting_since, now), locked_by=display_name(c.locked_by) if holder else "",
                        spend=money.format_money(c.fan.lifetime_spend_minor, currency)))
    return rows


def matching(user: User, q: str) -> Q:
    """The conversations a search finds: the fan's handle or any message's words contain `q`.

    Why two ways: a rare word ("zebra") would make the newest-first walk read every reachable thread's
    messages before giving up (1.4 s at 10,000,000 messages), while a common one ("thanks") matches
    within the first few conversations. So the matching messages and fans are first looked up directly,
    through the trigram index on PostgreSQL, at most SEARCH_CAP of each: when that many or fewer exist,
    the list filters on those ids; past it, the word is common and the walk stops early by itself."""
    creators = tenancy.allowed_creator_ids(user, Conversation)
    messages = Message.objects.filter(text__icontains=q)
    fans = Fan.objects.filter(handle__icontains=q)
    if creators is not None:
        messages, fans = messages.filter(creator_id__in=creators), fans.filter(creator_id__in=creators)
    # Unordered, so a LIMIT stops at the first SEARCH_CAP + 1 rows found, whatever the plan.
    said = list(messages.order_by().values_list("conversation_id", flat=True)[:SEARCH_CAP + 1])
    named = list(fans.order_by().values_list("pk", flat=True)[:SEARCH_CAP + 1])
    by_words = Q(pk__in=set(said)) if len(said) <= SEARCH_CAP else \
        Q(Exists(Message.objects.filter(conversation=OuterRef("pk"), text__icontains=q)))
    by_handle = Q(fan_id__in=named) if len(named) <= SEARCH_CAP else Q(fan__handle__icontains=q)
    return by_words | by_handle


def signature(rows: Iterable[Row]) -> str:
    """A short fingerprint of what the list shows: the live endpoint sends the list again only when it moved."""
    digest = hashlib.blake2b(digest_size=8)
    for row in rows:
        digest.update(repr(row.key).encode())
    return digest.hexdigest()


def waited(since: datetime | None, now: datetime) -> str:
    """"4 min", "2 h 5 min", "3 d": how long the fan has been waiting for an answer."""
    if since is None:
        return ""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} d"


# --- A thread ----------------------------------------------------------------------------------------------


@dataclass
class Media:
    asset: Asset
    url: str | None


@dataclass
class Item:
    """One line of the thread: a message, a note or a tip, with who wrote it said in words."""

    kind: str  # "in" | "out" | "note" | "tip"
    at: datetime | None
    text: str = ""
    author: str = ""
    message: Message | None = None
    media: list[Media] = field(default_factory=list)
    price: str = ""
    ppv: str = ""
    state: str = ""

    @property
    def pk(self) -> int | None:
        return self.message.pk if self.message is not None else None


def _messages(conversation: Conversation) -> QuerySet[Message]:
    renditions = Rendition.objects.filter(preset__in=PREVIEW_PRESETS)
    assets = Asset.objects.prefetch_related(Prefetch("renditions", queryset=renditions))
    return Message.objects.filter(conversation=conversation).select_related("sent_by", "script") \
        .prefetch_related(Prefetch("assets", queryset=assets))


def thread_items(conversation: Conversation, *, after: int | None = None) -> list[Item]:
    """The newest THREAD_SIZE messages, oldest first, with the fan's tips since the first of them woven in;
    `after`: only messages newer than that id (the live delta), without tips."""
    if after is not None:
        found = list(_messages(conversation).filter(pk__gt=after).order_by("pk")[:NEW_MESSAGES_MAX + 1])
        return [message_item(m, conversation) for m in found]
    found = list(_messages(conversation).order_by("-created_at", "-pk")[:THREAD_SIZE])
    found.reverse()
    items = [message_item(m, conversation) for m in found]
    since = found[0].created_at if len(found) == THREAD_SIZE else None
    tips = Transaction.objects.filter(fan_id=conversation.fan_id, kind=T.TIP)
    if since is not None:
        tips = tips.filter(occurred_at__gte=since)
    for tip in tips.order_by("occurred_at")[:THREAD_SIZE]:
        items.append(Item(kind="tip", at=tip.occurred_at, author=str(conversation.fan),
                          price=money.format_money(tip.gross_minor, tip.currency)))
    far_past = timezone.now() - timedelta(days=365 * 100)
    items.sort(key=lambda i: i.at or far_past)
    return items


def author_of(message: Message, conversation: Conversation) -> str:
    """Who wrote it, as Message.origin and sent_by say: the fan, a person, an AI draft a person accepted,
    an automation, or the platform itself."""
    origin = Message.Origin
    person = display_name(message.sent_by) if message.sent_by_id else "Someone"
    if message.direction == Message.Direction.IN:
        return str(conversation.fan)
    if message.direction == Message.Direction.NOTE:
        return f"Note by {person}"
    if message.origin == origin.SCRIPT:
        return f"{person} · script “{message.script}”" if message.script_id else f"{person} · script"
    if message.origin == origin.AI_DRAFT:
        return f"AI draft accepted by {person}"
    if message.origin == origin.AUTOMATION:
        return "Automation (AI persona)"
    if message.origin == origin.MASS:
        return f"Mass message by {person}" if message.sent_by_id else "Mass message"
    label = platforms.get(conversation.account.platform).label
    if message.origin == origin.PLATFORM:
        return f"Sent by {label} itself, outside Atelier"
    if not message.sent_by_id:  # typed on the platform (the creator's phone): recorded, never sent by us
        return f"Written on {label}, outside Atelier"
    return person


def state_of(message: Message) -> str:
    """The line under an outgoing message: delivery, and whether the fan saw it."""
    if message.direction != Message.Direction.OUT:
        return ""
    parts = [message.get_send_status_display()]
    if message.read_at is not None:
        parts.append(f"seen {timezone.localtime(message.read_at):%H:%M}")
    if message.send_status == Message.SendStatus.FAILED and message.last_error:
        parts.append(message.last_error[:120])
    return " · ".join(parts)


def message_item(message: Message, conversation: Conversation) -> Item:
    kind = {"in": "in", "out": "out"}.get(str(message.direction), "note")
    media = []
    for asset in message.assets.all():
        preview = preview_rendition(list(asset.renditions.all()))
        media.append(Media(asset=asset, url=rendition_url(preview) if preview else None))
    price = money.format_money(message.price_minor, message.currency, empty="")
    return Item(kind=kind, at=message.sent_at or message.created_at, text=message.text,
                author=author_of(message, conversation), message=message, media=media, price=price,
                ppv=ppv_text(message), state=state_of(message))


def states(conversation: Conversation) -> dict[int, dict[str, Any]]:
    """The changing part of the newest outgoing messages (delivery, seen, unlocked): one query."""
    rows = Message.objects.filter(conversation=conversation).exclude(direction=Message.Direction.IN) \
        .order_by("-created_at", "-pk").only("pk", "direction", "send_status", "read_at", "purchased_at",
                                             "last_error", "price_minor", "currency")[:THREAD_SIZE]
    return {m.pk: {"state": state_of(m), "ppv": ppv_text(m)} for m in rows}


def ppv_text(message: Message) -> str:
    """"🔒 Locked · $12.00" until the fan buys it, then "🔓 Unlocked 7 Dec 14:03 · $12.00"."""
    if message.price_minor is None:
        return ""
    price = money.format_money(message.price_minor, message.currency)
    if message.purchased_at is None:
        return f"🔒 Locked · {price}"
    return f"🔓 Unlocked {timezone.localtime(message.purchased_at):%-d %b %H:%M} · {price}"


# --- The fan panel -----------------------------------------------------------------------------------------


@dataclass
class Purchase:
    transaction: Transaction
    amount: str
    what: str


@dataclass
class FanPanel:
    fan: Fan
    spend: str
    tips: list[str]
    tip_count: int
    subscription: Subscription | None
    subscription_text: str
    purchases: list[Purchase]
    notes: list[FanNote]
    tags: list[str]
    local_time: str
    risks: list[str]


def fan_zone(fan: Fan) -> zoneinfo.ZoneInfo | None:
    """The fan's zone where a chatter recorded it as a tag ("tz:Europe/Berlin"); platforms don't say it."""
    for tag in fan.tags or []:
        if isinstance(tag, str) and tag.startswith(TZ_TAG):
            try:
                return zoneinfo.ZoneInfo(tag[len(TZ_TAG):].strip())
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                return None
    return None


def subscription_text(sub: Subscription | None, now: datetime) -> str:
    if sub is None:
        return "Not a subscriber (no subscription recorded)"
    price = money.format_money(sub.price_minor, sub.currency)
    if sub.ends_at is not None and sub.ends_at <= now:
        return f"Expired on {timezone.localtime(sub.ends_at):%Y-%m-%d}"
    trial = "trial, " if sub.trial else ""
    if sub.ends_at is None:
        return f"Active ({trial}{price}), no end date"
    day = f"{timezone.localtime(sub.ends_at):%Y-%m-%d}"
    if sub.auto_renew and sub.cancelled_at is None:
        return f"Active ({trial}{price}), renews on {day}"
    return f"Active ({trial}{price}), renewal off: ends on {day}"


def fan_panel(conversation: Conversation, now: datetime | None = None) -> FanPanel:
    now = now or timezone.now()
    fan = conversation.fan
    ledger = Transaction.objects.filter(fan=fan)
    tips = list(ledger.filter(kind=T.TIP).values("currency").annotate(total=Sum("gross_minor"), n=Count("pk"))
                .order_by("currency"))
    subscription = Subscription.objects.filter(fan=fan).order_by("-started_at", "-pk").first()
    bought = list(ledger.filter(kind__in=PURCHASE_KINDS).order_by("-occurred_at", "-pk")[:PURCHASES_SHOWN])
    by_transaction = {m.transaction_id: m for m in Message.objects.filter(transaction__in=bought)
                      .prefetch_related("assets")}
    purchases = []
    for tx in bought:
        message = by_transaction.get(tx.pk)
        if message is not None:
            names = ", ".join(str(a) for a in message.assets.all()) or "a paid message"
            what = f"{names} (message #{message.pk})"
        else:
            what = tx.get_kind_display()
        purchases.append(Purchase(transaction=tx, amount=money.format_money(tx.gross_minor, tx.currency), what=what))
    risky = ledger.filter(kind__in=RISK_KINDS).count()
    risks = []
    if conversation.held_at is not None:
        risks.append(f"Held for compliance since {timezone.localtime(conversation.held_at):%Y-%m-%d %H:%M}: "
                     f"{conversation.held_reason or 'no reason given'}. No paid content, no AI.")
    if risky:
        risks.append(f"{risky} refund(s) or chargeback(s) on record.")
    zone = fan_zone(fan)
    local_time = f"{timezone.localtime(now, zone):%H:%M} ({zone})" if zone else \
        "Unknown (a tag like tz:Europe/Berlin records it)"
    notes = list(FanNote.objects.filter(fan=fan).select_related("author")[:NOTES_SHOWN])
    return FanPanel(fan=fan, spend=money.format_money(fan.lifetime_spend_minor, agency_currency()),
                    tips=[money.format_money(t["total"], t["currency"]) for t in tips],
                    tip_count=sum(t["n"] for t in tips), subscription=subscription,
                    subscription_text=subscription_text(subscription, now), purchases=purchases, notes=notes,
                    tags=[str(t) for t in (fan.tags or [])], local_time=local_time, risks=risks)


# --- Compose: scripts, the vault, the team -----------------------------------------------------------------


@dataclass
class ScriptChoice:
    script: Script
    text: str
    asset_ids: list[int]
    price: str


def _optional(module: str) -> Any:
    """A module of the inbox another piece provides (`inbox.drafts`, `inbox.scripts`), None where absent."""
    return importlib.import_module(module) if importlib.util.find_spec(module) is not None else None


def fill_placeholders(text: str, conversation: Conversation) -> str:
    """{fan_name}, {fan_handle} and {creator_name} in a script, as the fan will read them (`inbox.scripts.render`
    where it exists; a placeholder nobody fills is left for the send gate to refuse)."""
    scripts = _optional("inbox.scripts")
    if scripts is not None and callable(getattr(scripts, "render", None)):
        try:
            return str(scripts.render(text, conversation))
        except ValidationError:
            return text
    handle = (conversation.fan.handle or "").lstrip("@")
    return text.replace("{fan_name}", handle or "there").replace("{fan_handle}", f"@{handle}" if handle else "") \
        .replace("{creator_name}", conversation.creator.stage_name)


def script_choices(user: User, conversation: Conversation) -> list[ScriptChoice]:
    scripts = tenancy.restrict(Script.objects.filter(creator_id=conversation.creator_id, active=True), user) \
        .prefetch_related("assets")
    currency = price_currency(conversation)
    return [ScriptChoice(script=s, text=fill_placeholders(s.text, conversation),
                         asset_ids=[a.pk for a in s.assets.all()],
                         price=str(money.to_units(s.price_minor, currency)) if s.price_minor is not None and currency
                         else "")
            for s in scripts]


def price_currency(conversation: Conversation) -> str:
    """The currency a paid message is priced in there ("" where the platform has no paid messages)."""
    policy = platforms.get(conversation.account.platform).chat
    return policy.price_currency if policy is not None and policy.paid_media else ""


def _asset_check() -> Callable[[Conversation, Asset], list[str]] | None:
    """The send gate's check of one asset in this conversation, where the gate offers one
    (`inbox.gate.asset_problems`, or `media_problems` asked about that asset alone)."""
    one = getattr(gate, "asset_problems", None)
    if callable(one):
        return lambda conversation, asset: list(one(conversation, asset))
    many = getattr(gate, "media_problems", None)
    if callable(many):
        return lambda conversation, asset: list(many(conversation, [asset]))
    return None


def vault(user: User, conversation: Conversation) -> list[Media]:
    """Assets of this creator a chatter may attach here: approved, of a rating the platform accepts, and
    clear of the send gate's per-asset check where the gate has one (else the send itself refuses)."""
    platform = platforms.get(conversation.account.platform)
    renditions = Rendition.objects.filter(preset__in=PREVIEW_PRESETS)
    assets = tenancy.restrict(Asset.objects.filter(creator_id=conversation.creator_id,
                                                   status=Asset.Status.APPROVED,
                                                   rating__in=sorted(platform.ratings)), user) \
        .prefetch_related(Prefetch("renditions", queryset=renditions)).order_by("-created_at", "-pk")[:VAULT_SIZE]
    check = _asset_check()
    out = []
    for asset in assets:
        if check is not None and check(conversation, asset):
            continue
        preview = preview_rendition(list(asset.renditions.all()))
        out.append(Media(asset=asset, url=rendition_url(preview) if preview else None))
    return out


def read_id(value: str | None) -> int | None:
    """An id typed in a query string: ASCII digits only ("²" and "١٢" pass `isdigit()`, and no id is
    printed that way), short enough for any id column; None for anything else."""
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 12 else None


def pending_draft(conversation: Conversation, draft_id: int | None) -> AIDraft | None:
    if draft_id is None:
        return None
    return AIDraft.objects.filter(pk=draft_id, conversation=conversation, outcome=AIDraft.Outcome.PENDING) \
        .prefetch_related("suggested_assets").first()


def team(conversation: Conversation) -> list[User]:
    """Whom a manager may hand the conversation to: the creator's active chatters and managers."""
    ids = Membership.objects.filter(creator_id=conversation.creator_id, role__in=(Role.CHATTER, Role.MANAGER),
                                    user__is_active=True).values("user_id")
    return list(User.objects.filter(pk__in=ids).order_by("first_name", "username"))


def draft_function() -> Callable[..., Any] | None:
    """`inbox.drafts.draft_reply` when the drafting module is installed, else None (the button says so)."""
    fn = getattr(_optional("inbox.drafts"), "draft_reply", None)
    return fn if callable(fn) else None


def accept_function() -> Callable[..., Any] | None:
    """`inbox.drafts.accept` (sends the draft and records accepted / edited and the edit distance), if any."""
    fn = getattr(_optional("inbox.drafts"), "accept", None)
    return fn if callable(fn) else None
