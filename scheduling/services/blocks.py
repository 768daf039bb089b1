"""Compliance reactions: publications blocked when a performer's consent or identity no longer
holds, or a takedown is opened, and released when the cause ends."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from compliance.gate import Reason
from compliance.models import CreatorPerformer
from scheduling.models import Publication
from scheduling.services.gate import check
from scheduling.services.lifecycle import APPROVAL_STALE, SlotTaken, _due_at, _move, lock_publication

S = Publication.Status


# --- Compliance reactions --------------------------------------------------------------------------


def block_for_performers(performer_ids: list[int], *, reason_code: str, message: str) -> int:
    """Block every not-yet-published publication depicting these performers, at once."""
    pending = [S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.CLAIMED, S.FAILED, S.MISSED]
    depicting = Q(post__post_assets__asset__performers__in=performer_ids) | Q(
        post__collection__assets__performers__in=performer_ids)
    ids = list(Publication.objects.filter(depicting, status__in=pending).values_list("pk", flat=True).distinct())
    reasons = [{"code": reason_code, "message": message, "performer_id": None, "hard": False, "field": None}]
    count = Publication.objects.filter(pk__in=ids, status__in=pending).update(status=S.BLOCKED,
                                                                               block_reasons=reasons)
    for pub in Publication.objects.filter(pk__in=ids).select_related("post"):
        audit.record("publication.blocked", pub, actor_label=f"signal:{reason_code}",
                     changes={"performers": performer_ids})
    return count


# Block causes. A blocked row carries one reason dict per cause in `block_reasons` (the gate's shape:
# code, message, performer_id, hard, field) plus, for a cause that can end, its key (`takedown_id`) and
# `was`, the status the row had before its first block. `add_block` appends a cause; `lift_block`
# removes causes and returns a row that has none left to where it was, through the gate, so a cause
# that was never recorded on the row (a revocation after the block) still keeps it blocked.
BLOCKABLE = frozenset({S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.CLAIMED, S.FAILED, S.MISSED})
APPROVAL_CODES = frozenset({"approval_missing", APPROVAL_STALE})


def _same_cause(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("code") == b.get("code") and a.get("takedown_id") == b.get("takedown_id")


def add_block(publication_ids: Iterable[int], reason: dict[str, Any], *, actor_label: str) -> list[int]:
    """Block each not-yet-published row with this cause (appended to any it already has). Returns the
    ids it changed; a row already carrying the same cause is left as it is, so a repeated signal is a
    no-op. Audits `publication.blocked` per row."""
    changed = []
    for pk in sorted(set(publication_ids)):
        with transaction.atomic():
            try:
                pub = lock_publication(Publication(pk=pk))
            except Publication.DoesNotExist:
                continue
            if pub.status not in BLOCKABLE and pub.status != S.BLOCKED:
                continue
            # Kept: what the row already carries (another cause, or `approval_stale` on a row sent back).
            reasons = list(pub.block_reasons)
            if any(_same_cause(r, reason) for r in reasons):
                continue
            was = pub.status if pub.status != S.BLOCKED else next(
                (r["was"] for r in reasons if r.get("was")), None)
            reasons.append({**reason, "was": was})
            if pub.status == S.BLOCKED:
                pub.block_reasons = reasons
                pub.save(update_fields=["block_reasons"])
            else:
                _move(pub, S.BLOCKED, block_reasons=reasons, next_attempt_at=None, lease_expires_at=None)
            audit.record("publication.blocked", pub, actor_label=actor_label,
                         changes={"code": reason.get("code"), "takedown": reason.get("takedown_id"), "was": was})
            changed.append(pk)
    return changed


def lift_block(publication_ids: Iterable[int], *, ended: Callable[[dict[str, Any]], bool], actor: Actor = None,
               actor_label: str = "") -> dict[int, str]:
    """Remove the causes `ended` says are over from these blocked rows. A row with causes left stays
    blocked with them; a row with none goes back where it was: a draft or a post awaiting approval
    returns there, a scheduled row to `scheduled` if its time is still ahead and the gate passes then,
    else to `approved` (awaiting a new time). If the gate finds a cause the row did not record, the row
    stays blocked with the gate's reasons. Returns the new status per row; audits `publication.unblocked`
    or `publication.block_narrowed`."""
    out: dict[int, str] = {}
    for pk in sorted(set(publication_ids)):
        with transaction.atomic():
            try:
                pub = lock_publication(Publication(pk=pk))
            except Publication.DoesNotExist:
                continue
            if pub.status != S.BLOCKED:
                continue
            lifted = [r for r in pub.block_reasons if ended(r)]
            if not lifted:
                continue
            left = [r for r in pub.block_reasons if not ended(r)]
            was = next((r["was"] for r in pub.block_reasons if r.get("was")), None) or S.APPROVED
            changes = {"lifted": sorted({r.get("code", "") for r in lifted}),
                       "takedowns": sorted({r["takedown_id"] for r in lifted if r.get("takedown_id")})}
            # A stale approval is not a block: the row goes back to be approved again (`_unblock`).
            if any(r.get("code") not in APPROVAL_CODES for r in left):
                pub.block_reasons = left
                pub.save(update_fields=["block_reasons"])
                audit.record("publication.block_narrowed", pub, actor=actor, actor_label=actor_label,
                             changes={**changes, "still": sorted({r.get("code", "") for r in left})})
                out[pk] = S.BLOCKED
                continue
            out[pk] = _unblock(pub, was=was, stale=[{k: v for k, v in r.items() if k != "was"} for r in left])
            held = pub.status == S.BLOCKED  # the gate found a cause the row had not recorded
            audit.record("publication.block_narrowed" if held else "publication.unblocked", pub, actor=actor,
                         actor_label=actor_label, changes={**changes, "to": pub.status,
                                                           "still": sorted({r["code"] for r in pub.block_reasons})})
    return out


def _unblock(pub: Publication, *, was: str, stale: list[dict[str, Any]]) -> str:
    now = timezone.now()
    at = pub.scheduled_at if pub.scheduled_at and pub.scheduled_at > now else now
    verdict = check(pub, due_at=at)
    holding = [r for r in verdict.reasons if r.code not in APPROVAL_CODES]
    if holding:
        pub.block_reasons = [{**r.to_dict(), "was": was} for r in holding]
        pub.save(update_fields=["block_reasons"])
        return S.BLOCKED
    if was == S.DRAFT:
        _move(pub, was, block_reasons=[])
    elif was == S.PENDING_APPROVAL:  # back with the approval reasons it carried (`approval_stale`)
        _move(pub, was, block_reasons=stale)
    elif not verdict.passed:  # only the approval fails: it goes back to be approved (approval is of a version)
        _move(pub, S.PENDING_APPROVAL, block_reasons=[r.to_dict() for r in verdict.reasons])
    elif was in (S.SCHEDULED, S.CLAIMED) and pub.scheduled_at and pub.scheduled_at > now:
        try:
            _due_at(pub, pub.scheduled_at, block_reasons=[], next_attempt_at=None, last_error="")
        except SlotTaken:  # the slot went to another row meanwhile: a person picks a new time
            _move(pub, S.APPROVED, block_reasons=[], last_error="Its time slot was taken while it was blocked.")
    else:
        _move(pub, S.APPROVED, block_reasons=[])
    return pub.status


STANDING_PENDING = (S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.CLAIMED, S.FAILED, S.MISSED)


def touching_performers(performer_ids: list[int]) -> Q:
    """Publications whose gate reads these performers: an asset depicts them, or the post's creator is
    built on their likeness (synthetic media of such a creator needs their AI-likeness consent)."""
    likeness = CreatorPerformer.objects.filter(
        performer_id__in=performer_ids,
        relation__in=[CreatorPerformer.Relation.SELF, CreatorPerformer.Relation.LIKENESS]).values("creator_id")
    return (Q(post__post_assets__asset__performers__in=performer_ids)
            | Q(post__collection__assets__performers__in=performer_ids)
            | Q(post__creator_id__in=likeness))


def failing_on_performers(pub: Publication, performer_ids: list[int], *, at: datetime) -> list[Reason]:
    """The gate's reasons, at `at`, that concern one of these performers (empty when none does)."""
    wanted = set(performer_ids)
    return [r for r in check(pub, due_at=at).reasons if r.performer_id in wanted]


