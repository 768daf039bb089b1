"""The publish gate: each rule alone, rules together, and properties over random facts.

Pure Python: runs without Django (``-p no:django``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.gate import (
    PLATFORM_MAX_RATING,
    REASON_CODES,
    SOCIAL_PLATFORMS,
    ConsentFacts,
    PerformerFacts,
    PublicationFacts,
    Rating,
    Reason,
    TakedownFacts,
    Use,
    Verdict,
    age_on,
    evaluate,
    rating_allows,
    required_uses,
)

DUE = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PRODUCED = date(2025, 5, 1)
ALL_PLATFORMS = frozenset(PLATFORM_MAX_RATING)


def consent(**overrides: Any) -> ConsentFacts:
    values: dict[str, Any] = {
        "id": 100,
        "platforms": ALL_PLATFORMS,
        "max_rating": Rating.EXPLICIT,
        "uses": frozenset(Use),
        "valid_from": DUE - timedelta(days=365),
        "valid_until": None,
        "revoked_at": None,
    }
    values.update(overrides)
    return ConsentFacts(**values)


def performer(pid: int = 1, **overrides: Any) -> PerformerFacts:
    values: dict[str, Any] = {
        "id": pid,
        "date_of_birth": date(1995, 3, 14),
        "verified": True,
        "consents": (consent(id=pid * 100),),
        "active": True,
    }
    values.update(overrides)
    return PerformerFacts(**values)


def facts(**overrides: Any) -> PublicationFacts:
    """A publication that passes every rule; tests break one thing at a time."""
    values: dict[str, Any] = {
        "creator_id": 7,
        "platform": "fanvue",
        "rating": Rating.EXPLICIT,
        "performer_ids": frozenset({1}),
        "performers": (performer(1),),
        "production_date": PRODUCED,
        "ai_origin": False,
        "disclosure_present": False,
        "provenance_present": False,
        "no_real_person_attested": False,
        "human_approved": True,
        "texts": {"caption": "New lingerie set tonight 💋", "tags": "#lingerie #newset"},
        "due_at": DUE,
    }
    values.update(overrides)
    return PublicationFacts(**values)


def codes(f: PublicationFacts) -> set[str]:
    return set(evaluate(f).codes)


def test_the_baseline_passes() -> None:
    verdict = evaluate(facts())
    assert verdict.passed
    assert verdict == Verdict(())
    assert verdict.to_dict() == {"passed": True, "reasons": []}


# --- one rule at a time -------------------------------------------------------------------------------


def test_platform_unknown() -> None:
    verdict = evaluate(facts(platform="myspace"))
    assert verdict.codes >= {"platform_unknown"}
    assert "myspace" in verdict.reasons[0].message
    assert "rating_not_accepted" not in verdict.codes


@pytest.mark.parametrize("platform", ["instagram", "tiktok", "youtube", "threads"])
@pytest.mark.parametrize("rating", [Rating.SUGGESTIVE, Rating.EXPLICIT])
def test_rating_not_accepted_on_sfw_platforms(platform: str, rating: Rating) -> None:
    assert codes(facts(platform=platform, rating=rating)) == {"rating_not_accepted"}


@pytest.mark.parametrize("platform", sorted(PLATFORM_MAX_RATING))
def test_every_platform_accepts_sfw(platform: str) -> None:
    assert evaluate(facts(platform=platform, rating=Rating.SFW)).passed


def test_platform_names_are_case_insensitive() -> None:
    assert evaluate(facts(platform=" OnlyFans ")).passed


def test_approval_missing() -> None:
    assert codes(facts(human_approved=False)) == {"approval_missing"}


def test_approval_of_the_current_version_passes() -> None:
    assert evaluate(facts(approved_version="v1", current_version="v1")).passed


@pytest.mark.parametrize(("approved", "current"), [
    ("v1", "v2"),  # edited after approval
    ("", "v2"),  # approved before versions were recorded
    ("v1", None),  # the caller could not say what goes out now
])
def test_approval_stale_when_what_goes_out_is_not_what_was_approved(approved: str, current: str | None) -> None:
    verdict = evaluate(facts(approved_version=approved, current_version=current))
    assert verdict.codes == {"approval_stale"}
    assert "approve it again" in verdict.reasons[0].message


def test_versions_must_be_strings() -> None:
    with pytest.raises(TypeError):
        facts(approved_version=1, current_version="1")


def test_depiction_undeclared_for_any_origin() -> None:
    for ai_origin in (False, True):
        f = facts(
            performer_ids=frozenset(),
            performers=(),
            ai_origin=ai_origin,
            disclosure_present=True,
            provenance_present=True,
        )
        assert codes(f) == {"depiction_undeclared"}


def test_nobody_depicted_passes_when_attested() -> None:
    f = facts(performer_ids=frozenset(), performers=(), no_real_person_attested=True, production_date=None)
    assert evaluate(f).passed


def test_depiction_conflict() -> None:
    assert codes(facts(no_real_person_attested=True)) == {"depiction_conflict"}


def test_production_date_missing() -> None:
    assert codes(facts(production_date=None)) == {"production_date_missing"}


def test_production_date_in_future() -> None:
    assert codes(facts(production_date=DUE.date() + timedelta(days=2))) == {"production_date_in_future"}
    # No slack any more: the caller states the publication time in the creator's timezone.
    assert codes(facts(production_date=DUE.date() + timedelta(days=1))) == {"production_date_in_future"}


def test_performer_unknown() -> None:
    verdict = evaluate(facts(performer_ids=frozenset({1, 2})))
    assert verdict.codes == {"performer_unknown"}
    assert verdict.reasons[0].performer_id == 2
    assert "Performer 2" in verdict.reasons[0].message


def test_performers_not_depicted_are_ignored() -> None:
    assert evaluate(facts(performers=(performer(1), performer(9, verified=False)))).passed


def test_performer_inactive() -> None:
    assert codes(facts(performers=(performer(1, active=False),))) == {"performer_inactive"}


def test_performer_not_verified() -> None:
    verdict = evaluate(facts(performers=(performer(1, verified=False),)))
    assert verdict.codes == {"performer_not_verified"}
    assert verdict.reasons[0].performer_id == 1


def test_performer_dob_missing() -> None:
    assert codes(facts(performers=(performer(1, date_of_birth=None),))) == {"performer_dob_missing"}


def test_performer_underage_is_hard() -> None:
    dob = date(PRODUCED.year - 17, PRODUCED.month, PRODUCED.day)
    verdict = evaluate(facts(performers=(performer(1, date_of_birth=dob),)))
    assert verdict.codes == {"performer_underage"}
    [reason] = verdict.reasons
    assert reason.hard and reason.performer_id == 1
    assert verdict.hard


def test_age_is_checked_on_the_production_date_not_the_publication_date() -> None:
    # 18 today, but 17 when the material was made: still a minor in it.
    dob = date(PRODUCED.year - 18, PRODUCED.month, PRODUCED.day) + timedelta(days=10)
    assert age_on(dob, DUE.date()) == 18
    assert codes(facts(performers=(performer(1, date_of_birth=dob),))) == {"performer_underage"}


def test_without_a_production_date_the_publication_date_still_catches_minors() -> None:
    dob = date(DUE.year - 16, 1, 1)
    f = facts(production_date=None, performers=(performer(1, date_of_birth=dob),))
    assert codes(f) == {"production_date_missing", "performer_underage"}


def test_eighteenth_birthday_on_the_production_date_passes() -> None:
    dob = date(PRODUCED.year - 18, PRODUCED.month, PRODUCED.day)
    assert evaluate(facts(performers=(performer(1, date_of_birth=dob),))).passed
    day_later = dob + timedelta(days=1)
    assert codes(facts(performers=(performer(1, date_of_birth=day_later),))) == {"performer_underage"}


@pytest.mark.parametrize(
    ("dob", "day", "age"),
    [
        (date(2004, 2, 29), date(2022, 2, 28), 17),  # common year: not yet
        (date(2004, 2, 29), date(2022, 3, 1), 18),
        (date(2004, 2, 29), date(2021, 2, 28), 16),
        (date(2006, 2, 29 - 1), date(2024, 2, 28), 18),
        (date(2006, 3, 1), date(2024, 2, 29), 17),  # leap day before a 1 March birthday
        (date(2006, 3, 1), date(2024, 3, 1), 18),
        (date(2000, 2, 29), date(2018, 2, 28), 17),
        (date(2000, 2, 29), date(2020, 2, 29), 20),
        (date(2007, 12, 31), date(2025, 12, 31), 18),
        (date(2008, 1, 1), date(2025, 12, 31), 17),
    ],
)
def test_age_on_across_leap_years(dob: date, day: date, age: int) -> None:
    assert age_on(dob, day) == age


def test_leap_day_born_performer_is_refused_on_28_february_of_their_18th_year() -> None:
    p = performer(1, date_of_birth=date(2004, 2, 29))
    assert codes(facts(production_date=date(2022, 2, 28), performers=(p,))) == {"performer_underage"}
    assert evaluate(facts(production_date=date(2022, 3, 1), performers=(p,))).passed


# --- consents -----------------------------------------------------------------------------------------


def with_consents(*consents: ConsentFacts, **overrides: Any) -> PublicationFacts:
    return facts(performers=(performer(1, consents=consents),), **overrides)


def test_consent_missing_when_there_is_none() -> None:
    verdict = evaluate(with_consents())
    assert verdict.codes == {"consent_missing"}
    assert verdict.reasons[0].performer_id == 1
    assert "publication" in verdict.reasons[0].message


@pytest.mark.parametrize(
    "partial",
    [
        {"platforms": frozenset({"onlyfans"})},
        {"max_rating": Rating.SUGGESTIVE},
        {"uses": frozenset({Use.PROMOTION_ON_SOCIAL})},
    ],
)
def test_consent_missing_when_scope_does_not_cover(partial: dict[str, Any]) -> None:
    assert codes(with_consents(consent(**partial))) == {"consent_missing"}


def test_rating_coverage_explicit_covers_lower_ratings() -> None:
    for rating in Rating:
        assert evaluate(with_consents(consent(max_rating=Rating.EXPLICIT), rating=rating)).passed
    assert evaluate(with_consents(consent(max_rating=Rating.SUGGESTIVE), rating=Rating.SFW)).passed
    assert codes(with_consents(consent(max_rating=Rating.SFW), rating=Rating.SUGGESTIVE)) == {
        "consent_missing"
    }


def test_consent_revoked_never_covers_even_if_revoked_after_the_due_time() -> None:
    for revoked_at in (DUE - timedelta(days=1), DUE, DUE + timedelta(days=30)):
        assert codes(with_consents(consent(revoked_at=revoked_at))) == {"consent_revoked"}


def test_consent_expired() -> None:
    assert codes(with_consents(consent(valid_until=DUE - timedelta(seconds=1)))) == {"consent_expired"}
    assert evaluate(with_consents(consent(valid_until=DUE + timedelta(microseconds=1)))).passed


def test_a_consent_has_ended_at_the_instant_of_valid_until() -> None:
    # One rule everywhere (gate, expiry task, likeness check): valid strictly before valid_until.
    assert codes(with_consents(consent(valid_until=DUE))) == {"consent_expired"}
    assert consent(valid_until=DUE).status_at(DUE) == "expired"
    assert consent(valid_until=DUE).status_at(DUE - timedelta(microseconds=1)) == "valid"


def test_a_superseded_consent_no_longer_covers_anything() -> None:
    wide = consent(id=1, superseded_at=DUE - timedelta(days=1))
    narrow = consent(id=2, platforms=frozenset({"fanvue"}))
    assert evaluate(with_consents(wide, narrow)).passed  # fanvue: the narrower one covers it
    assert codes(with_consents(wide, narrow, platform="x")) == {"consent_superseded"}
    assert codes(with_consents(wide, platform="x")) == {"consent_superseded"}


def test_a_consent_superseded_only_later_still_covers_until_then() -> None:
    later = consent(id=1, superseded_at=DUE + timedelta(days=1))
    assert evaluate(with_consents(later)).passed
    assert later.status_at(DUE + timedelta(days=1)) == "superseded"


def test_an_expired_identity_document_unverifies_after_its_date() -> None:
    assert evaluate(facts(performers=(performer(1, verified_until=DUE.date()),))).passed
    lapsed = facts(performers=(performer(1, verified_until=DUE.date() - timedelta(days=1)),))
    verdict = evaluate(lapsed)
    assert verdict.codes == {"performer_not_verified"} and "expired" in verdict.reasons[0].message


def test_a_production_date_after_the_publication_date_is_refused() -> None:
    assert codes(facts(production_date=DUE.date() + timedelta(days=1))) == {"production_date_in_future"}
    assert evaluate(facts(production_date=DUE.date())).passed
    # Read in the creator's timezone: 00:30 in Tokyo is already the next day.
    tokyo = DUE.astimezone(timezone(timedelta(hours=9))).replace(hour=0, minute=30)
    assert evaluate(facts(production_date=tokyo.date(), due_at=tokyo)).passed


def ai_for_hybrid(**overrides: Any) -> PublicationFacts:
    values: dict[str, Any] = {
        "performer_ids": frozenset(), "no_real_person_attested": True, "ai_origin": True,
        "disclosure_present": True, "provenance_present": True, "production_date": None,
        "likeness_performer_ids": frozenset({1}),
        "performers": (performer(1, consents=(consent(id=1, uses=frozenset({Use.PUBLICATION})),)),),
    }
    values.update(overrides)
    return facts(**values)


def test_no_real_person_cannot_stand_in_for_a_likeness_consent() -> None:
    verdict = evaluate(ai_for_hybrid())
    assert verdict.codes == {"consent_missing"} and "ai_likeness" in verdict.reasons[0].message
    covered = (performer(1, consents=(consent(id=1, uses=frozenset({Use.AI_LIKENESS})),)),)
    assert evaluate(ai_for_hybrid(performers=covered)).passed
    assert codes(ai_for_hybrid(performers=())) == {"performer_unknown"}
    minor = (performer(1, date_of_birth=DUE.date() - timedelta(days=17 * 365), consents=covered[0].consents),)
    assert "performer_underage" in codes(ai_for_hybrid(performers=minor))
    # A pure AI persona has no likeness performers: the attestation suffices.
    assert evaluate(ai_for_hybrid(likeness_performer_ids=frozenset(), performers=())).passed


def test_consent_not_yet_valid() -> None:
    assert codes(with_consents(consent(valid_from=DUE + timedelta(seconds=1)))) == {"consent_not_yet_valid"}
    assert evaluate(with_consents(consent(valid_from=DUE))).passed


def test_one_valid_consent_is_enough() -> None:
    f = with_consents(
        consent(id=1, revoked_at=DUE), consent(id=2, valid_until=DUE - timedelta(days=1)), consent(id=3)
    )
    assert evaluate(f).passed


def test_a_revoked_consent_is_not_reported_next_to_a_renewable_one() -> None:
    f = with_consents(consent(id=1, revoked_at=DUE), consent(id=2, valid_until=DUE - timedelta(days=1)))
    assert codes(f) == {"consent_expired"}


def test_consents_may_be_split_by_use() -> None:
    f = with_consents(
        consent(id=1, uses=frozenset({Use.PUBLICATION})),
        consent(id=2, uses=frozenset({Use.DOWNLOAD_BY_FANS}), valid_until=DUE - timedelta(days=1)),
        uses=frozenset({Use.DOWNLOAD_BY_FANS}),
    )
    verdict = evaluate(f)
    assert verdict.codes == {"consent_expired"}
    assert "download_by_fans" in verdict.reasons[0].message
    assert "publication," not in verdict.reasons[0].message


def test_social_platforms_need_promotion_on_social_and_subscription_platforms_publication() -> None:
    social_only = consent(uses=frozenset({Use.PROMOTION_ON_SOCIAL}))
    publication_only = consent(uses=frozenset({Use.PUBLICATION}))
    for platform in sorted(SOCIAL_PLATFORMS):
        rating = PLATFORM_MAX_RATING[platform]
        assert evaluate(with_consents(social_only, platform=platform, rating=rating)).passed
        assert codes(with_consents(publication_only, platform=platform, rating=rating)) == {"consent_missing"}
    for platform in ("fanvue", "onlyfans", "manual"):
        assert evaluate(with_consents(publication_only, platform=platform)).passed
        assert codes(with_consents(social_only, platform=platform)) == {"consent_missing"}


def test_required_uses() -> None:
    assert required_uses(facts()) == {Use.PUBLICATION}
    assert required_uses(facts(platform="x")) == {Use.PROMOTION_ON_SOCIAL}
    ai = facts(ai_origin=True, disclosure_present=True, provenance_present=True)
    assert required_uses(ai) == {Use.PUBLICATION, Use.AI_LIKENESS}
    synthetic = replace(ai, performer_ids=frozenset(), performers=(), no_real_person_attested=True)
    assert required_uses(synthetic) == {Use.PUBLICATION}
    assert required_uses(facts(uses=frozenset({"ai_training"}))) == {Use.PUBLICATION, Use.AI_TRAINING}


def test_ai_media_of_a_real_person_needs_ai_likeness_consent() -> None:
    no_likeness = consent(uses=frozenset({Use.PUBLICATION}))
    f = with_consents(no_likeness, ai_origin=True, disclosure_present=True, provenance_present=True)
    verdict = evaluate(f)
    assert verdict.codes == {"consent_missing"}
    assert "ai_likeness" in verdict.reasons[0].message


def test_extra_uses_are_required_too() -> None:
    f = with_consents(consent(uses=frozenset({Use.PUBLICATION})), uses=frozenset({Use.DOWNLOAD_BY_FANS}))
    assert codes(f) == {"consent_missing"}


# --- AI -----------------------------------------------------------------------------------------------


def test_ai_disclosure_missing() -> None:
    assert codes(facts(ai_origin=True, provenance_present=True)) == {"ai_disclosure_missing"}


def test_ai_provenance_missing() -> None:
    assert codes(facts(ai_origin=True, disclosure_present=True)) == {"ai_provenance_missing"}


def test_fully_synthetic_media_passes_with_disclosure_and_provenance() -> None:
    f = facts(
        ai_origin=True,
        disclosure_present=True,
        provenance_present=True,
        performer_ids=frozenset(),
        performers=(),
        no_real_person_attested=True,
        production_date=None,
    )
    assert evaluate(f).passed


# --- texts --------------------------------------------------------------------------------------------


def test_hard_block_term_names_field_and_term() -> None:
    verdict = evaluate(
        facts(texts={"caption": "my first time, 16 y/o", "prompt": "a sunset", "tags": "#t33n"})
    )
    assert [(r.code, r.field, r.hard) for r in verdict.reasons] == [
        ("hard_block_term", "caption", True),
        ("hard_block_term", "tags", True),
    ]
    assert '"16 y/o"' in verdict.reasons[0].message
    assert '"teen"' in verdict.reasons[1].message


def test_one_reason_per_distinct_hit() -> None:
    verdict = evaluate(facts(texts={"caption": "teen teen TEEN, forced"}))
    assert [r.code for r in verdict.reasons] == ["hard_block_term", "hard_block_term"]


def test_extra_blocked_terms_add_custom_reasons_that_are_not_hard() -> None:
    verdict = evaluate(facts(texts={"caption": "Sponsored by BrandX"}, extra_blocked_terms=("brandx",)))
    assert [(r.code, r.hard, r.field) for r in verdict.reasons] == [("custom_blocked_term", False, "caption")]
    assert not verdict.hard


def test_extra_blocked_terms_cannot_lift_a_hard_block() -> None:
    verdict = evaluate(facts(texts={"caption": "teen"}, extra_blocked_terms=("teen", "-teen", "!teen")))
    assert "hard_block_term" in verdict.codes


def test_empty_texts_pass() -> None:
    assert evaluate(facts(texts={})).passed


# --- combinations, determinism, shapes ----------------------------------------------------------------


def test_every_failing_reason_is_returned_in_a_fixed_order() -> None:
    underage = date(PRODUCED.year - 16, 1, 1)
    f = facts(
        platform="instagram",
        rating=Rating.EXPLICIT,
        human_approved=False,
        performer_ids=frozenset({3, 1, 2}),
        performers=(
            performer(2, verified=False, consents=()),
            performer(1, date_of_birth=underage, active=False),
        ),
        ai_origin=True,
        texts={"prompt": "schoolgirl", "caption": "rape"},
    )
    verdict = evaluate(f)
    assert [(r.code, r.performer_id, r.field) for r in verdict.reasons] == [
        ("rating_not_accepted", None, None),
        ("approval_missing", None, None),
        ("performer_inactive", 1, None),
        ("performer_underage", 1, None),
        ("performer_not_verified", 2, None),
        ("consent_missing", 2, None),
        ("performer_unknown", 3, None),
        ("ai_disclosure_missing", None, None),
        ("ai_provenance_missing", None, None),
        ("hard_block_term", None, "caption"),
        ("hard_block_term", None, "prompt"),
    ]
    assert [r.hard for r in verdict.reasons].count(True) == 3
    assert evaluate(f) == verdict


def test_verdict_does_not_depend_on_input_order() -> None:
    a = facts(
        performer_ids=frozenset({1, 2}),
        performers=(performer(1, verified=False), performer(2, active=False)),
        texts={"caption": "forced", "tags": "#teen"},
    )
    b = replace(a, performers=tuple(reversed(a.performers)), texts={"tags": "#teen", "caption": "forced"})
    assert evaluate(a) == evaluate(b)


def test_verdict_to_dict_is_json_ready() -> None:
    verdict = evaluate(facts(human_approved=False, texts={"caption": "teen"}))
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["passed"] is False
    assert data["reasons"][0] == {
        "code": "approval_missing",
        "message": verdict.reasons[0].message,
        "performer_id": None,
        "hard": False,
        "field": None,
    }
    assert data["reasons"][1]["hard"] is True


def test_reason_codes_are_documented() -> None:
    assert all(isinstance(description, str) and description for description in REASON_CODES.values())
    assert len(REASON_CODES) == 23


def test_facts_are_immutable() -> None:
    f = facts()
    with pytest.raises(AttributeError):
        f.human_approved = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        f.texts["caption"] = "teen"  # type: ignore[index]


# --- validation ---------------------------------------------------------------------------------------


def test_naive_due_at_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        facts(due_at=datetime(2025, 6, 1, 12, 0))


@pytest.mark.parametrize("field_name", ["valid_from", "valid_until", "revoked_at"])
def test_naive_consent_datetimes_are_rejected(field_name: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        consent(**{field_name: datetime(2025, 1, 1)})


def test_naive_datetime_smuggled_into_a_consent_is_rejected_by_the_facts() -> None:
    c = consent()
    object.__setattr__(c, "valid_until", datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        with_consents(c)


def test_any_timezone_is_fine() -> None:
    paris = timezone(timedelta(hours=2))
    assert evaluate(facts(due_at=DUE.astimezone(paris))).passed


@pytest.mark.parametrize(
    "overrides",
    [
        {"human_approved": "False"},
        {"ai_origin": 0},
        {"production_date": datetime(2025, 1, 1, tzinfo=UTC)},
        {"due_at": date(2025, 6, 1)},
        {"performer_ids": "12"},
        {"texts": {"caption": None}},
        {"extra_blocked_terms": "teen"},
        {"performers": (object(),)},
    ],
)
def test_wrongly_typed_facts_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        facts(**overrides)


def test_unknown_rating_or_use_is_rejected() -> None:
    with pytest.raises(ValueError):
        facts(rating="nsfw")
    with pytest.raises(ValueError):
        facts(uses=frozenset({"resale"}))


def test_duplicate_performer_records_are_rejected() -> None:
    with pytest.raises(ValueError, match="twice"):
        facts(performers=(performer(1), performer(1)))


def test_strings_are_coerced_to_enums() -> None:
    f = facts(rating="explicit", uses=frozenset({"download_by_fans"}))
    assert f.rating is Rating.EXPLICIT
    assert f.uses == {Use.DOWNLOAD_BY_FANS}


# --- ratings ------------------------------------------------------------------------------------------


def test_ratings_are_ordered_by_explicitness_not_alphabetically() -> None:
    assert Rating.SFW < Rating.SUGGESTIVE < Rating.EXPLICIT
    assert sorted([Rating.EXPLICIT, Rating.SFW, Rating.SUGGESTIVE]) == [
        Rating.SFW,
        Rating.SUGGESTIVE,
        Rating.EXPLICIT,
    ]
    assert max(Rating) is Rating.EXPLICIT
    assert Rating.EXPLICIT > "suggestive"
    assert Rating.EXPLICIT.allows(Rating.SFW)
    assert not Rating.SFW.allows("explicit")
    assert rating_allows("explicit", "suggestive")
    assert not rating_allows(Rating.SUGGESTIVE, Rating.EXPLICIT)
    assert Rating.SFW == "sfw"


# --- properties ---------------------------------------------------------------------------------------

PLATFORMS = sorted(PLATFORM_MAX_RATING)
CLEAN_TEXTS = ["", "New set tonight", "lingerie 💋", "#newset #lingerie", "18+ only", "a sunset over the sea"]
BLOCKED_TEXTS = ["teen", "15 yo", "schoolgirl", "non-consensual", "hidden camera", "k1ds"]


@st.composite
def passing_facts(draw: st.DrawFn) -> PublicationFacts:
    platform = draw(st.sampled_from(PLATFORMS))
    rating = draw(st.sampled_from([r for r in Rating if PLATFORM_MAX_RATING[platform].allows(r)]))
    due = draw(
        st.datetimes(
            min_value=datetime(2020, 1, 1),
            max_value=datetime(2035, 1, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=10))]),
        )
    )
    ai_origin = draw(st.booleans())
    ids = draw(st.sets(st.integers(1, 50), max_size=3))
    extra_uses = draw(st.frozensets(st.sampled_from(list(Use)), max_size=2))
    production = None
    if ids or draw(st.booleans()):
        production = due.date() - timedelta(days=draw(st.integers(0, 2000)))
    performers = []
    for pid in sorted(ids):
        assert production is not None
        dob = production - timedelta(days=draw(st.integers(18 * 366, 60 * 365)))
        n_extra = draw(st.integers(0, 2))
        covering = consent(
            id=pid * 10,
            platforms=frozenset({platform}) | draw(st.frozensets(st.sampled_from(PLATFORMS), max_size=3)),
            max_rating=draw(st.sampled_from([r for r in Rating if r.allows(rating)])),
            uses=frozenset({Use.PUBLICATION, Use.PROMOTION_ON_SOCIAL, Use.AI_LIKENESS}) | extra_uses,
            valid_from=due - timedelta(days=draw(st.integers(0, 3000))),
            valid_until=draw(st.none() | st.just(due + timedelta(days=draw(st.integers(1, 3000))))),
        )
        noise = [
            consent(id=pid * 10 + k, revoked_at=due - timedelta(days=1), uses=frozenset(Use))
            for k in range(1, n_extra + 1)
        ]
        performers.append(performer(pid, date_of_birth=dob, consents=(covering, *noise)))
    return facts(
        platform=platform,
        rating=rating,
        performer_ids=frozenset(ids),
        performers=tuple(draw(st.permutations(performers))),
        production_date=production,
        ai_origin=ai_origin,
        disclosure_present=ai_origin or draw(st.booleans()),
        provenance_present=ai_origin or draw(st.booleans()),
        no_real_person_attested=not ids,
        texts={
            name: draw(st.sampled_from(CLEAN_TEXTS))
            for name in draw(st.sets(st.sampled_from(["caption", "prompt", "tags"])))
        },
        due_at=due,
        uses=extra_uses,
        extra_blocked_terms=tuple(draw(st.lists(st.sampled_from(["brandx", "rivalco"]), max_size=2))),
    )


def _first_performer(f: PublicationFacts) -> PerformerFacts:
    records = {p.id: p for p in f.performers}
    return records[min(pid for pid in f.performer_ids if pid in records)]


def _has_record(f: PublicationFacts) -> bool:
    return any(p.id in f.performer_ids for p in f.performers)


def _replace_first_performer(f: PublicationFacts, **changes: Any) -> PublicationFacts:
    target = _first_performer(f)
    return replace(f, performers=tuple(replace(p, **changes) if p is target else p for p in f.performers))


def _set_consents(f: PublicationFacts, change: Any) -> PublicationFacts:
    target = _first_performer(f)
    return _replace_first_performer(f, consents=tuple(change(c) for c in target.consents))


# Each breaker takes passing facts and breaks exactly one precondition; None means "not applicable".
BREAKERS: dict[str, Any] = {
    "platform_unknown": lambda f: replace(f, platform="myspace"),
    "rating_not_accepted": lambda f: (
        replace(f, platform="instagram", rating=Rating.EXPLICIT)
        if all(
            c.max_rating is Rating.EXPLICIT and "instagram" in c.platforms
            for p in f.performers
            for c in p.consents
        )
        else None
    ),
    "approval_missing": lambda f: replace(f, human_approved=False),
    "approval_stale": lambda f: replace(f, approved_version="approved", current_version="edited since"),
    "depiction_undeclared": lambda f: replace(
        f, performer_ids=frozenset(), performers=(), no_real_person_attested=False
    ),
    "depiction_conflict": lambda f: replace(f, no_real_person_attested=True) if f.performer_ids else None,
    "production_date_missing": lambda f: (
        replace(f, production_date=None)
        if f.performer_ids
        and all(
            p.date_of_birth is None or age_on(p.date_of_birth, f.due_at.date()) >= 18 for p in f.performers
        )
        else None
    ),
    "production_date_in_future": lambda f: replace(f, production_date=f.due_at.date() + timedelta(days=3)),
    "performer_unknown": lambda f: replace(
        f,
        performer_ids=f.performer_ids | {999},
        no_real_person_attested=f.no_real_person_attested and bool(f.performer_ids),
    ),
    "performer_inactive": lambda f: _replace_first_performer(f, active=False) if _has_record(f) else None,
    "performer_not_verified": lambda f: (
        _replace_first_performer(f, verified=False) if _has_record(f) else None
    ),
    "performer_dob_missing": lambda f: (
        _replace_first_performer(f, date_of_birth=None) if _has_record(f) else None
    ),
    "performer_underage": lambda f: (
        _replace_first_performer(
            f, date_of_birth=(f.production_date or f.due_at.date()) - timedelta(days=17 * 365)
        )
        if _has_record(f)
        else None
    ),
    "consent_missing": lambda f: _replace_first_performer(f, consents=()) if _has_record(f) else None,
    "consent_revoked": lambda f: (
        _set_consents(f, lambda c: replace(c, revoked_at=f.due_at)) if _has_record(f) else None
    ),
    "consent_expired": lambda f: (
        _set_consents(
            f, lambda c: c if c.revoked_at else replace(c, valid_until=f.due_at - timedelta(seconds=1))
        )
        if _has_record(f)
        else None
    ),
    "consent_superseded": lambda f: (
        _set_consents(f, lambda c: c if c.revoked_at else replace(c, superseded_at=f.due_at))
        if _has_record(f)
        else None
    ),
    "consent_not_yet_valid": lambda f: (
        _set_consents(
            f,
            lambda c: (
                c
                if c.revoked_at
                else replace(c, valid_from=f.due_at + timedelta(seconds=1), valid_until=None)
            ),
        )
        if _has_record(f)
        else None
    ),
    "ai_disclosure_missing": lambda f: (
        replace(f, ai_origin=True, disclosure_present=False, provenance_present=True)
        if not f.performer_ids or all(Use.AI_LIKENESS in c.uses for p in f.performers for c in p.consents[:1])
        else None
    ),
    "ai_provenance_missing": lambda f: (
        replace(f, ai_origin=True, disclosure_present=True, provenance_present=False)
        if not f.performer_ids or all(Use.AI_LIKENESS in c.uses for p in f.performers for c in p.consents[:1])
        else None
    ),
    "hard_block_term": lambda f: replace(f, texts={**f.texts, "caption": "New set with my t33n friend"}),
    "custom_blocked_term": lambda f: replace(
        f, texts={**f.texts, "prompt": "brandx"}, extra_blocked_terms=("brandx",)
    ),
    "takedown_open": lambda f: replace(
        f, asset_ids=f.asset_ids | {901}, open_takedowns=(TakedownFacts(id=5, asset_ids=frozenset({901})),)
    ),
}
HARD_CODES = {"performer_underage", "hard_block_term"}


def test_every_reason_code_has_a_breaker() -> None:
    assert set(BREAKERS) == set(REASON_CODES)


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(passing_facts())
def test_generated_facts_pass(f: PublicationFacts) -> None:
    assert evaluate(f).passed, evaluate(f).reasons


@PROPERTY_SETTINGS
@given(passing_facts(), st.sampled_from(sorted(BREAKERS)))
def test_breaking_any_single_precondition_fails_with_its_code(f: PublicationFacts, code: str) -> None:
    broken = BREAKERS[code](f)
    if broken is None:
        return
    verdict = evaluate(broken)
    assert not verdict.passed
    assert code in verdict.codes, (code, verdict.reasons)
    assert verdict.hard == bool(verdict.codes & HARD_CODES)
    for reason in verdict.reasons:
        assert reason.code in REASON_CODES
        assert reason.hard == (reason.code in HARD_CODES)


# Breakers that rewrite the same thing cannot be combined; at most one of each group is applied.
EXCLUSIVE_GROUPS = [
    ["performer_dob_missing", "performer_underage"],
    ["consent_missing", "consent_revoked", "consent_expired", "consent_not_yet_valid", "consent_superseded"],
]
COMBINABLE = [
    "approval_missing",
    "approval_stale",
    "depiction_conflict",
    "production_date_in_future",
    "performer_unknown",
    "performer_inactive",
    "performer_not_verified",
    "hard_block_term",
    "custom_blocked_term",
]
AI_FLAG_BREAKERS = {
    "ai_disclosure_missing": lambda f: replace(f, ai_origin=True, disclosure_present=False),
    "ai_provenance_missing": lambda f: replace(f, ai_origin=True, provenance_present=False),
}


@PROPERTY_SETTINGS
@given(
    passing_facts(),
    st.lists(st.sampled_from(COMBINABLE + sorted(AI_FLAG_BREAKERS)), unique=True),
    st.tuples(*(st.none() | st.sampled_from(group) for group in EXCLUSIVE_GROUPS)),
)
def test_several_broken_preconditions_are_all_reported(
    f: PublicationFacts, chosen: list[str], exclusive: tuple[str | None, ...]
) -> None:
    chosen_codes = set(chosen) | {code for code in exclusive if code}
    expected = set()
    for code in [*BREAKERS, *AI_FLAG_BREAKERS]:  # a fixed order: the production date moves before ages
        if code not in chosen_codes or (code in BREAKERS and code in AI_FLAG_BREAKERS):
            continue
        broken = (AI_FLAG_BREAKERS.get(code) or BREAKERS[code])(f)
        if broken is not None:
            f, expected = broken, expected | {code}
    verdict = evaluate(f)
    assert verdict.passed == (not expected)
    assert expected <= verdict.codes, (expected, verdict.reasons)


# --- random facts against an independent oracle -------------------------------------------------------


@st.composite
def random_facts(draw: st.DrawFn) -> PublicationFacts:
    due = datetime(2025, 6, 1, 12, tzinfo=UTC) + timedelta(hours=draw(st.integers(-10_000, 10_000)))

    def moment() -> datetime:
        return due + timedelta(days=draw(st.integers(-400, 400)))

    def a_consent(cid: int) -> ConsentFacts:
        return ConsentFacts(
            id=cid,
            platforms=draw(st.frozensets(st.sampled_from([*PLATFORMS, "myspace"]), max_size=4)),
            max_rating=draw(st.sampled_from(list(Rating))),
            uses=draw(st.frozensets(st.sampled_from(list(Use)))),
            valid_from=moment(),
            valid_until=draw(st.none() | st.builds(moment)),
            revoked_at=draw(st.none() | st.builds(moment)),
        )

    ids = draw(st.sets(st.integers(1, 6), max_size=3))
    known = draw(st.sets(st.sampled_from(sorted(ids)), max_size=len(ids))) if ids else set()
    performers = tuple(
        PerformerFacts(
            id=pid,
            date_of_birth=draw(st.none() | st.dates(date(1960, 1, 1), date(2015, 12, 31))),
            verified=draw(st.booleans()),
            active=draw(st.booleans()),
            consents=tuple(a_consent(pid * 10 + k) for k in range(draw(st.integers(0, 3)))),
        )
        for pid in sorted(known)
    )
    return PublicationFacts(
        creator_id=1,
        platform=draw(st.sampled_from([*PLATFORMS, "myspace"])),
        rating=draw(st.sampled_from(list(Rating))),
        performer_ids=frozenset(ids),
        performers=performers,
        production_date=draw(st.none() | st.dates(date(2015, 1, 1), date(2026, 12, 31))),
        ai_origin=draw(st.booleans()),
        disclosure_present=draw(st.booleans()),
        provenance_present=draw(st.booleans()),
        no_real_person_attested=draw(st.booleans()),
        human_approved=draw(st.booleans()),
        texts={"caption": draw(st.sampled_from(CLEAN_TEXTS + BLOCKED_TEXTS))},
        due_at=due,
        uses=draw(st.frozensets(st.sampled_from(list(Use)), max_size=2)),
    )


def oracle_may_publish(f: PublicationFacts) -> bool:
    """The product rule, written out plainly and independently of the gate's code."""
    ceiling = {"fanvue": 2, "onlyfans": 2, "manual": 2, "x": 2, "reddit": 2, "telegram": 2, "bluesky": 2}
    ceiling |= {"instagram": 0, "tiktok": 0, "youtube": 0, "threads": 0}
    rank = {"sfw": 0, "suggestive": 1, "explicit": 2}
    if f.platform not in ceiling or rank[f.rating] > ceiling[f.platform]:
        return False
    if not f.human_approved or f.texts["caption"] in BLOCKED_TEXTS:
        return False
    if f.ai_origin and not (f.disclosure_present and f.provenance_present):
        return False
    if bool(f.performer_ids) == f.no_real_person_attested:  # undeclared, or contradictory
        return False
    if f.production_date and f.production_date > f.due_at.date():
        return False
    if f.performer_ids and f.production_date is None:
        return False
    needed = {"promotion_on_social" if f.platform in SOCIAL_PLATFORMS else "publication", *f.uses}
    if f.ai_origin and f.performer_ids:
        needed.add("ai_likeness")
    records = {p.id: p for p in f.performers}
    for pid in f.performer_ids:
        p = records.get(pid)
        if p is None or not p.active or not p.verified or p.date_of_birth is None:
            return False
        assert f.production_date is not None
        birthday_18 = (p.date_of_birth.month, p.date_of_birth.day)
        years = f.production_date.year - p.date_of_birth.year
        if years < 18 or (years == 18 and (f.production_date.month, f.production_date.day) < birthday_18):
            return False
        for use in needed:
            if not any(
                f.platform in c.platforms
                and rank[c.max_rating] >= rank[f.rating]
                and use in c.uses
                and c.revoked_at is None
                and c.valid_from <= f.due_at
                and (c.valid_until is None or c.valid_until > f.due_at)
                for c in p.consents
            ):
                return False
    return True


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_facts())
def test_gate_passes_if_and_only_if_the_oracle_allows(f: PublicationFacts) -> None:
    verdict = evaluate(f)
    assert verdict.passed == oracle_may_publish(f), verdict.reasons


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_facts())
def test_gate_never_passes_a_minor_a_blocked_text_or_an_unapproved_asset(f: PublicationFacts) -> None:
    verdict = evaluate(f)
    minors = [
        p
        for p in f.performers
        if p.id in f.performer_ids
        and p.date_of_birth is not None
        and age_on(p.date_of_birth, f.production_date or f.due_at.date()) < 18
    ]
    if minors:
        assert "performer_underage" in verdict.codes
        assert verdict.hard
    if f.texts["caption"] in BLOCKED_TEXTS:
        assert "hard_block_term" in verdict.codes
    if not f.human_approved:
        assert "approval_missing" in verdict.codes
    assert verdict.codes <= set(REASON_CODES)
    assert all(isinstance(r, Reason) and r.message for r in verdict.reasons)
    assert verdict == evaluate(f)


