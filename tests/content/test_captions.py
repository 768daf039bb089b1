"""Caption suggestions: platform limits and hashtag norms, the AI disclosure, the offline template path,
the model path, and the hard-block screening of prompts and outputs."""

from __future__ import annotations

import json

import pytest

from compliance.hardblock import builtin_terms, screen_text
from content import captions
from content.captions import PLATFORMS, GeneratorUnavailable, PromptRefused, disclosure_for, suggest
from scheduling.connectors import bluesky, instagram, reddit, x

LANGUAGES = ("en", "fr")
HASHTAG_CEILING = {"x": 3, "bluesky": 3, "telegram": 3, "fanvue": 5, "reddit": 0, "instagram": 30}


def blocked_term() -> str:
    """A built-in minor term, taken from compliance's own list rather than written here."""
    return next(term for term, category, _ in builtin_terms() if category == "minor" and term.isalpha())


def request(**overrides):
    base = {
        "platform": "x",
        "language": "en",
        "persona_voice": "playful, cheeky, warm",
        "topic": "beach day",
        "variables": {"name": "Mila", "day": "Friday"},
        "ai_generated": True,
        "count": 3,
    }
    return {**base, **overrides}


def hashtag_count(text: str) -> int:
    return len(captions._HASHTAG.findall(text))


class Spy:
    def __init__(self, outputs=(), error: Exception | None = None):
        self.outputs = list(outputs)
        self.error = error
        self.calls: list[tuple[str, str]] = []

    def __call__(self, system: str, user: str) -> list[str]:
        self.calls.append((system, user))
        if self.error:
            raise self.error
        return self.outputs


# --- offline path ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_offline_path_gives_distinct_variants_within_the_platform_limit(platform, language):
    result = suggest(**request(platform=platform, language=language, count=4))

    assert result.path == "templates"
    assert len(result.variants) == 4
    assert len({v.text for v in result.variants}) == 4
    rules = PLATFORMS[platform]
    for variant in result.variants:
        assert variant.fits
        assert variant.length == rules.measure(variant.text) <= rules.max_length
        assert "{" not in variant.text and "}" not in variant.text
        assert screen_text(variant.text) == []


def test_french_creator_gets_french_templates_and_disclosure():
    result = suggest(**request(platform="fanvue", language="fr-FR", topic="plage"))

    assert not result.notes
    for variant in result.variants:
        assert variant.text.endswith("Contenu généré par IA #IA")
    tags = {t for v in result.variants for t in v.hashtags}
    assert tags & {"Plage", "Ete", "Mer", "Vacances", "CoucherDeSoleil", "SummerVibes"}


def test_language_without_data_falls_back_to_english_and_says_so():
    result = suggest(**request(language="sv"))

    assert result.path == "templates"
    assert len(result.variants) == 3
    assert any("English" in note for note in result.notes)
    assert all(v.text.endswith("#AI") for v in result.variants)


def test_same_inputs_same_suggestions_and_other_inputs_vary():
    first = suggest(**request(platform="instagram"))
    again = suggest(**request(platform="instagram"))
    other = suggest(**request(platform="instagram", topic="gym workout"))

    assert first == again
    assert [v.text for v in first.variants] != [v.text for v in other.variants]


def test_persona_voice_picks_templates_in_its_tone():
    elegant = ("Some days are made for", "beach day, my way.", "Caught in a", "Soft light, slow morning")
    result = suggest(**request(platform="telegram", persona_voice="Elegant and calm, never loud"))

    assert all(v.text.startswith(elegant) for v in result.variants)


def test_templates_needing_an_absent_variable_are_left_out():
    result = suggest(**request(platform="telegram", variables={}, count=8))

    assert len(result.variants) == 8
    for variant in result.variants:
        assert "Mila" not in variant.text and "Friday" not in variant.text


def test_variables_fill_templates_and_a_given_cta_is_used():
    result = suggest(**request(platform="fanvue", variables={"name": "Mila", "cta": "Join me tonight"}, count=6))

    assert all("Join me tonight" in v.text for v in result.variants)
    assert any("Mila" in v.text for v in result.variants)