def block_where_standing_fails(performer_ids: list[int], *, reason_code: str) -> list[int]:
    """Judge again every not-yet-published publication touching these performers and block the ones
    the gate now refuses because of one of them, with the gate's own reasons.

    Used when a consent is revoked, expires or is superseded, and when a fact the gate reads is
    corrected (date of birth, status, identity check). Unlike `block_for_performers` it blocks only
    what no other valid consent covers: a performer's second consent keeps its rows scheduled.
    Each row moves by a conditional update on the status it was read in (never a lost update).
    """
    now = timezone.now()
    ids = sorted(set(Publication.objects.filter(touching_performers(performer_ids), status__in=STANDING_PENDING)
                     .values_list("pk", flat=True)))
    blocked = []
    for pub in Publication.objects.filter(pk__in=ids).select_related("post", "post__creator", "account"):
        at = max(pub.scheduled_at or now, now)
        reasons = failing_on_performers(pub, performer_ids, at=at)
        if not reasons:
            continue
        with transaction.atomic():
            moved = Publication.objects.filter(pk=pub.pk, status=pub.status).update(
                status=S.BLOCKED, block_reasons=[{**r.to_dict(), "was": pub.status} for r in reasons])
            if moved:
                blocked.append(pub.pk)
                audit.record("publication.blocked", pub, actor_label=f"signal:{reason_code}",
                             changes={"performers": sorted(performer_ids), "was": pub.status,
                                      "codes": sorted({r.code for r in reasons})})
    return blocked
