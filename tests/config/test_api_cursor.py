"""Cursor pages seek on the whole ordering: a walk by `next` sees every row once, however many
rows share the first ordering value, and `previous` walks back to the same pages."""

from __future__ import annotations

from base64 import b64encode
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from accounts import services as accounts_services
from analytics.models import Transaction

pytestmark = pytest.mark.django_db
TRANSACTIONS = "/api/v1/transactions/"
_external_ids = count()


@pytest.fixture
def headers(people) -> dict[str, str]:
    raw = accounts_services.issue_api_key(owner=people["owner"], name="cursor", creators=[people["a"]]).raw
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def tied_transactions(creator, n: int, at: datetime) -> list[int]:
    """`n` transactions at one instant, as a statement with date-only times imports them."""
    rows = Transaction.objects.bulk_create(
        Transaction(creator=creator, platform="onlyfans", kind="tip", gross_minor=100, fee_minor=20, net_minor=80,
                    currency="USD", occurred_at=at, external_id=f"stmt-{next(_external_ids)}", source="import")
        for _ in range(n))
    return [t.pk for t in rows]


def walk(client, url: str, headers: dict[str, str], params: dict | None = None, limit: int = 12) -> list[dict]:
    pages = []
    body = client.get(url, params or {}, **headers).json()
    pages.append(body)
    while body["next"] and len(pages) < limit:
        body = client.get(body["next"], **headers).json()
        pages.append(body)
    return pages


def test_more_than_a_thousand_ties_are_walked_once_each(client, people, headers):
    # DRF's own cursor steps over ties with an offset capped at 1,000: past that it served the
    # same page again and again, and a sync following `next` never ended.
    midnight = datetime(2026, 10, 31, tzinfo=UTC)
    ids = tied_transactions(people["a"], 1_600, midnight)
    later = tied_transactions(people["a"], 3, midnight + timedelta(days=1))
    pages = walk(client, TRANSACTIONS, headers, {"page_size": 500})
    seen = [row["id"] for page in pages for row in page["results"]]
    assert len(pages) == 4 and pages[-1]["next"] is None
    assert len(seen) == len(set(seen)) == 1_603
    assert seen[:3] == sorted(later, reverse=True)  # newest first, then by id
    assert seen[3:] == sorted(ids, reverse=True)


def test_previous_walks_back_to_the_same_pages(client, people, headers):
    tied_transactions(people["a"], 30, datetime(2026, 10, 31, tzinfo=UTC))
    forward = walk(client, TRANSACTIONS, headers, {"page_size": 7})
    back = client.get(forward[3]["previous"], **headers).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in forward[2]["results"]]
    back = client.get(back["previous"], **headers).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in forward[1]["results"]]


@pytest.mark.parametrize("position", ["not json", '["2026-10-31T00:00:00+00:00"]', '["yesterday", 5]',
                                      '["2026-10-31T00:00:00+00:00", "x"]', "[1e999, 1]", '{"a": 1}'])
def test_a_forged_position_is_refused_not_a_server_error(client, people, headers, position):
    tied_transactions(people["a"], 3, datetime(2026, 10, 31, tzinfo=UTC))
    cursor = b64encode(f"p={position}".encode()).decode()
    response = client.get(TRANSACTIONS, {"cursor": cursor}, **headers)
    assert response.status_code in (400, 404), response.content
    assert "error" in response.json()
