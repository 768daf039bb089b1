"""The publish gate: may this publication go out, and if not, every reason why.

Why a pure function over plain values: the same facts must always give the same verdict, whether the gate
runs when a post is scheduled, again in the worker just before the connector is called, or in a test.
Compliance never reads the content or scheduling models; their services load the facts (including the
standing of every depicted performer) and pass them in. Nothing here touches Django, the clock or the
network, so the verdict can be recomputed and audited later from the recorded facts.

Why every reason and not the first one: a reviewer fixing a refused post should see the whole list at
once (missing approval *and* an expired consent *and* a blocked word) instead of discovering them one
rejection at a time.

Rules (ARCHITECTURE.md, "compliance"): nothing is published unless every depicted real person is a
verified adult, had their 18th birthday by the production date, and holds a valid, unrevoked consent
covering the platform, the rating and every use; a person approved the asset, and what they approved is
what goes out; AI media carries disclosure and provenance; and no text suggests a minor or non-consent.
The last is a hard block no setting can lift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from compliance.hardblock import CUSTOM, HARD_CATEGORIES, MINOR, NON_CONSENT, HardBlockHit, screen_texts
from core import platforms
from core.platforms import Rating, rating_allows

__all__ = [
    "ADULT_AGE",
    "PLATFORM_MAX_RATING",
    "REASON_CODES",
    "SOCIAL_PLATFORMS",
    "ConsentFacts",
    "PerformerFacts",
    "PublicationFacts",
    "Rating",
    "Reason",
    "TakedownFacts",
    "Use",
    "Verdict",
    "age_on",
    "evaluate",
    "rating_allows",
    "required_uses",
]

ADULT_AGE = 18


class Use(StrEnum):
    """What a consent allows the material to be used for; a publication needs every use it involves."""

    PUBLICATION = "publication"
    PROMOTION_ON_SOCIAL = "promotion_on_social"
    AI_LIKENESS = "ai_likeness"
    AI_TRAINING = "ai_training"
    DOWNLOAD_BY_FANS = "download_by_fans"


# The platform policy table, from the registry: the most explicit rating each platform's policy accepts.
# A platform missing here is refused (platform_unknown) rather than guessed.
PLATFORM_MAX_RATING: Mapping[str, Rating] = MappingProxyType(platforms.max_ratings())
# Posting on a social network promotes the creator, which a performer may consent to separately from
# publication on a subscription platform.
SOCIAL_PLATFORMS = platforms.social_platforms()

REASON_CODES: Mapping[str, str] = MappingProxyType(
    {
        "platform_unknown": "The platform is not in the platform policy table.",
        "rating_not_accepted": "The platform does not accept content of this rating.",
        "approval_missing": "No person has approved the asset.",
        "approval_stale": "What reaches fans changed after a person approved it.",
        "depiction_undeclared": "No performer is listed and nobody attested that no real person is depicted.",
        "depiction_conflict": "Performers are listed although no real person is attested to be depicted.",
        "production_date_missing": "Real people are depicted but the production date is unknown.",
        "production_date_in_future": "The production date is after the publication date.",
        "performer_unknown": "A depicted performer's record was not provided.",
        "performer_inactive": "A depicted performer's record is inactive.",
        "performer_not_verified": "A depicted performer has no approved identity verification.",
        "performer_dob_missing": "A depicted performer's date of birth is unknown.",
        "performer_underage": "A depicted performer was under 18 on the production date.",
        "consent_missing": "No consent covers this platform, rating and use.",
        "consent_revoked": "The only consents covering this platform, rating and use are revoked.",
        "consent_expired": "The consent covering this platform, rating and use has expired.",
        "consent_not_yet_valid": "The consent covering this platform, rating and use is not valid yet.",
        "consent_superseded": "The only consents covering this platform, rating and use were replaced by a newer "
        "consent that does not cover it.",
        "ai_disclosure_missing": "AI-generated media lacks its AI disclosure.",
        "ai_provenance_missing": "AI-generated media lacks provenance metadata (C2PA / IPTC).",
        "hard_block_term": "A text suggests a minor or non-consent.",
        "custom_blocked_term": "A text contains a term from the agency's own blocked list.",
        "takedown_open": "An open takedown request names this publication, its post, an asset or a performer in it.",
    }
)


def _require_aware(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware: a naive time is ambiguous by up to a day")


def _require_date(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date (not a datetime), not {type(value).__name__}")


def _require_bool(name: str, value: object) -> None:
    # A truthy "False" string must never count as an approval or an attestation.
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")


def _collection(name: str, value: object) -> Iterable[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a collection, not {type(value).__name__}")
    return value


@dataclass(frozen=True, kw_only=True)
class ConsentFacts:
    """A signed consent's scope and validity window, as the gate needs them."""

    id: int
    platforms: frozenset[str]
    max_rating: Rating
    uses: frozenset[Use]
    valid_from: datetime
    valid_until: datetime | None = None
    revoked_at: datetime | None = None
    # When a newer consent replaced this one (the newer one's start): from then on only the newer
    # one speaks, so a narrowing consent narrows.
    superseded_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "platforms", frozenset(p.casefold() for p in _collection("platforms", self.platforms))
        )
        object.__setattr__(self, "max_rating", Rating(self.max_rating))
        object.__setattr__(self, "uses", frozenset(Use(u) for u in _collection("uses", self.uses)))
        _require_aware("valid_from", self.valid_from)
        _require_aware("valid_until", self.valid_until, optional=True)
        _require_aware("revoked_at", self.revoked_at, optional=True)
        _require_aware("superseded_at", self.superseded_at, optional=True)

    def scope_covers(self, platform: str, rating: Rating, use: Use) -> bool:
        """Whether the signed scope includes this platform, rating and use, ignoring dates."""
        return platform in self.platforms and self.max_rating.allows(rating) and use in self.uses

    def status_at(self, when: datetime) -> str:
        """``valid``, ``revoked``, ``superseded``, ``expired`` or ``not_yet_valid`` at ``when``.

        A revoked consent covers nothing, whatever ``when`` is: revocation is recorded when it happens, so
        any publication still being evaluated goes out after it. A consent is valid from ``valid_from``
        and strictly before ``valid_until``: at that instant it has ended (the one rule the expiry task,
        the likeness check and the admin also apply).
        """
        if self.revoked_at is not None:
            return "revoked"
        if self.superseded_at is not None and self.superseded_at <= when:
            return "superseded"
        if self.valid_from > when:
            return "not_yet_valid"
        if self.valid_until is not None and self.valid_until <= when:
            return "expired"
        return "valid"


