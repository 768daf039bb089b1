"""The statement import preview shows each row's time on the clock its date column states (or the creator's
when the column states none), never converted again to the server's UTC: a row at 20:15 New York time shows
as 20:15, not 01:15 the next day."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from analytics import imports
from analytics.models import Transaction
from tests.analytics.factories import statement_csv, upload

pytestmark = pytest.mark.django_db

IMPORT_URL = "admin:analytics_transaction_import_statement"
HEADERS = ["date", "type", "gross", "fee", "net", "currency", "external_id", "fan"]
ROW = ["2026-03-10 20:15", "tip", "10.00", "2.00", "8.00", "USD", "tz-1", "fan1"]


def preview(client, people, content: bytes) -> str:
    client.force_login(people["alice"])
    page = client.post(reverse(IMPORT_URL), {"creator": people["a"].pk, "statement_format": "generic",
                                             "platform": "fanvue", "currency": "", "file": upload(content)})
    assert page.status_code == 200
    return page.content.decode()


def shown_time(html: str) -> str:
    row = re.search(r'data-line="2"[^>]*>(.*?)</tr>', html, re.S).group(1)
    return re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", row)[0]


def test_the_preview_shows_the_creators_wall_time(client, people, private_dir):
    people["a"].timezone = "America/New_York"
    people["a"].save(update_fields=["timezone"])
    html = preview(client, people, statement_csv([ROW], HEADERS))
    assert shown_time(html) == "2026-03-10 20:15"
    assert "America/New_York" in html


def test_a_date_column_that_states_its_timezone_is_read_and_shown_in_it(client, people, private_dir):
    people["a"].timezone = "Europe/Paris"
    people["a"].save(update_fields=["timezone"])
    headers = ["Date (America/New_York)", *HEADERS[1:]]
    html = preview(client, people, statement_csv([ROW], headers))
    assert shown_time(html) == "2026-03-10 20:15"
    assert "Date (America/New_York)" in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    client.post(reverse(IMPORT_URL), {"token": token})
    assert Transaction.objects.get(external_id="tz-1").occurred_at == datetime(2026, 3, 11, 0, 15, tzinfo=UTC)


def test_a_stated_utc_column_and_an_unknown_zone(people):
    report = imports.preview_statement(statement_csv([ROW], ["date (UTC)", *HEADERS[1:]]), "s.csv",
                                       creator=people["a"], platform="fanvue", statement_format="generic")
    assert report.rows[0].row.occurred_at == datetime(2026, 3, 10, 20, 15, tzinfo=UTC)
    assert report.zone_name == "UTC"
    with pytest.raises(imports.StatementError, match="Mars/Olympus"):
        imports.preview_statement(statement_csv([ROW], ["date (Mars/Olympus)", *HEADERS[1:]]), "s.csv",
                                  creator=people["a"], platform="fanvue", statement_format="generic")
