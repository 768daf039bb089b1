"""Analytics' statuses as sentences: where an offer stands on its platform."""

from __future__ import annotations

from analytics.models import Offer
from core import wording

OFFER_STATUS = wording.register(Offer.Status, {
    "scheduled": "Scheduled: starts on the platform at its start time",
    "active": "Live on the platform",
    "expired": "Ended at its end time",
    "cancelled": "Cancelled before it ended",
    "failed": "Failed: the platform refused it (see the error)",
})
