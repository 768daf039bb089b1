"""Accounts' statuses as sentences: where a creator stands with the agency."""

from __future__ import annotations

from accounts.models import Creator
from core import wording

CREATOR_STATUS = wording.register(Creator.Status, {
    "onboarding": "Onboarding: being set up, nothing goes out yet",
    "active": "Active",
    "paused": "Paused: nothing is scheduled for them",
    "archived": "Archived: kept for the records",
})
