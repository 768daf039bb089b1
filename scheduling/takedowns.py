"""Taking published posts down when a performer's consent ends or a takedown request names them.

ARCHITECTURE.md, flow 4 (Revoke): scheduled rows are blocked at once by
`services.block_for_performers`; what is already out is removed through the connector where the
platform's API allows it, else a person gets a `TakedownTask` with the legal deadline (the
takedown request's own, or 48 h after a revocation). Every step is idempotent: a signal that fires
twice finds the row removed, or its one open task, and does nothing new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from accounts.services import user_of
from compliance import services as compliance
from compliance import targets
from compliance.gate import TakedownFacts
from compliance.models import TakedownRequest, TakedownTarget
from content.models import Asset
from core import backoff, times
from core.wording import counted
from notifications.services import notify, resolve_by_key
from scheduling import notices, services, tasks
from scheduling.connectors import connector_for
from scheduling.connectors.base import AuthError, ConnectorError, PermanentError, TransientError
from scheduling.models import Publication, TakedownTask

logger = logging.getLogger(__name__)

S = Publication.Status
# Removing after a revocation: the same 48 h the TAKE IT DOWN Act sets for a takedown request.
REVOCATION_REMOVAL_HOURS = 48
# Rows that are (or may be) on a platform: removed through the API where possible, else by a person.
LIVE = (S.PUBLISHED, S.PUBLISHING, S.UNKNOWN, S.EXPORTED)
MAX_REMOVAL_RETRIES = 6
CONSENT_REASONS = frozenset({"consent_revoked", "consent_expired"})
CONSENT_CODES = frozenset({"consent_missing", "consent_revoked", "consent_expired", "consent_not_yet_valid",
                           "consent_superseded"})
# A corrected or lapsed fact about a performer (compliance.signals.standing_changed): what is out is
# removed only where the gate, asked now, refuses it because of a performer.
STANDING_REASONS = frozenset({"performer_corrected", "verification_rejected", "verification_lapsed",
                              "consent_superseded"})
REASONS = {
    "consent_revoked": "A performer in this post revoked their consent.",
    "consent_expired": "A performer's consent for this post has expired.",
    "consent_superseded": "A performer's newer consent no longer covers this post.",
    "performer_corrected": "A performer's corrected record (date of birth or status) no longer allows this post.",
    "verification_rejected": "A performer's latest identity check was rejected.",
    "verification_lapsed": "A performer's identity document has expired.",
    "takedown_open": "A takedown request names this post or a performer in it.",
}


class TryLater(Exception):
    """The platform could not be asked now (transient error, or the row is mid-publish)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Removal:
    publication_id: int
    reason_code: str
    takedown_id: int | None = None


def depicting(performer_ids: list[int]) -> Q:
    return Q(post__post_assets__asset__performers__in=performer_ids) | Q(
        post__collection__assets__performers__in=performer_ids)


def live_publication_ids(performer_ids: list[int], *, takedown: TakedownRequest | None = None) -> list[int]:
    """Publications out (or maybe out) that depict these performers, or that the takedown request
    names (its assets, its publications and the rest of their posts, its URLs)."""
    match = depicting(performer_ids) if performer_ids else Q(pk__in=[])
    if takedown is not None:
        match |= named_by(compliance.takedown_named(takedown.pk))
        urls = list(takedown.targets.filter(kind=TakedownTarget.Kind.URL).values_list("url", flat=True))
        if urls:  # a URL that only appeared after the request was opened (a manual upload confirmed later)
            at_url = Q(external_url__in=urls)
            match |= at_url & Q(creator_id=takedown.creator_id) if takedown.creator_id else at_url
    return sorted(set(Publication.objects.filter(match, status__in=LIVE).values_list("pk", flat=True)))


