"""Codes as sentences, money in currency units, times with their zone: no raw code ships in the admin."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.db.models import TextChoices

from accounts import wording as accounts_wording  # noqa: F401 - registers its sentences
from analytics import wording as analytics_wording  # noqa: F401
from compliance import wording as compliance_wording
from compliance.gate import REASON_CODES
from content import wording as content_wording  # noqa: F401
from core import money, times, wording
from notifications import wording as notifications_wording  # noqa: F401
from scheduling import wording as scheduling_wording

# A field of one of these names says where a row stands: its codes need a sentence of their own.
STANDING = {"Status", "State", "Result", "Processing"}


def admin_choices() -> list[type[TextChoices]]:
    """Every TextChoices declared on a model the admin shows."""
    found = []
    for model in admin.site._registry:
        for _, member in inspect.getmembers(model, inspect.isclass):
            if issubclass(member, TextChoices) and member is not TextChoices and member not in found:
                found.append(member)
    return found


def test_every_gate_reason_has_a_sentence() -> None:
    missing = set(REASON_CODES) - set(compliance_wording.GATE.phrases)
    assert not missing, f"gate reasons without a sentence: {sorted(missing)}"
    for code in REASON_CODES:
        sentence = compliance_wording.GATE.say(code)
        assert code not in sentence and sentence.split(":")[0] in {"Blocked", "Held"}


def test_every_status_of_every_admin_model_has_a_sentence() -> None:
    checked = 0
    for choices in admin_choices():
        if choices.__name__ in STANDING:
            vocab = wording.vocabulary(choices)
            assert vocab is not None, f"{wording.key_of(choices)} has no sentences (core.wording.register)"
            missing = [c for c in choices.values if c not in vocab]
            assert not missing, f"{wording.key_of(choices)}: no sentence for {missing}"
            checked += 1
        else:  # a kind, a rating, a role: its label is the words, never the code again
            raw = [c for c, label in choices.choices if str(label) == c and "_" in c]
            assert not raw, f"{wording.key_of(choices)}: labels that are only codes: {raw}"
    assert checked >= 10


def test_facts_fill_the_richer_sentence_only_when_all_are_known() -> None:
    gate = compliance_wording.GATE
    assert gate.say("consent_revoked", when="3 Dec", who="Cora") == "Blocked: consent revoked on 3 Dec by Cora"
    assert gate.say("consent_revoked", when="3 Dec") == "Blocked: consent revoked"
    assert gate.say("approval_stale") == "Held: the post changed after it was approved"
    assert gate.say("something_new") == "Something new"  # words, never an error
    assert wording.say("no.such.vocabulary", "x_y") == "X y"
    assert scheduling_wording.PUBLICATION_STATUS.say("unknown") == "Outcome unknown — check on the platform"


def test_code_and_sentence_escapes_and_shows_the_code_small() -> None:
    html = wording.code_and_sentence("<b>Blocked</b>", "consent_revoked")
    assert "&lt;b&gt;Blocked&lt;/b&gt;" in html and "<code" in html and "consent_revoked" in html


@pytest.mark.parametrize(("minor", "currency", "shown"), [
    (1999, "EUR", "€19.99"), (1999, "eur", "€19.99"), (123456789, "USD", "$1,234,567.89"),
    (1200, "JPY", "¥1,200"), (1234, "KWD", "KWD 1.234"), (1250, "CHF", "CHF 12.50"),
    (-500, "GBP", "-£5.00"), (0, "EUR", "€0.00"), (None, "EUR", "—"), (1999, "", "19.99"),
])
def test_money_in_currency_units(minor: int | None, currency: str, shown: str) -> None:
    assert money.format_money(minor, currency) == shown


def test_a_time_in_the_creators_zone_carries_its_abbreviation() -> None:
    moment = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
    assert times.local(moment, "America/New_York").startswith("2026-12-02 20:30 <span")
    assert ">EST</span>" in times.local(moment, "America/New_York")
    assert ">CET</span>" in times.local(moment, "Europe/Paris")
    assert times.local(None) == "—"
    assert ">UTC</span>" in times.local(moment, "Not/AZone")  # an unknown name falls back to the active zone


def test_day_text_names_the_year_only_when_it_is_not_this_one() -> None:
    this_year = datetime.now(UTC).year
    assert wording.day_text(datetime(this_year, 12, 3, 12, tzinfo=UTC)) == "3 Dec"
    assert wording.day_text(datetime(2001, 12, 3, 12, tzinfo=UTC)) == "3 Dec 2001"
