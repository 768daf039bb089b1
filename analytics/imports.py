"""Statement imports: earnings exports (CSV) from any platform, turned into `Transaction` rows.

A person picks the creator, the statement format and the platform, uploads the file, sees every
row with its outcome (new, duplicate, error and why) and confirms; the good rows are then written
in one database transaction through the same `record_transaction` path webhooks and backfills use,
so a statement row and a webhook for the same event (same external id) count once.

Why not django-import-export's `ImportMixin`: it refuses to confirm a file that has any row-level
validation error, and it writes through model instances; we want good rows importable next to
reported bad ones, and every row to go through the idempotent ingestion service. So we use its
format classes to turn the upload into a `tablib.Dataset`, and our own preview and confirm. The
preview is the real import run inside a transaction that is rolled back, so what it shows (new vs
already stored, the service's own validation errors) is what confirming will do.

Column mapping. Platforms do not publish a schema for these exports, so the formats below are
assumptions from the columns the platforms' statement pages show; headers are matched
case-insensitively, ignoring punctuation, against a few aliases each:
- OnlyFans earnings ("Statements → Earnings", as exported by the usual browser tools): `Date`
  (or `Date & time`), `Amount` (gross), `Fee`, `Net`, `Description` — the kind and the fan come
  from the description ("Tip from …", "Recurring subscription from …", "Payment for message from
  …", "Post purchase by …"). No transaction id and no currency column: amounts are USD, dates
  like "Nov 23, 2026 3:04 pm" or month-first "11/23/2026 15:04".
- Fanvue earnings: `Date`, `Type`, `Gross`, `Fee`, `Net`, `Currency`, `Transaction ID`, `Fan` —
  slash dates are day-first.
- Generic: `date`, `type`, `gross`, `fee`, `net`, `currency`, `external_id`, `fan` (optional
  `description`) with ISO 8601 dates, for any other platform after a spreadsheet rename.

Parsing rules. Amounts are Decimal end to end ("1,234.56", "$12.00", "-5.00", "(5.00)", "12.00
USD"); a comma is only a thousands separator, so "12,50" is refused rather than guessed, and more
decimals than the currency has are refused rather than rounded. Of gross, fee and net any two
give the third; with all three they must agree. A fee printed negative on an income row is the
same fee. Refunds and chargebacks are stored negative whatever sign the statement prints. Dates
without an offset are in the creator's timezone; a date alone is local midnight.

Rows without an external id get a deterministic one — a digest of the platform, the UTC instant,
kind, amounts, currency, fan and description — so importing the same statement again, or an
overlapping one, adds nothing. The trade-off: two identical rows in one file (same fan, same
amount, same minute, same text) are taken as one transaction, which is what an overlapping or
concatenated export looks like far more often than a real double tip.

Fans are keyed by the handle the statement shows; a platform that reports fans by id in its
webhooks may hold the same person under that id too.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tablib
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from import_export.formats import base_formats

from accounts import audit
from accounts.models import Creator
from analytics import ingest
from analytics.currency import exponent
from analytics.models import Fan, Transaction

K = Transaction.Kind

MAX_ROWS = 50_000
MAX_BYTES = 10 * 1024 * 1024


# --- Statement formats ----------------------------------------------------------------------------

FIELDS = ("occurred_at", "kind", "gross", "fee", "net", "currency", "external_id", "fan", "description")

# Type labels seen across platforms, after `_norm` (lowercase, words only).
COMMON_KINDS: dict[str, str] = {
    "subscription": K.SUBSCRIPTION, "new subscription": K.SUBSCRIPTION, "subscribe": K.SUBSCRIPTION,
    "subscriptions": K.SUBSCRIPTION, "sub": K.SUBSCRIPTION,
    "renewal": K.RENEWAL, "recurring subscription": K.RENEWAL, "resubscription": K.RENEWAL, "rebill": K.RENEWAL,
    "subscription renewal": K.RENEWAL,
    "tip": K.TIP, "tips": K.TIP, "stream tip": K.TIP,
    "paid message": K.PAID_MESSAGE, "message": K.PAID_MESSAGE, "messages": K.PAID_MESSAGE,
    "ppv message": K.PAID_MESSAGE, "message unlock": K.PAID_MESSAGE, "paid messages": K.PAID_MESSAGE,
    "paid post": K.PAID_POST, "post": K.PAID_POST, "posts": K.PAID_POST, "ppv post": K.PAID_POST,
    "post unlock": K.PAID_POST, "post purchase": K.PAID_POST,
    "pack": K.PACK, "bundle": K.PACK, "media pack": K.PACK,
    "referral": K.REFERRAL, "referrals": K.REFERRAL,
    "refund": K.REFUND, "refunded": K.REFUND,
    "chargeback": K.CHARGEBACK, "charge back": K.CHARGEBACK, "dispute": K.CHARGEBACK,
    **{kind.value: kind.value for kind in K},
    **{kind.value.replace("_", " "): kind.value for kind in K},
}

# OnlyFans has no type column: the kind, and the fan's name, are in the description.
ONLYFANS_DESCRIPTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), kind) for pattern, kind in (
        (r"^(?:recurring subscription|subscription renewal|renewed subscription) (?:from|by) (?P<fan>.+)$",
         K.RENEWAL),
        (r"^subscription (?:from|by) (?P<fan>.+)$", K.SUBSCRIPTION),
        (r"^(?:stream )?tip (?:from|by) (?P<fan>.+)$", K.TIP),
        (r"^(?:payment for message|message payment|paid message) (?:from|by) (?P<fan>.+)$", K.PAID_MESSAGE),
        (r"^(?:post purchase|payment for post|paid post) (?:from|by) (?P<fan>.+)$", K.PAID_POST),
        (r"^referral(?: (?:from|by) (?P<fan>.+))?$", K.REFERRAL),
        (r"^refund(?: (?:for|from|to) (?P<fan>.+))?$", K.REFUND),
        (r"^chargeback(?: (?:for|from|by) (?P<fan>.+))?$", K.CHARGEBACK),
    ))

ISO_DATES = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")
WORD_DATES = ("%b %d, %Y %I:%M %p", "%b %d, %Y, %I:%M %p", "%B %d, %Y %I:%M %p", "%B %d, %Y, %I:%M %p",
              "%b %d, %Y %H:%M", "%b %d, %Y", "%B %d, %Y", "%d %b %Y %H:%M", "%d %b %Y", "%d %B %Y")


def _slash_dates(order: str) -> tuple[str, ...]:
    day = "%m/%d/%Y" if order == "mdy" else "%d/%m/%Y"
    return (f"{day} %H:%M:%S", f"{day} %H:%M", f"{day} %I:%M %p", f"{day} %I:%M:%S %p", day)


@dataclass(frozen=True)
class StatementFormat:
    key: str
    label: str
    platform: str | None  # the platform its statements come from; None: the user says
    columns: dict[str, tuple[str, ...]]  # field → header aliases, normalised by `_norm`
    date_formats: tuple[str, ...]
    default_currency: str = ""
    kinds: dict[str, str] = field(default_factory=lambda: COMMON_KINDS)
    descriptions: tuple[tuple[re.Pattern[str], str], ...] = ()

    def help(self) -> str:
        wanted = ", ".join(aliases[0] for name, aliases in self.columns.items() if aliases)
        return f"{self.label}: columns {wanted}."


FORMATS: dict[str, StatementFormat] = {fmt.key: fmt for fmt in (
    StatementFormat(
        key="onlyfans", label="OnlyFans earnings", platform="onlyfans",
        columns={"occurred_at": ("date", "date time", "date and time", "date & time", "created at"),
                 "gross": ("amount", "gross", "gross amount", "earnings"),
                 "fee": ("fee", "fees", "platform fee", "of fee"),
                 "net": ("net", "net amount"),
                 "description": ("description", "details"),
                 "kind": ("type", "earning type"),
                 "fan": ("fan", "username", "user", "subscriber"),
                 "currency": ("currency",),
                 "external_id": ("id", "transaction id")},
        date_formats=(*ISO_DATES, *WORD_DATES, *_slash_dates("mdy")),
        default_currency="USD", descriptions=ONLYFANS_DESCRIPTIONS),
    StatementFormat(
        key="fanvue", label="Fanvue earnings", platform="fanvue",
        columns={"occurred_at": ("date", "created at", "date time", "transaction date"),
                 "kind": ("type", "transaction type", "category", "source"),
                 "gross": ("gross", "gross amount", "amount", "price"),
                 "fee": ("fee", "fees", "platform fee", "fanvue fee"),
                 "net": ("net", "net amount", "earnings", "you earned"),
                 "currency": ("currency",),
                 "external_id": ("transaction id", "id", "transaction uuid", "reference"),
                 "fan": ("fan", "fan username", "username", "fan handle", "user"),
                 "description": ("description", "details")},
        date_formats=(*ISO_DATES, *WORD_DATES, *_slash_dates("dmy"))),
    StatementFormat(
        key="generic", label="Generic (date, type, gross, fee, net, currency, external_id, fan)", platform=None,
        columns={"occurred_at": ("date", "occurred at", "datetime"), "kind": ("type", "kind"),
                 "gross": ("gross",), "fee": ("fee",), "net": ("net",), "currency": ("currency",),
                 "external_id": ("external id", "id"), "fan": ("fan",), "description": ("description",)},
        date_formats=ISO_DATES),
)}


# --- Parsing --------------------------------------------------------------------------------------


class RowError(ValueError):
    """A row that cannot be imported, with the reason shown to the person importing."""


def _norm(text: Any) -> str:
    return " ".join(re.sub(r"[^0-9a-z&]+", " ", str(text or "").lower()).split())


_AMOUNT = re.compile(r"^(?P<sign>[-+])?(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d+))?$")
_CURRENCY_CODE = re.compile(r"^(?:([A-Z]{3})\s*)?(.*?)(?:\s*([A-Z]{3}))?$")


def parse_amount(text: Any) -> tuple[Decimal, str]:
    """Decimal amount and the ISO code printed next to it ("" if none). Never via float."""
    if isinstance(text, Decimal | int):
        return Decimal(text), ""
    raw = str(text or "").replace("\u00a0", " ").strip()
    if not raw:
        raise RowError("amount is empty")
    negative = raw.startswith("(") and raw.endswith(")")
    value = raw[1:-1].strip() if negative else raw
    match = _CURRENCY_CODE.match(value)
    code = ""
    if match:
        codes = {c.upper() for c in (match.group(1), match.group(3)) if c}
        if len(codes) > 1:
            raise RowError(f"amount {raw!r} names two currencies")
        code = codes.pop() if codes else ""
        value = match.group(2)
    value = value.replace(" ", "")
    # A sign may sit before or after the symbol: "-$5.00", "$-5.00".
    sign = ""
    for _ in range(2):
        if value[:1] in "-+":
            sign, value = value[0], value[1:]
        if value[:1] in "$€£¥":
            value = value[1:]
    number = _AMOUNT.match(sign + value)
    if not number or not (number.group("int") or number.group("frac")):
        raise RowError(f"amount {raw!r} is not a number like 1,234.56 (use a dot for decimals)")
    try:
        amount = Decimal((number.group("int") or "0").replace(",", "") + "." + (number.group("frac") or "0"))
    except InvalidOperation:  # pragma: no cover — the pattern admits only digits
        raise RowError(f"amount {raw!r} is not a number") from None
    if number.group("sign") == "-" or negative:
        amount = -amount
    return amount, code


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact minor units; an amount finer than the currency's smallest unit is an error, not rounded."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise RowError(f"{amount} has more decimals than {currency} allows")
    return int(scaled)


def parse_occurred_at(text: Any, tz: ZoneInfo, formats: Iterable[str]) -> datetime:
    """An aware datetime; a value without an offset is wall time in `tz` (the creator's)."""
    if isinstance(text, datetime):
        value = text
    elif isinstance(text, date):
        value = datetime.combine(text, time())
    else:
        raw = " ".join(str(text or "").split())
        if not raw:
            raise RowError("date is empty")
        value = None
        if re.match(r"^\d{4}-\d{2}-\d{2}", raw):
            try:
                value = datetime.fromisoformat(raw.replace(" Z", "Z"))
            except ValueError:
                value = None
        for fmt in () if value else formats:
            try:
                value = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        if value is None:
            raise RowError(f"date {raw!r} is not in a format this statement uses")
    if timezone.is_naive(value):
        value = value.replace(tzinfo=tz)
    if value > timezone.now() + timedelta(days=1):
        raise RowError(f"date {value:%Y-%m-%d} is in the future")
    return value.astimezone(ZoneInfo("UTC"))


@dataclass
class StatementRow:
    """One row as it will be recorded."""

    occurred_at: datetime
    kind: str
    gross_minor: int
    fee_minor: int
    currency: str
    external_id: str
    fan: str
    description: str
    generated_id: bool = False


class Outcome(models.TextChoices):
    NEW = "new", "New"
    DUPLICATE_IN_FILE = "dup_file", "Duplicate in this file"
    ALREADY_STORED = "dup_stored", "Already imported"
    ERROR = "error", "Error"


@dataclass
class RowResult:
    line: int  # as a spreadsheet shows it: the header is line 1
    outcome: str = Outcome.NEW
    message: str = ""
    row: StatementRow | None = None

    @property
    def label(self) -> str:
        return Outcome(self.outcome).label


@dataclass
class ImportReport:
    creator: Creator
    platform: str
    statement_format: StatementFormat
    rows: list[RowResult]
    committed: bool = False
    # The clock the statement's times are read and shown on: its date column's stated zone, else the creator's.
    zone_name: str = ""
    date_header: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name) if self.zone_name else self.creator.tzinfo

    @property
    def date_label(self) -> str:
        """The date column's heading in the preview, naming the clock its times are on."""
        name, stated = split_stated_zone(self.date_header)
        zone = self.zone_name or self.creator.timezone or "UTC"
        return self.date_header if stated else f"{name or 'Date'} ({zone})"

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(r.outcome for r in self.rows)
        return {o.value: found.get(o.value, 0) for o in Outcome}

    @property
    def importable(self) -> int:
        return self.counts[Outcome.NEW]

    @property
    def summary(self) -> str:
        counts = self.counts
        duplicates = counts[Outcome.DUPLICATE_IN_FILE] + counts[Outcome.ALREADY_STORED]
        new = "imported" if self.committed else "new"
        return (f"{counts[Outcome.NEW]} {new}, {duplicates} duplicates skipped, "
                f"{counts[Outcome.ERROR]} rows with errors not imported.")


