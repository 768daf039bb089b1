"""Daily, weekly and monthly reports — per creator or agency-wide — as CSV or PDF, and their
delivery to subscribed staff; the same report on demand, for a creator and any period up to a year.

One builder (`build`), several renderers (`render_csv`, `render_pdf`, and `display_rows` for the
admin's HTML preview): what staff preview and download is what the subscribers are emailed.

A report covers the last *complete* period (yesterday, last Monday–Sunday, last month) and reads
the rollups, so it says exactly what the dashboard said for those days. Delivery is once per
period: a subscription is claimed by moving `last_sent_for` forward with a conditional UPDATE
before the email goes out, so two beat runs (or two workers) never both send it, and a failed
send gives the claim back for the next run.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.text import slugify
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from accounts import tenancy
from accounts.models import Creator
from analytics.dashboard import PLATFORM_LABELS, kind_net_sums
from analytics.models import DailyRollup, ReportSubscription, Transaction
from core import csv

logger = logging.getLogger(__name__)

Period = ReportSubscription.Period
KINDS = Transaction.Kind.values
COLUMNS = ["creator", "platform", "currency", "gross", "net", "transactions", "new_subscribers",
           "churned_subscribers", "net_subscribers", "posts_published", "views", "engagement",
           *[f"net_{kind}" for kind in KINDS]]


@dataclass(frozen=True)
class ReportPeriod:
    kind: str
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        if self.kind == Period.DAILY:
            return self.start.isoformat()
        if self.kind == Period.MONTHLY:
            return self.start.strftime("%B %Y")
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


def last_complete_period(kind: str, today: date) -> ReportPeriod:
    """The most recent period that has fully ended before `today`."""
    if kind == Period.DAILY:
        day = today - timedelta(days=1)
        return ReportPeriod(kind, day, day)
    if kind == Period.WEEKLY:
        this_monday = today - timedelta(days=today.weekday())
        return ReportPeriod(kind, this_monday - timedelta(days=7), this_monday - timedelta(days=1))
    if kind == Period.MONTHLY:
        end = today.replace(day=1) - timedelta(days=1)
        return ReportPeriod(kind, end.replace(day=1), end)
    raise ValueError(f"Unknown report period {kind!r}")


CUSTOM = "custom"
MAX_DAYS = 366
PRESETS = {"last_7_days": "Last 7 days", "last_month": "Last month", "month_to_date": "Month to date"}


def preset_period(preset: str, today: date) -> ReportPeriod:
    """A named period as the on-demand page offers it. Month to date includes today, whose numbers
    are only complete after tonight's rollup."""
    if preset == "last_7_days":
        return ReportPeriod(CUSTOM, today - timedelta(days=7), today - timedelta(days=1))
    if preset == "last_month":
        return last_complete_period(Period.MONTHLY, today)
    if preset == "month_to_date":
        return ReportPeriod(CUSTOM, today.replace(day=1), today)
    raise ValueError(f"Unknown report preset {preset!r}")


def custom_period(start: date, end: date) -> tuple[ReportPeriod, bool]:
    """The period from `start` to `end` (inclusive), at most `MAX_DAYS` long: a longer one keeps its
    end and is cut to the last `MAX_DAYS` days, so a mistyped year cannot make one request read a
    decade of rollups. Returns the period and whether it was cut."""
    if end < start:
        raise ValueError("The end date is before the start date.")
    capped = (end - start).days + 1 > MAX_DAYS
    if capped:
        start = end - timedelta(days=MAX_DAYS - 1)
    return ReportPeriod(CUSTOM, start, end), capped


@dataclass
class Report:
    title: str
    period: ReportPeriod
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)


