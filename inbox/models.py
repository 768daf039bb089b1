"""Conversations with fans and everything a chatter writes into them.

A conversation is one fan on one channel account (a Fanvue chat, a Telegram private chat, a Bluesky
convo, an X DM conversation). Messages carry who or what wrote them (`sent_by`, `origin`, `ai_draft`),
so every word sent to a fan can be traced to a person, a script or an automation; outgoing messages are
sent exactly like publications: claimed, called once, and an outcome nobody can know is `unknown`, never
sent twice. Money stays in analytics' ledger; a message only says what it asked and when it was bought.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from accounts.models import Creator
from analytics.models import Fan, Transaction
from content.models import Asset
from scheduling.models import PlatformAccount


class Conversation(models.Model):
    tenant_field = "creator"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending (waiting on the fan)"
        SNOOZED = "snoozed", "Snoozed"
        CLOSED = "closed", "Closed"

    class Mode(models.TextChoices):
        HUMAN = "human", "A person writes every reply"
        AI_ASSIST = "ai_assist", "AI drafts, a person sends"
        AI_AUTO = "ai_auto", "AI replies on its own (disclosed AI persona only)"

    class Priority(models.IntegerChoices):
        LOW = 0, "Low"
        NORMAL = 1, "Normal"
        HIGH = 2, "High"
        URGENT = 3, "Urgent"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="conversations")
    account = models.ForeignKey(PlatformAccount, on_delete=models.PROTECT, related_name="conversations")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="conversations")
    external_id = models.CharField(max_length=200, blank=True,
                                   help_text="The platform's id for this chat (Telegram chat id, Bluesky convo id…).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_conversations")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.HUMAN)
    waiting_since = models.DateTimeField(null=True, blank=True,
                                         help_text="The fan's oldest message not answered yet; empty when answered.")
    first_reply_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    # A soft lock while a chatter types: others see who holds it and cannot send until it lapses.
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    locked_until = models.DateTimeField(null=True, blank=True)
    # A minor signal holds the conversation: no AI, no paid content, compliance told. Only compliance lifts it.
    held_at = models.DateTimeField(null=True, blank=True)
    held_reason = models.CharField(max_length=300, blank=True)
    ai_disclosed_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When the fan was told they are talking to an AI.")
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-last_message_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["account", "fan"], name="inbox_one_conversation_per_fan")]
        indexes = [
            models.Index(fields=["creator", "status", "waiting_since"], name="inbox_conv_waiting"),
            models.Index(fields=["creator", "-last_message_at"], name="inbox_conv_recent"),
            # The list's own order: newest first across a chatter's creators stops after a page of rows
            # instead of sorting every conversation of those creators (45 ms at 1,000,000 conversations).
            models.Index(fields=["-last_message_at", "-id"], name="inbox_conv_latest"),
            models.Index(fields=["assignee", "status", "-last_message_at"], name="inbox_conv_mine"),
        ]

    def __str__(self) -> str:
        return f"{self.fan} on {self.account}"

    @property
    def held(self) -> bool:
        return self.held_at is not None


class Script(models.Model):
    """A saved reply: text with placeholders ({fan_name}, {creator_name}), optional vault media and price."""

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="scripts")
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=60, blank=True)
    text = models.TextField()
    assets = models.ManyToManyField(Asset, blank=True, related_name="+")
    price_minor = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    platform_template_id = models.CharField(max_length=200, blank=True,
                                            help_text="The platform's template for it (Fanvue templateUuid).")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["creator", "category", "name"]

    def __str__(self) -> str:
        return self.name


class AIDraft(models.Model):
    tenant_field = "creator"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting for a person"
        ACCEPTED = "accepted", "Sent as drafted"
        EDITED = "edited", "Sent after edits"
        REJECTED = "rejected", "Rejected"
        AUTO_SENT = "auto_sent", "Sent by the AI persona"
        REFUSED = "refused", "Refused by screening"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="drafts")
    backend = models.CharField(max_length=120, blank=True, help_text="Empty when drafted from scripts.")
    model_name = models.CharField(max_length=120, blank=True)
    prompt_version = models.CharField(max_length=40)
    text = models.TextField()
    suggested_assets = models.ManyToManyField(Asset, blank=True, related_name="+")
    suggested_price_minor = models.PositiveIntegerField(null=True, blank=True)
    from_scripts = models.BooleanField(default=False, help_text="No model answered: the best-matching scripts.")
    screening = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    edit_distance = models.PositiveIntegerField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Draft #{self.pk} ({self.get_outcome_display()})"


class Message(models.Model):
    tenant_field = "creator"

    class Direction(models.TextChoices):
        IN = "in", "From the fan"
        OUT = "out", "To the fan"
        NOTE = "note", "Internal note"

    class Origin(models.TextChoices):
        FAN = "fan", "Fan"
        MANUAL = "manual", "Written by a person"
        SCRIPT = "script", "Script sent by a person"
        AI_DRAFT = "ai_draft", "AI draft approved by a person"
        AUTOMATION = "automation", "Automation (AI persona)"
        MASS = "mass", "Mass message"
        PLATFORM = "platform", "Sent by the platform itself"

    class SendStatus(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Outcome unknown: check on the platform"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    account = models.ForeignKey(PlatformAccount, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=4, choices=Direction.choices)
    external_id = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    assets = models.ManyToManyField(Asset, blank=True, related_name="messages")
    price_minor = models.PositiveIntegerField(null=True, blank=True, help_text="Pay-per-view price, minor units.")
    currency = models.CharField(max_length=3, blank=True)
    purchased_at = models.DateTimeField(null=True, blank=True)
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="inbox_messages")
    origin = models.CharField(max_length=10, choices=Origin.choices)
    script = models.ForeignKey(Script, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ai_draft = models.ForeignKey(AIDraft, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ai_generated = models.BooleanField(default=False, help_text="The words were written by a model.")
    send_status = models.CharField(max_length=10, choices=SendStatus.choices)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="What the platform sent or answered.")
    created_at = models.DateTimeField(default=now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Sent, or received from the fan.")
    read_at = models.DateTimeField(null=True, blank=True, help_text="When the other side read it.")

    class Meta:
        ordering = ["conversation", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["account", "external_id"], condition=~Q(external_id=""),
                                    name="inbox_message_external_once"),
            models.CheckConstraint(condition=Q(price_minor__isnull=True) | ~Q(currency=""),
                                   name="inbox_message_price_has_currency"),
        ]
        indexes = [
            models.Index(fields=["conversation", "-created_at"], name="inbox_msg_thread"),
            models.Index(fields=["send_status", "next_attempt_at"], name="inbox_msg_due"),
            models.Index(fields=["sent_by", "-created_at"], name="inbox_msg_by_chatter"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk}"


class FanNote(models.Model):
    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="+")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="inbox_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Note on {self.fan}"


class Shift(models.Model):
    """Who covers a creator's inbox when. Round-robin assignment picks among those on shift."""

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="shifts")
    chatter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                              name="inbox_shift_ends_after_start")]
        indexes = [models.Index(fields=["creator", "starts_at", "ends_at"], name="inbox_shift_window")]

    def __str__(self) -> str:
        return f"{self.chatter} on {self.creator}"


