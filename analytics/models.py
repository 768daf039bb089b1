"""Money, fans and measurements: what the agency looks at every morning.

Money is integer minor units with an ISO 4217 code, as received; reports convert to the agency
currency through `ExchangeRate` (dated) and keep the original amounts. Every ingested row carries
the platform's external id, unique per platform, so webhooks, backfills and statement imports of
the same event count it once. Rollups are derived data: recomputing a day replaces its rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from accounts.models import Creator
from core import platforms
from scheduling.models import PlatformAccount, Publication

# Platforms money and fans come from: the publishing platforms plus OnlyFans (manual statements).
SOURCE_PLATFORMS = platforms.choices(platforms.source_platforms())


class ExchangeRate(models.Model):
    """How many units of the agency currency one unit of `currency` was worth on `day`."""

    currency = models.CharField(max_length=3)
    day = models.DateField()
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    source = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-day", "currency"]
        constraints = [models.UniqueConstraint(fields=["currency", "day"], name="exchange_rate_unique_day")]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {settings.ANALYTICS_CURRENCY} on {self.day}"


class Fan(models.Model):
    class Segment(models.TextChoices):
        NEW = "new", "New"
        REGULAR = "regular", "Regular"
        WHALE = "whale", "Whale"
        AT_RISK = "at_risk", "At risk"
        CHURNED = "churned", "Churned"

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="fans")
    platform = models.CharField(max_length=16, choices=SOURCE_PLATFORMS)
    external_id = models.CharField(max_length=200, help_text="The platform's id for this fan.")
    handle = models.CharField(max_length=200, blank=True)
    first_seen = models.DateTimeField(default=now)
    last_seen = models.DateTimeField(default=now)
    lifetime_spend_minor = models.BigIntegerField(default=0, help_text="Net, in the agency currency.")
    segment = models.CharField(max_length=10, choices=Segment.choices, default=Segment.NEW)
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-lifetime_spend_minor", "pk"]
        constraints = [models.UniqueConstraint(fields=["creator", "platform", "external_id"], name="fan_unique")]
        indexes = [models.Index(fields=["creator", "segment"]), models.Index(fields=["creator", "-last_seen"])]

    def __str__(self) -> str:
        return self.handle or f"{self.platform}:{self.external_id}"


class Subscription(models.Model):
    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="subscriptions")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="subscriptions")
    account = models.ForeignKey(PlatformAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    platform = models.CharField(max_length=16, choices=SOURCE_PLATFORMS)
    external_id = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    price_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    auto_renew = models.BooleanField(default=True)
    trial = models.BooleanField(default=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["platform", "external_id"], condition=~models.Q(external_id=""),
                                               name="subscription_unique_external")]
        indexes = [models.Index(fields=["creator", "platform", "started_at"]),
                   models.Index(fields=["creator", "platform", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.fan} since {self.started_at:%Y-%m-%d}"


class Transaction(models.Model):
    class Kind(models.TextChoices):
        SUBSCRIPTION = "subscription", "Subscription"
        RENEWAL = "renewal", "Renewal"
        TIP = "tip", "Tip"
        PAID_MESSAGE = "paid_message", "Paid message"
        PAID_POST = "paid_post", "Paid post"
        PACK = "pack", "Pack"
        REFERRAL = "referral", "Referral"
        REFUND = "refund", "Refund"
        CHARGEBACK = "chargeback", "Chargeback"

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Platform webhook"
        API = "api", "Platform API backfill"
        IMPORT = "import", "Statement import"
        MANUAL = "manual", "Manual entry"

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="transactions")
    account = models.ForeignKey(PlatformAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    platform = models.CharField(max_length=16, choices=SOURCE_PLATFORMS)
    fan = models.ForeignKey(Fan, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions")
    publication = models.ForeignKey(Publication, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Refunds and chargebacks are negative amounts; gross - fee = net.
    gross_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField(default=0)
    net_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    occurred_at = models.DateTimeField()
    external_id = models.CharField(max_length=200, blank=True, help_text="Unique per platform: ingested once.")
    source = models.CharField(max_length=8, choices=Source.choices)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "external_id"], condition=~models.Q(external_id=""),
                                    name="transaction_unique_external"),
            models.CheckConstraint(condition=models.Q(net_minor=models.F("gross_minor") - models.F("fee_minor")),
                                   name="transaction_net_is_gross_minus_fee"),
        ]
        indexes = [models.Index(fields=["creator", "occurred_at"]), models.Index(fields=["occurred_at"]),
                   models.Index(fields=["fan", "occurred_at"]),
                   # The nightly run finds late data and recently active fans by arrival time.
                   models.Index(fields=["created_at"], name="transaction_created_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.gross_minor / 100:.2f} {self.currency}"


class MetricSnapshotQuerySet(models.QuerySet):
    def bulk_create(self, objs: Iterable[MetricSnapshot], *args: Any, **kwargs: Any) -> list[MetricSnapshot]:
        """Snapshots made in bulk take their publication's creator too (one query for any not loaded)."""
        objs = list(objs)
        field = MetricSnapshot._meta.get_field("publication")
        unloaded = {o.publication_id for o in objs if o.creator_id is None and not field.is_cached(o)}
        creators = (dict(Publication.objects.filter(pk__in=unloaded).values_list("pk", "creator_id"))
                    if unloaded else {})
        for obj in objs:
            if obj.creator_id is None:
                obj.creator_id = (obj.publication.creator_id if field.is_cached(obj)
                                  else creators.get(obj.publication_id))
        return super().bulk_create(objs, *args, **kwargs)


