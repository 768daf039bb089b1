"""What the people in charge of a post are told when it is held or fails, in plain words.

One notice per condition (a consent revoked, a takedown request, one kind of refusal at publish
time), never one per row: its dedupe key names the condition and the creator, and a condition that
grows rewrites its notice (`notify(refresh=True)`). Each notice links to the posts it concerns.

Besides the creator's managers and the agency owners, a notice reaches the people who scheduled
the posts it names: `recipients_of` is registered with `notifications.services.register_recipients`,
so the notices raised elsewhere in scheduling (failed, unknown, re-authorisation) reach them too.
Performers appear by number only: notices are emailed and sent to webhooks, names stay in compliance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import AuditEvent, User
from compliance.gate import Verdict
from compliance.models import CreatorPerformer
from core.wording import counted
from notifications.models import Notification
from notifications.services import notify
from scheduling.models import Publication

S = Publication.Status
PUBLICATION_CHANGELIST = "/admin/scheduling/publication/"
SCHEDULING_ACTIONS = ("publication.scheduled", "publication.rescheduled")
# An account's notice concerns the people with posts still to go out on it.
ACCOUNT_WAITING = (S.SCHEDULED, S.CLAIMED, S.PUBLISHING, S.FAILED, S.UNKNOWN, S.BLOCKED, S.MISSED)


def posts_link(publication_ids: Iterable[int]) -> str:
    """The publications changelist narrowed to these rows: the held posts, one click away."""
    ids = sorted(set(publication_ids))
    if len(ids) == 1:
        return f"{PUBLICATION_CHANGELIST}{ids[0]}/change/"
    return f"{PUBLICATION_CHANGELIST}?id__in={','.join(map(str, ids))}" if ids else PUBLICATION_CHANGELIST


def posts_held(n: int, adjective: str = "scheduled") -> str:
    if n == 0:
        return f"no {adjective} post held"
    return f"{counted(n, adjective + ' post')} held"


def _day(at: datetime) -> str:
    local = timezone.localtime(at)
    return f"{local.day} {local:%b}"


def _person(user: User | None) -> str:
    if user is None:
        return ""
    return user.first_name or user.get_username()


# --- Who scheduled -------------------------------------------------------------------------------


def schedulers_of(publication_ids: Iterable[int]) -> set[int]:
    """The people behind these publications: each post's author and whoever put it on the calendar."""
    ids = sorted(set(publication_ids))
    if not ids:
        return set()
    authors = set(Publication.objects.filter(pk__in=ids, post__created_by__isnull=False)
                  .values_list("post__created_by", flat=True))
    scheduled = set(AuditEvent.objects.filter(action__in=SCHEDULING_ACTIONS, object_type="scheduling.publication",
                                              object_id__in=[str(pk) for pk in ids], actor__isnull=False)
                    .values_list("actor_id", flat=True))
    return authors | scheduled


def _int_list(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, int)]
    return []


def recipients_of(notification: Notification) -> set[int]:
    """For `notifications`: the schedulers of the publications a notice names (in its payload) or of
    the posts waiting on the account it concerns."""
    payload = notification.payload or {}
    ids: list[int] = []
    for key in ("publication_id", "publication_ids", "blocked", "removing"):
        ids += _int_list(payload.get(key))
    model, _, pk = notification.subject.partition(":")
    if model == "scheduling.platformaccount" and pk.isdigit():
        ids += list(Publication.objects.filter(account_id=int(pk), status__in=ACCOUNT_WAITING)
                    .values_list("pk", flat=True))
    return schedulers_of(ids)


# --- Consent revoked or expired ------------------------------------------------------------------