def named_by(named: TakedownFacts) -> Q:
    """Publications a takedown request concerns: those depicting a performer it names (their whole
    likeness), those carrying an asset it names (in the post or its collection), and every publication
    of a post one of whose publications it names (the same post on X as on Fanvue)."""
    match = Q(pk__in=[])
    if named.performer_ids:
        match |= depicting(sorted(named.performer_ids))
    if named.asset_ids:
        assets = sorted(named.asset_ids)
        match |= Q(post__post_assets__asset__in=assets) | Q(post__collection__assets__in=assets)
    if named.publication_ids:
        posts = Publication.objects.filter(pk__in=sorted(named.publication_ids)).values("post_id")
        match |= Q(post_id__in=posts)
    return match


def block_named(takedown_id: int) -> list[int]:
    """Block every not-yet-published publication the request names, with its own cause, so that closing
    it lifts exactly these (`lift_named`). A performer-free request about one photo blocks that photo's
    publications, not the creator's calendar."""
    named = compliance.takedown_named(takedown_id)
    ids = Publication.objects.filter(named_by(named), status__in=[*services.BLOCKABLE, S.BLOCKED]).values_list(
        "pk", flat=True).distinct()
    reason = {"code": "takedown_open", "message": f"Takedown request #{takedown_id} names this post, an asset or "
                                                  f"a performer in it.",
              "performer_id": None, "hard": False, "field": None, "takedown_id": takedown_id}
    return services.add_block(list(ids), reason, actor_label=f"signal:takedown_open:{takedown_id}")


def lift_named(takedown_id: int, *, actor: Actor = None) -> dict[int, str]:
    """The request was rejected or closed: remove its cause from the rows it blocked (found by the cause
    they carry, even if their post changed since), and any `takedown_open` reason recorded without a
    request id (the publish-time gate's) on a row it names; the gate then decides whether another open
    request or another cause still holds each row."""
    rows = list(Publication.objects.filter(status=S.BLOCKED, block_reasons__icontains="takedown_open")
                .values_list("pk", "block_reasons"))
    named = set(Publication.objects.filter(named_by(compliance.takedown_named(takedown_id)), status=S.BLOCKED)
                .values_list("pk", flat=True))

    def concerned(pk: int, reasons: list[dict[str, Any]]) -> bool:
        refs = {r.get("takedown_id") for r in reasons if r.get("code") == "takedown_open"}
        return takedown_id in refs or (None in refs and pk in named)

    mine = {pk: reasons for pk, reasons in rows if concerned(pk, reasons)}
    mentioned = {r.get("takedown_id") for reasons in mine.values() for r in reasons if r.get("code") == "takedown_open"}
    still_open = compliance.open_takedown_ids(i for i in mentioned if i)

    def ended(reason: dict[str, Any]) -> bool:
        if reason.get("code") != "takedown_open":
            return False
        ref = reason.get("takedown_id")
        return ref == takedown_id or ref is None or ref not in still_open

    return services.lift_block(sorted(mine), ended=ended, actor=actor,
                               actor_label=f"signal:takedown_closed:{takedown_id}")


def notify_opened(takedown_id: int, *, blocked: list[int], live: list[int]) -> None:
    """Tell the creator's account managers (agency owners for a request filed under no creator) and
    the people who scheduled the posts concerned what the request names, what was blocked and what
    is being taken down, with links to those posts."""
    takedown = TakedownRequest.objects.select_related("creator").get(pk=takedown_id)
    concerns = describe(takedown)
    due = times.plain(takedown.due_at, takedown.creator.timezone if takedown.creator else None)
    body = (f"Concerns: {concerns or 'nothing Atelier could match'}. Deadline {due}. "
            f"{counted(len(blocked), 'publication')} blocked; "
            f"{counted(len(live), 'live publication')} being taken down.")
    request_link = f"/admin/compliance/takedownrequest/{takedown.pk}/change/"
    links = [{"label": "Held posts", "url": notices.posts_link(blocked)}] if blocked else []
    if live:
        links.append({"label": "Posts being taken down", "url": notices.posts_link(live)})
    links.append({"label": f"Takedown request #{takedown.pk}", "url": request_link})
    held = notices.posts_held(len(blocked))
    notify("takedown.opened", creator_id=takedown.creator_id, level="error",
           title=f"Blocked: takedown request #{takedown.pk} opened, due {due} — {held}",
           body=body, link=links[0]["url"], subject=f"compliance.takedownrequest:{takedown.pk}",
           dedupe_key=f"takedown.opened:{takedown.pk}",
           payload={"takedown_id": takedown.pk, "due_at": takedown.due_at.isoformat(),
                    "blocked": sorted(blocked), "removing": sorted(live), "links": links})