class StatementError(ValueError):
    """The file as a whole cannot be read: nothing to preview."""


def read_statement(content: bytes, filename: str = "") -> tablib.Dataset:
    """The upload as a dataset, through django-import-export's format classes."""
    if len(content) > MAX_BYTES:
        raise StatementError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it by month.")
    formats = [f() for f in base_formats.DEFAULT_FORMATS if f().is_available() and f().can_import()]
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "csv"
    chosen = next((f for f in formats if f.get_extension() == extension), None)
    if chosen is None:
        raise StatementError(f"Files ending .{extension} cannot be read; export the statement as CSV.")
    if chosen.is_binary():
        data: Any = content
    else:
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                data = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    try:
        dataset = chosen.create_dataset(data)
    except Exception as exc:  # tablib raises whatever its backend raises on a malformed file
        raise StatementError(f"The file could not be read as {extension.upper()}: {type(exc).__name__}.") from None
    if not dataset.headers:
        raise StatementError("The file has no header row.")
    if dataset.height > MAX_ROWS:
        raise StatementError(f"The file has {dataset.height} rows; at most {MAX_ROWS} per import.")
    return dataset


# A header may state the clock its times are on: "Date (America/New_York)", "Created at [UTC]".
_STATED_ZONE = re.compile(r"^(?P<name>.*?)\s*[\(\[]\s*(?P<zone>[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*)"
                          r"\s*[\)\]]\s*$")


