"""Platform accounts, posts and publications: the calendar lives in these rows.

A `Publication` is one post on one account at one instant (UTC). Its status walks one machine,
declared in `Publication.TRANSITIONS`; the dispatcher claims due rows through a partial index
so "what is due" stays cheap at millions of rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from accounts.models import Creator
from content.models import Asset, Collection
from core import platforms
from core.files import private_storage
from scheduling.connectors.options import clean_options

# Platforms an account can publish to (those with a connector), from the registry: `Platform.MANUAL == "manual"`.
# (django-stubs does not declare Enum's functional API for TextChoices, hence the ignore.)
Platform = models.TextChoices("Platform", [(p.key.upper(), (p.key, p.label)) for p in platforms.publishing_platforms()])  # type: ignore[call-overload]


class PlatformAccount(models.Model):
    class State(models.TextChoices):
        # Not connected until credentials the platform accepted are stored (`store_credentials`).
        NOT_CONNECTED = "not_connected", "Not connected"
        CONNECTED = "connected", "Connected"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorisation"
        DISABLED = "disabled", "Disabled"

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="platform_accounts")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    target_platform = models.CharField(max_length=30, blank=True,
                                       help_text="For manual exports: where a person uploads it (e.g. onlyfans).")
    handle = models.CharField(max_length=100)
    external_id = models.CharField(max_length=100, blank=True)
    credentials_encrypted = models.TextField(blank=True, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NOT_CONNECTED)
    max_rating = models.CharField(max_length=16, blank=True,
                                  help_text="Highest rating this account accepts; only ever below the platform's.")
    options = models.JSONField(default=dict, blank=True, help_text="Subreddit, channel id, flair…")
    last_error = models.TextField(blank=True)
    scopes = models.CharField(max_length=500, blank=True, help_text="Scopes the platform granted.")
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_failures = models.PositiveSmallIntegerField(
        default=0, help_text="Consecutive transient refresh failures; these never disconnect the account.")
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["creator__stage_name", "platform", "handle"]
        indexes = [models.Index(fields=["token_expires_at"], condition=models.Q(state="connected"),
                                name="platform_account_expiring")]
        constraints = [models.UniqueConstraint(fields=["creator", "platform", "handle"],
                                               name="platform_account_unique")]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} @{self.handle}"

    @property
    def publish_warning(self) -> str | None:
        """Why nothing will go out through this account as things stand (None: it can publish).

        Said when a publication is scheduled, not when it fails at its due time."""
        if self.state == self.State.CONNECTED:
            return None
        remedy: dict[str, str] = {
            self.State.NOT_CONNECTED: "until someone connects it",
            self.State.NEEDS_REAUTH: "until someone connects it again",
            self.State.DISABLED: "while it is disabled; enable it or move the publication to another account",
        }
        return f"{self} is {self.get_state_display().lower()}: nothing goes out through it " \
               f"{remedy.get(self.state, 'until someone fixes it')}."

    def clean(self) -> None:
        """The platform policy table sets the ceiling; an account may only be stricter."""
        judged = (self.target_platform or "manual") if self.platform == Platform.MANUAL else self.platform
        if judged not in platforms.PLATFORMS:
            raise ValidationError({"target_platform": f"{judged!r} is not in the platform policy table."})
        ceiling = platforms.PLATFORMS[judged].max_rating
        if self.max_rating and not ceiling.allows(self.max_rating):
            raise ValidationError({"max_rating": f"{judged} accepts at most {ceiling.value} content; an account "
                                                 f"can only be stricter."})
        # Only the keys its platform reads, and never a host: base URLs come from settings.
        self.options = clean_options(self.platform, self.options)


class Post(models.Model):
    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="posts")
    caption = models.TextField(blank=True)
    assets = models.ManyToManyField(Asset, through="PostAsset", related_name="posts", blank=True)
    collection = models.ForeignKey(Collection, null=True, blank=True, on_delete=models.PROTECT, related_name="posts")
    price_minor = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_version = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False,
        help_text="Fingerprint of what reaches fans (scheduling.approval) as it was approved; the gate refuses "
                  "a publication whose post no longer matches it.")
    version = models.PositiveIntegerField(default=1, help_text="Bumped by every edit; publish reads the live row.")
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # What a publication's (post, creator) pair refers to: on PostgreSQL that pair is a foreign
        # key, so a publication cannot name another creator than its post's.
        constraints = [models.UniqueConstraint(fields=["id", "creator"], name="post_id_creator")]

    def __str__(self) -> str:
        return (self.caption[:60] or f"Post #{self.pk}").replace("\n", " ")


class PostAsset(models.Model):
    tenant_field = "post__creator"
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="post_assets")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="post_links")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["post", "asset"], name="post_asset_unique")]

    def __str__(self) -> str:
        return f"{self.post_id}:{self.position}"


class PublicationQuerySet(models.QuerySet):
    def bulk_create(self, objs: Iterable[Publication], *args: Any, **kwargs: Any) -> list[Publication]:
        """Rows made in bulk take their post's creator too (one query for posts not already loaded)."""
        objs = list(objs)
        post_field = Publication._meta.get_field("post")
        unloaded = {o.post_id for o in objs if o.creator_id is None and not post_field.is_cached(o)}
        creators = dict(Post.objects.filter(pk__in=unloaded).values_list("pk", "creator_id")) if unloaded else {}
        for obj in objs:
            if obj.creator_id is None:
                obj.creator_id = obj.post.creator_id if post_field.is_cached(obj) else creators.get(obj.post_id)
        return super().bulk_create(objs, *args, **kwargs)