# --- takedowns: exactly what a request names ------------------------------------------------------


def test_a_takedown_naming_an_asset_refuses_publications_carrying_it() -> None:
    takedown = TakedownFacts(id=9, asset_ids=frozenset({11}))
    verdict = evaluate(facts(asset_ids=frozenset({10, 11}), open_takedowns=(takedown,)))
    assert verdict.codes == {"takedown_open"}
    assert "#9" in verdict.reasons[0].message and "asset 11" in verdict.reasons[0].message


def test_a_takedown_about_one_photo_leaves_the_rest_of_the_calendar_alone() -> None:
    takedown = TakedownFacts(id=9, asset_ids=frozenset({11}))
    assert evaluate(facts(asset_ids=frozenset({12}), publication_ids=frozenset({3}),
                          open_takedowns=(takedown,))).passed


def test_a_takedown_naming_a_publication_refuses_every_publication_of_its_post() -> None:
    takedown = TakedownFacts(id=9, publication_ids=frozenset({3}))
    sibling = facts(publication_ids=frozenset({3, 4}), open_takedowns=(takedown,))
    assert evaluate(sibling).codes == {"takedown_open"}
    assert evaluate(facts(publication_ids=frozenset({5}), open_takedowns=(takedown,))).passed


def test_a_takedown_naming_a_performer_refuses_their_whole_likeness() -> None:
    takedown = TakedownFacts(id=9, performer_ids=frozenset({1}))
    verdict = evaluate(facts(open_takedowns=(takedown,)))
    assert verdict.codes == {"takedown_open"} and verdict.reasons[0].performer_id == 1
    assert evaluate(facts(open_takedowns=(TakedownFacts(id=9, performer_ids=frozenset({2})),))).passed


def test_each_open_takedown_is_its_own_reason() -> None:
    both = (TakedownFacts(id=2, asset_ids=frozenset({11})), TakedownFacts(id=1, asset_ids=frozenset({11})))
    reasons = evaluate(facts(asset_ids=frozenset({11}), open_takedowns=both)).reasons
    assert [r.code for r in reasons] == ["takedown_open", "takedown_open"]
    assert "#1" in reasons[0].message and "#2" in reasons[1].message


def test_takedown_facts_are_checked() -> None:
    with pytest.raises(TypeError):
        facts(open_takedowns=({"id": 1},))
    with pytest.raises(TypeError):
        TakedownFacts(id=1, asset_ids="11")
