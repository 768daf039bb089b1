"""Every `/api/v1/` list answers a page in a fixed number of queries, however many rows there are.

The lists are discovered from the router, so a new endpoint cannot go unmeasured: it needs a
baseline here. A baseline may fall; it rises only with a reason written next to it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Creator
from analytics.models import DailyRollup, Fan, Subscription, Transaction, WebhookReceiver
from config.api_urls import router
from content.models import GenerationBackend, GenerationJob, GenerationUsage, PromptCategory, PromptTemplate
from inbox import services as inbox_services
from inbox.channels.base import InboundMessage
from inbox.models import Script
from notifications.models import Notification, WebhookEndpoint
from scheduling import services as scheduling_services
from scheduling.models import Publication, QueueSlot
from tests.compliance.factories import PerformerFactory, TakedownFactory
from tests.content.factories import AssetFactory, CollectionFactory, add_rendition
from tests.factories import CreatorFactory
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db

# Queries per first page with an owner's API key over every creator: the key (1), its creators
# (1, again wherever a view asks tenancy twice), the page (1) and one per prefetched relation.
# None of them depends on the number of rows.
BASELINES = {
    "creators": 3,
    "compliance/performers": 11,  # + names, creator links, identity checks, consents, releases on file; key creators x3
    "compliance/takedowns": 6,  # + performers, targets (assets, publications, URLs); key creators x2
    "assets": 6,  # + tags, performers, renditions
    "collections": 4,  # + items
    "prompt-categories": 3,
    "prompt-templates": 3,
    "generation-backends": 3,
    "generation-jobs": 4,  # + resulting assets
    "generation-usage": 3,
    "platform-accounts": 3,
    "queue-slots": 3,
    "posts": 5,  # + assets, publications
    "publications": 3,
    "calendar": 3,
    "webhook-endpoints": 3,
    "notifications": 3,
    "rollups": 3,
    "fans": 3,
    "subscriptions": 3,
    "transactions": 3,
    "webhook-receivers": 3,
    "conversations": 3,
    "scripts": 4,  # + media
}
# Reports answered as one object, not a page of rows: their cost is the report's, measured in its own tests.
REPORTS = {"chatter-metrics"}
QUERY = {"calendar": {"start": "2026-11-01", "end": "2026-12-01"}}
DUE = datetime(2026, 11, 10, 18, tzinfo=UTC)
_n = count()


def list_endpoints() -> dict[str, str]:
    return {prefix: reverse(f"{basename}-list") for prefix, viewset, basename in router.registry
            if hasattr(viewset, "list") and prefix not in REPORTS}


def add_rows(creator: Creator, owner: Any) -> None:
    """One more row in every listed table for `creator`, each with the relations its list shows."""
    i = next(_n)
    CreatorFactory()
    PerformerFactory(creators=[creator])
    TakedownFactory(creator=creator)
    asset = AssetFactory(creator=creator)
    add_rendition(asset)
    collection = CollectionFactory(creator=creator)
    collection.items.create(asset=asset, position=1)
    category = PromptCategory.objects.create(name=f"Category {i}")
    backend = GenerationBackend.objects.create(name=f"Backend {i}", kind="comfyui", base_url="http://comfy.test")
    template = PromptTemplate.objects.create(creator=creator, category=category, backend=backend, name=f"T {i}",
                                             prompt="a portrait by the sea")
    job = GenerationJob.objects.create(creator=creator, backend=backend, template=template, prompt="a portrait")
    GenerationUsage.objects.create(creator=creator, backend=backend, job=job, backend_name=backend.name,
                                   kind="image", currency="USD")
    account = PlatformAccountFactory(creator=creator, platform="fanvue", handle=f"acct{i}")
    QueueSlot.objects.create(account=account, weekday=i % 7, time=time(18, 0))
    WebhookReceiver.objects.create(account=account, token=f"token-{i}", secret_encrypted="")
    post = scheduling_services.create_post(creator_id=creator.pk, caption=f"Post {i}", asset_ids=[asset.pk],
                                           targets=[(account, "")], actor=owner)
    Publication.objects.filter(post=post).update(scheduled_at=DUE + timedelta(hours=i))
    WebhookEndpoint.objects.create(creator=creator, name=f"Hook {i}", url="https://hooks.example.test/",
                                   secret_encrypted="")
    Notification.objects.create(creator=creator, kind="publication.failed", title=f"Failed {i}")
    DailyRollup.objects.create(creator=creator, platform="fanvue", day=date(2026, 1, 1) + timedelta(days=i))
    fan = Fan.objects.create(creator=creator, platform="fanvue", external_id=f"fan-{i}")
    Subscription.objects.create(creator=creator, fan=fan, account=account, platform="fanvue",
                                started_at=timezone.now(), currency="USD")
    Transaction.objects.create(creator=creator, account=account, fan=fan, platform="fanvue", kind="tip",
                               gross_minor=500, fee_minor=100, net_minor=400, currency="USD",
                               occurred_at=timezone.now(), external_id=f"tx-{i}", source="api")
    inbox_services.receive(account, InboundMessage(external_id=f"m-{i}", chat_id="", fan_id=f"chat-fan-{i}",
                                                   sent_at=timezone.now(), text="hello"))
    Script.objects.create(creator=creator, name=f"Script {i}", text="Thanks {fan_name}!")


def queries_per_list(client: Any, owner: Any) -> dict[str, tuple[int, int]]:
    """(queries, rows) of the first page of every list, with a fresh key over every creator."""
    raw = accounts_services.issue_api_key(owner=owner, name=f"lists {next(_n)}",
                                          creators=list(Creator.objects.all())).raw
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client.get(reverse("creator-list"), **headers)  # the key's first use touches last_used_at
    found = {}
    for name, url in list_endpoints().items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, QUERY.get(name, {}), **headers)
        assert response.status_code == 200, (name, response.content[:300])
        body = response.json()
        found[name] = (len(captured), len(body["results"] if isinstance(body, dict) else body))
    return found


def test_every_list_endpoint_has_a_baseline():
    assert set(list_endpoints()) == set(BASELINES)


def test_list_pages_cost_the_same_queries_at_any_size(client, people, media_dir):
    owner = people["owner"]
    creators = [people["a"], people["b"]]
    for creator in creators:
        add_rows(creator, owner)
    small = queries_per_list(client, owner)
    for _ in range(3):
        for creator in creators:
            add_rows(creator, owner)
    large = queries_per_list(client, owner)

    grew = {name: (small[name][1], large[name][1]) for name in small if large[name][1] <= small[name][1]}
    assert not grew, f"these lists did not show the added rows (before, after): {grew}"
    assert {n: q for n, (q, _) in large.items()} == {n: q for n, (q, _) in small.items()}, \
        "a list's query count grew with its rows (an N+1)"
    over = {n: (q, BASELINES[n]) for n, (q, _) in large.items() if q > BASELINES[n]}
    assert not over, f"queries above the baseline (found, baseline): {over}"


@pytest.mark.parametrize(("name", "params"), [("publications", {"status": ["scheduled", "failed"]}),
                                              ("transactions", {"kind": ["tip", "renewal"]}),
                                              ("generation-jobs", {"status": ["queued", "failed"]})])
def test_filters_on_a_lists_own_columns_add_no_distinct(client, people, name, params):
    # SELECT DISTINCT over every column sorts all matching rows before the first page comes out.
    raw = accounts_services.issue_api_key(owner=people["owner"], name="distinct", creators=[people["a"]]).raw
    with CaptureQueriesContext(connection) as captured:
        response = client.get(list_endpoints()[name], params, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200, response.content
    assert not [q["sql"] for q in captured if "DISTINCT" in q["sql"]]
