"""Scheduling's codes as sentences: where a publication stands, why it waits, and an account's state.

`block_sentences` tells each stored refusal with the facts the record holds ("Blocked: consent
revoked on 3 Dec by Cora"), dates in the creator's timezone.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from compliance import wording as compliance_wording
from core import wording
from core.wording import Phrase
from scheduling.models import PlatformAccount, Publication, TakedownTask

PUBLICATION_STATUS = wording.register(Publication.Status, {
    "draft": "Draft: not sent for approval yet",
    "pending_approval": "Waiting for someone to approve the post",
    "approved": "Approved: not scheduled yet",
    "scheduled": Phrase("Scheduled", "Scheduled for {when}"),
    "claimed": "Being picked up for publishing",
    "publishing": "Publishing now",
    "published": Phrase("Published", "Published on {when}"),
    "failed": "Failed: it did not go out (see the error); it can be scheduled again",
    "unknown": "Outcome unknown — check on the platform",
    "blocked": "Blocked by compliance: see why below",
    "cancelled": "Cancelled: it will not go out",
    "missed": "Missed: its time passed before it could go out",
    "exported": "Exported: waiting for someone to upload it by hand",
    "removed": "Removed from the platform",
})
ACCOUNT_STATE = wording.register(PlatformAccount.State, {
    "not_connected": "Not connected: connect it before anything can go out",
    "connected": "Connected",
    "needs_reauth": "Needs signing in again: publishing to it is paused",
    "disabled": "Switched off: nothing goes out to it",
})
wording.register(TakedownTask.Status, {
    "open": Phrase("To do: take it down by hand", "To do: take it down by hand by {when}"),
    "done": "Done: taken down",
    "cancelled": "Cancelled: no longer needed",
})


def block_sentences(reasons: list[dict[str, Any]], zone: tzinfo | None = None) -> list[tuple[str, str]]:
    """(sentence, code) for each stored refusal, with who and when where the record says."""
    facts = compliance_wording.reason_facts(reasons, zone)
    return [(compliance_wording.GATE.say(r.get("code"), **f), str(r.get("code") or ""))
            for r, f in zip(reasons, facts, strict=True)]


def status_sentence(pub: Publication, zone: tzinfo | None = None) -> str:
    when = pub.published_at if pub.status == Publication.Status.PUBLISHED else pub.scheduled_at
    return PUBLICATION_STATUS.say(pub.status, when=wording.day_text(when, zone))
