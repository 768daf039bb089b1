"""Statement imports, the manual entry form and the CSV export action of the ledger admins."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from analytics import imports
from analytics.models import Fan, Transaction
from tests.analytics.factories import csv_rows, statement_csv, stored_transaction, upload

IMPORT_URL = "admin:analytics_transaction_import_statement"
CHANGELIST = "admin:analytics_transaction_changelist"
PARIS = ZoneInfo("Europe/Paris")
Out = imports.Outcome


def run(content: bytes, creator, *, fmt: str = "generic", platform: str = "fanvue", commit: bool = False,
        currency: str = "") -> imports.ImportReport:
    call = imports.import_statement if commit else imports.preview_statement
    return call(content, "statement.csv", creator=creator, platform=platform, statement_format=fmt,
                default_currency=currency)


# --- Parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("1,234.56", "USD", 123456), ("$12.00", "USD", 1200), ("-5.00", "USD", -500), ("(5.00)", "USD", -500),
    ("12.00 EUR", "EUR", 1200), ("-$0.10", "USD", -10), ("0.29", "USD", 29), ("1,000,000.01", "USD", 100000001),
    ("1200", "JPY", 1200), ("1.234", "KWD", 1234), ("€ 7", "EUR", 700),
])
def test_amounts_are_parsed_to_exact_minor_units(text, currency, minor):
    amount, _code = imports.parse_amount(text)
    assert isinstance(amount, Decimal)
    assert imports.to_minor(amount, currency) == minor


@pytest.mark.parametrize("text", ["12,50", "abc", "", "1.2.3", "1,23.4", "5 USD EUR"])
def test_unreadable_amounts_are_refused_not_guessed(text):
    with pytest.raises(imports.RowError):
        imports.parse_amount(text)


def test_amounts_finer_than_the_currency_are_refused():
    with pytest.raises(imports.RowError, match="more decimals"):
        imports.to_minor(Decimal("12.345"), "USD")
    with pytest.raises(imports.RowError):
        imports.to_minor(Decimal("5.5"), "JPY")


def test_naive_dates_are_the_creators_wall_time():
    onlyfans = imports.FORMATS["onlyfans"].date_formats
    assert imports.parse_occurred_at("2026-07-01 10:00", PARIS, onlyfans) == datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert imports.parse_occurred_at("Jan 5, 2026 3:04 pm", PARIS, onlyfans) == datetime(2026, 1, 5, 14, 4, tzinfo=UTC)
    assert imports.parse_occurred_at("01/05/2026 15:04", PARIS, onlyfans) == datetime(2026, 1, 5, 14, 4, tzinfo=UTC)
    fanvue = imports.FORMATS["fanvue"].date_formats
    assert imports.parse_occurred_at("01/05/2026", PARIS, fanvue) == datetime(2026, 4, 30, 22, tzinfo=UTC)
    assert imports.parse_occurred_at("2026-07-01T10:00:00Z", PARIS, onlyfans) == datetime(2026, 7, 1, 10, tzinfo=UTC)
    with pytest.raises(imports.RowError):
        imports.parse_occurred_at("05/01/2026", PARIS, imports.FORMATS["generic"].date_formats)


# --- Duplicates -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_duplicate_rows_within_the_file_and_against_stored_ones_count_once(creators):
    a, _ = creators
    stored_transaction(a, external_id="fv-3")
    content = statement_csv([
        ["2026-10-02 10:00", "tip", "10.00", "2.00", "8.00", "USD", "fv-1", "lee"],
        ["2026-10-02 10:00", "tip", "10.00", "2.00", "8.00", "USD", "fv-1", "lee"],  # same id twice
        ["2026-10-02 11:00", "subscription", "9.99", "2.00", "7.99", "USD", "", "kim"],
        ["2026-10-02 11:00", "subscription", "9.99", "2.00", "7.99", "USD", "", "kim"],  # no id, same content
        ["2026-10-02 12:00", "tip", "10.00", "2.00", "8.00", "USD", "fv-3", "lee"],  # already stored
        ["2026-10-02 12:00", "tip", "10.00", "2.00", "8.00", "USD", "fv-4", "lee"],
    ])
    preview = run(content, a)
    assert [r.outcome for r in preview.rows] == [Out.NEW, Out.DUPLICATE_IN_FILE, Out.NEW, Out.DUPLICATE_IN_FILE,
                                                 Out.ALREADY_STORED, Out.NEW]
    assert preview.rows[1].message == "same transaction as line 2"
    assert Transaction.objects.count() == 1 and not Fan.objects.exists()  # the preview kept nothing

    report = run(content, a, commit=True)
    assert report.committed and report.counts[Out.NEW] == 3
    imported = Transaction.objects.filter(source=Transaction.Source.IMPORT)
    assert imported.count() == 3
    assert sorted(imported.values_list("gross_minor", flat=True)) == [999, 1000, 1000]
    assert set(Fan.objects.values_list("handle", flat=True)) == {"lee", "kim"}
    event = AuditEvent.objects.get(action="transactions.imported")
    assert event.creator_id == a.pk and event.changes["rows_new"] == 3 and event.changes["rows_dup_file"] == 2
    assert "lee" not in str(event.changes)  # counts only, no fan names in the audit trail


@pytest.mark.django_db
def test_importing_the_same_file_twice_adds_nothing_the_second_time(creators):
    a, _ = creators
    content = statement_csv([
        ["2026-10-02 10:00", "tip", "10.00", "2.00", "", "USD", "", "lee"],
        ["2026-10-03 10:00", "renewal", "9.99", "", "7.99", "USD", "", "kim"],
    ])
    assert run(content, a, commit=True).counts[Out.NEW] == 2
    again = run(content, a, commit=True)
    assert not again.committed and again.counts[Out.ALREADY_STORED] == 2
    assert Transaction.objects.count() == 2
    assert AuditEvent.objects.filter(action="transactions.imported").count() == 1


@pytest.mark.django_db
def test_gross_fee_and_net_complete_each_other_and_refunds_are_negative(creators):
    a, _ = creators
    content = statement_csv([
        ["2026-10-02", "tip", "$1,234.56", "-246.91", "", "USD", "a", ""],  # fee printed negative
        ["2026-10-02", "paid message", "", "1.00", "4.00", "USD", "b", ""],  # net + fee
        ["2026-10-02", "refund", "5.00", "1.00", "4.00", "USD", "c", ""],  # printed positive
        ["2026-10-02", "chargeback", "(20.00)", "", "(20.00)", "USD", "d", ""],
    ])
    run(content, a, commit=True)
    got = {t.external_id: (t.kind, t.gross_minor, t.fee_minor, t.net_minor)
           for t in Transaction.objects.all()}
    assert got == {"a": ("tip", 123456, 24691, 98765), "b": ("paid_message", 500, 100, 400),
                   "c": ("refund", -500, -100, -400), "d": ("chargeback", -2000, 0, -2000)}


# --- Malformed rows ---------------------------------------------------------------------------------


MALFORMED = [
    ["2026-10-02 10:00", "tip", "10.00", "2.00", "8.00", "USD", "ok-1", "lee"],
    ["2026-10-02 10:00", "tip", "ten dollars", "2.00", "", "USD", "bad-amount", "lee"],
    ["someday", "tip", "10.00", "2.00", "8.00", "USD", "bad-date", "lee"],
    ["2026-10-02 10:00", "lap dance", "10.00", "2.00", "8.00", "USD", "bad-type", "lee"],
    ["2026-10-02 10:00", "tip", "10.00", "2.00", "7.00", "USD", "bad-net", "lee"],
    ["2026-10-02 10:00", "tip", "10.00", "12.00", "", "USD", "fee-too-big", "lee"],  # refused by the service
    ["2026-10-03 09:30", "post", "4.99", "1.00", "3.99", "USD", "ok-2", ""],
]


@pytest.mark.django_db
def test_malformed_rows_get_row_level_errors_and_good_rows_wait_for_confirmation(client, people, private_dir):
    client.force_login(people["alice"])
    url = reverse(IMPORT_URL)
    page = client.post(url, {"creator": people["a"].pk, "statement_format": "generic", "platform": "fanvue",
                             "currency": "", "file": upload(statement_csv(MALFORMED))})
    assert page.status_code == 200
    html = page.content.decode()
    outcomes = dict(re.findall(r'data-line="(\d+)" data-outcome="(\w+)"', html))
    assert outcomes == {"2": "new", "3": "error", "4": "error", "5": "error", "6": "error", "7": "error", "8": "new"}
    for reason in ("not a number like 1,234.56", "date &#x27;someday&#x27;", "unknown type &#x27;lap dance&#x27;",
                   "net does not equal gross minus fee", "fee is larger than the gross"):
        assert reason in html
    assert not Transaction.objects.exists()  # nothing until the person confirms
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    assert len(list(private_dir.rglob("*.csv"))) == 1

    done = client.post(url, {"token": token})
    assert done.status_code == 302 and done["Location"].startswith(reverse(CHANGELIST))
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == ["ok-1", "ok-2"]
    assert not list(private_dir.rglob("*.csv"))  # the staged file is gone
    message = [str(m) for m in client.get(done["Location"]).context["messages"]]
    assert any("2 imported, 0 duplicates skipped, 5 rows with errors not imported" in m for m in message)
    # The same confirmation posted again changes nothing.
    client.post(url, {"token": token})
    assert Transaction.objects.count() == 2


@pytest.mark.django_db
def test_previews_nobody_confirmed_are_cleaned_up(client, people, private_dir):
    import os
    import time

    client.force_login(people["alice"])
    data = {"creator": people["a"].pk, "statement_format": "generic", "platform": "fanvue"}
    client.post(reverse(IMPORT_URL), {**data, "file": upload(statement_csv([MALFORMED[0]]))})
    (abandoned,) = private_dir.rglob("*.csv")
    old = time.time() - 2 * 3600
    os.utime(abandoned, (old, old))
    client.post(reverse(IMPORT_URL), {**data, "file": upload(statement_csv([MALFORMED[6]]))})
    staged = list(private_dir.rglob("*.csv"))
    assert len(staged) == 1 and staged[0] != abandoned


@pytest.mark.django_db
def test_a_file_with_only_errors_imports_nothing(client, people, private_dir):
    content = statement_csv([MALFORMED[1], MALFORMED[2], MALFORMED[3]])
    report = run(content, people["a"], commit=True)
    assert not report.committed and report.counts[Out.ERROR] == 3
    assert not Transaction.objects.exists() and not AuditEvent.objects.filter(action="transactions.imported")
    client.force_login(people["alice"])
    page = client.post(reverse(IMPORT_URL), {"creator": people["a"].pk, "statement_format": "generic",
                                             "platform": "fanvue", "file": upload(content)}).content.decode()
    assert 'data-testid="nothing-to-import"' in page and 'name="token"' not in page
    assert not list(private_dir.rglob("*"))


@pytest.mark.django_db
def test_a_file_without_the_formats_columns_is_refused_as_a_whole(client, people):
    client.force_login(people["alice"])
    page = client.post(reverse(IMPORT_URL), {
        "creator": people["a"].pk, "statement_format": "generic", "platform": "fanvue",
        "file": upload(b"when,what\n2026-10-01,tip\n")})
    assert page.status_code == 200
    assert "Missing column(s)" in page.content.decode() and not page.context.get("report")


# --- Platform formats -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_onlyfans_statement_kinds_and_fans_from_descriptions(creators):
    a, _ = creators
    content = statement_csv([
        ["Oct 2, 2026 3:04 pm", "$10.00", "$2.00", "$8.00", "Tip from Lee Sun"],
        ["10/03/2026 09:00", "$9.99", "$2.00", "$7.99", "Recurring subscription from kim"],
        ["Oct 4, 2026", "$5.00", "$1.00", "$4.00", "Payment for message from kim"],
        ["Oct 4, 2026", "$5.00", "$1.00", "$4.00", "Withdrawal request"],
    ], headers=["Date & time", "Amount", "Fee", "Net", "Description"])
    report = run(content, a, fmt="onlyfans", platform="onlyfans", commit=True)
    assert [r.outcome for r in report.rows] == [Out.NEW, Out.NEW, Out.NEW, Out.ERROR]
    rows = {t.kind: t for t in Transaction.objects.select_related("fan")}
    assert set(rows) == {"tip", "renewal", "paid_message"}
    assert rows["tip"].fan.handle == "Lee Sun" and rows["tip"].currency == "USD"
    assert rows["tip"].occurred_at == datetime(2026, 10, 2, 13, 4, tzinfo=UTC)  # 15:04 in Paris (CEST)
    assert rows["renewal"].occurred_at == datetime(2026, 10, 3, 7, tzinfo=UTC)  # month first
    assert all(t.platform == "onlyfans" and t.external_id.startswith("stmt-") for t in rows.values())


@pytest.mark.django_db
def test_fanvue_statement_columns(creators):
    a, _ = creators
    content = statement_csv([
        ["02/10/2026 10:00", "Message unlock", "12.00", "2.40", "9.60", "GBP", "9f1c", "lee"],
        ["03/10/2026 10:00", "Resubscription", "8.00", "1.60", "6.40", "GBP", "9f1d", "lee"],
    ], headers=["Date", "Type", "Gross", "Fee", "Net", "Currency", "Transaction ID", "Fan username"])
    run(content, a, fmt="fanvue", platform="fanvue", commit=True)
    got = list(Transaction.objects.order_by("occurred_at").values_list("kind", "external_id", "currency",
                                                                       "occurred_at"))
    assert got == [("paid_message", "9f1c", "GBP", datetime(2026, 10, 2, 8, tzinfo=UTC)),
                   ("renewal", "9f1d", "GBP", datetime(2026, 10, 3, 8, tzinfo=UTC))]


# --- Tenancy ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_alice_cannot_import_into_or_see_creator_b(client, people, private_dir):
    a, b = people["a"], people["b"]
    theirs = stored_transaction(b, external_id="beta-only-tx")
    client.force_login(people["alice"])
    url = reverse(IMPORT_URL)
    form_page = client.get(url)
    assert form_page.status_code == 200
    choices = [c[0].value for c in form_page.context["form"].fields["creator"].choices if c[0]]
    assert choices == [a.pk]
    refused = client.post(url, {"creator": b.pk, "statement_format": "generic", "platform": "fanvue",
                                "file": upload(statement_csv([MALFORMED[0]]))})
    assert refused.status_code == 200 and "creator" in refused.context["form"].errors
    changelist = client.get(reverse(CHANGELIST)).content.decode()
    assert "beta-only-tx" not in changelist and url in changelist  # the import button is there
    assert client.get(reverse("admin:analytics_transaction_change", args=[theirs.pk])).status_code == 404

    # A token signed for creator B (say, from charlie's session) is refused to alice.
    client.force_login(people["charlie"])
    page = client.post(url, {"creator": b.pk, "statement_format": "generic", "platform": "fanvue",
                             "file": upload(statement_csv([MALFORMED[0]]))}).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    client.force_login(people["alice"])
    assert client.post(url, {"token": token}).status_code == 403
    assert Transaction.objects.filter(creator=b).count() == 1

    # An editor of A has no right to record money at all.
    client.force_login(people["bob"])
    assert client.get(url).status_code == 403


# --- CSV export -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_action_streams_the_reachable_rows_with_formula_cells_neutralised(client, people):
    a, b = people["a"], people["b"]
    mine = stored_transaction(a, external_id="=HYPERLINK(\"http://x\")", kind="refund", gross_minor=500,
                              fee_minor=0)
    fan = Fan.objects.create(creator=a, platform="fanvue", external_id="f1", handle="@lee")
    Transaction.objects.filter(pk=mine.pk).update(fan=fan)
    theirs = stored_transaction(b, external_id="b-1")
    client.force_login(people["alice"])
    response = client.post(reverse(CHANGELIST), {"action": "export_as_csv",
                                                 "_selected_action": [mine.pk, theirs.pk]})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(b"".join(response.streaming_content))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Occurred at", "Creator", "Platform", "Kind"]
    assert len(body) == 1  # creator B's row never leaves, even when its id is posted
    line = dict(zip(header, body[0], strict=True))
    assert line["External id"] == "'=HYPERLINK(\"http://x\")"
    assert line["Fan"] == "'@lee"
    assert line["Gross minor"] == "-500"  # a number, not text: left as is
    assert line["Kind"] == "Refund"
    assert AuditEvent.objects.filter(action="admin.changelist_exported").exists()


def test_safe_cell_only_touches_text():
    from core.csv import safe_cell

    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("+33 6") == "'+33 6"
    assert safe_cell("-5") == "'-5"
    assert safe_cell("\tcmd") == "'\tcmd"
    assert safe_cell(-5) == -5 and safe_cell(Decimal("-1.5")) == Decimal("-1.5")
    assert safe_cell("plain") == "plain" and safe_cell(None) == "" and safe_cell(True) == "yes"


@pytest.mark.django_db
def test_fans_and_subscriptions_changelists_export_and_stay_in_reach(client, people):
    Fan.objects.create(creator=people["a"], platform="fanvue", external_id="f-a", handle="alpha_fan")
    Fan.objects.create(creator=people["b"], platform="fanvue", external_id="f-b", handle="beta_fan")
    client.force_login(people["alice"])
    page = client.get(reverse("admin:analytics_fan_changelist")).content.decode()
    assert "alpha_fan" in page and "beta_fan" not in page
    response = client.post(reverse("admin:analytics_fan_changelist"),
                           {"action": "export_as_csv", "select_across": "1", "index": "0",
                            "_selected_action": list(Fan.objects.values_list("pk", flat=True))})
    handles = [r[0] for r in csv_rows(b"".join(response.streaming_content))[1:]]
    assert handles == ["alpha_fan"]
    assert client.get(reverse("admin:analytics_subscription_changelist")).status_code == 200


# --- Manual entry -----------------------------------------------------------------------------------


def manual_form(creator, **overrides) -> dict[str, object]:
    return {"creator": creator.pk, "platform": "onlyfans", "kind": "tip", "gross": "25.50", "fee": "5.10",
            "currency": "usd", "occurred_local_0": "2026-10-05", "occurred_local_1": "23:30:00", "fan": "",
            "external_id": "", "entry_key": "k-1", **overrides}


@pytest.mark.django_db
def test_manual_entry_goes_through_the_service_in_the_creators_timezone(client, people):
    a = people["a"]
    client.force_login(people["alice"])
    add = reverse("admin:analytics_transaction_add")
    assert client.get(add).status_code == 200
    response = client.post(add, manual_form(a))
    assert response.status_code == 302, response.context["adminform"].form.errors
    tx = Transaction.objects.get()
    assert (tx.creator, tx.source, tx.kind, tx.gross_minor, tx.fee_minor, tx.net_minor, tx.currency) == \
        (a, "manual", "tip", 2550, 510, 2040, "USD")
    assert tx.occurred_at == datetime(2026, 10, 5, 21, 30, tzinfo=UTC)  # 23:30 in Paris
    assert tx.external_id == "manual-k-1"
    assert AuditEvent.objects.filter(action="analytics.transaction_recorded", object_id=str(tx.pk)).exists()
    client.post(add, manual_form(a))  # the same form submitted twice
    assert Transaction.objects.count() == 1

    client.post(add, manual_form(a, kind="refund", gross="4.00", fee="0", entry_key="k-2"))
    assert Transaction.objects.get(external_id="manual-k-2").gross_minor == -400


@pytest.mark.django_db
def test_manual_entry_errors_come_back_on_the_form(client, people):
    a, b = people["a"], people["b"]
    stored_transaction(a, platform="onlyfans", external_id="of-1")
    client.force_login(people["alice"])
    add = reverse("admin:analytics_transaction_add")
    for data, field in ((manual_form(b), "creator"), (manual_form(a, gross="1.005"), None),
                        (manual_form(a, fee="30.00"), None), (manual_form(a, external_id="of-1"), "external_id")):
        page = client.post(add, data)
        assert page.status_code == 200
        errors = page.context["adminform"].form.errors
        assert (field in errors) if field else errors.get("__all__"), errors
    assert Transaction.objects.count() == 1
    # Ledger rows are read-only once written.
    tx = Transaction.objects.get()
    page = client.post(reverse("admin:analytics_transaction_change", args=[tx.pk]), {"gross": "1"})
    assert page.status_code in (302, 403) or "gross" not in page.content.decode()
    tx.refresh_from_db()
    assert tx.gross_minor == 1000