@dataclass(frozen=True, kw_only=True)
class PerformerFacts:
    """A depicted real person's standing: identity verified, date of birth, consents."""

    id: int
    date_of_birth: date | None
    verified: bool  # the latest decided identity check approved them
    consents: tuple[ConsentFacts, ...] = ()
    active: bool = True
    # The expiry date of the identity document behind that approval: the check no longer holds after it.
    verified_until: date | None = None

    def __post_init__(self) -> None:
        _require_date("date_of_birth", self.date_of_birth)
        _require_date("verified_until", self.verified_until)
        _require_bool("verified", self.verified)
        _require_bool("active", self.active)
        consents = tuple(_collection("consents", self.consents))
        for consent in consents:
            if not isinstance(consent, ConsentFacts):
                raise TypeError(f"consents must be ConsentFacts, not {type(consent).__name__}")
        object.__setattr__(self, "consents", consents)


@dataclass(frozen=True, kw_only=True)
class TakedownFacts:
    """What one open takedown request names. A performer is named only when the request is about their
    whole likeness; a request about one photo names the asset (or the publication) and nothing wider."""

    id: int
    performer_ids: frozenset[int] = frozenset()
    asset_ids: frozenset[int] = frozenset()
    publication_ids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        for name in ("performer_ids", "asset_ids", "publication_ids"):
            object.__setattr__(self, name, frozenset(_collection(name, getattr(self, name))))