class MetricSnapshot(models.Model):
    """A publication's counters at one moment, as the platform reported them."""

    tenant_field = "creator"

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="metric_snapshots")
    # The publication's creator, copied so a creator's snapshots are counted and paged on an index
    # of this table (millions of rows) without joining publications. It follows the publication:
    # `save()` and `bulk_create()` set it, and on PostgreSQL (publication, creator) is a foreign
    # key to the publication's own pair (ON UPDATE CASCADE).
    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="+", editable=False,
                                db_index=False)
    taken_at = models.DateTimeField(default=now)
    views = models.BigIntegerField(default=0)
    likes = models.BigIntegerField(default=0)
    comments = models.BigIntegerField(default=0)
    shares = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    purchases = models.BigIntegerField(default=0)

    objects = MetricSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["-taken_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["publication", "taken_at"], name="metric_snapshot_unique")]
        indexes = [models.Index(fields=["taken_at"]),
                   models.Index(fields=["creator", "taken_at"], name="metric_snapshot_creator_taken")]

    def __str__(self) -> str:
        return f"{self.publication_id} @ {self.taken_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        moved = update_fields is None or {"publication", "publication_id"} & set(update_fields)
        if self.publication_id is not None and moved:
            self.creator_id = self.publication.creator_id
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "creator"}
        super().save(*args, **kwargs)


class Offer(models.Model):
    class Kind(models.TextChoices):
        DISCOUNT = "discount", "Discount"
        FREE_TRIAL = "free_trial", "Free trial"

    class Audience(models.TextChoices):
        NEW = "new", "New fans"
        EXPIRED = "expired", "Expired subscribers"
        ALL = "all", "Everyone"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="offers")
    account = models.ForeignKey(PlatformAccount, on_delete=models.PROTECT, related_name="offers")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    discount_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    trial_days = models.PositiveSmallIntegerField(null=True, blank=True)
    audience = models.CharField(max_length=8, choices=Audience.choices, default=Audience.NEW)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    external_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-starts_at", "pk"]
        indexes = [models.Index(fields=["status", "starts_at"]), models.Index(fields=["status", "ends_at"])]
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                              name="offer_ends_after_start")]

    def __str__(self) -> str:
        return self.name


class TrackingLink(models.Model):
    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="tracking_links")
    account = models.ForeignKey(PlatformAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=120)
    campaign_source = models.CharField(max_length=120, help_text="Where the link is placed: reddit, x bio, …")
    url = models.URLField(max_length=500)
    external_id = models.CharField(max_length=200, blank=True)
    clicks = models.BigIntegerField(default=0)
    subscribers = models.BigIntegerField(default=0)
    revenue_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["creator", "name"]

    def __str__(self) -> str:
        return self.name


