"""One row of every model that has an admin, owned by creator A, for the role × admin matrix.

`World.target(model)` builds the row a test acts on (lazily, with what it depends on);
`ACTION_STATES` puts a row in the state an action works from (an asset in review for "approve", a
failed job for "try again"), so that an allowed action really changes something and the test can
see it went through a service. A model registered in the admin without a builder here fails the
matrix test: a new admin is covered as soon as it is registered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

from django.contrib.auth.models import Group
from django.db.models import Model
from django.utils import timezone

from accounts import audit
from accounts import services as account_services
from accounts.models import ApiKey, Role
from analytics import ingest
from analytics.models import (
    AlertRule,
    ExchangeRate,
    Fan,
    InboundEvent,
    Offer,
    PostingHour,
    ReportSubscription,
    Subscription,
    TrackingLink,
    Transaction,
)
from compliance.models import BlockedTerm
from content.models import (
    Asset,
    CaptionTemplate,
    Collection,
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    HashtagSet,
    PromptCategory,
    PromptTemplate,
    Watermark,
)
from inbox.models import AIDraft, Conversation, FanNote, ReportingEvent, Script, Shift
from notifications import services as notification_services
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from scheduling import services as scheduling_services
from scheduling.models import PlatformAccount, Post, Publication, QueueSlot, TakedownTask
from tests.analytics import factories as dash
from tests.compliance.factories import ConsentFactory, PerformerFactory, TakedownFactory, VerificationFactory
from tests.content.factories import AssetFactory, CollectionFactory
from tests.factories import UserFactory
from tests.inbox.factories import fan_writes
from tests.scheduling.factories import PlatformAccountFactory, PublicationFactory

NOW = timezone.now


@dataclass
class World:
    """Creator A's rows, built on demand. `people` is the `team` fixture."""

    people: dict[str, Any]
    built: dict[str, Model] = field(default_factory=dict)

    @property
    def a(self) -> Any:
        return self.people["a"]

    @property
    def author(self) -> Any:
        """Someone on A's team who is none of the people acting in the matrix (uploads, created_by…)."""
        if "author" not in self.built:
            user = UserFactory(username="author_a")
            account_services.add_membership(user=user, creator=self.a, role=Role.EDITOR)
            self.built["author"] = user
        return self.built["author"]

    def target(self, model: type[Model]) -> Model:
        label = model._meta.label
        if label not in self.built:
            builder = BUILDERS.get(label)
            if builder is None:
                raise LookupError(f"{label} has an admin but no builder in tests/config/admin_world.py")
            self.built[label] = builder(self)
        return self.built[label]

    def prepare(self, model: type[Model], action: str) -> Model:
        obj = self.target(model)
        state = ACTION_STATES.get((model._meta.label, action))
        if state is not None:
            state(self, obj)
            obj.refresh_from_db()
        return obj


# --- Builders: one row of A per model ---------------------------------------------------------------


def _account(w: World) -> PlatformAccount:
    return PlatformAccountFactory(creator=w.a, platform="fanvue", handle="alpha_fanvue")


def _post(w: World) -> Post:
    return Post.objects.create(creator=w.a, caption="Sunday set", created_by=w.author)


def _publication(w: World) -> Publication:
    return PublicationFactory(post=w.target(Post), account=w.target(PlatformAccount),
                              status=Publication.Status.SCHEDULED,
                              scheduled_at=NOW() + timedelta(days=2))


def _backend(w: World) -> GenerationBackend:
    return GenerationBackend.objects.create(name="Studio Comfy", kind="comfyui", base_url="https://comfy.invalid",
                                            model="sdxl.safetensors")


def _job(w: World) -> GenerationJob:
    return GenerationJob.objects.create(creator=w.a, backend=w.target(GenerationBackend), prompt="a portrait",
                                        status=GenerationJob.Status.QUEUED, created_by=w.author,
                                        params={"width": 512, "height": 512, "steps": 4, "count": 1})


