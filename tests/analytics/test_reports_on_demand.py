"""Reports on demand: the emailed report's builder, previewed and downloaded for a creator the
viewer reaches and a period, with odd input answered by the form and never by a server error."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.core import mail
from django.urls import reverse

from analytics import reports
from analytics.models import ReportSubscription
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)  # a Wednesday: last week is Mon 9 – Sun 15 Nov
URL = "/admin/analytics/reportsubscription/on-demand/"


@pytest.fixture
def week(people, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    a, b = people["a"], people["b"]
    f.rollup(a, date(2026, 11, 9), tips=1000, new=3, churned=1, posts=2)
    f.rollup(a, date(2026, 11, 15), tips=250, subs=999, refunds=-100, new=1)
    f.rollup(a, date(2026, 11, 12), platform="x", subs=500, new=2)
    f.rollup(b, date(2026, 11, 10), tips=424242, new=9)
    return people


def _get(client, user, **params):
    client.force_login(user)
    return client.get(URL, params)


def test_the_url_is_wired_through_the_subscription_admin():
    assert reverse("admin:analytics_report_on_demand") == URL


def test_the_download_is_the_emailed_report(client, week):
    ReportSubscription.objects.create(user=week["alice"], creator=week["a"], period="weekly", format="csv")
    assert reports.send_due(now=NOW) == 1
    emailed = mail.outbox[0].attachments[0][1]
    emailed = emailed.encode() if isinstance(emailed, str) else emailed
    response = _get(client, week["alice"], creator=week["a"].pk, start="2026-11-09", end="2026-11-15", format="csv")
    assert response.status_code == 200
    assert response.content == emailed


def test_csv_download_has_the_header_and_money_in_currency_units(client, week):
    response = _get(client, week["alice"], creator=week["a"].pk, start="2026-11-09", end="2026-11-15", format="csv")
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == (
        'attachment; filename="atelier-report-alpha-2026-11-09-2026-11-15.csv"')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == reports.COLUMNS
    total = dict(zip(rows[0], rows[-1], strict=True))
    assert total["creator"] == "Total" and total["net"] == "26.49"


def test_pdf_download(client, week):
    response = _get(client, week["alice"], creator=week["a"].pk, start="2026-11-09", end="2026-11-15", format="pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF")


def test_preview_shows_the_same_table_in_currency_units(client, week):
    response = _get(client, week["alice"], creator=week["a"].pk, start="2026-11-09", end="2026-11-15")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="report-table"' in html and "26.49" in html and "2649" not in html
    assert "Beta" not in html and "4,242.42" not in html
    assert f"creator={week['a'].pk}" in html and "format=csv" in html and "format=pdf" in html


@pytest.mark.parametrize(("preset", "span"), [
    ("last_7_days", (date(2026, 11, 11), date(2026, 11, 17))),
    ("last_month", (date(2026, 10, 1), date(2026, 10, 31))),
    ("month_to_date", (date(2026, 11, 1), date(2026, 11, 18))),
])
def test_presets(preset, span):
    period = reports.preset_period(preset, date(2026, 11, 18))
    assert (period.start, period.end) == span


def test_a_preset_from_the_page(client, week, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: date(2026, 11, 18))
    response = _get(client, week["alice"], creator=week["a"].pk, preset="last_7_days", start="", end="")
    assert response.status_code == 200
    assert response.context["report"].period.start == date(2026, 11, 11)


@pytest.mark.parametrize("user", ["alice", "charlie"])
def test_a_creator_out_of_reach_is_not_found(client, week, user):
    other = week["b"] if user == "alice" else week["a"]
    for fmt in ("", "csv", "pdf"):
        response = _get(client, week[user], creator=other.pk, start="2026-11-09", end="2026-11-15", format=fmt)
        assert response.status_code == 404


def test_the_picker_lists_only_creators_in_reach(client, week):
    response = _get(client, week["alice"])
    assert response.status_code == 200
    assert [c.stage_name for c in response.context["creators"]] == ["Alpha"]
    owner = _get(client, week["owner"])
    assert [c.stage_name for c in owner.context["creators"]] == ["Alpha", "Beta"]


def test_someone_without_analytics_is_refused(client, week):
    from tests.factories import UserFactory

    stranger = UserFactory(username="stranger")
    assert _get(client, stranger).status_code == 403


@pytest.mark.parametrize(("params", "message"), [
    ({"start": "2026-13-45", "end": "2026-11-15"}, "Enter a valid date."),
    ({"start": "yesterday", "end": ""}, "Enter a valid date."),
    ({"start": "2026-11-15", "end": "2026-11-09"}, "The end date is before the start date."),
    ({"start": "", "end": ""}, "Choose a period, or give both dates."),
    ({"preset": "last_century", "start": "", "end": ""}, "Select a valid choice."),
    ({"start": "2026-11-09", "end": "2026-11-15", "format": "xlsx"}, "Download as CSV or PDF."),
])
def test_odd_input_is_a_clear_error(client, week, params, message):
    for fmt in ("", "csv"):
        response = _get(client, week["alice"], creator=week["a"].pk, **{"format": fmt, **params})
        assert response.status_code == 400
        assert message in response.content.decode()
        assert response["Content-Type"].startswith("text/html")


def test_a_creator_is_needed(client, week):
    response = _get(client, week["alice"], start="2026-11-09", end="2026-11-15", format="csv")
    assert response.status_code == 400 and "Choose a creator." in response.content.decode()


@pytest.mark.parametrize("creator", ["abc", "-1", "99999999"])
def test_a_nonsense_creator_is_not_found(client, week, creator):
    assert _get(client, week["alice"], creator=creator, preset="last_month").status_code == 404


def test_a_ten_year_range_is_capped_to_a_year(client, week):
    response = _get(client, week["alice"], creator=week["a"].pk, start="2016-11-15", end="2026-11-15")
    assert response.status_code == 200
    period = response.context["report"].period
    assert period.end == date(2026, 11, 15) and (period.end - period.start).days + 1 == reports.MAX_DAYS
    assert "at most 366 days" in response.content.decode()
    assert "start=2025-11-15" in response.content.decode()  # the downloads carry the capped period


def test_the_subscription_list_links_to_reports_on_demand(client, week):
    client.force_login(week["alice"])
    response = client.get("/admin/analytics/reportsubscription/")
    assert URL in response.content.decode()
