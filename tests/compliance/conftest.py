"""Compliance fixtures: a private storage of the test's own, and a fresh key ring."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet


def stored_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def keyring(settings):
    """One fresh primary key; tests prepend or drop keys through `settings`."""
    settings.ATELIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return settings


@pytest.fixture
def private_dir(settings, tmp_path) -> Path:
    """The private storage in a folder of its own, so a test can see every byte written."""
    root = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(root), "base_url": None}},
    }
    return root
