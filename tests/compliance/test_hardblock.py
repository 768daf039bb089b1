"""Hard-blocked terms: what must block however it is spelled, and what must never block.

Pure Python: runs without Django (``-p no:django``).
"""

from __future__ import annotations

import statistics
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance import hardblock
from compliance.hardblock import (
    AGE_TERM,
    CUSTOM,
    MINOR,
    NON_CONSENT,
    HardBlockHit,
    builtin_terms,
    screen_text,
    screen_texts,
    term_counts,
)


def terms_in(text: str, **kwargs: object) -> set[str]:
    return {hit.term for hit in screen_text(text, **kwargs)}  # type: ignore[arg-type]


def blocked(text: str) -> bool:
    return bool(screen_text(text))


# --- the lists ----------------------------------------------------------------------------------------


def test_every_language_file_loads_with_both_categories() -> None:
    counts = term_counts()
    for language in ("en", "fr", "es", "de", "it", "pt", "nl", "pl", "ru"):
        assert counts[language] >= 15, language
    categories = {(language, category) for _, category, language in builtin_terms()}
    for language in ("en", "fr", "es", "de", "it", "pt"):
        assert (language, MINOR) in categories
        assert (language, NON_CONSENT) in categories
    assert {category for _, category, _ in builtin_terms()} == {MINOR, NON_CONSENT}


@pytest.mark.parametrize(("term", "category", "language"), builtin_terms())
def test_every_listed_term_blocks_as_written_spaced_out_and_in_a_sentence(
    term: str, category: str, language: str
) -> None:
    spaced = " ".join(ch for ch in term if ch.isalnum())
    for text in (term, term.upper(), f"New set: {term}! Link in bio", spaced):
        hits = screen_text(text)
        assert any(hit.category == category for hit in hits), (text, hits)


# --- per language -------------------------------------------------------------------------------------

BLOCKED = {
    "en": [
        ("young teen", MINOR),
        ("my little schoolgirl", MINOR),
        ("kids", MINOR),
        ("the child", MINOR),
        ("preteen", MINOR),
        ("loli", MINOR),
        ("lolita outfit", MINOR),
        ("shota", MINOR),
        ("jailbait", MINOR),
        ("high schooler", MINOR),
        ("middle school", MINOR),
        ("7th grader", MINOR),
        ("underage", MINOR),
        ("barely legal", MINOR),
        ("ageplay", MINOR),
        ("rape fantasy", NON_CONSENT),
        ("non-consensual", NON_CONSENT),
        ("noncon", NON_CONSENT),
        ("drugged and used", NON_CONSENT),
        ("fucked while asleep", NON_CONSENT),
        ("passed out", NON_CONSENT),
        ("forced", NON_CONSENT),
        ("hidden camera in the shower", NON_CONSENT),
        ("spycam", NON_CONSENT),
        ("upskirt", NON_CONSENT),
        ("revenge porn", NON_CONSENT),
        ("blackmailed", NON_CONSENT),
        ("kidnapped", NON_CONSENT),
    ],
    "fr": [
        ("une collégienne", MINOR),
        ("lycéenne coquine", MINOR),
        ("petite fille", MINOR),
        ("écolière", MINOR),
        ("elle est mineure", MINOR),
        ("violée", NON_CONSENT),
        ("sans son consentement", NON_CONSENT),
        ("caméra cachée", NON_CONSENT),
        ("droguée", NON_CONSENT),
    ],
    "es": [
        ("colegiala", MINOR),
        ("niña traviesa", MINOR),
        ("jovencita", MINOR),
        ("soy menor de edad", MINOR),
        ("violación", NON_CONSENT),
        ("sin consentimiento", NON_CONSENT),
        ("cámara oculta", NON_CONSENT),
        ("drogada", NON_CONSENT),
    ],
    "de": [
        ("Schulmädchen", MINOR),
        ("minderjährige", MINOR),
        ("Kinderporno", MINOR),
        ("vergewaltigt", NON_CONSENT),
        ("gegen ihren Willen", NON_CONSENT),
        ("versteckte Kamera", NON_CONSENT),
        ("K.O.-Tropfen", NON_CONSENT),
    ],
    "it": [
        ("ragazzina", MINOR),
        ("scolaretta", MINOR),
        ("minorenne", MINOR),
        ("sedicenne", MINOR),
        ("stuprata", NON_CONSENT),
        ("senza consenso", NON_CONSENT),
        ("telecamera nascosta", NON_CONSENT),
    ],
    "pt": [
        ("novinha", MINOR),
        ("ninfeta", MINOR),
        ("criança", MINOR),
        ("menor de idade", MINOR),
        ("estuprada", NON_CONSENT),
        ("sem consentimento", NON_CONSENT),
        ("câmera escondida", NON_CONSENT),
    ],
    "nl": [
        ("tienermeisje", MINOR),
        ("schoolmeisje", MINOR),
        ("minderjarig", MINOR),
        ("verkracht", NON_CONSENT),
        ("zonder toestemming", NON_CONSENT),
    ],
    "pl": [
        ("nastolatka", MINOR),
        ("uczennica", MINOR),
        ("zgwałcona", NON_CONSENT),
        ("bez zgody", NON_CONSENT),
    ],
    "ru": [("школьница", MINOR), ("несовершеннолетняя", MINOR), ("изнасилование", NON_CONSENT)],
}