def describe(takedown: TakedownRequest) -> str:
    # Performers by number: notices are emailed and sent to webhooks, legal names stay in compliance.
    parts = [f"performer #{pk} (whole likeness)" for pk in takedown.performers.values_list("pk", flat=True)]
    parts += [str(t) if t.kind == TakedownTarget.Kind.URL else f"{t.get_kind_display().lower()} {t}"
              for t in takedown.targets.all()]
    return "; ".join(parts)


def resolve_opened_notice(takedown_id: int, *, actor: Actor = None) -> None:
    resolve_by_key(f"takedown.opened:{takedown_id}", actor=actor)


# --- What a takedown request may name (compliance.targets) -----------------------------------------


def _refuse_unknown(field: str, missing: list, creator_id: int | None) -> None:
    if missing:
        where = "this creator's" if creator_id else "Atelier's"
        listed = ", ".join(str(m) for m in missing)
        raise ValidationError({field: f"{listed}: not among {where} {field.split('_')[0]}s."})


def resolve_assets(creator_id: int | None, ids: list[int]) -> list[targets.NamedTarget]:
    """Assets of the request's creator (any creator's for an agency-wide request, which only the owner files)."""
    assets = Asset.objects.filter(pk__in=ids)
    if creator_id is not None:
        assets = assets.filter(creator_id=creator_id)
    found = {a.pk: a for a in assets}
    _refuse_unknown("asset_ids", [i for i in ids if i not in found], creator_id)
    return [targets.NamedTarget("asset", a.pk, label=f"#{a.pk} {a.title or a.kind}"[:200]) for a in found.values()]


def resolve_publications(creator_id: int | None, ids: list[int]) -> list[targets.NamedTarget]:
    pubs = Publication.objects.select_related("account").filter(pk__in=ids)
    if creator_id is not None:
        pubs = pubs.filter(creator_id=creator_id)
    found = {p.pk: p for p in pubs}
    _refuse_unknown("publication_ids", [i for i in ids if i not in found], creator_id)
    return [targets.NamedTarget("publication", p.pk, url=p.external_url, label=_label(p)) for p in found.values()]


def resolve_urls(creator_id: int | None, urls: list[str]) -> list[targets.NamedTarget]:
    """Each URL is kept as named; the publications found at it (trailing slash or not) are named too."""
    out = []
    for url in urls:
        variants = {url, url.rstrip("/"), url.rstrip("/") + "/"}
        pubs = Publication.objects.select_related("account").filter(external_url__in=variants)
        if creator_id is not None:
            pubs = pubs.filter(creator_id=creator_id)
        out.append(targets.NamedTarget("url", None, url=url, label=url[:200]))
        out += [targets.NamedTarget("publication", p.pk, url=url, label=_label(p)) for p in pubs]
    return out


def _label(pub: Publication) -> str:
    return f"#{pub.pk} post {pub.post_id} on {pub.account}"[:200]


def register_target_resolvers() -> None:
    targets.register("asset", resolve_assets)
    targets.register("publication", resolve_publications)
    targets.register("url", resolve_urls)


def queue_removals(performer_ids: list[int], *, reason_code: str, takedown_id: int | None = None) -> list[int]:
    """Queue one `scheduling.tasks.unpublish` per live publication, after the caller's commit."""
    takedown = TakedownRequest.objects.filter(pk=takedown_id).first() if takedown_id else None
    ids = live_publication_ids(performer_ids, takedown=takedown)
    if ids:
        removals = [Removal(pk, reason_code, takedown_id) for pk in ids]
        transaction.on_commit(lambda: _enqueue(removals))
    return ids


