"""Every CSV the app writes neutralises cells a spreadsheet would run as a formula, through one function.

The attack: a stage name, fan handle or caption that starts like a formula (`=HYPERLINK(...)` sends
whoever opens the file to an attacker's page, `=cmd|...` runs a program in old Excel). Typed by
anyone who can name a creator or be a fan, it reaches the owner's spreadsheet in an emailed report
or a changelist export.
"""

from __future__ import annotations

import ast
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from analytics import reports
from analytics.models import Fan
from analytics.reports import last_complete_period
from core.csv import safe_cell, writer
from tests.analytics import factories as dash

ROOT = Path(__file__).resolve().parents[2]
HYPERLINK = '=HYPERLINK("http://evil.example/","x")'
# A cell starting with any of these is run as a formula by Excel, LibreOffice or Google Sheets; the
# full-width and small forms are folded to ASCII by spreadsheets that accept East Asian input.
DANGEROUS = [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "＝HYPERLINK(\"http://evil\")", "＋1",
             "－1", "＠SUM(A1)", "﹦1", "  =1+1", "\u3000=1"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_that_starts_like_a_formula_is_neutralised(text):
    assert safe_cell(text) == "'" + text


def test_numbers_stay_numbers_and_plain_text_stays_plain():
    assert safe_cell(-500) == -500 and safe_cell(Decimal("-1.50")) == Decimal("-1.50") and safe_cell(2.5) == 2.5
    assert safe_cell("Luna Vale") == "Luna Vale" and safe_cell("a=b") == "a=b" and safe_cell("") == ""
    assert safe_cell(None) == "" and safe_cell(True) == "yes" and safe_cell(False) == "no"
    assert safe_cell(date(2026, 1, 2)) == "2026-01-02"
    assert safe_cell(datetime(2026, 1, 2, 3, 4)) == "2026-01-02T03:04:00"


def test_the_writer_neutralises_every_cell_it_writes():
    out = io.StringIO()
    writer(out).writerows([["name", "net"], [HYPERLINK, -5]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["name", "net"], ["'" + HYPERLINK, "-5"]]


@pytest.mark.django_db
def test_an_emailed_report_carries_no_formula_from_a_stage_name(people):
    creator = people["a"]
    creator.stage_name = HYPERLINK
    creator.save()
    dash.rollup(creator, date(2026, 11, 10), tips=1000, refunds=-250)
    report = reports.build(last_complete_period("weekly", date(2026, 11, 18)), [creator.pk], title="Weekly")
    rows = list(csv.DictReader(io.StringIO(reports.render_csv(report).decode())))
    assert rows[0]["creator"] == "'" + HYPERLINK
    # Money stays a number a spreadsheet can add up, refunds included.
    assert rows[0]["net_refund"] == "-2.50" and rows[0]["net_tip"] == "10.00"


@pytest.mark.django_db
@pytest.mark.parametrize("handle", ["＝HYPERLINK(\"http://evil\")", " =1+1"])
def test_a_changelist_export_carries_no_formula_from_a_fan_handle(client, people, handle):
    fan = Fan.objects.create(creator=people["a"], platform="fanvue", external_id="fan-1", handle=handle)
    client.force_login(people["owner"])
    response = client.post(reverse("admin:analytics_fan_changelist"),
                           {"action": "export_as_csv", ACTION_CHECKBOX_NAME: [fan.pk]})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    header, row = list(csv.reader(io.StringIO(body)))
    assert row[header.index("Handle")] == "'" + handle


def _stdlib_csv_writers(path: Path) -> list[str]:
    """Where one module can write CSV around `core.csv`: the standard library's writer (`import csv`,
    `from csv import writer`) or tablib's CSV export (`dataset.export("csv")`, `dataset.csv`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "export" \
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "csv":
            names = ['export("csv")']
        elif isinstance(node, ast.Attribute) and node.attr == "csv" and not (
                isinstance(node.value, ast.Name) and node.value.id == "core"):
            names = [".csv"]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name == "csv"]
        elif isinstance(node, ast.ImportFrom) and node.module == "csv":
            names = [alias.name for alias in node.names if alias.name in ("writer", "DictWriter", "*")]
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names]
    return found


def test_no_module_writes_csv_except_through_core_csv():
    """The guard: a module that writes CSV with the standard library's writer fails here, so no export can
    skip `safe_cell`."""
    apps = ["accounts", "analytics", "compliance", "config", "content", "core", "notifications", "scheduling"]
    offenders = [hit for app in apps for path in sorted((ROOT / app).rglob("*.py"))
                 if "migrations" not in path.parts and path != ROOT / "core" / "csv.py"
                 for hit in _stdlib_csv_writers(path)]
    assert offenders == []


def test_changelist_exports_are_a_read_that_needs_the_view_permission():
    # Declared like every other admin action (tests/config/test_admin_roles.py walks them all).
    from accounts.admin_export import export_as_csv

    assert list(export_as_csv.allowed_permissions) == ["view"]
