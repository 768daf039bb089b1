"""Reports: the right numbers, only what the subscriber reaches, emailed once per period."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.core import mail

from analytics import reports
from analytics.models import ReportSubscription
from analytics.reports import last_complete_period
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db
# A Wednesday: last week is Mon 9 – Sun 15 Nov, last month is October.
NOW = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)


@pytest.fixture
def week(people, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    a, b = people["a"], people["b"]
    f.rollup(a, date(2026, 11, 9), tips=1000, new=3, churned=1, posts=2)
    f.rollup(a, date(2026, 11, 15), tips=250, subs=999, refunds=-100, new=1)
    f.rollup(a, date(2026, 11, 12), platform="x", subs=500, new=2)
    f.rollup(a, date(2026, 11, 16), tips=99999)  # this week: not in last week's report
    f.rollup(b, date(2026, 11, 10), tips=424242, new=9)
    return people


def _span(kind, today):
    period = last_complete_period(kind, today)
    return period.start, period.end


def test_periods():
    today = date(2026, 11, 18)
    assert _span("daily", today) == (date(2026, 11, 17), date(2026, 11, 17))
    assert _span("weekly", today) == (date(2026, 11, 9), date(2026, 11, 15))
    assert _span("monthly", today) == (date(2026, 10, 1), date(2026, 10, 31))
    assert _span("monthly", date(2026, 1, 1)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_csv_has_one_row_per_creator_and_platform_and_a_total(week):
    report = reports.build(last_complete_period("weekly", NOW.date()), [week["a"].pk], title="Weekly — Alpha")
    rows = list(csv.DictReader(io.StringIO(reports.render_csv(report).decode())))
    assert [(r["creator"], r["platform"]) for r in rows] == [("Alpha", "Fanvue"), ("Alpha", "X"), ("Total", "")]
    fanvue, x, total = rows
    assert fanvue["net"] == "21.49" and fanvue["net_tip"] == "12.50" and fanvue["net_refund"] == "-1.00"
    assert fanvue["new_subscribers"] == "4" and fanvue["net_subscribers"] == "3" and fanvue["posts_published"] == "2"
    assert x["net"] == "5.00" and x["net_subscription"] == "5.00"
    assert total["net"] == "26.49" and total["currency"] == "USD" and total["net_subscribers"] == "5"


def _subscribe(user, creator, period="weekly", fmt="pdf"):
    return ReportSubscription.objects.create(user=user, creator=creator, period=period, format=fmt)


def test_pdf_is_attached_and_sent_once_per_period(week):
    sub = _subscribe(week["alice"], week["a"])
    assert reports.send_due(now=NOW) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.test"]
    (name, content, mimetype), = message.attachments
    assert name == "atelier-weekly-alpha-2026-11-09.pdf" and mimetype == "application/pdf"
    assert content.startswith(b"%PDF")
    sub.refresh_from_db()
    assert sub.last_sent_for == date(2026, 11, 9)

    assert reports.send_due(now=NOW) == 0  # same period: nothing
    assert reports.send_due(now=datetime(2026, 11, 22, 6, 0, tzinfo=UTC)) == 0  # still that week
    assert reports.send_due(now=datetime(2026, 11, 23, 6, 0, tzinfo=UTC)) == 1  # the next Monday
    assert len(mail.outbox) == 2


def test_a_failed_send_is_retried_on_the_next_run(week, monkeypatch):
    sub = _subscribe(week["alice"], week["a"], period="daily", fmt="csv")

    def broken(self, fail_silently=False):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    assert reports.send_due(now=NOW) == 0
    sub.refresh_from_db()
    assert sub.last_sent_for is None
    monkeypatch.undo()
    assert reports.send_due(now=NOW) == 1


def test_reports_never_carry_another_creators_numbers(week):
    # alice subscribed to B (e.g. before losing access) and to the agency: she gets neither.
    _subscribe(week["alice"], week["b"], fmt="csv")
    _subscribe(week["alice"], None, fmt="csv")
    _subscribe(week["alice"], week["a"], fmt="csv")
    _subscribe(week["charlie"], week["b"], fmt="csv")
    assert reports.send_due(now=NOW) == 2
    by_user = {m.to[0]: m.attachments[0][1] for m in mail.outbox}
    alice_csv = by_user["alice@example.test"]
    alice_csv = alice_csv.decode() if isinstance(alice_csv, bytes) else alice_csv
    assert "Alpha" in alice_csv and "Beta" not in alice_csv and "4242.42" not in alice_csv
    charlie_csv = by_user["charlie@example.test"]
    charlie_csv = charlie_csv.decode() if isinstance(charlie_csv, bytes) else charlie_csv
    assert "Beta" in charlie_csv and "4242.42" in charlie_csv and "Alpha" not in charlie_csv


def test_agency_wide_report_goes_to_the_owner_with_every_creator(week):
    _subscribe(week["owner"], None, fmt="csv")
    week["owner"].email = "owner@example.test"
    week["owner"].save()
    assert reports.send_due(now=NOW) == 1
    content = mail.outbox[0].attachments[0][1]
    content = content.decode() if isinstance(content, bytes) else content
    assert "Alpha" in content and "Beta" in content and "4268.91" in content  # 26.49 + 4242.42


def test_pdf_carries_only_the_subscribers_creator(week, monkeypatch):
    from reportlab import rl_config

    monkeypatch.setattr(rl_config, "pageCompression", 0)  # readable text streams to search
    _subscribe(week["alice"], week["a"])
    _subscribe(week["alice"], week["b"])
    assert reports.send_due(now=NOW) == 1
    pdf = mail.outbox[0].attachments[0][1]
    assert pdf.startswith(b"%PDF") and b"(Alpha)" in pdf and b"21.49" in pdf
    assert b"Beta" not in pdf and b"4,242.42" not in pdf