def queue_removals_where_standing_fails(performer_ids: list[int], *, reason_code: str,
                                        likeness_only: bool = False) -> list[int]:
    """Like `queue_removals`, for a corrected or lapsed fact: only publications out that the gate,
    asked now, refuses because of one of these performers (including the creator's likeness
    performers behind synthetic media) are taken down. `likeness_only` leaves out the rows whose
    assets depict them (a revocation's `queue_removals` already has those)."""
    now = timezone.now()
    candidates = Publication.objects.filter(services.touching_performers(performer_ids), status__in=LIVE)
    if likeness_only:
        candidates = candidates.exclude(pk__in=Publication.objects.filter(depicting(performer_ids)).values("pk"))
    ids = [pub.pk for pub in Publication.objects.filter(pk__in=candidates.values("pk")).order_by("pk")
           .select_related("post", "post__creator", "account")
           if services.failing_on_performers(pub, performer_ids, at=now)]
    if ids:
        removals = [Removal(pk, reason_code) for pk in ids]
        transaction.on_commit(lambda: _enqueue(removals))
    return ids


def _enqueue(removals: list[Removal]) -> None:
    for r in removals:
        tasks.unpublish.delay(r.publication_id, r.reason_code, r.takedown_id)


def deadline_for(takedown: TakedownRequest | None, *, now: datetime | None = None) -> datetime:
    if takedown is not None:
        return takedown.due_at
    return (now or timezone.now()) + timedelta(hours=REVOCATION_REMOVAL_HOURS)


def backoff_seconds(retries: int, retry_after: float | None = None) -> float:
    """30 s, 1, 2, 4… min with ±20 % jitter, never sooner than the platform's Retry-After."""
    return backoff.backoff_seconds(retries, base=30, cap=1800, retry_after=retry_after)


def remove_publication(publication_id: int, *, reason_code: str, takedown_id: int | None = None) -> str:
    """Take one publication down through its connector, or hand it to a person.

    Returns "removed", "manual" (a TakedownTask is open), or the status it was left in. Raises
    `TryLater` for a transient platform error or a row still being published, for the task to retry.
    """
    pub = Publication.objects.select_related("account", "post").filter(pk=publication_id).first()
    if pub is None:
        return "missing"
    takedown = TakedownRequest.objects.filter(pk=takedown_id).first() if takedown_id else None
    if pub.status == S.REMOVED:
        return S.REMOVED
    if pub.status == S.PUBLISHING:
        raise TryLater("The post is being published right now.")
    if reason_code in CONSENT_REASONS and pub.status in LIVE and still_consented(pub):
        audit.record("publication.removal_skipped", pub, actor_label=f"task:unpublish:{reason_code}",
                     changes={"why": "another valid consent still covers this publication"})
        return "covered"
    if reason_code in STANDING_REASONS and pub.status in LIVE and still_standing(pub):
        audit.record("publication.removal_skipped", pub, actor_label=f"task:unpublish:{reason_code}",
                     changes={"why": "the gate, asked again, finds nothing wrong with its performers"})
        return "covered"
    if pub.status in (S.UNKNOWN, S.EXPORTED):
        if pub.status == S.EXPORTED:
            _block_export(pub, reason_code)
        return hand_to_person(pub, reason_code=reason_code, takedown=takedown,
                              why=_unsure_why(pub))
    if pub.status != S.PUBLISHED:
        return pub.status
    if _open_task(pub) is not None:
        return hand_to_person(pub, reason_code=reason_code, takedown=takedown, why="")
    if not pub.external_id:
        return hand_to_person(pub, reason_code=reason_code, takedown=takedown,
                              why="Atelier has no platform id for this post, so no API can remove it.")
    # One removal call at a time per row: a second signal or a redelivered task waits its turn.
    lock = f"atelier:unpublish:{pub.pk}"
    if not cache.add(lock, 1, timeout=300):
        raise TryLater("Another worker is removing this post.")
    try:
        try:
            connector = connector_for(pub.account.platform)
        except LookupError:
            return hand_to_person(pub, reason_code=reason_code, takedown=takedown,
                                  why=f"No connector is configured for {pub.account.get_platform_display()}.")
        ref = services.account_ref(pub.account, purpose=f"unpublish:{pub.pk}")
        try:
            removed = connector.unpublish(ref, pub.external_id)
        except TransientError as exc:
            raise TryLater(exc.message, retry_after=exc.retry_after) from exc
        except AuthError as exc:
            services.mark_needs_reauth(pub.account, exc.message)
            return hand_to_person(pub, reason_code=reason_code, takedown=takedown,
                                  why=f"The platform refused the account's credentials: {exc.message}")
        except PermanentError as exc:
            return hand_to_person(pub, reason_code=reason_code, takedown=takedown,
                                  why=f"The platform refused the removal: {exc.message}")
        except ConnectorError as exc:  # an unknown outcome: deleting again is safe, so retry
            raise TryLater(exc.message) from exc
        if not removed:
            return hand_to_person(pub, reason_code=reason_code, takedown=takedown,
                                  why=f"{pub.account.get_platform_display()} offers no removal through its API.")
        return _mark_removed(pub, reason_code=reason_code, takedown=takedown)
    finally:
        cache.delete(lock)