def build(period: ReportPeriod, creator_ids: list[int] | None, *, title: str) -> Report:
    """One row per creator × platform over the period, plus totals; `creator_ids=None` is the
    whole agency. One grouped query over the rollups, whatever the number of days."""
    qs = DailyRollup.objects.filter(day__gte=period.start, day__lte=period.end)
    if creator_ids is not None:
        qs = qs.filter(creator_id__in=creator_ids)
    grouped = (qs.order_by().values("creator__stage_name", "platform")
               .annotate(gross=Sum("gross_minor"), net=Sum("net_minor"), transactions=Sum("transactions"),
                         new_subscribers=Sum("new_subscribers"), churned_subscribers=Sum("churned_subscribers"),
                         posts_published=Sum("posts_published"), views=Sum("views"), likes=Sum("likes"),
                         comments=Sum("comments"), shares=Sum("shares"), purchases=Sum("purchases"),
                         **kind_net_sums("net_"))
               .order_by("creator__stage_name", "platform"))
    report = Report(title=title, period=period)
    numeric = [c for c in COLUMNS if c not in ("creator", "platform", "currency")]
    for g in grouped:
        row: dict[str, Any] = {key: g.get(key) or 0 for key in numeric}
        row["engagement"] = sum(g[k] or 0 for k in ("likes", "comments", "shares", "purchases"))
        row["net_subscribers"] = row["new_subscribers"] - row["churned_subscribers"]
        row.update(creator=g["creator__stage_name"], platform=PLATFORM_LABELS.get(g["platform"], g["platform"]),
                   currency=settings.ANALYTICS_CURRENCY)
        report.rows.append(row)
    report.totals = {key: sum(r[key] for r in report.rows) for key in numeric}
    report.totals.update(creator="Total", platform="", currency=settings.ANALYTICS_CURRENCY)
    return report


MONEY_COLUMNS = frozenset({"gross", "net", *[f"net_{kind}" for kind in KINDS]})


def _cell(column: str, value: Any) -> Any:
    if column in MONEY_COLUMNS:
        return (Decimal(value) / 100).quantize(Decimal("0.01"))
    return value


def render_csv(report: Report) -> bytes:
    """Plain numbers (money in major units, dot decimal) so spreadsheets import it as-is; text cells
    (stage names) are neutralised by `core.csv` so a name cannot be a formula in someone's spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in [*report.rows, report.totals]:
        writer.writerow([_cell(c, row[c]) for c in COLUMNS])
    return buffer.getvalue().encode("utf-8")


def render(report: Report, fmt: str) -> tuple[bytes, str]:
    """The report as a file: (content, mimetype) for `fmt` "csv" or "pdf"."""
    if fmt == ReportSubscription.Format.CSV:
        return render_csv(report), "text/csv"
    if fmt == ReportSubscription.Format.PDF:
        return render_pdf(report), "application/pdf"
    raise ValueError(f"Unknown report format {fmt!r}")


def filename(report: Report, scope: str, fmt: str) -> str:
    period = report.period
    if period.kind == CUSTOM:
        return f"atelier-report-{slugify(scope) or 'creator'}-{period.start.isoformat()}-{period.end.isoformat()}.{fmt}"
    return f"atelier-{period.kind}-{slugify(scope) or 'creator'}-{period.start.isoformat()}.{fmt}"


PDF_COLUMNS = [("creator", "Creator"), ("platform", "Platform"), ("gross", "Gross"), ("net", "Net"),
               ("transactions", "Txns"), ("new_subscribers", "New subs"), ("churned_subscribers", "Churned"),
               ("net_subscribers", "Net subs"), ("posts_published", "Posts"), ("engagement", "Engagement")]


def render_pdf(report: Report) -> bytes:
    """A one-table summary for reading on a phone, plus revenue by kind."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=report.title, author="Atelier")
    styles = getSampleStyleSheet()
    currency = settings.ANALYTICS_CURRENCY
    story: list[Any] = [
        Paragraph(_escape(report.title), styles["Title"]),
        Paragraph(f"{_escape(report.period.label)} · money in {currency}, net of platform fees", styles["Normal"]),
        Spacer(1, 6 * mm),
    ]
    data = [[label for _, label in PDF_COLUMNS]]
    data += [[_escape(cell) for cell in row] for row in display_rows(report)]
    table = Table(data, repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#7c3aed")),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#f5f3ff")]),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
    ]))
    story.append(table)
    kinds = revenue_by_kind(report)
    if kinds:
        story += [Spacer(1, 6 * mm), Paragraph("Net revenue by kind", styles["Heading3"])]
        kind_table = Table([["Kind", f"Net ({currency})"], *[[label, value] for label, value in kinds]])
        kind_table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                                        ("ALIGN", (1, 0), (1, -1), "RIGHT"), ("FONTSIZE", (0, 0), (-1, -1), 9)]))
        story.append(kind_table)
    if not report.rows:
        story += [Spacer(1, 4 * mm), Paragraph("No activity recorded for this period.", styles["Normal"])]
    doc.build(story)
    return buffer.getvalue()