def _performer(w: World) -> Any:
    return PerformerFactory(legal_name="Amelie Durand", creators=[w.a])


def _fan(w: World) -> Fan:
    return Fan.objects.create(creator=w.a, platform="fanvue", external_id="fan-1", handle="sunny")


def _endpoint(w: World) -> Any:
    endpoint, _secret = notification_services.create_endpoint(w.a, "CRM hook", "https://hooks.example.test/in")
    return endpoint


def _user(w: World) -> Any:
    return UserFactory(username="staff_target")


def _membership(w: World) -> Any:
    return account_services.add_membership(user=_user(w), creator=w.a, role=Role.ANALYST)


def _api_key(w: World) -> ApiKey:
    return account_services.issue_api_key(owner=w.people["owner"], name="crm", creators=[w.a]).key


def _audit_event(w: World) -> Any:
    return audit.record("creator.updated", w.a, actor=w.people["owner"], changes={"fields": []})


def _periodic_task(w: World) -> Any:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=17, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(name="matrix task", task="accounts.tasks.record_heartbeat", interval=every)


def _interval(w: World) -> Any:
    from django_celery_beat.models import IntervalSchedule

    return IntervalSchedule.objects.create(every=19, period=IntervalSchedule.SECONDS)


def _crontab(w: World) -> Any:
    from django_celery_beat.models import CrontabSchedule

    return CrontabSchedule.objects.create(minute="7", hour="3")


def _task_result(w: World) -> Any:
    from django_celery_results.models import TaskResult

    return TaskResult.objects.create(task_id="matrix-task", task_name="accounts.tasks.record_heartbeat",
                                     status="SUCCESS")


def _access_attempt(w: World) -> Any:
    from axes.models import AccessAttempt

    return AccessAttempt.objects.create(username="mallory", ip_address="203.0.113.9", user_agent="x",
                                        failures_since_start=1)


def _access_log(w: World) -> Any:
    from axes.models import AccessLog

    return AccessLog.objects.create(username="mallory", ip_address="203.0.113.9", user_agent="x")


def _access_failure(w: World) -> Any:
    from axes.models import AccessFailureLog

    return AccessFailureLog.objects.create(username="mallory", ip_address="203.0.113.9", user_agent="x")


def _static_device(w: World) -> Any:
    from django_otp.plugins.otp_static.models import StaticDevice

    return StaticDevice.objects.create(user=w.author, name="backup codes")


def _totp_device(w: World) -> Any:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=w.author, name="phone")


def _conversation(w: World) -> Conversation:
    return fan_writes(w.target(PlatformAccount), "hello", fan_id="inbox-fan").conversation


def _shift(w: World) -> Shift:
    return Shift.objects.create(creator=w.a, chatter=w.people["chloe"], starts_at=NOW() + timedelta(days=1),
                                ends_at=NOW() + timedelta(days=1, hours=8))