class Publication(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        APPROVED = "approved", "Approved"
        SCHEDULED = "scheduled", "Scheduled"
        CLAIMED = "claimed", "Claimed by the dispatcher"
        PUBLISHING = "publishing", "Publishing"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Outcome unknown — check"
        BLOCKED = "blocked", "Blocked by compliance"
        CANCELLED = "cancelled", "Cancelled"
        MISSED = "missed", "Missed"
        EXPORTED = "exported", "Exported — awaiting manual upload"
        REMOVED = "removed", "Removed from the platform"

    S = Status
    # The one place that says which status may follow which.
    TRANSITIONS: dict[str, frozenset[str]] = {
        # To BLOCKED from every state before publishing: compliance (a revocation, a takedown) stops a row
        # wherever it is; lifting the block returns it to where it was (scheduling.services.lift_block).
        S.DRAFT: frozenset({S.PENDING_APPROVAL, S.CANCELLED, S.BLOCKED}),
        S.PENDING_APPROVAL: frozenset({S.APPROVED, S.DRAFT, S.CANCELLED, S.BLOCKED}),
        # Back to PENDING_APPROVAL: the post changed after it was approved (approval is of a version).
        S.APPROVED: frozenset({S.SCHEDULED, S.PENDING_APPROVAL, S.DRAFT, S.CANCELLED, S.BLOCKED}),
        S.SCHEDULED: frozenset({S.CLAIMED, S.APPROVED, S.PENDING_APPROVAL, S.DRAFT, S.CANCELLED, S.BLOCKED,
                                S.MISSED}),
        S.CLAIMED: frozenset({S.PUBLISHING, S.SCHEDULED, S.BLOCKED, S.CANCELLED, S.MISSED, S.FAILED}),
        S.PUBLISHING: frozenset({S.PUBLISHED, S.SCHEDULED, S.FAILED, S.UNKNOWN, S.EXPORTED}),
        # A manual export waits for a person to upload it and paste the URL.
        S.EXPORTED: frozenset({S.PUBLISHED, S.CANCELLED, S.BLOCKED}),
        S.UNKNOWN: frozenset({S.PUBLISHED, S.FAILED, S.SCHEDULED}),
        S.FAILED: frozenset({S.SCHEDULED, S.CANCELLED, S.DRAFT, S.BLOCKED}),
        S.MISSED: frozenset({S.SCHEDULED, S.CANCELLED, S.DRAFT, S.BLOCKED}),
        # Back to SCHEDULED only through the gate (`schedule`), which refuses while any cause still holds.
        S.BLOCKED: frozenset({S.DRAFT, S.CANCELLED, S.SCHEDULED, S.APPROVED, S.PENDING_APPROVAL}),
        S.PUBLISHED: frozenset({S.REMOVED}),
        S.REMOVED: frozenset(),
        S.CANCELLED: frozenset({S.DRAFT}),
    }
    # Before these, an edit of the post simply applies; from CLAIMED on, the row is in flight.
    EDITABLE = frozenset({S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.FAILED, S.MISSED, S.BLOCKED})

    tenant_field = "creator"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="publications")
    # The post's creator, copied so tenancy and the lists filter on an index of this table instead
    # of joining posts. It follows the post: `save()` and `bulk_create()` set it from the post, and
    # on PostgreSQL (post, creator) is a foreign key to the post's own pair (ON UPDATE CASCADE).
    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="publications", editable=False,
                                db_index=False)
    account = models.ForeignKey(PlatformAccount, on_delete=models.PROTECT, related_name="publications")
    caption_override = models.TextField(blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True, help_text="Due time, stored in UTC.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    external_url = models.URLField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    # Private storage: a bundle holds the media and the caption, downloaded only through the admin.
    export_file = models.FileField(upload_to="exports/%Y/%m/", max_length=255, blank=True, storage=private_storage,
                                   help_text="Manual accounts: the bundle a person uploads by hand.")
    last_error = models.TextField(blank=True)
    block_reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    objects = PublicationQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        indexes = [
            models.Index(fields=["scheduled_at"], condition=models.Q(status="scheduled"), name="publication_due"),
            models.Index(fields=["lease_expires_at"], condition=models.Q(status__in=["claimed", "publishing"]),
                         name="publication_leased"),
            models.Index(fields=["account", "scheduled_at"]),
            models.Index(fields=["status", "scheduled_at"]),
            # The calendar and the API read time ranges across accounts.
            models.Index(fields=["scheduled_at"], name="publication_scheduled_at"),
            # A creator's rows newest first (the API list), and a creator's calendar.
            models.Index(fields=["creator", "id"], name="publication_creator_id"),
            models.Index(fields=["creator", "scheduled_at"], name="publication_creator_due"),
        ]
        constraints = [
            # Live = on the calendar and not yet resolved: at most one per account and instant. Two requests
            # queueing at once both saw the same slot free; now one of them gets it.
            models.UniqueConstraint(fields=["account", "scheduled_at"],
                                    condition=models.Q(status__in=["scheduled", "claimed", "publishing", "unknown"]),
                                    name="publication_one_live_per_account_instant"),
            # What a metric snapshot's (publication, creator) pair refers to (a foreign key on PostgreSQL).
            models.UniqueConstraint(fields=["id", "creator"], name="publication_id_creator"),
        ]

    def __str__(self) -> str:
        return f"{self.post} → {self.account} ({self.get_status_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        moved = update_fields is None or {"post", "post_id"} & set(update_fields)
        if self.post_id is not None and moved:
            self.creator_id = self.post.creator_id
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "creator"}
        super().save(*args, **kwargs)

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())

    # Publications on their way out: a warning about their account is worth showing on these.
    WAITING = frozenset({S.APPROVED, S.SCHEDULED, S.CLAIMED})

    @property
    def account_warning(self) -> str | None:
        """The account's warning while this publication waits to go out (calendar, lists, API)."""
        return self.account.publish_warning if self.status in self.WAITING else None