def display_rows(report: Report) -> list[list[str]]:
    """The summary table as people read it (PDF and the admin preview): one row per creator ×
    platform, then the total; money in currency units with two decimals, counts with separators."""
    return [[_display_cell(key, row[key]) for key, _ in PDF_COLUMNS] for row in [*report.rows, report.totals]]


def revenue_by_kind(report: Report) -> list[tuple[str, str]]:
    """(kind, net in currency units) for every kind of transaction the period saw."""
    kinds = [(str(Transaction.Kind(k).label), report.totals.get(f"net_{k}", 0)) for k in KINDS]
    return [(label, f"{value / 100:,.2f}") for label, value in kinds if value]


def _display_cell(column: str, value: Any) -> str:
    if column in MONEY_COLUMNS:
        return f"{value / 100:,.2f}"
    return value if isinstance(value, str) else f"{value:,}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- Delivery ----------------------------------------------------------------------------------


def reachable_creator_ids(sub: ReportSubscription) -> list[int] | None:
    """What the subscriber may read *today*, or None for the whole agency; [] means send nothing.

    Checked at every send, not when subscribing: someone who lost a creator stops receiving its
    numbers the next morning. Agency-wide reports go only to people who reach every creator.
    """
    user = sub.user
    if not user.is_active:
        return []
    ids = tenancy.allowed_creator_ids(user, DailyRollup)
    if sub.creator_id is not None:
        return [sub.creator_id] if ids is tenancy.ALL or sub.creator_id in ids else []
    if ids is tenancy.ALL:
        return None
    every = set(Creator.objects.values_list("pk", flat=True))
    return None if every and every <= ids else []


def report_for(sub: ReportSubscription, period: ReportPeriod) -> tuple[Report, str, bytes, str] | None:
    """The report a subscription receives for `period`: (report, filename, content, mimetype)."""
    creator_ids = reachable_creator_ids(sub)
    if creator_ids == []:
        return None
    scope = sub.creator.stage_name if sub.creator_id else "Agency"
    report = build(period, creator_ids, title=f"{sub.get_period_display()} report — {scope}")
    content, mimetype = render(report, sub.format)
    return report, filename(report, scope, sub.format), content, mimetype


def for_creator(creator: Creator, period: ReportPeriod) -> Report:
    """The report staff preview and download for one creator: the emailed report's builder, for
    any period. The caller has checked that the viewer reaches `creator`."""
    return build(period, [creator.pk], title=f"Report — {creator.stage_name}")


def send_due(now: datetime | None = None) -> int:
    """Email every active subscription whose last complete period has not been sent. Returns the
    number of emails sent; running it again for the same period sends nothing."""
    today = timezone.localdate(now or timezone.now())
    sent = 0
    subs = ReportSubscription.objects.filter(active=True).select_related("user", "creator").order_by("pk")
    for sub in subs:
        period = last_complete_period(sub.period, today)
        if sub.last_sent_for is not None and sub.last_sent_for >= period.start:
            continue
        if not sub.user.email:
            continue
        built = report_for(sub, period)
        if built is None:
            continue
        previous = sub.last_sent_for
        claimed = ReportSubscription.objects.filter(
            Q(last_sent_for__isnull=True) | Q(last_sent_for__lt=period.start), pk=sub.pk, active=True,
        ).update(last_sent_for=period.start)
        if not claimed:
            continue  # another run sent it meanwhile
        report, filename, content, mimetype = built
        message = EmailMessage(
            subject=f"[Atelier] {report.title} · {period.label}",
            body=(f"{report.title}\n{period.label}\n\nNet revenue: {report.totals['net'] / 100:,.2f} "
                  f"{settings.ANALYTICS_CURRENCY} · new subscribers: {report.totals['new_subscribers']} · "
                  f"churned: {report.totals['churned_subscribers']}\n\nThe full report is attached."),
            to=[sub.user.email],
        )
        message.attach(filename, content, mimetype)
        try:
            message.send(fail_silently=False)
        except Exception:
            ReportSubscription.objects.filter(pk=sub.pk, last_sent_for=period.start).update(last_sent_for=previous)
            logger.exception("Report subscription %s could not be emailed; it will be retried", sub.pk)
            continue
        sent += 1
    return sent