def split_stated_zone(header: Any) -> tuple[str, str]:
    """(the header without its stated zone, the zone's name or "")."""
    text = str(header or "").strip()
    match = _STATED_ZONE.match(text)
    return (match.group("name"), match.group("zone")) if match and match.group("name") else (text, "")


def statement_zone(headers: list[str], fmt: StatementFormat, creator: Creator) -> tuple[ZoneInfo, str]:
    """The clock the statement's times are on, and its name: the date column's stated zone, else the
    creator's. A zone nobody knows refuses the file rather than guessing the hours."""
    index = _column_map(headers, fmt)["occurred_at"]
    _name, zone = split_stated_zone(headers[index])
    if not zone:
        return creator.tzinfo, creator.timezone or "UTC"
    try:
        return ZoneInfo(zone), zone
    except (ZoneInfoNotFoundError, ValueError):
        raise StatementError(f"The column {headers[index]!r} states the timezone {zone!r}, which is not one "
                             f"Atelier knows; use a name such as America/New_York or UTC.") from None


def _column_map(headers: list[str], fmt: StatementFormat) -> dict[str, int]:
    normalised = [_norm(split_stated_zone(h)[0]) for h in headers]
    found: dict[str, int] = {}
    for name, aliases in fmt.columns.items():
        for alias in aliases:
            if _norm(alias) in normalised:
                found[name] = normalised.index(_norm(alias))
                break
    missing = []
    if "occurred_at" not in found:
        missing.append(fmt.columns["occurred_at"][0])
    if "gross" not in found and "net" not in found:
        missing.append(f"{fmt.columns['gross'][0]} or {fmt.columns['net'][0]}")
    if "kind" not in found and not (fmt.descriptions and "description" in found):
        missing.append(fmt.columns["kind"][0] if "kind" in fmt.columns else "description")
    if missing:
        raise StatementError(f"Missing column(s) for {fmt.label}: {', '.join(missing)}. "
                             f"Found: {', '.join(h for h in headers if h) or 'none'}.")
    return found