@pytest.mark.parametrize(
    ("language", "text", "category"),
    [(language, text, category) for language, cases in BLOCKED.items() for text, category in cases],
)
def test_blocks_in_each_language(language: str, text: str, category: str) -> None:
    hits = screen_text(text)
    assert [hit.category for hit in hits] == [category], hits
    assert hits[0].language in (language, "en")  # loanwords shared by several lists are labelled "en"


def test_hit_reports_listed_term_language_and_original_span() -> None:
    text = "Caption: new vid with my T33N friend"
    [hit] = screen_text(text)
    start = text.index("T33N")
    assert hit == HardBlockHit("teen", MINOR, "en", "T33N", start, start + 4)
    assert hit.hard


# --- obfuscation --------------------------------------------------------------------------------------

OBFUSCATED_TEEN = [
    "t e e n",
    "t.e.e.n",
    "t-e-e-n",
    "t_e_e_n",
    "t*e*e*n",
    "T . E . E . N",
    "t33n",
    "7een",
    "teeeeen",
    "TEEN",
    "tEeN",
    "#TeenGirl",
    "#teengirls",
    "hotteen",
    "tееn",  # Cyrillic е
    "ТЕЕN",  # Cyrillic Т, Е
    "ΤΕΕΝ",  # Greek capitals
    "ｔｅｅｎ",  # full width
    "𝐭𝐞𝐞𝐧",  # mathematical bold
    "ᴛᴇᴇɴ",  # small capitals
    "ⓣⓔⓔⓝ",  # circled
    "te\u200ben",  # zero-width space
    "te\u00aden",  # soft hyphen
    "t\u0336e\u0336e\u0336n\u0336",  # strike-through combining marks
    "téén",  # diacritics
    "teenager",
]


@pytest.mark.parametrize("text", OBFUSCATED_TEEN)
def test_obfuscated_teen_is_caught(text: str) -> None:
    assert terms_in(f"new set {text} tonight") & {"teen"}, text


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("l*o*l*i", "loli"),
        ("l.o.l.i", "loli"),
        ("L0L1", "loli"),
        ("l0l!ta", "lolita"),
        ("j41lb41t", "jail bait"),
        ("sch00lg1rl", "school girl"),
        ("$choolgirl", "school girl"),
        ("SchoolGirl", "school girl"),
        ("#barelylegal", "barely legal"),
        ("Barely-Legal", "barely legal"),
        ("yooung girl", "young girl"),
        ("r@pe", "rape"),
        ("r4p3d", "raped"),
        ("RAPED", "raped"),
        ("k1ds", "kids"),
        ("k!d", "kid"),
        ("p.r.e.t.e.e.n", "pre-teen"),
        ("under_age", "under-age"),
        ("underaged", "under-age"),
        ("#HiddenCam", "hidden cam"),
        ("n0n-c0n", "non-con"),
        ("c h i l d", "child"),
        ("colegiála", "colegiala"),
        ("NIÑA", "niña"),
        ("vergewaltigung", "vergewaltig"),
        ("ИЗНАСИЛОВАНИЕ", "изнасил"),
    ],
)
def test_obfuscations(text: str, term: str) -> None:
    assert term in terms_in(text), screen_text(text)