def test_more_variants_than_templates_returns_what_exists_with_a_note():
    result = suggest(**request(platform="reddit", count=50))

    assert 0 < len(result.variants) < 50
    assert len({v.text for v in result.variants}) == len(result.variants)
    assert any(f"{len(result.variants)} of 50" in note for note in result.notes)


# --- disclosure -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_ai_content_carries_the_platform_disclosure(platform, language):
    label = disclosure_for(platform, language)
    result = suggest(**request(platform=platform, language=language))

    assert label
    assert all(label in v.text for v in result.variants)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_human_content_carries_no_disclosure(platform):
    result = suggest(**request(platform=platform, ai_generated=False))

    assert result.variants
    for variant in result.variants:
        assert "AI-generated" not in variant.text and "#AI" not in variant.text and "Made with AI" not in variant.text


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_body_too_long_is_cut_and_the_disclosure_kept_whole(platform):
    long_topic = " ".join(["sunset"] * 1200)
    result = suggest(**request(platform=platform, topic=long_topic, count=2))

    label = disclosure_for(platform, "en")
    rules = PLATFORMS[platform]
    assert len(result.variants) == 2
    for variant in result.variants:
        assert variant.fits and rules.fits(variant.text)
        assert label in variant.text
        assert captions.ELLIPSIS in variant.text


def test_x_counts_emoji_double_and_links_as_23():
    emoji_topic = "🌊" * 200
    result = suggest(**request(platform="x", topic=emoji_topic, count=1))

    variant = result.variants[0]
    assert variant.length == x.weighted_length(variant.text) <= x.MAX_TEXT
    assert len(variant.text) < x.MAX_TEXT  # fits by X's count, so well under 280 code points
    assert variant.text.endswith("#AI")


def test_bluesky_counts_graphemes():
    family = "👩‍👩‍👧"  # one grapheme, five code points
    result = suggest(**request(platform="bluesky", topic=" ".join([family] * 400), count=1))

    variant = result.variants[0]
    assert variant.fits
    assert captions._graphemes(variant.text) <= bluesky.MAX_GRAPHEMES
    assert len(variant.text.encode()) <= bluesky.MAX_TEXT_BYTES
    assert len(variant.text) > bluesky.MAX_GRAPHEMES  # a plain len() would have cut far too early


def test_reddit_suggestion_is_a_one_line_title_within_300():
    result = suggest(**request(platform="reddit", topic="a very long title " * 40))

    for variant in result.variants:
        assert "\n" not in variant.text
        assert len(variant.text) <= reddit.MAX_TITLE
        assert variant.text.endswith("[AI-generated]")


def test_disclosure_table_covers_every_platform_in_every_language():
    for language_file in captions.DATA_DIR.glob("*.json"):
        table = json.loads(language_file.read_text(encoding="utf-8"))["disclosure"]
        for platform in PLATFORMS:
            assert table.get(platform) or table.get("default"), (language_file.name, platform)


def test_unknown_platform_is_a_clear_error():
    with pytest.raises(ValueError, match="known platforms"):
        suggest(**request(platform="myspace"))
    with pytest.raises(ValueError, match="count"):
        suggest(**request(count=0))


# --- hashtag norms --------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_hashtag_counts_follow_each_network(platform, language):
    for ai in (True, False):
        result = suggest(**request(platform=platform, language=language, ai_generated=ai))
        for variant in result.variants:
            assert hashtag_count(variant.text) <= HASHTAG_CEILING[platform]
            assert len(variant.hashtags) == len(set(t.casefold() for t in variant.hashtags))


def test_instagram_hashtags_form_a_block_and_x_stays_light():
    insta = suggest(**request(platform="instagram")).variants[0]
    on_x = suggest(**request(platform="x")).variants[0]

    block = insta.text.split("\n\n")[-1]
    assert block.split() == [f"#{t}" for t in insta.hashtags]
    assert 10 <= len(insta.hashtags) <= instagram.MAX_HASHTAGS - 1  # room left for the disclosure's #AI
    assert len(on_x.hashtags) <= 2
    assert "BeachDay" in on_x.hashtags


def test_reddit_titles_have_no_hashtags():
    result = suggest(**request(platform="reddit", ai_generated=False))

    assert all(v.hashtags == [] and "#" not in v.text for v in result.variants)


