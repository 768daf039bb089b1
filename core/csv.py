"""Writing CSV that a spreadsheet opens safely: the one way the app writes CSV.

A cell whose text starts like a formula is run by Excel, LibreOffice and Google Sheets when the
file is opened: `=HYPERLINK("http://…","x")` from a stage name or a fan's handle becomes a link to
an attacker's page in the owner's report, `=cmd|…` once ran programs. OWASP's "CSV injection"
advice is to prefix such text with an apostrophe, which every spreadsheet shows as text. What
counts as "starts like a formula" is judged after leading whitespace and after Unicode
compatibility folding, because spreadsheets with East Asian input accept the full-width `＝` and
the small `﹦` as `=`.

Numbers are written as numbers (a refund stays -500 and sums), so only text is ever touched.
Every report, export and record that writes CSV goes through `writer()` (a test fails when a
module builds its own `csv.writer`).
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def starts_like_formula(text: str) -> bool:
    if text[:1] in ("\t", "\r", "\n"):
        return True
    folded = unicodedata.normalize("NFKC", text.lstrip())
    return folded.startswith(FORMULA_STARTS)


def safe_cell(value: Any) -> Any:
    """A value as written to a CSV file: text that a spreadsheet would run as a formula is neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if starts_like_formula(text) else text


class SafeWriter:
    """`csv.writer` whose every cell passes through `safe_cell`."""

    def __init__(self, out: _Writable, **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: _Writable, **kwargs: Any) -> SafeWriter:
    return SafeWriter(out, **kwargs)