def still_consented(pub: Publication) -> bool:
    """A performer may hold several consents (per platform, rating, use): losing one removes only
    what no other valid consent covers. Removal cannot be undone, so the gate decides, now."""
    verdict = services.check(pub, due_at=timezone.now())
    return not any(code in CONSENT_CODES for code in verdict.codes)


def still_standing(pub: Publication) -> bool:
    """After a corrected fact, the gate asked now: no reason concerns a performer (or the fact was
    corrected back before the removal ran)."""
    return not any(r.performer_id is not None for r in services.check(pub, due_at=timezone.now()).reasons)


def _unsure_why(pub: Publication) -> str:
    if pub.status == S.EXPORTED:
        return "The export bundle may already have been uploaded by hand: check the platform and remove it."
    return "Atelier does not know whether this post went out: check the platform and remove it if it is there."


def _block_export(pub: Publication, reason_code: str) -> None:
    """An export nobody has confirmed uploading must not be uploaded any more."""
    with transaction.atomic():
        locked = Publication.objects.select_for_update().get(pk=pub.pk)
        if locked.status != S.EXPORTED:
            return
        reasons = [{"code": reason_code, "message": REASONS.get(reason_code, reason_code), "performer_id": None,
                    "hard": True, "field": None}]
        services._move(locked, S.BLOCKED, block_reasons=reasons)
        audit.record("publication.blocked", locked, actor_label=f"signal:{reason_code}",
                     changes={"was": S.EXPORTED})


def _mark_removed(pub: Publication, *, reason_code: str, takedown: TakedownRequest | None) -> str:
    with transaction.atomic():
        locked = Publication.objects.select_for_update().get(pk=pub.pk)
        if locked.status != S.PUBLISHED:
            return locked.status
        services._move(locked, S.REMOVED, removed_at=timezone.now())
        audit.record("publication.removed", locked, actor_label=f"task:unpublish:{reason_code}",
                     changes={"platform": pub.account.platform, "external_id": locked.external_id,
                              "takedown": takedown.pk if takedown else None})
        if takedown is not None:
            compliance.log_takedown_action(
                takedown, description=f"Removed publication #{locked.pk} ({pub.account}, "
                                      f"{locked.external_url or locked.external_id}) through the platform's API.")
    return S.REMOVED


def _open_task(pub: Publication) -> TakedownTask | None:
    return TakedownTask.objects.filter(publication=pub, status=TakedownTask.Status.OPEN).first()