def consent_ended(performer_ids: list[int], *, reason_code: str, consent_ids: list[int], blocked: list[int],
                  removing: list[int], at: datetime | None = None, by: User | None = None) -> list[Notification]:
    """One notice per creator concerned: the performer's creators and the owners of every row held
    or being taken down. "Blocked: consent of performer #12 revoked on 3 Dec by Cora — 4 scheduled
    posts held"."""
    by_creator: dict[int, dict[str, list[int]]] = defaultdict(lambda: {"blocked": [], "removing": []})
    for creator_id in CreatorPerformer.objects.filter(performer_id__in=performer_ids).values_list(
            "creator_id", flat=True):
        by_creator[creator_id]
    for key, ids in (("blocked", blocked), ("removing", removing)):
        for pk, creator_id in Publication.objects.filter(pk__in=ids).values_list("pk", "post__creator_id"):
            by_creator[creator_id][key].append(pk)
    who = ", ".join(f"#{pk}" for pk in sorted(performer_ids))
    verb = "revoked" if reason_code == "consent_revoked" else "expired"
    when = f" on {_day(at)}" if at else ""
    actor = f" by {_person(by)}" if by else ""
    notes = []
    for creator_id, rows in sorted(by_creator.items()):
        held, out = sorted(rows["blocked"]), sorted(rows["removing"])
        lead = "Blocked: consent" if held else "Consent"
        title = f"{lead} of performer {who} {verb}{when}{actor} — {posts_held(len(held))}"
        body = (f"The consent of performer {who} was {verb}{when}{actor}. "
                f"{posts_held(len(held)).capitalize()}: they will not go out until a valid consent covers them. ")
        if out:
            body += f"{counted(len(out), 'live post')} {'is' if len(out) == 1 else 'are'} being taken down. "
        body += "Open the held posts to cancel them or replace what they carry."
        links = [{"label": "Held posts", "url": posts_link(held)}] if held else []
        if out:
            links.append({"label": "Posts being taken down", "url": posts_link(out)})
        links += [{"label": f"Consent #{pk}", "url": f"/admin/compliance/consentrecord/{pk}/change/"}
                  for pk in consent_ids]
        note = notify(
            f"consent.{verb}", creator_id=creator_id, level="error", title=title, body=body,
            link=links[0]["url"] if links else "", subject=f"compliance.consentrecord:{consent_ids[0]}"
            if consent_ids else "",
            dedupe_key=f"consent.{verb}:{','.join(map(str, sorted(consent_ids)))}:{creator_id}", refresh=True,
            payload={"performer_ids": sorted(performer_ids), "consent_ids": sorted(consent_ids),
                     "publication_ids": held, "removing": out, "links": links})
        if note is not None:
            notes.append(note)
    return notes


# --- Refused by the gate at publish time ---------------------------------------------------------


def blocked_at_publish(publication: Publication, verdict: Verdict) -> Notification | None:
    """The gate refused a due publication: one notice per creator and kind of refusal, growing with
    each row held for the same reasons while it is open."""
    codes = sorted(verdict.codes)
    creator_id = publication.post.creator_id
    key = f"publication.blocked:{creator_id}:{','.join(codes)}"
    open_note = Notification.objects.filter(dedupe_key=key, resolved_at__isnull=True).first()
    held = set(_int_list((open_note.payload or {}).get("publication_ids")) if open_note else [])
    held.add(publication.pk)
    reasons = "; ".join(dict.fromkeys(r.message for r in verdict.reasons))
    title = f"Blocked at publish time: {reasons}"[:150] + f" — {posts_held(len(held), 'due')}"
    body = (f"When they fell due, the compliance check refused {counted(len(held), 'post')}: {reasons}. "
            "Nothing went out. Open the held posts to fix what is missing, then schedule them again.")
    return notify("publication.blocked", creator_id=creator_id, level="error", title=title, body=body,
                  link=posts_link(held), subject=f"scheduling.publication:{publication.pk}", dedupe_key=key,
                  refresh=True, payload={"publication_ids": sorted(held), "codes": codes,
                                         "links": [{"label": "Held posts", "url": posts_link(held)}]})
