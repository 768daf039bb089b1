"""The platform registry: each platform declared whole, and every reader agrees with it.

Models' choices, the gate's policy table, captions, connectors and presets read `core.platforms`; these
tests pin that they still do (nobody re-declares a platform beside it), and that the limits read from it
are the ones the connectors and captions declared before the registry existed.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest
from django.db.migrations.loader import MigrationLoader
from django.utils.module_loading import import_string

from analytics.admin_ingest import RECEIVER_URL_NAMES
from analytics.models import SOURCE_PLATFORMS, DailyRollup, Fan, Subscription, Transaction
from compliance import gate
from compliance.models import PLATFORM_CHOICES, ConsentRecord
from content import captions
from content.models import CAPTION_PLATFORMS, Asset, CaptionTemplate, GenerationJob, HashtagSet, PromptTemplate
from core import platforms
from core.platforms import (
    PLATFORMS,
    RATING_CHOICES,
    Capability,
    Counting,
    HashtagNorms,
    Kind,
    MediaLimits,
    RateLimit,
    Rating,
    TextLimits,
)
from scheduling.connectors import DEFAULT_CONNECTORS, bluesky, fanvue, instagram, oauth2, reddit, telegram, x
from scheduling.connectors.base import Limits, limits_for
from scheduling.models import Platform, PlatformAccount

MB = 1024 * 1024
ALL_RATINGS = frozenset({"sfw", "suggestive", "explicit"})
PUBLISHING = [p.key for p in platforms.publishing_platforms()]


# --- every platform has every field -------------------------------------------------------------------


def test_an_entry_states_every_fact_no_field_has_a_default() -> None:
    for f in dataclasses.fields(platforms.Platform):
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f.name


@pytest.mark.parametrize("key", list(PLATFORMS))
def test_every_platform_has_every_field(key: str) -> None:
    entry = PLATFORMS[key]
    assert entry.key == key and key.islower() and len(key) <= 16  # fits every platform column
    assert entry.label.strip()
    assert isinstance(entry.kind, Kind)
    assert isinstance(entry.max_rating, Rating)
    assert all(isinstance(c, Capability) for c in entry.capabilities)
    assert entry.text is None or isinstance(entry.text, TextLimits)
    assert entry.hashtags is None or isinstance(entry.hashtags, HashtagNorms)
    assert entry.media is None or isinstance(entry.media, MediaLimits)
    assert entry.rate is None or isinstance(entry.rate, RateLimit)
    # A platform Atelier publishes to states all its limits; one it does not claims none.
    publishes = entry.can(Capability.PUBLISH)
    assert bool(entry.connector) == publishes
    for limit in (entry.text, entry.media, entry.rate):
        assert (limit is not None) == publishes
    if entry.hashtags is not None:
        assert entry.text is not None
        assert 0 <= entry.hashtags.suggested <= entry.hashtags.maximum
    if entry.media is not None:
        assert entry.media.max_items > 0 and entry.media.max_bytes > 0 and entry.media.image_types
        assert entry.media.max_image_bytes is None or entry.media.max_image_bytes <= entry.media.max_bytes
    if entry.text is not None:
        assert entry.text.caption_length is None or entry.text.caption_length <= entry.text.max_length
        assert not entry.text.title or entry.text.caption_length is not None


def test_a_platform_without_an_api_has_no_capability_and_no_limits() -> None:
    with pytest.raises(ValueError, match="does not publish"):
        PLATFORMS["onlyfans"].publishing_limits()
    assert not PLATFORMS["tiktok"].capabilities


def test_get_names_the_known_platforms_for_an_unknown_one() -> None:
    assert platforms.get("bluesky") is PLATFORMS["bluesky"]
    with pytest.raises(KeyError, match="known platforms: fanvue, x"):
        platforms.get("myspace")


# --- ratings --------------------------------------------------------------------------------------------


def test_ratings_are_ordered_and_labelled_once() -> None:
    assert [r.value for r in sorted(Rating)] == ["sfw", "suggestive", "explicit"]
    assert Rating.EXPLICIT.allows("suggestive") and not Rating.SFW.allows(Rating.SUGGESTIVE)
    assert RATING_CHOICES == [("sfw", "SFW"), ("suggestive", "Suggestive"), ("explicit", "Explicit")]
    assert gate.Rating is Rating and gate.rating_allows is platforms.rating_allows
    assert PLATFORMS["instagram"].ratings == frozenset({"sfw"})
    assert PLATFORMS["fanvue"].ratings == ALL_RATINGS


# --- choices derived from the registry equal the models' -------------------------------------------------


def _choices(model: type, field: str) -> list[tuple[str, str]]:
    return list(model._meta.get_field(field).choices)


def test_model_platform_choices_come_from_the_registry() -> None:
    publishing = platforms.choices(platforms.publishing_platforms())
    assert Platform.choices == publishing == _choices(PlatformAccount, "platform")
    assert Platform.MANUAL == "manual"
    source = platforms.choices(platforms.source_platforms())
    assert SOURCE_PLATFORMS == source == [*publishing, ("onlyfans", "OnlyFans")]
    for model in (Fan, Subscription, Transaction, DailyRollup):
        assert _choices(model, "platform") == source, model.__name__
    caption = platforms.choices(platforms.caption_platforms())
    assert caption == CAPTION_PLATFORMS
    for model in (CaptionTemplate, HashtagSet):
        assert _choices(model, "platform") == caption, model.__name__
    assert sorted(platforms.choices(PLATFORMS.values())) == PLATFORM_CHOICES


def test_model_rating_choices_come_from_the_registry() -> None:
    assert Asset.Rating.choices == RATING_CHOICES
    assert Asset.Rating.SFW == "sfw" and Asset.Rating.EXPLICIT.label == "Explicit"
    for model in (Asset, PromptTemplate, GenerationJob):
        assert _choices(model, "rating") == RATING_CHOICES, model.__name__
    assert _choices(ConsentRecord, "max_rating") == RATING_CHOICES


def test_the_migrations_record_the_registry_choices() -> None:
    """What `makemigrations --check` guards, said of the registry: a changed label needs a migration."""
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    fields = [("scheduling", "platformaccount", "platform"), ("analytics", "transaction", "platform"),
              ("content", "captiontemplate", "platform"), ("content", "asset", "rating"),
              ("compliance", "consentrecord", "max_rating")]
    for app, model, name in fields:
        recorded = state.models[app, model].get_field(name).choices
        live = importlib.import_module(f"{app}.models")
        current = next(m for m in vars(live).values() if getattr(getattr(m, "_meta", None), "model_name", "") == model)
        assert list(recorded) == _choices(current, name), (app, model, name)


# --- the gate's policy table equals the registry's -------------------------------------------------------


def test_the_gate_policy_table_is_the_registry() -> None:
    assert dict(gate.PLATFORM_MAX_RATING) == {key: p.max_rating for key, p in PLATFORMS.items()}
    assert {key for key, p in PLATFORMS.items() if p.kind is Kind.SOCIAL} == gate.SOCIAL_PLATFORMS
    # What it said before the registry: adult content on the subscription and labelled-adult networks only.
    assert {k for k, r in gate.PLATFORM_MAX_RATING.items() if r is Rating.SFW} == {
        "instagram", "tiktok", "youtube", "threads"}
    social = {"x", "reddit", "telegram", "bluesky", "instagram", "tiktok", "youtube", "threads"}
    assert social == gate.SOCIAL_PLATFORMS


# --- connectors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", PUBLISHING)
def test_a_registry_connector_path_imports(key: str) -> None:
    cls = import_string(PLATFORMS[key].connector)
    assert cls.platform == key
    assert cls.limits == limits_for(key)
    assert DEFAULT_CONNECTORS[key] == PLATFORMS[key].connector


@pytest.mark.parametrize("key", PUBLISHING)
def test_capabilities_agree_with_the_connector(key: str) -> None:
    entry, cls = PLATFORMS[key], import_string(PLATFORMS[key].connector)
    # A lookup that can settle an unknown outcome has a settle time; without one a person checks.
    assert entry.can(Capability.LOOKUP) == (cls.lookup_settle_seconds is not None)
    assert entry.can(Capability.OAUTH) == (key in oauth2.OAUTH_PLATFORMS)
    if entry.can(Capability.OAUTH):
        assert oauth2.provider(key).platform == key


def test_webhook_receivers_exist_for_platforms_that_send_webhooks() -> None:
    assert set(RECEIVER_URL_NAMES) == {p.key for p in platforms.with_capability(Capability.WEBHOOKS)}


# The limits each connector declared before the registry: reading them from it changed none.
BEFORE = {
    "fanvue": Limits(5000, 50, 4096 * MB, frozenset({"image/jpeg", "image/png", "image/webp", "image/gif",
                                                       "video/mp4", "video/quicktime", "audio/mpeg", "audio/mp4",
                                                       "audio/wav"}), ALL_RATINGS, 200, 60),
    "x": Limits(280, 4, 512 * MB, frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "video/mp4",
                                             "video/quicktime"}), ALL_RATINGS, 100, 900),
    "reddit": Limits(40_000, 1, 20 * MB, frozenset({"image/jpeg", "image/png", "image/gif"}), ALL_RATINGS, 100, 60),
    "telegram": Limits(4096, 10, 50 * MB, frozenset({"image/jpeg", "image/png", "image/webp", "video/mp4"}),
                       ALL_RATINGS, 20, 60),
    "bluesky": Limits(3000, 4, 1_000_000, frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"}),
                      ALL_RATINGS, 1666, 3600),
    "instagram": Limits(2200, 10, 300 * MB, frozenset({"image/jpeg", "video/mp4", "video/quicktime"}),
                        frozenset({"sfw"}), 50, 24 * 3600),
    "manual": Limits(100_000, 100, 20 << 30, frozenset({"image/jpeg", "image/png", "image/webp", "image/gif",
                                                         "video/mp4", "video/quicktime", "video/webm"}),
                     ALL_RATINGS, 1_000_000, 60),
}


def test_connector_limits_are_the_ones_declared_before() -> None:
    assert {key: limits_for(key) for key in PUBLISHING} == BEFORE


def test_connector_constants_read_the_registry() -> None:
    assert (x.MAX_TEXT, x.SIZE_LIMITS) == (280, {"tweet_image": 5 * MB, "tweet_gif": 15 * MB,
                                                  "tweet_video": 512 * MB})
    assert x.weighted_length is platforms.weighted_length
    assert (bluesky.MAX_GRAPHEMES, bluesky.MAX_TEXT_BYTES, bluesky.MAX_IMAGE_BYTES) == (300, 3000, 1_000_000)
    assert (telegram.MAX_CAPTION, telegram.MAX_PHOTO_BYTES) == (1024, 10 * MB)
    assert (instagram.MAX_CAPTION, instagram.MAX_HASHTAGS, instagram.MAX_IMAGE_BYTES) == (2200, 30, 8 * MB)
    assert reddit.MAX_TITLE == 300
    assert fanvue.MAX_IMAGE_BYTES == 50 * MB


# --- captions ------------------------------------------------------------------------------------------


def test_caption_rules_are_the_ones_declared_before() -> None:
    rules = {key: (r.max_length, r.max_bytes, r.hashtags, r.max_hashtags, r.block_hashtags, r.single_line,
                   r.separator) for key, r in captions.PLATFORMS.items()}
    assert rules == {
        "fanvue": (5000, None, 3, 5, False, False, "\n\n"),
        "x": (280, None, 2, 3, False, False, "\n"),
        "reddit": (300, None, 0, 0, False, True, " "),
        "telegram": (1024, None, 2, 3, False, False, "\n\n"),
        "bluesky": (300, 3000, 2, 3, False, False, "\n"),
        "instagram": (2200, None, 15, 30, True, False, "\n\n"),
    }
    sample = "a🔥👍🏽 https://example.com/a/long/path/that/is/long"
    assert captions.PLATFORMS["x"].measure(sample) == platforms.weighted_length(sample) == 1 + 2 + 2 + 2 + 1 + 23
    assert captions.PLATFORMS["bluesky"].measure(sample) == platforms.graphemes(sample) == len(sample) - 1
    assert captions.PLATFORMS["fanvue"].measure(sample) == len(sample)


def test_text_limits_measure_as_the_platform_counts() -> None:
    assert TextLimits(280, counting=Counting.WEIGHTED).measure("🔥" * 3) == 6
    assert TextLimits(300, counting=Counting.GRAPHEMES).measure("👍🏽") == 1
    assert TextLimits(300, counting=Counting.GRAPHEMES, max_bytes=3000).max_code_points == 3000
    assert TextLimits(5000).max_code_points == 5000


def test_the_registry_imports_no_app() -> None:
    source = inspect.getsource(platforms)
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    apps = ("accounts", "compliance", "content", "scheduling", "analytics", "notifications", "config", "django")
    assert not [line for line in imports if line.split()[1].split(".")[0] in apps]