def test_excerpt_is_the_original_text_even_when_obfuscated() -> None:
    text = "x ＳＣＨＯＯＬ-ＧＩＲＬ y"
    [hit] = screen_text(text)
    assert hit.excerpt == "ＳＣＨＯＯＬ-ＧＩＲＬ"
    assert text[hit.start : hit.end] == hit.excerpt


def test_prefix_terms_report_the_whole_word() -> None:
    [hit] = screen_text("totally kidnapped!")
    assert (hit.term, hit.excerpt) == ("kidnap", "kidnapped")


# --- ages ---------------------------------------------------------------------------------------------

AGES_BLOCKED = [
    "15yo",
    "15 yo",
    "16 y/o",
    "16 y.o.",
    "14 years old",
    "14 year old",
    "a 15-year-old",
    "15yrs old",
    "fourteen years old",
    "sixteen-year-old",
    "aged 15",
    "age: 16",
    "just 17 yo",
    "15 ans",
    "j'ai quinze ans",
    "dix-sept ans",
    "âgée de 16 ans",
    "16 años",
    "tengo 15 años",
    "15 años de edad",
    "ich bin 15 Jahre alt",
    "15-jährige",
    "ho 16 anni",
    "tenho 15 anos",
    "ik ben 16 jaar",
    "16-jarige",
    "mam 16 lat",
    "мне 16 лет",
    "#15yo",
    "１５ｙｏ",
    # Written to slip past: keycap emoji, other scripts' digits, dingbat digits, a word between.
    "1️⃣6️⃣ yo",
    "im ١٦",
    "im ১৬ years old",
    "im ❶❻",
    "i'm only 16",
    "i just turned 16",
    "im turning 17 next week",
    "my age is 16",
    "i'm still 17",
    "im still 16 lol",
]


@pytest.mark.parametrize("text", AGES_BLOCKED)
def test_ages_under_18_with_an_age_word_block(text: str) -> None:
    hits = screen_text(text)
    assert [(hit.term, hit.category) for hit in hits] == [(AGE_TERM, MINOR)], (text, hits)


AGES_PASSING = [
    "18+",
    "18 yo",
    "19 years old",
    "eighteen years old",
    "I'm 21",
    "fifteen minutes",
    "I'm 16 hours away",
    "15 min video",
    "top 10 pics",
    "ETA 15 minutes",
    "um yo what's up",
    "ten yo-yo tricks",
    "2015 was a year",
    "115 yo",
    "depuis 15 ans",
    "il y a 12 ans",
    "deux ans de carrière",
    "hace 15 años",
    "durante 12 años",
    "15 anni fa",
    "da 15 anni",
    "há 15 anos",
    "seit 15 Jahren",
    "15 Jahre lang",
    "vor 15 Jahren",
    "15 jaar geleden",
    "16 lat temu",
    "16 лет назад",
    "5 ans",
    # Heights and sizes, ordinary talk between adults.
    "I'm 5'6",
    "im 5’ 6\"",
    "I'm 6 foot 2",
    "I'm 6 ft tall",
    "I'm only 5'2",
    "16 inches",
    "I'm 26",
    "i'm only 5 minutes away",
    "just turned 16 pages of my diary into a zine",
    "I'm still 5 minutes away",
    "no one under 18 on this page",
    "I'm not 18 anymore lol",
    "my 18th birthday was wild",
    "not 18 inches",
    "still only 15 spots left",
    "I'm still 10 minutes away",
]


@pytest.mark.parametrize("text", AGES_PASSING)
def test_numbers_that_are_not_an_underage_age_pass(text: str) -> None:
    assert screen_text(text) == []


# --- precision ----------------------------------------------------------------------------------------