@dataclass(frozen=True, kw_only=True)
class PublicationFacts:
    """Everything the gate may look at for one publication (one post on one platform account).

    ``performers`` holds the standing of the people in ``performer_ids``, loaded by the caller; an id
    without a record is refused, never assumed fine. ``uses`` lists uses beyond those the gate derives
    itself (publication or promotion_on_social by platform; ai_likeness for AI media of real people).
    """

    creator_id: int
    platform: str
    rating: Rating
    performer_ids: frozenset[int]
    performers: tuple[PerformerFacts, ...]
    production_date: date | None
    ai_origin: bool
    disclosure_present: bool
    provenance_present: bool
    no_real_person_attested: bool
    human_approved: bool
    texts: Mapping[str, str]
    due_at: datetime
    uses: frozenset[Use] = frozenset()
    extra_blocked_terms: tuple[str, ...] = ()
    # Approval is of a version: the fingerprint of what a person approved (None when nobody did) and of
    # what would reach fans now. Any difference means the approval no longer covers what goes out.
    approved_version: str | None = None
    current_version: str | None = None
    # What a takedown request can name: the assets this publication carries, and this publication with
    # every other publication of its post (a request naming the post on one platform names it on all).
    asset_ids: frozenset[int] = frozenset()
    publication_ids: frozenset[int] = frozenset()
    open_takedowns: tuple[TakedownFacts, ...] = ()
    # The real people behind a human or hybrid creator (relation self or likeness). An image attested to
    # depict "no real person" still carries their likeness, so it needs their consent to AI likeness.
    likeness_performer_ids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.platform, str):
            raise TypeError(f"platform must be a str, not {type(self.platform).__name__}")
        object.__setattr__(self, "platform", self.platform.strip().casefold())
        object.__setattr__(self, "rating", Rating(self.rating))
        object.__setattr__(self, "performer_ids", frozenset(_collection("performer_ids", self.performer_ids)))
        object.__setattr__(self, "likeness_performer_ids",
                           frozenset(_collection("likeness_performer_ids", self.likeness_performer_ids)))
        performers = tuple(_collection("performers", self.performers))
        seen: set[int] = set()
        for performer in performers:
            if not isinstance(performer, PerformerFacts):
                raise TypeError(f"performers must be PerformerFacts, not {type(performer).__name__}")
            if performer.id in seen:
                raise ValueError(f"performer {performer.id} is listed twice in performers")
            seen.add(performer.id)
            for consent in performer.consents:
                _require_aware(f"consent {consent.id} valid_from", consent.valid_from)
                _require_aware(f"consent {consent.id} valid_until", consent.valid_until, optional=True)
                _require_aware(f"consent {consent.id} revoked_at", consent.revoked_at, optional=True)
                _require_aware(f"consent {consent.id} superseded_at", consent.superseded_at, optional=True)
        object.__setattr__(self, "performers", performers)
        _require_date("production_date", self.production_date)
        for name in ("ai_origin", "disclosure_present", "provenance_present", "no_real_person_attested"):
            _require_bool(name, getattr(self, name))
        _require_bool("human_approved", self.human_approved)
        if not isinstance(self.texts, Mapping):
            raise TypeError(f"texts must be a mapping of field name to text, not {type(self.texts).__name__}")
        for key, value in self.texts.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"texts[{key!r}] must map a str field name to a str")
        object.__setattr__(self, "texts", MappingProxyType(dict(self.texts)))
        _require_aware("due_at", self.due_at)
        object.__setattr__(self, "uses", frozenset(Use(u) for u in _collection("uses", self.uses)))
        terms = tuple(_collection("extra_blocked_terms", self.extra_blocked_terms))
        if not all(isinstance(term, str) for term in terms):
            raise TypeError("extra_blocked_terms must be strings")
        object.__setattr__(self, "extra_blocked_terms", terms)
        for name in ("approved_version", "current_version"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
        object.__setattr__(self, "asset_ids", frozenset(_collection("asset_ids", self.asset_ids)))
        object.__setattr__(self, "publication_ids", frozenset(_collection("publication_ids", self.publication_ids)))
        takedowns = tuple(_collection("open_takedowns", self.open_takedowns))
        if not all(isinstance(t, TakedownFacts) for t in takedowns):
            raise TypeError("open_takedowns must be TakedownFacts")
        object.__setattr__(self, "open_takedowns", takedowns)


@dataclass(frozen=True)
class Reason:
    """One failed rule, worded for the person who has to fix it."""

    code: str
    message: str
    performer_id: int | None = None
    hard: bool = False  # a minor or non-consent signal: no setting or override may publish past it
    field: str | None = None  # the text field a blocked term was found in

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "performer_id": self.performer_id,
            "hard": self.hard,
            "field": self.field,
        }