BUILDERS: dict[str, Any] = {
    # accounts and the libraries it re-registers
    "accounts.User": _user,
    "auth.Group": lambda w: Group.objects.get(name=Role.EDITOR.label),
    "accounts.Creator": lambda w: w.a,
    "accounts.Membership": _membership,
    "accounts.ApiKey": _api_key,
    "accounts.AuditEvent": _audit_event,
    "django_celery_beat.PeriodicTask": _periodic_task,
    "django_celery_beat.IntervalSchedule": _interval,
    "django_celery_beat.CrontabSchedule": _crontab,
    "django_celery_results.TaskResult": _task_result,
    "axes.AccessAttempt": _access_attempt,
    "axes.AccessLog": _access_log,
    "axes.AccessFailureLog": _access_failure,
    "otp_static.StaticDevice": _static_device,
    "otp_totp.TOTPDevice": _totp_device,
    # compliance
    "compliance.Performer": _performer,
    "compliance.IdentityVerification": lambda w: VerificationFactory(performer=w.target_performer()),
    "compliance.ConsentRecord": lambda w: ConsentFactory(performer=w.target_performer()),
    "compliance.TakedownRequest": lambda w: TakedownFactory(creator=w.a, performers=[w.target_performer()]),
    "compliance.BlockedTerm": lambda w: BlockedTerm.objects.create(term="forbidden-matrix-term", note="matrix"),
    # content
    "content.Asset": lambda w: AssetFactory(creator=w.a, uploaded_by=w.author, status=Asset.Status.IN_REVIEW,
                                            title="Beach set"),
    "content.Collection": lambda w: CollectionFactory(creator=w.a, title="Vault folder"),
    "content.Watermark": lambda w: Watermark.objects.create(creator=w.a, text="@alpha"),
    "content.GenerationBackend": _backend,
    "content.GenerationJob": _job,
    "content.GenerationUsage": lambda w: GenerationUsage.objects.create(
        creator=w.a, backend=w.target(GenerationBackend), backend_name="Studio Comfy", kind="image", images=1,
        cost_minor=4, currency="USD"),
    "content.PromptCategory": lambda w: PromptCategory.objects.create(name="Portraits"),
    "content.PromptTemplate": lambda w: PromptTemplate.objects.create(creator=w.a, name="Golden hour",
                                                                      prompt="a portrait at {place}"),
    "content.CaptionTemplate": lambda w: CaptionTemplate.objects.create(creator=w.a, text="New set is up"),
    "content.HashtagSet": lambda w: HashtagSet.objects.create(creator=w.a, name="Beach", tags="#beach #sun"),
    # analytics
    "analytics.AlertRule": lambda w: AlertRule.objects.create(creator=w.a, kind=AlertRule.Kind.REVENUE_DROP,
                                                              threshold=Decimal("20")),
    "analytics.DailyRollup": lambda w: dash.rollup(w.a, date(2026, 11, 10), tips=1000),
    "analytics.ExchangeRate": lambda w: ExchangeRate.objects.create(currency="EUR", day=date(2026, 11, 10),
                                                                    rate=Decimal("1.08"), source="manual"),
    "analytics.Fan": _fan,
    "analytics.InboundEvent": lambda w: InboundEvent.objects.create(
        account=w.target(PlatformAccount), event_key="evt-1", kind="message.received",
        payload={"type": "message.received"}, error="unknown kind"),
    "analytics.MetricSnapshot": lambda w: w.target(Publication).metric_snapshots.create(taken_at=NOW(), views=10),
    "analytics.Offer": lambda w: Offer.objects.create(
        creator=w.a, account=w.target(PlatformAccount), name="Spring promo", kind=Offer.Kind.DISCOUNT,
        discount_percent=30, starts_at=NOW() + timedelta(days=3), ends_at=NOW() + timedelta(days=10)),
    "analytics.PostingHour": lambda w: PostingHour.objects.create(account=w.target(PlatformAccount), weekday=1,
                                                                  hour=20, publications=3, engagement=40),
    "analytics.ReportSubscription": lambda w: ReportSubscription.objects.create(
        user=w.people["alice"], creator=w.a, period=ReportSubscription.Period.WEEKLY),
    "analytics.Subscription": lambda w: Subscription.objects.create(
        creator=w.a, fan=w.target(Fan), platform="fanvue", started_at=NOW() - timedelta(days=3), currency="USD",
        external_id="sub-1"),
    "analytics.TrackingLink": lambda w: TrackingLink.objects.create(
        creator=w.a, name="Bio link", campaign_source="reddit", url="https://fanvue.example.test/alpha"),
    "analytics.Transaction": lambda w: Transaction.objects.create(
        creator=w.a, platform="fanvue", kind=Transaction.Kind.TIP, gross_minor=1000, fee_minor=200,
        net_minor=800, currency="USD", occurred_at=NOW() - timedelta(days=1), external_id="tx-1",
        source=Transaction.Source.MANUAL),
    "analytics.WebhookReceiver": lambda w: ingest.create_receiver(w.target(PlatformAccount))[0],
    # notifications
    "notifications.Notification": lambda w: Notification.objects.create(
        creator=w.a, kind="publication.failed", title="Publication failed", body="The platform said no."),
    "notifications.WebhookEndpoint": _endpoint,
    "notifications.WebhookDelivery": lambda w: WebhookDelivery.objects.create(
        endpoint=w.target(WebhookEndpoint), event="publication.failed",
        event_id="9d8f6c52-6f0e-4d43-9d0e-6c1b6b1f2a10", payload={"type": "publication.failed"},
        status=WebhookDelivery.Status.FAILED, attempts=5),
    # scheduling
    "scheduling.PlatformAccount": _account,
    "scheduling.Post": _post,
    "scheduling.Publication": _publication,
    "scheduling.TakedownTask": lambda w: TakedownTask.objects.create(
        publication=w.target(Publication), reason="takedown", due_at=NOW() + timedelta(hours=40)),
    # inbox
    "inbox.Conversation": _conversation,
    "inbox.Message": lambda w: w.target(Conversation).messages.get(),
    "inbox.Script": lambda w: Script.objects.create(creator=w.a, name="Welcome", text="Hi {fan_name}!"),
    "inbox.Shift": _shift,
    "inbox.AIDraft": lambda w: AIDraft.objects.create(creator=w.a, conversation=w.target(Conversation),
                                                      prompt_version="v1", text="Hi there"),
    "inbox.FanNote": lambda w: FanNote.objects.create(creator=w.a, fan=w.target(Conversation).fan, text="Likes cats"),
    "inbox.ReportingEvent": lambda w: ReportingEvent.objects.create(
        creator=w.a, conversation=w.target(Conversation), kind=ReportingEvent.Kind.FIRST_RESPONSE,
        chatter=w.people["chloe"], seconds=42),
}