def _kind_and_fan(cells: dict[str, str], fmt: StatementFormat) -> tuple[str, str]:
    fan = cells.get("fan", "").strip()
    label = cells.get("kind", "").strip()
    if label:
        kind = fmt.kinds.get(_norm(label))
        if kind is None:
            raise RowError(f"unknown type {label!r}")
        return kind, fan
    description = " ".join(cells.get("description", "").split())
    for pattern, kind in fmt.descriptions:
        match = pattern.match(description)
        if match:
            return kind, fan or (match.groupdict().get("fan") or "").strip()
    raise RowError("unknown type: the description does not say what was bought" if description else "type is empty")


def _amounts(cells: dict[str, str], currency: str, kind: str) -> tuple[int, int]:
    """(gross, fee) in minor units, from whichever two or three of gross, fee, net the row has."""
    parsed: dict[str, int] = {}
    for name in ("gross", "fee", "net"):
        if cells.get(name, "").strip():
            amount, _ = parse_amount(cells[name])
            parsed[name] = to_minor(amount, currency)
    refund = kind in (K.REFUND, K.CHARGEBACK)
    if "fee" in parsed and not refund:
        parsed["fee"] = abs(parsed["fee"])
    if "gross" in parsed:
        gross = parsed["gross"]
        fee = parsed.get("fee", gross - parsed["net"] if "net" in parsed else 0)
    elif "net" in parsed:
        fee = parsed.get("fee", 0)
        gross = parsed["net"] + fee
    else:
        raise RowError("no amount: gross and net are both empty")
    if "net" in parsed and "gross" in parsed and "fee" in parsed and gross - fee != parsed["net"]:
        raise RowError("net does not equal gross minus fee")
    if refund and gross > 0:
        gross, fee = -gross, -abs(fee)
    return gross, fee


