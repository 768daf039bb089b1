"""A small world for whole-API tests: two creators with a row of every kind the API serves, and three keys.

Built through the services where they exist, so the rows carry what real rows carry (audit, encrypted
secrets, derived deadlines); derived data (rollups, usage) is written directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import ApiKey, Creator
from analytics import ingest
from analytics.models import Subscription
from compliance import services as compliance
from content import services as content_services
from content import studio
from content.models import (
    Asset,
    Collection,
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    PromptCategory,
    PromptTemplate,
)
from inbox import services as inbox
from inbox.models import Script
from notifications import services as notifications
from scheduling import services as scheduling
from scheduling.models import Post, PostAsset, Publication, QueueSlot
from tests.analytics import factories as analytics_rows
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.factories import fan_writes
from tests.scheduling.factories import PlatformAccountFactory, PublicationFactory, approve_as_is

JPEG = b"\xff\xd8\xff" + b"0" * 64
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@dataclass
class ApiWorld:
    owner: Any
    creators: list[Creator]
    keys: dict[str, str]
    ids: dict[str, list[int]] = field(default_factory=dict)


def _asset(creator: Creator, n: int, **fields: Any) -> Asset:
    defaults = {"file": f"assets/{creator.slug}-{n}.jpg", "kind": "image", "mime": "image/jpeg",
                "sha256": f"{creator.pk:02d}{n:02d}".ljust(64, "0"), "size_bytes": 10, "rating": "sfw",
                "status": Asset.Status.APPROVED, "title": f"Set {n}"}
    return Asset.objects.create(creator=creator, **{**defaults, **fields})


def _creator_rows(creator: Creator, owner: Any, performer: Any) -> None:
    """One creator's accounts, posts in every status, assets, fans, money, studio and notices."""
    fanvue = PlatformAccountFactory(creator=creator, platform="fanvue", handle=f"{creator.slug}-fv")
    x = PlatformAccountFactory(creator=creator, platform="x", handle=f"{creator.slug}-x")
    PlatformAccountFactory(creator=creator, platform="reddit", handle=f"{creator.slug}-r",
                           options={"subreddit": "test"})
    for account in (fanvue, x):
        for weekday in range(7):
            QueueSlot.objects.create(account=account, weekday=weekday, time=time(9, 0))
            QueueSlot.objects.create(account=account, weekday=weekday, time=time(20, 30))
    draft = _asset(creator, 1, status=Asset.Status.DRAFT)
    approved = _asset(creator, 2, production_date=date(2026, 1, 5))
    approved.performers.add(performer)
    _asset(creator, 3, status=Asset.Status.IN_REVIEW)
    collection = Collection.objects.create(creator=creator, title="Vault", kind=Collection.Kind.FOLDER)
    content_services.add_to_collection(collection, [approved], actor=owner)
    statuses = [Publication.Status.DRAFT, Publication.Status.PENDING_APPROVAL, Publication.Status.APPROVED,
                Publication.Status.SCHEDULED, Publication.Status.PUBLISHED, Publication.Status.FAILED,
                Publication.Status.CANCELLED, Publication.Status.BLOCKED]
    for i, status in enumerate(statuses):
        post = Post.objects.create(creator=creator, caption=f"Post {i}", created_by=owner,
                                   approved_at=T0 if i >= 2 else None)
        PostAsset.objects.create(post=post, asset=approved if i % 2 else draft)
        at = T0 + timedelta(days=30 + i) if status not in (Publication.Status.DRAFT,) else None
        PublicationFactory(post=post, account=fanvue if i % 2 else x, status=status, scheduled_at=at,
                           external_url="https://fanvue.example/p/1" if status == "published" else "")
        if post.approved_at:
            approve_as_is(post)
    scheduling.create_post(creator_id=creator.pk, caption="Composed", asset_ids=[approved.pk],
                           targets=[(fanvue, ""), (x, "Teaser")], actor=owner)
    fan = analytics_rows.fan(creator, f"{creator.slug}-fan", handle="fan1")
    chat = fan_writes(fanvue, "Hi there", fan_id=f"{creator.slug}-chat").conversation
    inbox.send(chat, by=owner, text="Hello, thanks for writing")
    inbox.add_note(chat, by=owner, text="Asked about the new set")
    inbox.save_script(Script(creator=creator, name="Welcome", text="Welcome {fan_name}!"), actor=owner)
    analytics_rows.transaction(creator, fan=fan, occurred_at=T0, external_id=f"{creator.slug}-t1")
    analytics_rows.transaction(creator, kind="subscription", occurred_at=T0 + timedelta(days=1),
                               external_id=f"{creator.slug}-t2")
    Subscription.objects.create(creator=creator, fan=fan, platform="fanvue", started_at=T0, currency="USD",
                                price_minor=999)
    analytics_rows.rollup(creator, date(2026, 11, 2), tips=100)
    ingest.create_receiver(fanvue, secret="whsec-fuzz-0123456789")
    template = studio.save_prompt_template(PromptTemplate(creator=creator, name="Beach", prompt="A {place} beach",
                                                          category=PromptCategory.objects.first()), actor=owner)
    job = GenerationJob.objects.create(creator=creator, prompt="A sunny beach", template=template,
                                       status=GenerationJob.Status.FAILED, created_by=owner)
    GenerationJob.objects.create(creator=creator, prompt="A quiet beach", status=GenerationJob.Status.QUEUED)
    GenerationUsage.objects.create(creator=creator, backend_name="Studio", job=job, kind="image", images=1,
                                   cost_minor=3, currency="USD", at=T0)
    # No performer named: a takedown would block their scheduled publications once committed.
    compliance.open_takedown(creator=creator, performers=[], requester_name="R. Quester",
                             requester_contact="r@example.test", signature="R. Quester",
                             content_description="A clip", content_locations="https://example.test/x",
                             non_consent_statement="I did not consent.", actor=owner)
    notifications.create_endpoint(creator, "Ops", "https://hooks.example.test/atelier", [], actor=owner)
    notifications.notify("publication.failed", creator_id=creator.pk, title="A publication failed")