def _target_performer(self: World) -> Any:
    from compliance.models import Performer

    return self.target(Performer)


World.target_performer = _target_performer  # type: ignore[attr-defined]


# --- States actions start from ---------------------------------------------------------------------


def _set(**fields: Any) -> Any:
    def apply(w: World, obj: Model) -> None:
        type(obj)._default_manager.filter(pk=obj.pk).update(**fields)

    return apply


def _queue_slot(w: World, pub: Publication) -> None:
    QueueSlot.objects.create(account=pub.account, weekday=(NOW().weekday() + 1) % 7, time=time(21, 0))
    Publication.objects.filter(pk=pub.pk).update(status=Publication.Status.APPROVED, scheduled_at=None)


def _ai_persona_with_backend(w: World, template: PromptTemplate) -> None:
    # A human creator needs a performer's AI-likeness consent before any image: an AI persona does not.
    type(w.a)._default_manager.filter(pk=w.a.pk).update(kind="ai_persona")
    GenerationBackend.objects.filter(pk=w.target(GenerationBackend).pk).update(is_default=True)


def _telegram_bot(w: World, receiver: Model) -> None:
    """The receiver of a Telegram bot of A (registering points that bot at it; Telegram itself is not
    reached from tests, so the attempt ends refused after the audited read of the bot's token)."""
    bot = PlatformAccountFactory(creator=w.a, platform="telegram", handle="alpha_bot",
                                 options={"chat_id": "@alpha_channel"})
    scheduling_services.store_credentials(bot, {"bot_token": "123456:test-token"})
    type(receiver)._default_manager.filter(pk=receiver.pk).update(account=bot)


ACTION_STATES: dict[tuple[str, str], Any] = {
    ("analytics.WebhookReceiver", "register_with_telegram"): _telegram_bot,
    ("analytics.WebhookReceiver", "register_detail"): _telegram_bot,
    ("content.PromptTemplate", "generate"): _ai_persona_with_backend,
    ("content.Asset", "submit_selected"): _set(status=Asset.Status.DRAFT),
    ("content.Asset", "submit_detail"): _set(status=Asset.Status.DRAFT),
    ("content.Asset", "archive_selected"): _set(status=Asset.Status.APPROVED),
    ("content.GenerationJob", "retry_selected"): _set(status=GenerationJob.Status.FAILED, error="timeout"),
    ("content.GenerationJob", "retry_detail"): _set(status=GenerationJob.Status.FAILED, error="timeout"),
    ("scheduling.Publication", "mark_uploaded"): _set(status=Publication.Status.UNKNOWN),
    ("scheduling.Publication", "retry_unknown"): _set(status=Publication.Status.UNKNOWN),
    ("scheduling.Publication", "add_selected_to_queue"): _queue_slot,
}