# --- generator path -------------------------------------------------------------------------------------


def test_generator_is_used_and_its_texts_shaped_for_the_platform():
    spy = Spy(["Golden hour at the beach 🌅 #sunset #beachlife #waves #sand", "Salt in my hair, sun on my skin"])
    result = suggest(**request(platform="x", count=2), generator=spy)

    assert result.path == "model"
    assert len(spy.calls) == 1
    system, user = spy.calls[0]
    assert "x" in system and "playful" in system and "beach day" in user and "Mila" in user
    first, second = result.variants
    assert first.text.startswith("Golden hour at the beach 🌅")
    assert first.hashtags == ["sunset", "beachlife"]  # the model's own tags first, cut to X's norm
    assert hashtag_count(first.text) == 3 and first.text.endswith("\n#AI")
    assert second.text.startswith("Salt in my hair, sun on my skin")
    assert all(v.fits for v in result.variants)


def test_generator_output_with_a_blocked_term_is_dropped_and_reported():
    bad = f"Sunny day with my {blocked_term()} look"
    spy = Spy(["A calm morning by the sea", bad, "Waves and warm light"])
    result = suggest(**request(platform="instagram"), generator=spy)

    assert result.path == "model"
    assert len(result.variants) == 2
    assert all(blocked_term() not in v.text for v in result.variants)
    assert any("Suggestion 2 was dropped" in note and "hard-blocked" in note for note in result.notes)


def test_agency_terms_screen_outputs_too():
    spy = Spy(["Our rival brand is great", "A calm morning by the sea"])
    result = suggest(**request(platform="telegram"), generator=spy, extra_terms=["rival brand"])

    assert len(result.variants) == 1
    assert result.variants[0].text.startswith("A calm morning by the sea")
    assert any("custom term 'rival brand'" in note for note in result.notes)


def test_long_model_output_is_trimmed_before_the_disclosure():
    spy = Spy(["word " * 500])
    variant = suggest(**request(platform="telegram", count=1), generator=spy).variants[0]

    assert variant.fits and len(variant.text) <= 1024
    assert variant.text.endswith("AI-generated #AI")


def test_inline_model_hashtags_beyond_the_norm_become_words():
    spy = Spy(["#one #two #three #four in the middle of a sentence #five"])
    variant = suggest(**request(platform="x", count=1), generator=spy).variants[0]

    assert hashtag_count(variant.text) <= 3


def test_generator_answering_one_string_gives_one_variant():
    result = suggest(**request(platform="bluesky"), generator=lambda system, user: "Sea breeze and slow mornings")

    assert [v.text.split(" #")[0] for v in result.variants] == ["Sea breeze and slow mornings"]


def test_unavailable_generator_falls_back_to_templates():
    spy = Spy(error=GeneratorUnavailable("connection refused"))
    result = suggest(**request(), generator=spy)

    assert result.path == "templates"
    assert len(result.variants) == 3
    assert any("unavailable" in note and "templates" in note for note in result.notes)


# --- refused prompts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"topic": "blocked"},
        {"persona_voice": "blocked"},
        {"variables": {"name": "Mila", "cta": "blocked"}},
    ],
    ids=["topic", "voice", "variable"],
)
def test_blocked_prompt_is_refused_before_the_generator(overrides):
    term = blocked_term()
    filled = {
        key: (
            {k: v.replace("blocked", f"{term} fun") for k, v in value.items()}
            if isinstance(value, dict)
            else f"{term} fun"
        )
        for key, value in overrides.items()
    }
    spy = Spy(["never used"])

    with pytest.raises(PromptRefused) as refused:
        suggest(**request(**filled), generator=spy)

    assert spy.calls == []
    assert refused.value.reasons and refused.value.hits
    assert "hard-blocked" in str(refused.value)


def test_blocked_prompt_is_refused_on_the_offline_path_too():
    with pytest.raises(PromptRefused, match="topic"):
        suggest(**request(topic=f"my {blocked_term()} set"))


def test_caption_data_passes_the_screening():
    for language_file in captions.DATA_DIR.glob("*.json"):
        assert screen_text(language_file.read_text(encoding="utf-8")) == [], language_file.name