class QueueSlot(models.Model):
    """A weekly recurring time for an account, in the creator's timezone."""

    tenant_field = "account__creator"
    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="queue_slots")
    weekday = models.PositiveSmallIntegerField(choices=[(i, d) for i, d in enumerate(
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])])
    time = models.TimeField(help_text="Local time in the creator's timezone.")

    class Meta:
        ordering = ["account", "weekday", "time"]
        constraints = [models.UniqueConstraint(fields=["account", "weekday", "time"], name="queue_slot_unique")]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.time:%H:%M}"


class TakedownTask(models.Model):
    """A published post that must come down and that no API can remove: a person does it by the deadline."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    tenant_field = "publication__creator"
    publication = models.ForeignKey(Publication, on_delete=models.PROTECT, related_name="takedown_tasks")
    takedown_request = models.ForeignKey("compliance.TakedownRequest", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="scheduling_tasks")
    reason = models.CharField(max_length=300)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["status", "due_at"]
        indexes = [models.Index(fields=["due_at"], condition=models.Q(status="open"), name="takedown_task_open")]
        constraints = [models.UniqueConstraint(fields=["publication"], condition=models.Q(status="open"),
                                               name="takedown_task_one_open")]

    def __str__(self) -> str:
        return f"Take down {self.publication} by {self.due_at:%Y-%m-%d %H:%M} UTC"


class CalendarFeedKey(models.Model):
    """The secret behind one user's calendar feed links (see `scheduling.feeds`): replacing it
    revokes all of them, and its age is the links' age."""

    tenant_field = None  # one per user, never listed; a feed still checks the user's reach per creator
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed_key")
    secret = models.CharField(max_length=64, blank=True,
                              help_text="Empty for links made before keys existed (bound to the password alone).")
    issued_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"Calendar feed key of user #{self.user_id}"