# What an action's own form asks for beyond ACTION_FORM.
ACTION_EXTRA: dict[tuple[str, str], Any] = {
    ("content.Asset", "add_to_collection"): lambda w: {"collection": w.target(Collection).pk},
    ("content.PromptTemplate", "generate"): lambda w: {"var_place": "the beach", "rating": "sfw", "count": "1"},
}

# What a confirm-with-a-reason page asks for, posted with `apply` so the action runs at once.
ACTION_FORM = {
    "apply": "1", "post": "yes", "confirm": "on", "reason": "Checked against the release.", "note": "Removed, checked.",
    "tags": "summer", "status": "removed", "description": "Removed from the platform.",
    "url": "https://fanvue.example.test/p/1", "day": (date.today() + timedelta(days=5)).isoformat(), "at": "21:00",
}


# One change a person would make on each change page (another value for one field they may edit).
# A page not listed gets its first text box changed; a page whose only edit is an inline row lists it.
EDITS: dict[str, dict[str, str]] = {
    "inbox.Script": {"name": "Welcome (edited)"},
    "inbox.Shift": {"note": "Evening cover"},
    "accounts.Creator": {"voice_notes": "Warm, playful."},
    "accounts.ApiKey": {"name": "crm (renamed)"},
    "accounts.User": {"first_name": "Renamed"},
    "analytics.AlertRule": {"threshold": "25"},
    "analytics.ExchangeRate": {"source": "ECB"},
    "analytics.Fan": {"notes": "Prefers evening messages."},
    "analytics.Offer": {"name": "Spring promo (longer)"},
    "analytics.ReportSubscription": {"format": "csv"},
    "analytics.TrackingLink": {"campaign_source": "x bio"},
    "analytics.WebhookReceiver": {"signing_secret": "whsec_" + "n" * 32},
    "compliance.Performer": {"notes": "Second casting."},
    "compliance.TakedownRequest": {"actions-0-description": "Asked the host to remove it."},
    "content.Asset": {"title": "Beach set, edited"},
    "content.Collection": {"description": "Summer"},
    "content.Watermark": {"text": "@alpha_official"},
    "content.GenerationBackend": {"model": "sdxl-turbo.safetensors"},
    "content.PromptCategory": {"description": "Faces and portraits"},
    "content.PromptTemplate": {"style": "soft light"},
    "content.CaptionTemplate": {"tones": "warm"},
    "content.HashtagSet": {"match": "beach, sea"},
    "notifications.WebhookEndpoint": {"name": "CRM hook (prod)"},
    "scheduling.PlatformAccount": {"external_id": "acct-42"},
    "scheduling.Post": {"caption": "Sunday set, edited"},
    "scheduling.Publication": {"caption_override": "Edited for this account"},
}


def edited(label: str, data: dict[str, Any]) -> dict[str, Any]:
    changes = EDITS.get(label)
    if changes is None:
        text = next((k for k, v in data.items() if isinstance(v, str) and not k.endswith(("FORMS", "_0", "_1"))
                     and "-" not in k and not k.startswith("_")), None)
        changes = {text: f"{data[text]} (edited)"} if text else {}
    return {**data, **changes}


# --- A browser's form submission, read from the rendered page -----------------------------------------