def _currency_of(cells: dict[str, str], fmt: StatementFormat, fallback: str) -> str:
    code = cells.get("currency", "").strip().upper()
    if not code:
        for name in ("gross", "net", "fee"):
            if cells.get(name, "").strip():
                try:
                    code = parse_amount(cells[name])[1]
                except RowError:
                    code = ""
                if code:
                    break
    code = code or fmt.default_currency or fallback
    if not code:
        raise RowError("no currency: the file has none and no default currency was chosen")
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise RowError(f"currency {code!r} is not an ISO 4217 code")
    return code


def statement_id(platform: str, row: StatementRow) -> str:
    """The external id of a row the platform did not number: stable across re-imports."""
    parts = (platform, row.occurred_at.astimezone(ZoneInfo("UTC")).isoformat(), row.kind, str(row.gross_minor),
             str(row.fee_minor), row.currency, row.fan.casefold(), " ".join(row.description.split()).casefold())
    return "stmt-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def parse_statement(dataset: tablib.Dataset, fmt: StatementFormat, *, creator: Creator, platform: str,
                    default_currency: str = "") -> list[RowResult]:
    """Every row parsed or with its error, and duplicates within the file marked."""
    columns = _column_map(list(dataset.headers), fmt)
    tz, _zone_name = statement_zone(list(dataset.headers), fmt, creator)
    results: list[RowResult] = []
    first_line_of: dict[str, int] = {}
    for index, values in enumerate(dataset, start=2):
        result = RowResult(line=index)
        results.append(result)
        cells = {name: "" if values[i] is None else str(values[i]) for name, i in columns.items() if i < len(values)}
        if not any(str(v or "").strip() for v in values):
            result.outcome, result.message = Outcome.ERROR, "empty row"
            continue
        try:
            kind, fan = _kind_and_fan(cells, fmt)
            currency = _currency_of(cells, fmt, default_currency)
            gross, fee = _amounts(cells, currency, kind)
            occurred_at = parse_occurred_at(values[columns["occurred_at"]], tz, fmt.date_formats)
        except RowError as exc:
            result.outcome, result.message = Outcome.ERROR, str(exc)
            continue
        external_id = cells.get("external_id", "").strip()
        row = StatementRow(occurred_at=occurred_at, kind=kind, gross_minor=gross, fee_minor=fee, currency=currency,
                           external_id=external_id, fan=fan[:200], description=cells.get("description", "").strip())
        if not external_id:
            row.external_id, row.generated_id = statement_id(platform, row), True
        if len(row.external_id) > 200:
            result.outcome, result.message = Outcome.ERROR, "transaction id is longer than 200 characters"
            continue
        result.row = row
        if row.external_id in first_line_of:
            result.outcome = Outcome.DUPLICATE_IN_FILE
            result.message = f"same transaction as line {first_line_of[row.external_id]}"
        else:
            first_line_of[row.external_id] = index
    return results