@dataclass(frozen=True)
class Verdict:
    reasons: tuple[Reason, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(reason.code for reason in self.reasons)

    @property
    def hard(self) -> bool:
        """Whether any reason is a hard block (worth an alert to compliance, not just to the editor)."""
        return any(reason.hard for reason in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": [reason.to_dict() for reason in self.reasons]}


def age_on(date_of_birth: date, day: date) -> int:
    """Completed years on ``day``.

    Someone born on 29 February has their birthday on 1 March in common years: (2, 28) < (2, 29), so they
    turn 18 a day later than a 28 February reading would allow, which is the cautious side.
    """
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def required_uses(facts: PublicationFacts) -> frozenset[Use]:
    """Uses every depicted performer must have consented to for this publication."""
    base = Use.PROMOTION_ON_SOCIAL if facts.platform in SOCIAL_PLATFORMS else Use.PUBLICATION
    uses = {base, *facts.uses}
    if facts.ai_origin and facts.performer_ids:
        uses.add(Use.AI_LIKENESS)
    return frozenset(uses)


_USE_ORDER = tuple(Use)


def evaluate(facts: PublicationFacts) -> Verdict:
    """Every reason ``facts`` may not be published, in a fixed order; an empty verdict passes."""
    reasons: list[Reason] = []
    reasons += _platform_reasons(facts)
    if not facts.human_approved:
        reasons.append(Reason("approval_missing", "No person has approved this asset yet."))
    if facts.approved_version is not None and facts.approved_version != facts.current_version:
        # Fail closed: an approval recorded without a version, or a current version the caller could not
        # name, is not an approval of what goes out.
        reasons.append(Reason("approval_stale", "The post changed after it was approved (caption, price, media, "
                                                "collection or targets); a person must approve it again."))
    reasons += _depiction_reasons(facts)
    performers = {p.id: p for p in facts.performers}
    uses = sorted(required_uses(facts), key=_USE_ORDER.index)
    for performer_id in sorted(facts.performer_ids):
        performer = performers.get(performer_id)
        if performer is None:
            reasons.append(
                Reason(
                    "performer_unknown",
                    f"Performer {performer_id} is listed as depicted but their record was not provided.",
                    performer_id,
                )
            )
            continue
        reasons += _performer_reasons(facts, performer)
        reasons += _consent_reasons(facts, performer, uses)
    reasons += _likeness_reasons(facts, performers)
    if facts.ai_origin and not facts.disclosure_present:
        reasons.append(Reason("ai_disclosure_missing", "This AI-generated media has no AI disclosure."))
    if facts.ai_origin and not facts.provenance_present:
        reasons.append(
            Reason(
                "ai_provenance_missing", "This AI-generated media has no provenance metadata (C2PA / IPTC)."
            )
        )
    reasons += _text_reasons(facts)
    reasons += _takedown_reasons(facts)
    return Verdict(tuple(reasons))


def _platform_reasons(facts: PublicationFacts) -> list[Reason]:
    ceiling = PLATFORM_MAX_RATING.get(facts.platform)
    if ceiling is None:
        return [
            Reason("platform_unknown", f"Platform {facts.platform!r} is not in the platform policy table.")
        ]
    if not ceiling.allows(facts.rating):
        return [
            Reason(
                "rating_not_accepted",
                f"{facts.platform} accepts content up to {ceiling}; this asset is rated {facts.rating}.",
            )
        ]
    return []


def _depiction_reasons(facts: PublicationFacts) -> list[Reason]:
    reasons = []
    if not facts.performer_ids and not facts.no_real_person_attested:
        reasons.append(
            Reason(
                "depiction_undeclared",
                "List the performers depicted, or attest that no real person is depicted.",
            )
        )
    if facts.performer_ids and facts.no_real_person_attested:
        reasons.append(
            Reason(
                "depiction_conflict",
                "Performers are listed but the asset is also attested to depict no real person; "
                "correct one of the two.",
            )
        )
    if facts.performer_ids and facts.production_date is None:
        reasons.append(
            Reason(
                "production_date_missing",
                "Real people are depicted, so the production date is needed to check their ages.",
            )
        )
    # The publication date is read in the timezone the caller gave `due_at` in (the creator's): a
    # production date after it cannot be true.
    if facts.production_date is not None and facts.production_date > facts.due_at.date():
        reasons.append(
            Reason(
                "production_date_in_future",
                f"The production date {facts.production_date.isoformat()} is after the publication date.",
            )
        )
    return reasons


def _performer_reasons(facts: PublicationFacts, performer: PerformerFacts) -> list[Reason]:
    pid = performer.id
    reasons = []
    if not performer.active:
        reasons.append(Reason("performer_inactive", f"Performer {pid}'s record is inactive.", pid))
    if not performer.verified:
        reasons.append(
            Reason("performer_not_verified", f"Performer {pid} has no approved identity verification.", pid)
        )
    elif performer.verified_until is not None and facts.due_at.date() > performer.verified_until:
        reasons.append(
            Reason("performer_not_verified", f"Performer {pid}'s identity document expired on "
                                             f"{performer.verified_until.isoformat()}; a new check is needed.", pid)
        )
    if performer.date_of_birth is None:
        reasons.append(Reason("performer_dob_missing", f"Performer {pid}'s date of birth is unknown.", pid))
    else:
        # Without a production date, the publication date bounds it: anyone under 18 then was under 18
        # when the material was made.
        day = facts.production_date or facts.due_at.date()
        age = age_on(performer.date_of_birth, day)
        if age < ADULT_AGE:
            reasons.append(
                Reason(
                    "performer_underage",
                    f"Performer {pid} was {max(age, 0)} on {day.isoformat()}, under {ADULT_AGE}.",
                    pid,
                    hard=True,
                )
            )
    return reasons


_CONSENT_CODES = {
    "missing": "consent_missing",
    "revoked": "consent_revoked",
    "superseded": "consent_superseded",
    "expired": "consent_expired",
    "not_yet_valid": "consent_not_yet_valid",
}
_CONSENT_WORDING = {
    "missing": "has no consent covering",
    "revoked": "has only revoked consents covering",
    "superseded": "has only superseded consents covering",
    "expired": "has only expired consents covering",
    "not_yet_valid": "has consents not yet valid covering",
}


def _consent_reasons(facts: PublicationFacts, performer: PerformerFacts, uses: list[Use]) -> list[Reason]:
    failed: dict[str, list[Use]] = {}
    for use in uses:
        covering = [c for c in performer.consents if c.scope_covers(facts.platform, facts.rating, use)]
        statuses = {c.status_at(facts.due_at) for c in covering}
        if "valid" in statuses:
            continue
        if not covering:
            failed.setdefault("missing", []).append(use)
        elif statuses <= {"revoked", "superseded"}:
            failed.setdefault("superseded" if "superseded" in statuses else "revoked", []).append(use)
        else:
            # A revoked or replaced consent is not worth reporting next to one that could be renewed or
            # waited for.
            for status in sorted(statuses - {"revoked", "superseded"}):
                failed.setdefault(status, []).append(use)
    return [
        Reason(
            _CONSENT_CODES[status],
            f"Performer {performer.id} {_CONSENT_WORDING[status]} {', '.join(failed[status])} "
            f"on {facts.platform} at rating {facts.rating} on {facts.due_at.isoformat()}.",
            performer.id,
        )
        for status in _CONSENT_CODES
        if status in failed
    ]


def _likeness_reasons(facts: PublicationFacts, performers: Mapping[int, PerformerFacts]) -> list[Reason]:
    """Media attested to show "no real person" of a creator built on real people's likeness: each of
    them must be a verified adult whose consent covers AI likeness here (issue 13: the attestation
    must not be a way around the likeness consent)."""
    if not facts.no_real_person_attested:
        return []
    reasons: list[Reason] = []
    for performer_id in sorted(facts.likeness_performer_ids - facts.performer_ids):
        performer = performers.get(performer_id)
        if performer is None:
            reasons.append(Reason("performer_unknown", f"Performer {performer_id}, whose likeness this creator "
                                                       "carries, has no record provided.", performer_id))
            continue
        reasons += _performer_reasons(facts, performer)
        reasons += _consent_reasons(facts, performer, [Use.AI_LIKENESS])
    return reasons


_CATEGORY_WORDING = {
    MINOR: "suggests a minor",
    NON_CONSENT: "suggests non-consent",
    CUSTOM: "is on the agency's blocked-term list",
}


def _text_reasons(facts: PublicationFacts) -> list[Reason]:
    reasons = []
    seen: set[tuple[str | None, str, str, str]] = set()
    hits: list[HardBlockHit] = screen_texts(facts.texts, extra_terms=facts.extra_blocked_terms)
    for hit in hits:
        key = (hit.field, hit.category, hit.term, hit.excerpt.casefold())
        if key in seen:
            continue
        seen.add(key)
        hard = hit.category in HARD_CATEGORIES
        reasons.append(
            Reason(
                "hard_block_term" if hard else "custom_blocked_term",
                f'The {hit.field} contains "{hit.excerpt}" at character {hit.start + 1}, which '
                f'{_CATEGORY_WORDING[hit.category]} (listed term "{hit.term}", {hit.category.replace("_", "-")}, '
                f"{hit.language}).",
                hard=hard,
                field=hit.field,
            )
        )
    return reasons


def _takedown_reasons(facts: PublicationFacts) -> list[Reason]:
    """One reason per open request that names something this publication carries: a performer in it
    (whole likeness), one of its assets, or this publication or another of its post."""
    reasons = []
    for takedown in sorted(facts.open_takedowns, key=lambda t: t.id):
        named = []
        performers = sorted(takedown.performer_ids & facts.performer_ids)
        if performers:
            named.append("performer " + ", ".join(str(p) for p in performers))
        assets = sorted(takedown.asset_ids & facts.asset_ids)
        if assets:
            named.append("asset " + ", ".join(str(a) for a in assets))
        publications = sorted(takedown.publication_ids & facts.publication_ids)
        if publications:
            named.append("publication " + ", ".join(str(p) for p in publications))
        if named:
            reasons.append(
                Reason(
                    "takedown_open",
                    f"Takedown request #{takedown.id} is open and names {'; '.join(named)}: nothing it names "
                    f"may be published until it is rejected or closed.",
                    performers[0] if performers else None,
                )
            )
    return reasons