NEVER_BLOCKED = [
    "canteen",
    "Scunthorpe",
    "kidding",
    "no kidding!",
    "skid",
    "skids",
    "kidney",
    "grape",
    "grapefruit",
    "drape",
    "drapery",
    "scrape",
    "parapet",
    "trapeze",
    "therapist",
    "therapeutic",
    "rapeseed oil",
    "minor changes",
    "No minors. 18+ only.",
    "eighteen",
    "barely awake",
    "nude",
    "naked",
    "lingerie",
    "explicit",
    "sexy",
    "hot",
    "MILF",
    "stepmom",
    "step-sister roleplay",
    "girl",
    "good girl",
    "babe",
    "baby",
    "petite",
    "young-looking",
    "college girl",
    "cheerleader",
    "lollipop",
    "lol!",
    "LOL!!!",
    "1011 likes",
    "thirteen",
    "nineteen",
    "umpteenth",
    "velveteen",
    "sateen sheets",
    "teeny bikini",
    "Steenwijk",
    "edelsteen",
    "abductor muscles",
    "pedometer",
    "pedal",
    "torpedo",
    "without further ado",
    "Nina",
    "Nino",
    "viole",
    "fromage râpé",
    "Schuler",
    "kind regards",
    "kinder words",
    "violet",
    "violin",
    "forceful",
    "force",
    "asleep",
    "between",
    "a young woman",
    "daddy",
    "virgin",
    "blacked",
    "studentessa",
    "menina",
    "nena",
    "chica",
    "Mädchen",
    "meisje",
    "прекрасная",
]


@pytest.mark.parametrize("text", NEVER_BLOCKED)
def test_ordinary_words_never_block(text: str) -> None:
    assert screen_text(text) == []


def test_a_long_ordinary_caption_passes() -> None:
    caption = (
        "New lingerie set 💋 nude, naked and explicit for my subscribers — sexy, hot, MILF energy. "
        "Stepmom roleplay tonight at 9, petite babe vibes, no kidding. 18+ only, no minors. "
        "I'm 24, 5'4 and 16 hours away from Scunthorpe. Fifteen minutes of fame 🍇 grape emoji, "
        "my therapist says hi. Canteen lunch then shoot #2. Tip 15$ for the uncut version!"
    )
    assert screen_text(caption) == []


# --- extra terms --------------------------------------------------------------------------------------


def test_extra_terms_add_custom_hits() -> None:
    hits = screen_text("Our competitor BrandX is lame", extra_terms=["brandx"])
    assert [(hit.term, hit.category, hit.language, hit.hard) for hit in hits] == [
        ("brandx", CUSTOM, CUSTOM, False)
    ]


def test_extra_terms_use_the_same_matching() -> None:
    assert "brandx" in terms_in("b r a n d x", extra_terms=["brandx"])
    assert "brand x" in terms_in("#BrandX", extra_terms=["brand x"])


def test_extra_terms_cannot_remove_builtin_terms() -> None:
    assert "teen" in terms_in("teen", extra_terms=["-teen", "!teen", "teen"])
    assert [hit.category for hit in screen_text("teen", extra_terms=["teen"])] == [MINOR, CUSTOM]


def test_extra_terms_must_be_an_iterable_of_strings() -> None:
    with pytest.raises(TypeError):
        screen_text("x", extra_terms="teen")
    with pytest.raises(TypeError):
        screen_text("x", extra_terms=[1])  # type: ignore[list-item]


def test_screen_text_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        screen_text(None)  # type: ignore[arg-type]
    assert screen_text("") == []


# --- several fields -----------------------------------------------------------------------------------


def test_screen_texts_tags_hits_with_their_field_in_sorted_field_order() -> None:
    hits = screen_texts({"tags": "#teen", "caption": "forced", "prompt": "a sunset"})
    assert [(hit.field, hit.term) for hit in hits] == [("caption", "forced"), ("tags", "teen")]


def test_screen_texts_applies_extra_terms_to_every_field() -> None:
    hits = screen_texts({"caption": "brandx", "prompt": "BRANDX"}, extra_terms=iter(["brandx"]))
    assert [hit.field for hit in hits] == ["caption", "prompt"]


# --- properties ---------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_screens_without_error_and_excerpts_are_original_spans(text: str) -> None:
    for hit in screen_text(text):
        assert text[hit.start : hit.end] == hit.excerpt
        assert hit.category in (MINOR, NON_CONSENT)


