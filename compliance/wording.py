"""Compliance's codes as sentences: the gate's refusals, and the statuses of its records.

A gate refusal reads as what stops the post and, where the record knows it, when and by whom
(`revocation_facts`, `takedown_facts` load those facts for many reasons in one query each).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from django.db.models import Choices

from compliance.models import ConsentRecord, IdentityVerification, Performer, TakedownRequest
from core import wording
from core.wording import Phrase

GATE = wording.register("gate", {
    "platform_unknown": "Blocked: this platform is not in the platform policy table",
    "rating_not_accepted": "Blocked: the platform does not accept content this explicit",
    "approval_missing": "Held: nobody has approved the post yet",
    "approval_stale": "Held: the post changed after it was approved",
    "depiction_undeclared": "Blocked: no performer is listed and nobody confirmed that no real person appears",
    "depiction_conflict": "Blocked: performers are listed although it says no real person appears",
    "production_date_missing": "Blocked: real people appear but the production date is unknown",
    "production_date_in_future": "Blocked: the production date is after the publication date",
    "performer_unknown": "Blocked: a performer in it has no record",
    "performer_inactive": "Blocked: a performer in it is suspended or erased",
    "performer_not_verified": "Blocked: a performer's identity has not been verified",
    "performer_dob_missing": "Blocked: a performer's date of birth is unknown",
    "performer_underage": "Blocked: a performer was under 18 when it was produced",
    "consent_missing": "Blocked: no consent covers this platform, rating and use",
    "consent_revoked": Phrase("Blocked: consent revoked", "Blocked: consent revoked on {when} by {who}"),
    "consent_expired": Phrase("Blocked: the consent has expired", "Blocked: the consent expired on {when}"),
    "consent_not_yet_valid": "Blocked: the consent is not valid yet",
    "consent_superseded": "Blocked: a newer consent replaced the one that covered this",
    "ai_disclosure_missing": "Blocked: AI-made media without its AI disclosure",
    "ai_provenance_missing": "Blocked: AI-made media without provenance (C2PA / IPTC)",
    "hard_block_term": "Blocked: the text suggests a minor or non-consent",
    "custom_blocked_term": "Blocked: the text uses a term on the agency's blocked list",
    "takedown_open": Phrase("Blocked: a takedown request is open",
                            "Blocked: takedown request from {who} received on {when} is open"),
})

wording.register(Performer.Status, {
    "active": "Active: may appear in content",
    "suspended": "Suspended: nothing showing them may go out",
    "erased": "Erased at their request: personal data removed",
})
wording.register(IdentityVerification.Result, {
    "pending": "Waiting for a decision",
    "approved": "Identity verified",
    "rejected": "Rejected: the identity could not be verified",
    "expired": "Expired: the identity document has lapsed",
})
wording.register(TakedownRequest.Status, {
    "open": Phrase("Open: nothing removed yet", "Open: due by {when}"),
    "in_progress": Phrase("In progress: removal under way", "In progress: due by {when}"),
    "removed": "Done: the content was removed",
    "rejected": "Rejected: not a valid request",
    "closed": "Closed",
})


def status_sentence(choices: type[Choices], code: str, **facts: object) -> str:
    return wording.say(choices, code, **facts)


def revocation_facts(performer_ids: Iterable[int], zone: tzinfo | None = None) -> dict[int, dict[str, str]]:
    """For each performer, when their latest revoked consent was revoked and by whom."""
    facts: dict[int, dict[str, str]] = {}
    rows = (ConsentRecord.objects.filter(performer_id__in=set(performer_ids), revoked_at__isnull=False)
            .select_related("revoked_by").order_by("performer_id", "-revoked_at"))
    for consent in rows:
        if consent.performer_id in facts:
            continue
        who = consent.revoked_by
        facts[consent.performer_id] = {
            "when": wording.day_text(consent.revoked_at, zone),
            "who": (who.get_full_name() or who.username) if who else "",
        }
    return facts


def takedown_facts(takedown_ids: Iterable[int], zone: tzinfo | None = None) -> dict[int, dict[str, str]]:
    rows = TakedownRequest.objects.filter(pk__in=set(takedown_ids)).only("pk", "requester_name", "received_at")
    return {t.pk: {"when": wording.day_text(t.received_at, zone), "who": t.requester_name} for t in rows}


def reason_facts(reasons: Iterable[dict[str, Any]], zone: tzinfo | None = None) -> list[dict[str, str]]:
    """The facts each stored gate reason can be told with, in order (empty where none is known)."""
    reasons = list(reasons)
    revoked = revocation_facts({r["performer_id"] for r in reasons
                                if r.get("code") == "consent_revoked" and r.get("performer_id")}, zone)
    takedowns = takedown_facts({r["takedown_id"] for r in reasons
                                if r.get("code") == "takedown_open" and r.get("takedown_id")}, zone)
    out: list[dict[str, str]] = []
    for r in reasons:
        if r.get("code") == "consent_revoked":
            out.append(revoked.get(r.get("performer_id") or 0, {}))
        elif r.get("code") == "takedown_open":
            out.append(takedowns.get(r.get("takedown_id") or 0, {}))
        else:
            out.append({})
    return out

