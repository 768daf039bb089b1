"""The hard-block screen against two corpora that grow with every bypass or false alarm found.

``corpus/adversarial.txt``: texts that must be refused, each with the evasion it uses (leetspeak, invisible
characters, marks and emoji inside a word, partial spacing, look-alike letters, styled Unicode, a capital I
for l, run-together hashtags, allowed words joined to a blocked one), in the nine languages plus Japanese,
Korean and Chinese. ``corpus/innocent.txt``: captions as agencies post them, including career durations
that read like ages, place names, food and film titles that contain a blocked word.

The figures are printed (``pytest -s``) so the closing note of a change can quote them.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from compliance.hardblock import AGE_TERM, MINOR, NON_CONSENT, screen_text

CORPUS = Path(__file__).with_name("corpus")
LANGUAGES = {"de", "en", "es", "fr", "it", "nl", "pl", "pt", "ru", "ja"}


def load(name: str) -> list[tuple[str, str, str]]:
    """(language, kind, text) per line; ``\\uXXXX`` stands for an invisible character."""
    rows = []
    for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        language, kind, text = line.split(" | ", 2)
        rows.append((language, kind, re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)))
    return rows


ADVERSARIAL = load("adversarial.txt")
INNOCENT = load("innocent.txt")


def test_corpora_are_large_and_cover_every_language() -> None:
    assert len(ADVERSARIAL) >= 500
    assert len(INNOCENT) >= 500
    assert {language for language, _, _ in ADVERSARIAL} >= LANGUAGES
    assert {language for language, _, _ in INNOCENT} >= LANGUAGES
    evasions = Counter(kind.split("+")[0] for _, kind, _ in ADVERSARIAL)
    for evasion in ("leet", "invisible", "marks", "partial", "lookalike", "styled", "capital_i", "hashtag", "spaced"):
        assert evasions[evasion] >= 20, evasion


def test_adversarial_corpus_is_refused_and_innocent_corpus_passes() -> None:
    missed = [(language, kind, text) for language, kind, text in ADVERSARIAL if not screen_text(text)]
    refused = [(language, text, screen_text(text)) for language, _, text in INNOCENT if screen_text(text)]
    caught = 100 * (len(ADVERSARIAL) - len(missed)) / len(ADVERSARIAL)
    false_alarms = 100 * len(refused) / len(INNOCENT)
    print(
        f"\nadversarial: {len(ADVERSARIAL) - len(missed)}/{len(ADVERSARIAL)} refused ({caught:.2f} %); "
        f"innocent: {len(refused)}/{len(INNOCENT)} refused ({false_alarms:.2f} %)"
    )
    for language, kind, text in missed:
        print(f"  missed [{language}, {kind}]: {text!r}")
    for language, text, hits in refused:
        print(f"  refused [{language}]: {text!r} ({', '.join(h.term for h in hits)})")
    assert caught >= 99.0
    assert false_alarms <= 1.0


# --- the cases issue 13 names -------------------------------------------------------------------------

NAMED_BYPASSES = [
    ("bigtitsteen", "teen"),
    ("#sixteenschoolgirl", "school girl"),
    ("lolisteen", "teen"),
    ("thirteenloli", "loli"),
    ("canteenrape", "rape"),
    ("geiler Teeny", "teen"),
    ("sexy minor in uniform", "minor"),
    ("minors", "minors"),
    ("I'm 17", AGE_TERM),
    ("17yrs", AGE_TERM),
    ("kidz", "kidz"),
    ("t\u034fe\ufe0fe\u3164n", "teen"),
    ("t\u2800e\u2800e\u2800n", "teen"),
    ("t>e>e>n", "teen"),
    ("t|e|e|n", "teen"),
    ("r*pe", "rape"),
    ("ra.pe", "rape"),
    ("te en", "teen"),
    ("t een", "teen"),
    ("733n", "teen"),
    ("+33n", "teen"),
    ("sk00lgirl", "skool girl"),
    ("IoIi", "loli"),
    ("schooIgirl", "school girl"),
    ("пorno teen", "teen"),
    ("ロリ", "ロリ"),
    ("女子高生", "女子高生"),
    ("중학생", "중학생"),
    ("萝莉", "萝莉"),
]


@pytest.mark.parametrize(("text", "term"), NAMED_BYPASSES)
def test_bypasses_named_in_the_issue_are_refused(text: str, term: str) -> None:
    hits = screen_text(text)
    assert term in {hit.term for hit in hits}, (text, hits)
    assert all(hit.category in (MINOR, NON_CONSENT) for hit in hits)


@pytest.mark.parametrize(
    "text",
    [
        "canteen",
        "Steenbergen",
        "nineteen",
        "nineteen years of experience",
        "sixteen",
        "16 ans d'expérience",
        "15 Jahre Erfahrung",
        "12 años de experiencia",
        "15 anos de carreira",
        "15 anni di carriera",
        "15 jaar ervaring",
        "10 yrs experience",
        "Karate Kid",
        "Teenage Mutant Ninja Turtles",
        "teeny bikini",
        "a minor change",
        "Chopin in E minor",
        "カロリー",
        "칼로리",
        "my dog is 3 years old",
        "Mein Hund wird 3 Jahre alt",
        "kidney beans",
        "grapefruit",
        "therapist",
        "Kidderminster",
    ],
)
def test_false_alarms_agencies_hit_pass(text: str) -> None:
    assert screen_text(text) == []


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("canteenrape", "rape"),  # "canteen" excuses its own "teen", not the "rape" after it
        ("#thirteenloli", "loli"),
        ("Steenbergen canteenrape", "rape"),
        ("teeny bikini teen", "teen"),  # the phrase excuses its own "teeny", not a later "teen"
        ("Karate Kid kids", "kids"),
        ("カロリーロリ", "ロリ"),
        ("no minors, minors welcome", "minors"),
    ],
)
def test_an_allowed_word_excuses_only_its_own_span(text: str, term: str) -> None:
    assert term in {hit.term for hit in screen_text(text)}


def test_a_refusal_names_the_term_the_category_and_where() -> None:
    text = "New set tonight #hotsixteenschoolgirl"
    [hit] = [h for h in screen_text(text) if h.term == "school girl"]
    assert hit.category == MINOR
    assert text[hit.start : hit.end] == hit.excerpt
    assert "schoolgirl" in hit.excerpt.lower()