# --- Preview and import ---------------------------------------------------------------------------


class _DryRun(Exception):
    """Raised to roll the preview back."""


def _record_rows(results: list[RowResult], creator: Creator, platform: str) -> None:
    fans: dict[str, Fan] = {}
    for result in results:
        row = result.row
        if result.outcome != Outcome.NEW or row is None:
            continue
        try:
            with transaction.atomic():
                fan = None
                if row.fan:
                    if row.fan not in fans:
                        fans[row.fan] = ingest.upsert_fan(creator=creator, platform=platform, external_id=row.fan,
                                                          handle=row.fan, seen_at=row.occurred_at)[0]
                    fan = fans[row.fan]
                _txn, created = ingest.record_transaction(
                    creator=creator, platform=platform, kind=row.kind, gross_minor=row.gross_minor,
                    fee_minor=row.fee_minor, currency=row.currency, occurred_at=row.occurred_at,
                    external_id=row.external_id, source=Transaction.Source.IMPORT, fan=fan)
        except ValidationError as exc:
            result.outcome, result.message = Outcome.ERROR, "; ".join(exc.messages)
            fans.pop(row.fan, None)
            continue
        except (ValueError, IntegrityError) as exc:
            result.outcome, result.message = Outcome.ERROR, str(exc) or type(exc).__name__
            fans.pop(row.fan, None)
            continue
        if not created:
            result.outcome, result.message = Outcome.ALREADY_STORED, "already stored (same transaction id)"


def _run(content: bytes, filename: str, *, creator: Creator, platform: str, fmt: StatementFormat,
         default_currency: str, commit: bool) -> ImportReport:
    dataset = read_statement(content, filename)
    results = parse_statement(dataset, fmt, creator=creator, platform=platform, default_currency=default_currency)
    headers = list(dataset.headers)
    _tz, zone_name = statement_zone(headers, fmt, creator)
    report = ImportReport(creator=creator, platform=platform, statement_format=fmt, rows=results,
                          zone_name=zone_name, date_header=str(headers[_column_map(headers, fmt)["occurred_at"]]))
    try:
        with transaction.atomic():
            _record_rows(results, creator, platform)
            if not commit or not report.importable:
                raise _DryRun
            audit.record("transactions.imported", creator, changes={
                "platform": platform, "format": fmt.key, "file_sha256": hashlib.sha256(content).hexdigest(),
                **{f"rows_{k}": v for k, v in report.counts.items()}})
    except _DryRun:
        return report
    report.committed = True
    return report


def preview_statement(content: bytes, filename: str, *, creator: Creator, platform: str, statement_format: str,
                      default_currency: str = "") -> ImportReport:
    """What confirming would do, row by row; nothing is kept."""
    return _run(content, filename, creator=creator, platform=platform, fmt=FORMATS[statement_format],
                default_currency=default_currency, commit=False)


def import_statement(content: bytes, filename: str, *, creator: Creator, platform: str, statement_format: str,
                     default_currency: str = "") -> ImportReport:
    """Record the new rows of a statement in one transaction and audit the counts.

    Duplicates (within the file or already stored) are skipped and bad rows reported, never
    written; a file with nothing new writes nothing, not even an audit event. A database failure
    mid-way rolls the whole file back. The caller checks the person may add transactions for
    `creator`.
    """
    return _run(content, filename, creator=creator, platform=platform, fmt=FORMATS[statement_format],
                default_currency=default_currency, commit=True)