def build_api_world(settings: Any) -> ApiWorld:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    owner = UserFactory(username="fuzz-owner", is_superuser=True, is_staff=True)
    manager = UserFactory(username="fuzz-manager")
    creators = [CreatorFactory(stage_name="Fuzz A"), CreatorFactory(stage_name="Fuzz B")]
    accounts_services.add_membership(user=manager, creator=creators[0], role="manager")
    PromptCategory.objects.get_or_create(name="Beach")
    GenerationBackend.objects.create(name="Studio GPU", kind="comfyui", purpose="images",
                                     base_url="http://127.0.0.1:9", is_default=True, enabled=False)
    for creator in creators:
        performer = compliance.create_performer(legal_name=f"Performer of {creator.stage_name}",
                                                date_of_birth=date(1996, 4, 12), creators=[creator])
        compliance.record_verification(performer=performer, document_kind="passport", result="approved",
                                       actor=owner, front=JPEG)
        compliance.record_consent(performer=performer, platforms=["fanvue", "x"], max_rating="explicit",
                                  uses=["publication"], signed_at=timezone.now() - timedelta(days=30))
        _creator_rows(creator, owner, performer)
    keys = {
        "owner": accounts_services.issue_api_key(owner=owner, name="all", creators=creators,
                                                 scope=ApiKey.Scope.WRITE).raw,
        "one_creator": accounts_services.issue_api_key(owner=manager, name="A", creators=[creators[0]],
                                                       scope=ApiKey.Scope.WRITE).raw,
        "read_only": accounts_services.issue_api_key(owner=owner, name="ro", creators=creators).raw,
    }
    return ApiWorld(owner=owner, creators=creators, keys=keys)