class FormReader(HTMLParser):
    """Every field of one <form> as a browser would post it (checked boxes, selected options, text)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.data = form_id, False, []
        self._select: str | None = None
        self._select_multiple = False
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.append((name, a.get("value") or "on"))
            elif kind not in ("file", "submit", "button", "image", "reset"):
                self.data.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select, self._select_multiple, self._options = name, "multiple" in a, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value") or "", "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected]
            if not chosen and not self._select_multiple and self._options:
                chosen = [self._options[0][0]]
            self.data += [(self._select, v) for v in chosen]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.data.append((self._textarea, "".join(self._text).removeprefix("\n")))
            self._textarea = None


def form_data(html: str, model: type[Model]) -> dict[str, Any]:
    reader = FormReader(f"{model._meta.model_name}_form")
    reader.feed(html)
    data: dict[str, Any] = {}
    for name, value in reader.data:
        data.setdefault(name, []).append(value)
    data.pop("csrfmiddlewaretoken", None)
    return {k: v if len(v) > 1 else v[0] for k, v in data.items()}


# --- What a new row looks like, per add form ------------------------------------------------------------


def _split(moment: datetime) -> dict[str, str]:
    local = timezone.localtime(moment)
    return {"0": local.date().isoformat(), "1": local.time().replace(microsecond=0).isoformat()}


def add_form_data(w: World, model: type[Model]) -> dict[str, Any] | None:
    """Valid POST data for a new row of `model` under creator A (None: no add form is expected to work)."""
    a = w.a
    label = model._meta.label
    later = NOW() + timedelta(days=4)
    match label:
        case "analytics.AlertRule":
            return {"kind": "revenue_drop", "creator": a.pk, "threshold": "15", "window_days": "7", "enabled": "on"}
        case "analytics.Offer":
            starts, ends = _split(later), _split(later + timedelta(days=3))
            return {"name": "Summer", "creator": a.pk, "account": w.target(PlatformAccount).pk, "kind": "discount",
                    "discount_percent": "20", "audience": "new", "starts_at_0": starts["0"],
                    "starts_at_1": starts["1"], "ends_at_0": ends["0"], "ends_at_1": ends["1"]}
        case "analytics.TrackingLink":
            return {"creator": a.pk, "name": "Reddit bio", "campaign_source": "reddit",
                    "url": "https://fanvue.example.test/r"}
        case "analytics.ReportSubscription":
            return {"creator": a.pk, "period": "monthly", "format": "csv", "active": "on",
                    "user": w.people["owner"].pk}
        case "analytics.ExchangeRate":
            return {"currency": "GBP", "day": "2026-11-11", "rate": "1.27", "source": "manual"}
        case "content.Collection":
            return {"creator": a.pk, "kind": "folder", "title": "New folder", "description": "",
                    "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0"}
        case "content.PromptTemplate":
            return {"creator": a.pk, "name": "Night", "rating": "sfw", "active": "on", "prompt": "a city at night",
                    "width": "1024", "height": "1024", "steps": "30", "count": "1"}
        case "content.CaptionTemplate":
            return {"creator": a.pk, "language": "en", "text": "Fresh set", "active": "on"}
        case "content.HashtagSet":
            return {"creator": a.pk, "name": "City", "language": "en", "tags": "#city", "active": "on"}
        case "content.PromptCategory":
            return {"name": "Landscapes", "position": "3"}
        case "content.GenerationBackend":
            return {"name": "Second Comfy", "kind": "comfyui", "purpose": "images", "base_url": "https://comfy.invalid",
                    "model": "sdxl", "enabled": "on", "timeout_seconds": "300", "max_concurrency": "1",
                    "cost_per_image_minor": "0", "cost_per_mtok_in_minor": "0", "cost_per_mtok_out_minor": "0",
                    "cost_per_hour_minor": "0", "currency": "USD", "options": "{}"}
        case "compliance.BlockedTerm":
            return {"term": "another-matrix-term", "note": "added in the matrix"}
        case "compliance.TakedownRequest":
            received = _split(NOW())
            return {"kind": "take_it_down", "creator": a.pk, "performers": w.target_performer().pk,
                    "received_at_0": received["0"], "received_at_1": received["1"], "requester_name": "Jo",
                    "requester_contact": "jo@example.test", "signature": "/Jo/", "content_description": "A photo",
                    "content_locations": "https://example.test/1", "non_consent_statement": "Not consented."}
        case "compliance.Performer":
            return {"legal_name": "New Performer", "date_of_birth": "1995-05-05", "country": "FR",
                    "link_creators": a.pk, "link_relation": "self", "email": "", "phone": "", "notes": "",
                    "names-TOTAL_FORMS": "0", "names-INITIAL_FORMS": "0"}
        case "notifications.WebhookEndpoint":
            return {"name": "Second hook", "creator": a.pk, "url": "https://hooks.example.test/two", "active": "on",
                    "events_text": ""}
        case "scheduling.PlatformAccount":
            return {"creator": a.pk, "platform": "manual", "handle": "alpha_of", "state": "connected",
                    "options": "{}", "queue_slots-TOTAL_FORMS": "0", "queue_slots-INITIAL_FORMS": "0"}
        case "accounts.Membership":
            return {"user": _user(w).pk, "creator": a.pk, "role": "chatter"}
        case "accounts.ApiKey":
            return {"name": "second", "owner": w.people["owner"].pk, "scope": "read", "creators": a.pk}
        case "accounts.Creator":
            return {"stage_name": "Gamma", "slug": "gamma", "kind": "human", "status": "onboarding",
                    "timezone": "UTC", "language": "en", "four_eyes_review": "on",
                    "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
        case "accounts.User":
            return {"username": "newstaff", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42",
                    "usable_password": "true"}
        case "content.Watermark":
            return {"creator": a.pk, "enabled": "on", "text": "@alpha", "position": "bottom_right",
                    "opacity": "0.5", "scale": "0.15"}
        case "compliance.ConsentRecord":
            signed = _split(NOW() - timedelta(hours=1))
            return {"performer": w.target_performer().pk, "platforms": ["fanvue", "x"], "max_rating": "explicit",
                    "uses": ["publication"], "signed_at_0": signed["0"], "signed_at_1": signed["1"]}
        case "compliance.IdentityVerification":
            return {"performer": w.target_performer().pk, "document_kind": "passport", "document_country": "FR",
                    "method": "manual", "result": "pending", "document_number": "P0000042"}
        case "analytics.WebhookReceiver":
            return {"account": w.target(PlatformAccount).pk, "signing_secret": "whsec_" + "k" * 32}
        case "scheduling.Post":
            return {"creator": a.pk, "caption": "A new set", "price": "", "currency": "",
                    "post_assets-TOTAL_FORMS": "0", "post_assets-INITIAL_FORMS": "0",
                    "publications-TOTAL_FORMS": "0", "publications-INITIAL_FORMS": "0"}
        case "scheduling.Publication":
            when = _split(later)
            return {"post": w.target(Post).pk, "account": w.target(PlatformAccount).pk, "caption_override": "",
                    "scheduled_at_0": when["0"], "scheduled_at_1": when["1"]}
        case "inbox.Script":
            return {"creator": a.pk, "name": "Good night", "text": "Sleep well, {fan_name}", "price": "",
                    "currency": "USD", "active": "on"}
        case "inbox.Shift":
            starts, ends = _split(later), _split(later + timedelta(hours=6))
            return {"creator": a.pk, "chatter": w.people["chloe"].pk, "starts_at_0": starts["0"],
                    "starts_at_1": starts["1"], "ends_at_0": ends["0"], "ends_at_1": ends["1"], "note": ""}
        case "analytics.Transaction":
            occurred = _split(NOW() - timedelta(hours=2))
            return {"creator": a.pk, "platform": "fanvue", "kind": "tip", "gross": "12.50", "fee": "0",
                    "currency": "USD", "occurred_local_0": occurred["0"], "occurred_local_1": occurred["1"],
                    "external_id": "tx-manual-9", "entry_key": "matrix-entry"}
    return None


def querystring(url: str) -> dict[str, str]:
    return dict(parse_qsl(url.split("?", 1)[1])) if "?" in url else {}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
