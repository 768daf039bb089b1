"""The admin speaks in sentences and currency units, in the creator's time; the raw app index is the owner's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import Creator
from analytics.models import Subscription, Transaction
from compliance.models import ConsentRecord
from config import navigation
from content.models import Collection
from scheduling.models import Publication
from tests.compliance.factories import ConsentFactory, PerformerFactory, use_private_storage
from tests.factories import UserFactory
from tests.scheduling.factories import PlatformAccountFactory, PostFactory, PublicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def blocked(people, settings, tmp_path):
    use_private_storage(settings, tmp_path)
    return blocked_publication(people)


def blocked_publication(people: dict) -> Publication:
    """A publication of A's (Paris), €19.99, blocked because Cora revoked the performer's consent on 3 Dec."""
    a = people["a"]
    Creator.objects.filter(pk=a.pk).update(timezone="Europe/Paris")
    a.refresh_from_db()
    performer = PerformerFactory(creators=[a])
    consent = ConsentFactory(performer=performer)
    cora = UserFactory(username="cora", first_name="Cora", last_name="")
    revoked = datetime(timezone.now().year, 12, 3, 9, 0, tzinfo=UTC)
    ConsentRecord.objects.filter(pk=consent.pk).update(revoked_at=revoked, revoked_by=cora)
    account = PlatformAccountFactory(creator=a)
    post = PostFactory(creator=a, caption="Winter set", price_minor=1999, currency="EUR")
    reasons = [{"code": "consent_revoked", "message": "The only consents covering this are revoked.",
                "performer_id": performer.pk, "hard": False, "field": None},
               {"code": "approval_stale", "message": "The post changed after it was approved.",
                "performer_id": None, "hard": False, "field": None}]
    return PublicationFactory(post=post, account=account, status=Publication.Status.BLOCKED, block_reasons=reasons,
                              scheduled_at=datetime(2026, 12, 24, 19, 0, tzinfo=UTC))


def test_publication_list_reads_as_sentences_with_money_and_local_time(client, people, blocked):
    client.force_login(people["alice"])
    html = client.get(reverse("admin:scheduling_publication_changelist")).content.decode()
    assert "Blocked: consent revoked on 3 Dec by Cora" in html
    assert "Held: the post changed after it was approved" in html
    assert "Blocked by compliance: see why below" in html  # the status badge
    assert "€19.99" in html and "1999" not in html
    assert "2026-12-24 20:00" in html and ">CET</span>" in html  # Paris time, with its zone
    # The codes stay, in small print only.
    assert '<code class="text-xs' in html and ">consent_revoked</code>" in html
    assert ">consent_revoked<" not in html.replace(">consent_revoked</code>", "")


def test_publication_list_loads_the_facts_once_per_page(client, people, blocked, django_assert_max_num_queries):
    for _ in range(5):
        PublicationFactory(post=blocked.post, account=PlatformAccountFactory(creator=people["a"]),
                           status=Publication.Status.BLOCKED, block_reasons=blocked.block_reasons)
    client.force_login(people["alice"])
    url = reverse("admin:scheduling_publication_changelist")
    client.get(url)
    with django_assert_max_num_queries(20):
        html = client.get(url).content.decode()
    assert html.count("Blocked: consent revoked on 3 Dec by Cora") == 6


def test_blocked_publication_page_tells_why_in_sentences(client, people, blocked):
    client.force_login(people["alice"])
    html = client.get(reverse("admin:scheduling_publication_change", args=[blocked.pk])).content.decode()
    assert 'data-testid="block-reasons"' in html
    assert "Blocked: consent revoked on 3 Dec by Cora" in html
    assert "Blocked by compliance: see why below" in html


def test_unknown_outcome_reads_as_what_to_do(client, people, blocked):
    Publication.objects.filter(pk=blocked.pk).update(status=Publication.Status.UNKNOWN, block_reasons=[])
    client.force_login(people["alice"])
    html = client.get(reverse("admin:scheduling_publication_changelist")).content.decode()
    assert "Outcome unknown — check on the platform" in html


def test_money_columns_elsewhere_are_in_currency_units(people):
    a = people["a"]
    coll = Collection(creator=a, title="Pack", price_minor=1999, currency="EUR")
    assert admin.site._registry[Collection].price(coll) == "€19.99"
    sub = Subscription(creator=a, price_minor=1200, currency="JPY")
    assert admin.site._registry[Subscription].price(sub) == "¥1,200"
    tx = Transaction(creator=a, gross_minor=2500, fee_minor=500, net_minor=2000, currency="USD",
                     occurred_at=datetime(2026, 12, 3, 23, 30, tzinfo=UTC))
    tx_admin = admin.site._registry[Transaction]
    assert (tx_admin.gross_display(tx), tx_admin.fee_display(tx), tx_admin.net_display(tx)) == (
        "$25.00", "$5.00", "$20.00")
    Creator.objects.filter(pk=a.pk).update(timezone="Asia/Tokyo")
    tx.creator.refresh_from_db()
    assert tx_admin.occurred_local(tx).startswith("2026-12-04 08:30") and ">JST</span>" in tx_admin.occurred_local(tx)


def test_managers_dashboard_has_no_raw_app_index(client, people):
    client.force_login(people["alice"])
    html = client.get(reverse("admin:index")).content.decode()
    for raw in ("app-otp_static", "app-django_celery_results", "app-axes", "app-django_celery_beat",
                'data-testid="system-section"', "Periodic tasks"):
        assert raw not in html
    assert "app-scheduling" not in html  # the domain's models are in the sidebar, not repeated here


def test_owner_finds_the_system_models_under_system(client, people):
    client.force_login(people["owner"])
    html = client.get(reverse("admin:index")).content.decode()
    assert 'data-testid="system-section"' in html
    for app in ("app-otp_static", "app-django_celery_results", "app-axes", "app-django_celery_beat"):
        assert app in html
    assert "app-scheduling" not in html


def _sidebar_titles(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    out = {}
    for group in navigation.sidebar(request):
        out[group["title"]] = [i["title"] for i in group["items"] if i.get("permission", lambda r: True)(request)]
    return out


def test_only_the_owner_sees_the_system_group_in_the_sidebar(people):
    assert "Periodic tasks" in _sidebar_titles(people["owner"])["System"]
    assert "Backup codes" in _sidebar_titles(people["owner"])["System"]
    # Even someone handed the model permission by mistake sees none of it.
    alice = people["alice"]
    alice.user_permissions.add(*Permission.objects.filter(codename__in=["view_periodictask", "view_accessattempt"]))
    alice = type(alice).objects.get(pk=alice.pk)
    assert _sidebar_titles(alice)["System"] == []
    assert "Publications" in _sidebar_titles(alice)["Scheduling"]



def test_post_list_shows_the_price_in_euros(client, people, blocked):
    client.force_login(people["alice"])
    html = client.get(reverse("admin:scheduling_post_changelist")).content.decode()
    assert "€19.99" in html
