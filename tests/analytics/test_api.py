"""Analytics read API: tenancy (absent, never forbidden), filters, cursor pages, bounded queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as accounts_services
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def data(people):
    a, b = people["a"], people["b"]
    f.rollup(a, date(2026, 11, 1), tips=100)
    f.rollup(a, date(2026, 11, 2), tips=200)
    f.rollup(a, date(2026, 11, 2), platform="x", tips=300)
    f.rollup(a, date(2026, 11, 5), tips=400)
    rb = f.rollup(b, date(2026, 11, 2), tips=999999)
    fan_a, fan_b = f.fan(a, "fa", handle="fan_of_alpha"), f.fan(b, "fb", handle="fan_of_beta")
    f.transaction(a, kind="tip", gross=500, fee=100, occurred_at=T0, fan=fan_a, external_id="t1")
    f.transaction(a, kind="subscription", gross=999, occurred_at=T0 + timedelta(days=1), external_id="t2")
    f.transaction(a, kind="tip", gross=700, platform="x", occurred_at=T0 + timedelta(days=2), external_id="t3")
    tb = f.transaction(b, kind="tip", gross=123456, occurred_at=T0, fan=fan_b, external_id="t4")
    key = accounts_services.issue_api_key(owner=people["alice"], name="ro", creators=[a]).raw
    return {**people, "rb": rb, "tb": tb, "fan_b": fan_b, "key": key}


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize("who", ["alice", "key"])
def test_other_creators_rows_are_absent(client, data, who):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {data['key']}"} if who == "key" else {}
    if who == "alice":
        client.force_login(data["alice"])
    for url in ("/api/v1/rollups/", "/api/v1/fans/", "/api/v1/transactions/", "/api/v1/subscriptions/"):
        rows = client.get(url, **headers).json()["results"]
        assert all(row["creator"] == data["a"].pk for row in rows), url
    assert client.get(f"/api/v1/rollups/{data['rb'].pk}/", **headers).status_code == 404
    assert client.get(f"/api/v1/transactions/{data['tb'].pk}/", **headers).status_code == 404
    assert client.get(f"/api/v1/fans/{data['fan_b'].pk}/", **headers).status_code == 404
    # Filtering by the other creator's id yields nothing rather than their rows.
    assert results(client.get("/api/v1/transactions/", {"creator": data["b"].pk}, **headers)) == []
    assert b"999999" not in client.get("/api/v1/rollups/", {"creator": data["b"].pk}, **headers).content


def test_bob_the_editor_sees_no_money(client, data):
    client.force_login(data["bob"])
    assert results(client.get("/api/v1/transactions/")) == []
    assert results(client.get("/api/v1/rollups/")) == []


def test_charlie_sees_only_b(client, data):
    client.force_login(data["charlie"])
    rows = results(client.get("/api/v1/transactions/"))
    assert [r["gross_minor"] for r in rows] == [123456]


def test_rollup_filters(client, data):
    client.force_login(data["owner"])
    rows = results(client.get("/api/v1/rollups/", {"creator": data["a"].pk, "day_after": "2026-11-02",
                                                   "day_before": "2026-11-04"}))
    assert sorted((r["day"], r["platform"], r["net_minor"]) for r in rows) == [
        ("2026-11-02", "fanvue", 200), ("2026-11-02", "x", 300)]
    rows = results(client.get("/api/v1/rollups/", {"creator": data["a"].pk, "platform": "fanvue"}))
    assert [r["day"] for r in rows] == ["2026-11-05", "2026-11-02", "2026-11-01"]  # newest day first
    assert rows[0]["currency"] == "USD"


def test_transaction_filters_and_cursor_pages(client, data):
    client.force_login(data["alice"])
    tips = results(client.get("/api/v1/transactions/", {"kind": "tip"}))
    assert [t["external_id"] for t in tips] == ["t3", "t1"]
    assert tips[1]["net_minor"] == 400 and tips[1]["currency"] == "USD"
    ranged = results(client.get("/api/v1/transactions/", {"occurred_at_after": (T0 + timedelta(hours=1)).isoformat(),
                                                          "occurred_at_before": (T0 + timedelta(days=1)).isoformat()}))
    assert [t["external_id"] for t in ranged] == ["t2"]
    assert [t["external_id"] for t in results(client.get("/api/v1/transactions/", {"platform": "x"}))] == ["t3"]
    page = client.get("/api/v1/transactions/", {"page_size": 2}).json()
    assert [t["external_id"] for t in page["results"]] == ["t3", "t2"] and "cursor=" in page["next"]
    rest = client.get(page["next"]).json()
    assert [t["external_id"] for t in rest["results"]] == ["t1"]


def test_fans_do_not_expose_staff_notes(client, data):
    client.force_login(data["alice"])
    fan, = results(client.get("/api/v1/fans/"))
    assert fan["handle"] == "fan_of_alpha" and "notes" not in fan


def test_query_count_does_not_grow_with_rows(client, data):
    client.force_login(data["alice"])
    counts = []
    for batch in range(2):
        with CaptureQueriesContext(connection) as ctx:
            for url in ("/api/v1/rollups/", "/api/v1/transactions/", "/api/v1/fans/"):
                assert client.get(url).status_code == 200
        counts.append(len(ctx))
        for i in range(20):
            f.transaction(data["a"], gross=10 + i, occurred_at=T0, external_id=f"more-{batch}-{i}",
                          fan=f.fan(data["a"], f"more-{batch}-{i}"))
            f.rollup(data["a"], date(2026, 10, 1) + timedelta(days=i + 25 * batch), platform="reddit", tips=i + 1)
    assert counts[0] == counts[1]
    assert counts[1] <= 3 * 8