CLEAN_WORDS = ["new", "set", "tonight", "lingerie", "babe", "sexy", "hot", "pics", "link", "bio", "vibes"]
HARD_TERMS = [t for t, _, _ in builtin_terms() if " " not in t and len(t) > 3][:120]


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.sampled_from(CLEAN_WORDS), max_size=6),
    after=st.lists(st.sampled_from(CLEAN_WORDS), max_size=6),
    term=st.sampled_from(HARD_TERMS),
    upper=st.booleans(),
    separator=st.sampled_from([" ", ", ", " #", " (", "! "]),
)
def test_a_hard_term_anywhere_in_clean_text_blocks(
    before: list[str], after: list[str], term: str, upper: bool, separator: str
) -> None:
    word = term.upper() if upper else term
    text = " ".join(before) + separator + word + separator + " ".join(after)
    assert any(hit.hard for hit in screen_text(text)), text


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.sampled_from(CLEAN_WORDS), max_size=30))
def test_clean_vocabulary_never_blocks(words: list[str]) -> None:
    assert screen_text(" ".join(words)) == []


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), extras=st.lists(st.text(min_size=1, max_size=12), max_size=5))
def test_extra_terms_only_ever_add_hits(text: str, extras: list[str]) -> None:
    builtin = {(h.start, h.end, h.term) for h in screen_text(text)}
    with_extras = {
        (h.start, h.end, h.term) for h in screen_text(text, extra_terms=extras) if h.category != CUSTOM
    }
    assert builtin == with_extras


@settings(max_examples=100, deadline=None)
@given(
    age=st.integers(min_value=1, max_value=17), unit=st.sampled_from(["yo", "y/o", "years old", "-year-old"])
)
def test_every_age_under_18_blocks(age: int, unit: str) -> None:
    assert terms_in(f"she is {age}{unit if unit.startswith('-') else ' ' + unit}") == {AGE_TERM}


@settings(max_examples=100, deadline=None)
@given(
    age=st.integers(min_value=18, max_value=99),
    unit=st.sampled_from(["yo", "y/o", "years old", "ans", "años"]),
)
def test_no_adult_age_blocks(age: int, unit: str) -> None:
    assert screen_text(f"she is {age} {unit}") == []


# --- performance --------------------------------------------------------------------------------------


def test_a_2000_character_caption_screens_in_a_few_milliseconds() -> None:
    base = (
        "Fresh lingerie set dropping tonight, nude and explicit, sexy and hot. MILF vibes, stepmom roleplay, "
        "petite babe. 18+ only. I'm 24 and 16 hours away; fifteen minutes of fame. Link in bio #newset "
    )
    caption = (base * 20)[:2000]
    screen_text(caption)  # compile once
    timings = []
    for _ in range(30):
        started = time.process_time()
        screen_text(caption)
        timings.append(time.process_time() - started)
    # CPU time, so that other processes on a shared machine do not count. Typically ~2.6 ms
    # (bench.hardblock; a typical 130-character caption takes ~0.2 ms). The second reading
    # of marked words, run-together words and partly spaced words cost about four times the 0.5 ms of the
    # word-start scan alone; the bound leaves room for slow or loaded CI machines.
    assert statistics.median(timings) < 0.015


def test_lists_are_compiled_once() -> None:
    assert hardblock._builtin() is hardblock._builtin()


@pytest.mark.parametrize(
    "hostile",
    [
        "1" * 2000,
        "t" + "e" * 2000,
        "!" * 2000,
        "l0" * 1000,
        "schoo" + "o" * 2000,
        "t " + "e " * 1000,
        "15 " * 660,
    ],
)
def test_hostile_input_does_not_backtrack_for_long(hostile: str) -> None:
    screen_text("warm up")
    started = time.process_time()
    screen_text(hostile)
    assert time.process_time() - started < 0.05


def test_long_letter_runs_are_still_caught() -> None:
    assert "teen" in terms_in("t" + "e" * 15 + "n")
    assert "school girl" in terms_in("schoooooooooolgirl")
