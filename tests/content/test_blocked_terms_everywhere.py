"""One list of blocked terms: a term a compliance officer adds in the admin applies to AI prompts, caption
templates, hashtag sets and caption suggestions, as it does to the publish gate (issue 13: the studio read
only the setting)."""

from __future__ import annotations

import pytest

from compliance import blocklist
from compliance import services as compliance
from compliance.hardblock import builtin_terms
from content import captions, studio
from content.models import CaptionTemplate, HashtagSet

pytestmark = pytest.mark.django_db
TERM = "velvetmoon"


@pytest.fixture
def admin_term(people):
    return compliance.add_blocked_term(TERM, note="rival brand", actor=people["owner"])


def test_the_one_list_holds_built_in_setting_and_admin_terms(settings, admin_term):
    settings.COMPLIANCE_EXTRA_BLOCKED_TERMS = ["from the setting"]
    assert blocklist.agency_terms() == ("from the setting", TERM)
    effective = blocklist.effective_terms()
    assert effective[: len(builtin_terms())] == builtin_terms()
    assert (TERM, "custom", "custom") in effective
    assert studio.extra_terms() == compliance.blocked_terms() == blocklist.agency_terms()


def test_an_admin_term_refuses_a_prompt(people, admin_term):
    with pytest.raises(studio.PromptRefused) as refused:
        studio.screen_request(people["a"], {"prompt": f"sunset on the beach, {TERM} style"}, kind="image")
    assert refused.value.hits[0].category == "custom"
    assert "at character" in refused.value.reasons[0]


@pytest.mark.parametrize(
    "item",
    [
        lambda creator: CaptionTemplate(creator=creator, text=f"New set with {TERM} tonight"),
        lambda creator: HashtagSet(creator=creator, name="Night", tags=f"#lingerie #{TERM}"),
    ],
)
def test_an_admin_term_refuses_caption_templates_and_hashtag_sets(people, admin_term, item):
    with pytest.raises(studio.PromptRefused):
        studio.screen_caption_material(item(people["a"]))


def test_an_admin_term_drops_a_suggestion_and_removing_it_lifts_the_block(people, admin_term):
    with pytest.raises(captions.PromptRefused):
        captions.suggest(platform="x", language="en", persona_voice="warm", topic=f"{TERM} night",
                         variables={}, ai_generated=False, extra_terms=studio.extra_terms())
    compliance.remove_blocked_term(admin_term, actor=people["owner"])
    assert studio.extra_terms() == ()
    studio.screen_request(people["a"], {"prompt": f"{TERM} style"}, kind="image")  # no longer refused


def test_a_built_in_term_in_a_hashtag_set_is_refused_even_run_together(people):
    with pytest.raises(studio.PromptRefused):
        studio.screen_caption_material(HashtagSet(creator=people["a"], name="Hot", tags="#lingerie #bigtitsteen"))