class ReportingEvent(models.Model):
    """Facts the chatter metrics are computed from, written once when they happen."""

    tenant_field = "creator"

    class Kind(models.TextChoices):
        FIRST_RESPONSE = "first_response", "First response"
        REPLY = "reply", "Reply to a waiting fan"
        RESOLVED = "resolved", "Resolved"
        PURCHASE_CREDITED = "purchase_credited", "Purchase credited"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="reporting_events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    chatter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    shift = models.ForeignKey(Shift, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Response time, where it is one.")
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-at"]
        constraints = [models.UniqueConstraint(fields=["kind", "transaction"], condition=Q(transaction__isnull=False),
                                               name="inbox_credit_once")]
        indexes = [models.Index(fields=["chatter", "kind", "at"], name="inbox_report_chatter"),
                   models.Index(fields=["creator", "kind", "at"], name="inbox_report_creator")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class ChannelCursor(models.Model):
    """How far Atelier has read one account's chats, and when it reads next: polling (Bluesky, X, which
    have no chat webhooks) and reconciliation (Fanvue: webhooks bring messages at once, reconciliation every
    few minutes picks up whatever a lost delivery missed). Kept here rather than in the account's
    `options`, which only hold what a person sets.

    `cursor` is the channel's own position (Bluesky's getLog rev, X's newest DM event id, Fanvue's chat
    watermark); it moves only after every message of a page was recorded, so a run cut short is read again
    and recorded once. `lease_until` keeps two runs for the same account from reading the same pages at once.
    """

    account = models.OneToOneField(PlatformAccount, on_delete=models.CASCADE, related_name="chat_cursor")
    cursor = models.TextField(blank=True)
    polled_at = models.DateTimeField(null=True, blank=True, help_text="The last poll that succeeded.")
    next_poll_at = models.DateTimeField(default=now)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_poll_at"], name="inbox_cursor_due")]

    def __str__(self) -> str:
        return f"Polling {self.account}"
