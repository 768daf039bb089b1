"""Statements to import and ledger rows to collide with, for the import and ledger admin tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from analytics import ingest
from analytics.models import Transaction

GENERIC_HEADERS = ["date", "type", "gross", "fee", "net", "currency", "external_id", "fan"]


def statement_csv(rows: Iterable[Iterable[object]], headers: Iterable[str] = GENERIC_HEADERS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(headers))
    writer.writerows([list(r) for r in rows])
    return buffer.getvalue().encode()


def upload(content: bytes, name: str = "statement.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def stored_transaction(creator, *, platform: str = "fanvue", external_id: str = "tx-stored", kind: str = "tip",
                       gross_minor: int = 1000, fee_minor: int = 200, currency: str = "USD",
                       occurred_at: datetime | None = None) -> Transaction:
    tx, _ = ingest.record_transaction(creator=creator, platform=platform, kind=kind, gross_minor=gross_minor,
                                      fee_minor=fee_minor, currency=currency,
                                      occurred_at=occurred_at or datetime.fromisoformat("2026-10-01T12:00:00+00:00"),
                                      external_id=external_id, source=Transaction.Source.API)
    return tx


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


@pytest.fixture
def private_dir(settings, tmp_path) -> Iterator[Path]:
    """Private storage in this test's own folder: staged statements can be listed and are cleaned."""
    root = tmp_path / "private"
    settings.STORAGES = {**settings.STORAGES, "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                          "OPTIONS": {"location": str(root), "base_url": None}}}
    storages._storages = {}
    storages.__dict__.pop("backends", None)
    yield root
    storages._storages = {}
    storages.__dict__.pop("backends", None)