class InboundEvent(models.Model):
    """A platform webhook as received (after its signature passed): replays are refused by the
    unique event key, and a failed processing can be retried from the stored payload."""

    tenant_field = "account__creator"

    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="inbound_events")
    event_key = models.CharField(max_length=200, help_text="The platform's event id, else a digest of the body.")
    kind = models.CharField(max_length=60)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=now)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["account", "event_key"], name="inbound_event_once")]
        # What the pending-events sweep reads every few seconds: only the few rows nobody processed yet.
        indexes = [models.Index(fields=["received_at"], condition=Q(processed_at__isnull=True, error=""),
                                name="inbound_event_pending")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.account})"


class WebhookReceiver(models.Model):
    """Where a platform sends an account's webhooks (`/hooks/<platform>/<token>/`) and the secret
    that signs them (encrypted)."""

    tenant_field = "account__creator"

    account = models.OneToOneField(PlatformAccount, on_delete=models.CASCADE, related_name="webhook_receiver")
    token = models.CharField(max_length=64, unique=True)
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(default=now, editable=False)
    last_event_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Webhooks of {self.account}"


class DailyRollup(models.Model):
    """Creator × platform × day (in the creator's timezone), money in the agency currency."""

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="daily_rollups")
    platform = models.CharField(max_length=16, choices=SOURCE_PLATFORMS)
    day = models.DateField()
    gross_minor = models.BigIntegerField(default=0)
    net_minor = models.BigIntegerField(default=0)
    by_kind = models.JSONField(default=dict, help_text="{kind: {count, gross_minor, net_minor}}")
    transactions = models.PositiveIntegerField(default=0)
    new_subscribers = models.PositiveIntegerField(default=0)
    churned_subscribers = models.PositiveIntegerField(default=0)
    active_subscribers = models.PositiveIntegerField(default=0)
    posts_published = models.PositiveIntegerField(default=0)
    views = models.BigIntegerField(default=0)
    likes = models.BigIntegerField(default=0)
    comments = models.BigIntegerField(default=0)
    shares = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    purchases = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-day", "creator", "platform"]
        constraints = [models.UniqueConstraint(fields=["creator", "platform", "day"], name="daily_rollup_unique")]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.creator} {self.platform} {self.day}"


class PostingHour(models.Model):
    """Engagement of an account's publications by local weekday and hour: the best-hours heatmap."""

    tenant_field = "account__creator"

    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="posting_hours")
    weekday = models.PositiveSmallIntegerField()
    hour = models.PositiveSmallIntegerField()
    publications = models.PositiveIntegerField(default=0)
    engagement = models.BigIntegerField(default=0, help_text="Likes + comments + shares + purchases.")
    computed_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["account", "weekday", "hour"]
        constraints = [models.UniqueConstraint(fields=["account", "weekday", "hour"], name="posting_hour_unique")]

    def __str__(self) -> str:
        return f"{self.account} {self.weekday}/{self.hour}"


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        REVENUE_DROP = "revenue_drop", "Revenue drop vs trailing average (%)"
        PUBLISH_FAILURE_RATE = "publish_failure_rate", "Publish failure rate (%)"
        ACCOUNT_REAUTH = "account_reauth", "Account needs re-authorisation"
        CONSENT_EXPIRING = "consent_expiring", "Consent expiring within (days)"

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules",
                                help_text="Empty: every creator.")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    threshold = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    window_days = models.PositiveSmallIntegerField(default=7)
    enabled = models.BooleanField(default=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["kind", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ≥ {self.threshold}"


class ReportSubscription(models.Model):
    class Period(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        PDF = "pdf", "PDF"

    tenant_field = "creator"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    creator = models.ForeignKey(Creator, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                help_text="Empty: agency-wide (owners only).")
    period = models.CharField(max_length=8, choices=Period.choices)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.PDF)
    active = models.BooleanField(default=True)
    last_sent_for = models.DateField(null=True, blank=True, help_text="Last period (its first day) sent.")

    class Meta:
        ordering = ["user", "period"]
        constraints = [models.UniqueConstraint(fields=["user", "creator", "period", "format"],
                                               name="report_subscription_unique")]

    def __str__(self) -> str:
        return f"{self.get_period_display()} {self.format} for {self.user}"
