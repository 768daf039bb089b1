"""The dashboard: right numbers from rollups, only for creators in reach, in few queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.dashboard import Dashboard
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db
URL = "/admin/analytics/dailyrollup/dashboard/"


@pytest.fixture
def numbers(people):
    """A earns 123.45 in tips and 10.00 in subscriptions; B earns 7,777.77 — a number alice must never see."""
    yesterday = timezone.localdate() - timedelta(days=1)
    a, b = people["a"], people["b"]
    f.rollup(a, yesterday, tips=12345, new=5, churned=2, posts=1)
    f.rollup(a, yesterday - timedelta(days=3), platform="x", subs=1000, new=1)
    f.rollup(b, yesterday, tips=777777, new=40)
    acct_a, acct_b = f.account(a), f.account(b)
    hit = f.publication(acct_a, caption="Alpha hit post")
    f.snapshot(hit, likes=90, views=1000)
    f.snapshot(hit, likes=10, views=100, taken_at=timezone.now() - timedelta(days=1))  # older: ignored
    f.snapshot(f.publication(acct_a, caption="Alpha quiet post"), likes=3)
    f.snapshot(f.publication(acct_b, caption="Beta secret post"), likes=5000)
    f.publication(acct_a, caption="Alpha failed", status="failed")
    f.publication(acct_b, caption="Beta failed", status="unknown")
    f.publication(acct_a, caption="Alpha tomorrow", status="scheduled",
                  scheduled_at=timezone.now() + timedelta(days=1))
    f.publication(acct_b, caption="Beta tomorrow", status="scheduled",
                  scheduled_at=timezone.now() + timedelta(days=1))
    f.posting_hour(acct_a, 2, 20, publications=2, engagement=300)
    f.posting_hour(acct_b, 5, 9, publications=1, engagement=99999)
    return people


def test_numbers_come_from_the_rollups_of_creators_in_reach(numbers):
    board = Dashboard(numbers["alice"])
    assert board.totals["net"] == 13345
    assert board.totals["net_subscribers"] == 4  # 6 new - 2 churned
    assert {k["kind"]: k["net"] for k in board.kind_totals} == {"tip": 12345, "subscription": 1000}
    assert [row["caption"] for row in board.top_posts] == ["Alpha hit post", "Alpha quiet post"]
    assert board.top_posts[0]["engagement"] == 90
    assert [p.post.caption for p in board.upcoming] == ["Alpha tomorrow"]
    counts = {line["label"]: line["count"] for line in board.attention}
    assert counts["Failed or unknown publications"] == 1
    cells = {(r["weekday"], c["hour"]): c["value"] for r in board.heatmap for c in r["cells"] if c["value"]}
    assert cells == {("Wed", 20): 150.0}


def test_owner_sees_every_creator_and_one_creator_can_be_picked(numbers):
    assert Dashboard(numbers["owner"]).totals["net"] == 13345 + 777777
    assert Dashboard(numbers["owner"], creator_id=numbers["b"].pk).totals["net"] == 777777
    # Picking a creator out of reach narrows to nothing rather than widening.
    assert Dashboard(numbers["alice"], creator_id=numbers["b"].pk).totals["net"] == 0


def test_admin_home_shows_only_reachable_numbers(client, numbers):
    client.force_login(numbers["alice"])
    html = client.get(reverse("admin:index")).content.decode()
    assert "$133.45" in html and "Alpha hit post" in html and "Alpha tomorrow" in html
    assert "7,777.77" not in html and "Beta secret post" not in html and "Beta tomorrow" not in html
    client.force_login(numbers["charlie"])
    html = client.get(reverse("admin:index")).content.decode()
    assert "$7,777.77" in html and "Alpha hit post" not in html and "133.45" not in html


def test_creator_page_picker_and_404_for_a_creator_out_of_reach(client, numbers):
    a, b = numbers["a"], numbers["b"]
    assert reverse("admin:analytics_creator_dashboard") == URL
    client.force_login(numbers["alice"])
    page = client.get(URL, {"creator": a.pk, "days": 90})
    html = page.content.decode()
    assert page.status_code == 200
    assert "$133.45" in html and "Beta" not in html  # the picker lists Alpha only
    assert client.get(URL, {"creator": b.pk}).status_code == 404
    assert client.get(URL, {"creator": 999999}).status_code == 404
    client.force_login(numbers["charlie"])
    assert client.get(URL, {"creator": a.pk}).status_code == 404
    assert "$7,777.77" in client.get(URL, {"creator": b.pk}).content.decode()


def test_an_editor_without_analytics_rights_cannot_open_the_page(client, numbers):
    client.force_login(numbers["bob"])
    assert client.get(URL).status_code == 403
    html = client.get(reverse("admin:index")).content.decode()
    assert "analytics-board" not in html and "133.45" not in html


def test_query_count_does_not_grow_with_rows(client, numbers):
    client.force_login(numbers["owner"])
    client.get(URL)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL, {"days": 90}).status_code == 200
    yesterday = timezone.localdate() - timedelta(days=1)
    for i in range(1, 60):
        for platform in ("reddit", "telegram", "bluesky"):
            f.rollup(numbers["a"], yesterday - timedelta(days=i), platform=platform, tips=100 + i, new=1)
    acct = f.account(numbers["a"], "reddit")
    for i in range(15):
        f.snapshot(f.publication(acct, caption=f"p{i}"), likes=i)
    with CaptureQueriesContext(connection) as big:
        assert client.get(URL, {"days": 90}).status_code == 200
    assert len(big) == len(small)
    assert len(big) <= 30