def hand_to_person(pub: Publication, *, reason_code: str, takedown: TakedownRequest | None, why: str) -> str:
    """Open the one takedown task this publication may have (or tighten the open one's deadline when
    a takedown request arrives after a revocation), and tell the managers."""
    due = deadline_for(takedown)
    reason = " ".join(filter(None, [REASONS.get(reason_code, reason_code), why]))[:300]
    with transaction.atomic():
        task = _open_task(pub)
        created = False
        if task is None:
            try:
                with transaction.atomic():
                    task = TakedownTask.objects.create(publication=pub, takedown_request=takedown, reason=reason,
                                                       due_at=due)
                    created = True
            except IntegrityError:  # a concurrent twin opened it first
                task = _open_task(pub)
                if task is None:
                    raise
        if not created:
            fields = []
            if due < task.due_at:
                task.due_at = due
                fields.append("due_at")
            if takedown is not None and task.takedown_request_id is None:
                task.takedown_request = takedown
                fields.append("takedown_request")
            if fields:
                task.save(update_fields=fields)
                audit.record("takedown_task.tightened", task, actor_label=f"signal:{reason_code}",
                             changes={"due_at": task.due_at.isoformat(), "takedown": takedown and takedown.pk})
            return "manual"
        audit.record("takedown_task.opened", task, actor_label=f"signal:{reason_code}",
                     changes={"publication": pub.pk, "due_at": due.isoformat(),
                              "takedown": takedown.pk if takedown else None})
        if takedown is not None:
            compliance.log_takedown_action(
                takedown, description=f"Publication #{pub.pk} ({pub.account}) cannot be removed through an API; "
                                      f"a staff task is open, due {due:%Y-%m-%d %H:%M} UTC.")
        by = times.plain(due, pub.account.creator.timezone)
        notify("takedown.manual", creator_id=pub.post.creator_id, level="error",
               title=f"Take down post #{pub.post_id} on {pub.account} by {by}",
               body=reason, link=f"/admin/scheduling/takedowntask/{task.pk}/change/",
               subject=f"scheduling.takedowntask:{task.pk}", dedupe_key=f"takedown.manual:{pub.pk}",
               payload={"publication_id": pub.pk, "task_id": task.pk, "due_at": due.isoformat(),
                        "platform": pub.account.platform, "url": pub.external_url,
                        "takedown_id": takedown.pk if takedown else None})
    return "manual"


def complete_task(task: TakedownTask, *, note: str, actor: Actor = None) -> TakedownTask:
    """A person took the post down. The task closes with who/when/what; a published row becomes
    `removed`; the takedown request's log gets the action; the managers' notice is resolved."""
    note = (note or "").strip()
    if not note:
        raise ValidationError("Say what was done (where, and how you checked it is gone).")
    with transaction.atomic():
        task = TakedownTask.objects.select_for_update(of=("self",)).select_related(
            "publication", "takedown_request").get(pk=task.pk)
        if task.status != TakedownTask.Status.OPEN:
            raise ValidationError(f"Task #{task.pk} is already {task.get_status_display().lower()}.")

        now = timezone.now()
        task.status, task.done_at, task.done_by, task.note = TakedownTask.Status.DONE, now, user_of(actor), note
        task.save(update_fields=["status", "done_at", "done_by", "note"])
        pub = Publication.objects.select_for_update().get(pk=task.publication_id)
        if pub.status == S.PUBLISHED:
            services._move(pub, S.REMOVED, removed_at=now)
            audit.record("publication.removed", pub, actor=actor, changes={"by": "hand", "task": task.pk})
        audit.record("takedown_task.done", task, actor=actor, changes={"note": note[:500]})
        if task.takedown_request is not None:
            compliance.log_takedown_action(task.takedown_request, actor=actor,
                                           description=f"Publication #{pub.pk} taken down by hand: {note}")
        resolve_by_key(f"takedown.manual:{pub.pk}", actor=actor)
    return task


def give_up(publication_id: int, *, reason_code: str, takedown_id: int | None, why: str) -> str:
    """The API kept failing: the deadline still holds, so a person takes over."""
    pub = Publication.objects.select_related("account", "post").filter(pk=publication_id).first()
    if pub is None or pub.status == S.REMOVED:
        return pub.status if pub else "missing"
    takedown = TakedownRequest.objects.filter(pk=takedown_id).first() if takedown_id else None
    logger.warning("Removal of publication %s through the API gave up; handing it to staff", publication_id)
    return hand_to_person(pub, reason_code=reason_code, takedown=takedown, why=why)
