"""AI studio services: jobs against fake backends on loopback, marking, refusals, usage and cost."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import storages

from accounts.models import AuditEvent
from compliance import crypto
from content import studio
from content.models import (
    Asset,
    CaptionTemplate,
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    HashtagSet,
    PromptTemplate,
)
from content.provenance import TRAINED_ALGORITHMIC_MEDIA, read_digital_source_type, read_manifest
from content.provenance.dev_ca import KEY_FILENAME
from content.studio import jobs
from tests.content.fakes_generation import FakeA1111, FakeComfyUI
from tests.content.studio_fixtures import STUDIO_API_KEY, comfy_row, text_row
from tests.scheduling.fakes.base import Reply, serve

pytestmark = pytest.mark.usefixtures("personas")
J = GenerationJob.Status
API_KEY = STUDIO_API_KEY


def template_for(creator, **fields) -> PromptTemplate:
    defaults = {"name": "Beach teaser", "prompt": "photo of {persona} on a beach at {time}",
                "style": "35mm, soft light",
                "negative_prompt": "blurry, text", "rating": "sfw", "width": 512, "height": 768, "steps": 20,
                "count": 2, "voice_guide": "playful, warm"}
    return PromptTemplate.objects.create(creator=creator, **{**defaults, **fields})


# --- image jobs ---------------------------------------------------------------------------------------


def test_an_image_job_lands_signed_ai_assets_in_review(people, media_dir, eager_celery, signing, comfy,
                                                       django_capture_on_commit_callbacks):
    backend = comfy_row(comfy)
    template = template_for(people["a"])
    with django_capture_on_commit_callbacks(execute=True):
        job = studio.queue_image_job(creator=people["a"], template=template, actor=people["bob"],
                                     variables={"persona": "Mila", "time": "sunset"})
    job.refresh_from_db()
    assert job.status == J.SUCCEEDED, job.error
    assert job.prompt == "photo of Mila on a beach at sunset, 35mm, soft light"
    graph = comfy.calls("POST", r"/prompt")[0].json()["prompt"]
    assert "photo of Mila on a beach at sunset" in str(graph) and "blurry, text" in str(graph)
    assets = list(job.assets.order_by("pk"))
    assert len(assets) == 2
    for asset in assets:
        assert asset.origin == Asset.Origin.AI and asset.status == Asset.Status.IN_REVIEW
        assert asset.provenance_present and asset.uploaded_by == people["bob"]
        assert asset.disclosure_label == "AI-generated"
        data = asset.file.storage.open(asset.file.name).read()
        info = read_manifest(data, asset.mime)
        assert info.present and info.valid, info.validation_errors
        assert info.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
        assert read_digital_source_type(data, asset.mime) == TRAINED_ALGORITHMIC_MEDIA
        # Every rendition carries its own marking.
        renditions = list(asset.renditions.all())
        assert renditions
        for rendition in renditions:
            rdata = storages["default"].open(rendition.file.name).read()
            assert read_digital_source_type(rdata, rendition.mime) == TRAINED_ALGORITHMIC_MEDIA, rendition.preset
            assert read_manifest(rdata, rendition.mime).valid, rendition.preset
    usage = GenerationUsage.objects.get(job=job)
    assert (usage.images, usage.cost_minor, usage.backend) == (2, 6, backend)
    assert job.cost_minor == 6
    actions = list(AuditEvent.objects.filter(object_type="content.generationjob", object_id=str(job.pk)).order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["generation.queued", "generation.succeeded"]


def test_a_hard_blocked_prompt_never_reaches_the_backend_and_is_audited(people, media_dir, eager_celery, signing,
                                                                         comfy):
    comfy_row(comfy)
    with pytest.raises(studio.PromptRefused) as refused:
        studio.queue_image_job(creator=people["a"], prompt="a schoolgirl in uniform", actor=people["bob"])
    assert "prompt" in refused.value.reasons[0] and "hard-blocked" in refused.value.reasons[0]
    assert comfy.calls("POST", r"/prompt") == [] and not GenerationJob.objects.exists()
    event = AuditEvent.objects.get(action="generation.refused")
    assert event.creator == people["a"] and event.actor == people["bob"]
    assert event.changes["kind"] == "image" and event.changes["fields"] == ["prompt"]


def test_a_blocked_term_in_a_variable_or_the_template_is_refused_too(people, media_dir, signing, comfy):
    comfy_row(comfy)
    template = template_for(people["a"])
    with pytest.raises(studio.PromptRefused):
        studio.queue_image_job(creator=people["a"], template=template,
                               variables={"persona": "a 15 year old", "time": "noon"})
    bad = template_for(people["a"], name="Bad", prompt="{persona}, teen look")
    with pytest.raises(studio.PromptRefused):
        studio.queue_image_job(creator=people["a"], template=bad, variables={"persona": "Mila"})
    assert AuditEvent.objects.filter(action="generation.refused").count() == 2
    assert comfy.calls("POST", r"/prompt") == []


def test_missing_template_values_and_foreign_templates_are_clear_errors(people, media_dir, signing, comfy):
    comfy_row(comfy)
    template = template_for(people["a"])
    with pytest.raises(ValidationError, match="time"):
        studio.queue_image_job(creator=people["a"], template=template, variables={"persona": "Mila"})
    with pytest.raises(ValidationError, match="another creator"):
        studio.queue_image_job(creator=people["b"], template=template, variables={"persona": "x", "time": "y"})
    assert not GenerationJob.objects.exists()


def test_no_image_backend_is_a_clear_error(people, media_dir):
    with pytest.raises(ValidationError, match="No image backend"):
        studio.queue_image_job(creator=people["a"], prompt="a portrait")


def test_a_backend_that_is_down_is_retried_then_fails_with_its_reason(people, media_dir, eager_celery, signing,
                                                                      settings, django_capture_on_commit_callbacks,
                                                                      allow_loopback):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.GENERATION_MAX_RETRIES = 2
    backend = studio.save_backend(GenerationBackend(name="Down", kind="a1111", purpose="images", is_default=True,
                                                    base_url=f"http://127.0.0.1:{port}", timeout_seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        job = studio.queue_image_job(creator=people["a"], prompt="a portrait", backend=backend)
    job.refresh_from_db()
    assert job.status == J.FAILED and job.attempts == 2
    assert "127.0.0.1" in job.error and not job.assets.exists()


def test_a_backend_refusal_fails_at_once_and_a_timeout_is_not_retried(people, media_dir, eager_celery, signing,
                                                                      django_capture_on_commit_callbacks,
                                                                      allow_loopback):
    with serve(FakeA1111()) as fake:
        fake.fail_next("POST", r"/sdapi/v1/txt2img", Reply(500, {"error": "OutOfMemoryError",
                                                              "detail": "CUDA out of memory"}))
        backend = studio.save_backend(GenerationBackend(name="Forge", kind="a1111", purpose="images",
                                                        base_url=fake.url, timeout_seconds=5))
        with django_capture_on_commit_callbacks(execute=True):
            job = studio.queue_image_job(creator=people["a"], prompt="a portrait", backend=backend)
        job.refresh_from_db()
        assert job.status == J.FAILED and job.attempts == 1 and "out of memory" in job.error.lower()

    with serve(FakeComfyUI()) as comfy:
        comfy.never_finish = True
        slow = comfy_row(comfy, name="Slow", timeout_seconds=1, is_default=False)
        with django_capture_on_commit_callbacks(execute=True):
            job = studio.queue_image_job(creator=people["a"], prompt="a portrait", backend=slow)
        job.refresh_from_db()
        assert job.status == J.FAILED and job.attempts == 1
        assert "not retried" in job.error and len(comfy.calls("POST", r"/prompt")) == 1


def test_cancel_a_queued_job_and_a_running_one(people, media_dir, signing, comfy):
    comfy_row(comfy)
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait")  # on_commit not run: stays queued
    studio.cancel_job(job, actor=people["alice"])
    job.refresh_from_db()
    assert job.status == J.CANCELLED
    assert studio.run_job(job.pk).status == "skipped" and comfy.calls("POST", r"/prompt") == []
    with pytest.raises(ValidationError):
        studio.cancel_job(job)

    running = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    GenerationJob.objects.filter(pk=running.pk).update(status=J.RUNNING)
    running.refresh_from_db()
    studio.cancel_job(running)
    running.refresh_from_db()
    assert running.status == J.RUNNING and running.cancel_requested


def test_a_running_job_is_cancelled_when_its_backend_returns(people, media_dir, signing, comfy, monkeypatch):
    comfy_row(comfy)
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    real = jobs._cancelled_meanwhile

    def cancel_then_check(j):
        GenerationJob.objects.filter(pk=j.pk).update(cancel_requested=True)
        return real(j)

    monkeypatch.setattr(jobs, "_cancelled_meanwhile", cancel_then_check)
    assert studio.run_job(job.pk).status == J.CANCELLED
    job.refresh_from_db()
    assert job.status == J.CANCELLED and not job.assets.exists() and not Asset.objects.exists()
    assert GenerationUsage.objects.get(job=job).images == 1  # the backend worked; its usage is logged


def test_a_job_found_running_was_interrupted_and_is_not_rerun(people, media_dir, signing, comfy):
    comfy_row(comfy)
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    GenerationJob.objects.filter(pk=job.pk).update(status=J.RUNNING)
    assert studio.run_job(job.pk).status == J.FAILED
    job.refresh_from_db()
    assert "outcome is unknown" in job.error and comfy.calls("POST", r"/prompt") == []


def test_a_busy_backend_keeps_the_job_queued(people, media_dir, signing, comfy):
    from core.slots import concurrency_slot

    backend = comfy_row(comfy, max_concurrency=1)
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    with concurrency_slot(f"generation:{backend.pk}", 1, 60) as held:
        assert held
        outcome = studio.run_job(job.pk)
    assert outcome.status == J.QUEUED and outcome.retry_in and outcome.retry_in > 0
    job.refresh_from_db()
    assert job.status == J.QUEUED and job.attempts == 0
    assert studio.run_job(job.pk).status == J.SUCCEEDED


def test_without_signing_configured_outside_debug_no_unsigned_image_is_stored(people, media_dir, settings, comfy):
    settings.DEBUG = False
    settings.C2PA_SIGNING_CERT_CHAIN = ""
    settings.C2PA_SIGNING_KEY = ""
    comfy_row(comfy)
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    assert studio.run_job(job.pk).status == J.FAILED
    job.refresh_from_db()
    assert "C2PA" in job.error and not Asset.objects.exists()


def test_in_debug_a_development_chain_is_created_once(people, media_dir, settings, tmp_path, comfy):
    settings.DEBUG = True
    settings.C2PA_TRUST_ANCHORS = ""
    settings.VAR_DIR = tmp_path
    settings.C2PA_SIGNING_CERT_CHAIN = ""
    settings.C2PA_SIGNING_KEY = ""
    comfy_row(comfy)
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    assert studio.run_job(job.pk).status == J.SUCCEEDED
    assert (tmp_path / "c2pa-dev" / KEY_FILENAME).exists()
    asset = job.assets.get()
    info = read_manifest(asset.file.storage.open(asset.file.name).read(), asset.mime)
    assert info.valid and info.trusted  # the laptop trusts its own development CA


# --- backends -----------------------------------------------------------------------------------------


def test_api_keys_are_encrypted_audited_on_read_and_never_logged(people, media_dir, openai, caplog):
    backend = text_row(openai)
    backend.refresh_from_db()
    assert API_KEY not in backend.api_key_encrypted and crypto.decrypt_text(backend.api_key_encrypted) == API_KEY
    with caplog.at_level("DEBUG"):
        suggestions = studio.suggest_captions(creator=people["a"], platform="x", topic="beach day")
    assert suggestions.path == "model" and suggestions.variants
    assert AuditEvent.objects.filter(action="generation_backend.key_read").exists()
    assert API_KEY not in caplog.text
    assert all(API_KEY not in str(e.changes) for e in AuditEvent.objects.all())


def test_env_backends_are_synced_and_become_defaults(db, settings, openai):
    settings.GENERATION_TEXT_URL = openai.url
    settings.GENERATION_TEXT_MODEL = "llama3.1"
    settings.GENERATION_TEXT_API_KEY = API_KEY
    backend = studio.default_backend("text")
    assert backend is not None and backend.managed_by_env and backend.is_default and backend.model == "llama3.1"
    assert crypto.decrypt_text(backend.api_key_encrypted) == API_KEY
    settings.GENERATION_TEXT_MODEL = "qwen2.5"
    settings.GENERATION_TEXT_API_KEY = "sk-rotated"
    backend = studio.default_backend("text")
    assert backend.model == "qwen2.5" and crypto.decrypt_text(backend.api_key_encrypted) == "sk-rotated"
    assert not AuditEvent.objects.filter(action="generation_backend.key_read").exists()
    assert GenerationBackend.objects.count() == 1
    with pytest.raises(ValidationError, match="environment"):
        studio.save_backend(backend)


def test_a_bad_backend_config_is_refused_when_saved(db):
    with pytest.raises(ValidationError):
        studio.save_backend(GenerationBackend(name="x", kind="comfyui", purpose="images", base_url="ftp://gpu"))
    with pytest.raises(ValidationError, match="OpenAI-compatible"):
        studio.save_backend(GenerationBackend(name="y", kind="comfyui", purpose="text", base_url="http://gpu"))


def test_health_check_is_kept_on_the_row(people, comfy):
    backend = comfy_row(comfy)
    assert studio.check_health(backend).ok
    backend.refresh_from_db()
    assert backend.last_health_ok is True and backend.last_checked_at


# --- captions -----------------------------------------------------------------------------------------


def test_without_a_model_captions_come_from_templates_and_say_so(people):
    suggestions = studio.suggest_captions(creator=people["a"], platform="instagram", topic="beach day", count=3)
    assert suggestions.path == "templates" and len(suggestions.variants) == 3
    assert any("No text model" in n for n in suggestions.notes)
    assert all("#AI" in v.text or "AI" in v.text for v in suggestions.variants)
    assert not GenerationUsage.objects.exists()


def test_the_agencys_own_templates_and_hashtag_sets_come_first(people):
    CaptionTemplate.objects.create(creator=people["a"], platform="x", language="en",
                                   text="{name} says: {topic} season is open! {cta}")
    HashtagSet.objects.create(creator=None, name="Summer", match="beach, summer", tags="#SunKissed SaltyHair")
    suggestions = studio.suggest_captions(creator=people["a"], platform="x", topic="beach", count=3,
                                          ai_generated=False)
    first = suggestions.variants[0]
    assert first.text.startswith(f"{people['a'].stage_name} says: beach season is open!")
    assert {"SunKissed", "SaltyHair"} & set(first.hashtags)
    # Another creator never sees creator A's template.
    other = studio.suggest_captions(creator=people["b"], platform="x", topic="beach", count=3, ai_generated=False)
    assert not any("season is open" in v.text for v in other.variants)


def test_with_a_model_captions_come_from_it_and_usage_is_costed(people, openai):
    backend = text_row(openai)
    openai.chat_reply = "1. Sun, sand and you #beach\n2. Golden hour never looked this good\n3. Salt in my hair"
    suggestions = studio.suggest_captions(creator=people["a"], platform="x", topic="beach day", count=3)
    assert suggestions.path == "model" and suggestions.backend == backend.name
    assert len(suggestions.variants) == 3 and suggestions.variants[1].text.startswith("Golden hour")
    usage = GenerationUsage.objects.get()
    assert usage.tokens_in > 0 and usage.kind == "caption" and usage.backend == backend


def test_a_model_that_is_down_falls_back_to_templates(people, settings):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    studio.save_backend(GenerationBackend(name="Gone", kind="openai", purpose="text", is_default=True,
                                          base_url=f"http://127.0.0.1:{port}/v1", timeout_seconds=3))
    suggestions = studio.suggest_captions(creator=people["a"], platform="bluesky", topic="coffee", count=2)
    assert suggestions.path == "templates" and len(suggestions.variants) == 2
    assert any("unavailable" in n for n in suggestions.notes)


def test_a_blocked_caption_topic_is_refused_and_audited(people, openai):
    text_row(openai)
    with pytest.raises(studio.PromptRefused):
        studio.suggest_captions(creator=people["a"], platform="x", topic="back to school, barely legal",
                                actor=people["bob"])
    assert openai.calls("POST", r"/v1/chat/completions") == []
    assert AuditEvent.objects.get(action="generation.refused").changes["kind"] == "caption"


def test_caption_and_hashtag_jobs_run_on_the_worker_path(people, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        captions_job = studio.queue_text_job(creator=people["a"], kind="caption", platform="instagram",
                                             topic="beach day", count=2)
        tags_job = studio.queue_text_job(creator=people["a"], kind="hashtags", platform="instagram",
                                         topic="beach day", count=2)
    captions_job.refresh_from_db()
    tags_job.refresh_from_db()
    assert captions_job.status == J.SUCCEEDED and captions_job.path == "templates" and len(captions_job.texts) == 2
    assert tags_job.status == J.SUCCEEDED and all(t.startswith("#") for t in tags_job.texts)


# --- usage --------------------------------------------------------------------------------------------


def test_cost_rounds_up_and_monthly_totals_never_mix_currencies(people):
    backend = GenerationBackend.objects.create(name="Paid", kind="openai", purpose="text", base_url="http://x",
                                               cost_per_mtok_in_minor=15, cost_per_mtok_out_minor=60,
                                               currency="USD")
    assert studio.cost_of(backend, tokens_in=1000, tokens_out=1000) == 1  # 0.075 cents → 1 cent
    assert studio.cost_of(backend, tokens_in=2_000_000) == 30
    studio.log_usage(people["a"], backend, kind="caption", tokens_in=2_000_000)
    studio.log_usage(people["a"], backend, kind="caption", tokens_in=1_000_000)
    euro = GenerationBackend.objects.create(name="EU", kind="comfyui", purpose="images", base_url="http://y",
                                            cost_per_image_minor=2, currency="EUR")
    studio.log_usage(people["a"], euro, kind="image", images=5)
    rows = studio.monthly_totals(GenerationUsage.objects.all())
    by_currency = {r["currency"]: r for r in rows}
    assert by_currency["USD"]["cost_minor"] == 45 and by_currency["USD"]["calls"] == 2
    assert by_currency["EUR"]["cost_minor"] == 10 and by_currency["EUR"]["images"] == 5


def test_the_reaper_fails_lost_running_jobs_and_requeues_lost_queued_ones(people, media_dir, signing, comfy,
                                                                         django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    comfy_row(comfy)
    lost = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    stuck = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    fresh = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    long_ago = timezone.now() - timedelta(hours=1)
    GenerationJob.objects.filter(pk=lost.pk).update(created_at=long_ago)
    GenerationJob.objects.filter(pk=stuck.pk).update(status=J.RUNNING, started_at=long_ago, created_at=long_ago)
    sent = []
    import content.studio.jobs as module

    original = module.enqueue
    module.enqueue = lambda pk, countdown=None: sent.append(pk)
    try:
        assert studio.reap_jobs() == {"failed": 1, "requeued": 1}
    finally:
        module.enqueue = original
    assert sent == [lost.pk]
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == J.FAILED and "outcome is unknown" in stuck.error and fresh.status == J.QUEUED


def test_an_ai_edit_upload_gets_composite_markers_on_every_rendition(people, media_dir, signing, eager_celery,
                                                                    django_capture_on_commit_callbacks):
    from content import services
    from content.provenance import COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    from tests.content.factories import jpeg_bytes

    with django_capture_on_commit_callbacks(execute=True):
        asset = services.ingest(creator=people["a"], source=io.BytesIO(jpeg_bytes("edit", (640, 480))),
                                filename="edit.jpg", origin=Asset.Origin.EDIT).asset
    asset.refresh_from_db()
    assert asset.processing == Asset.Processing.READY, asset.processing_error
    for rendition in asset.renditions.all():
        data = storages["default"].open(rendition.file.name).read()
        assert read_digital_source_type(data, rendition.mime) == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
        info = read_manifest(data, rendition.mime)
        assert info.valid and info.digital_source_type == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


@pytest.mark.parametrize("marking", ["c2pa", "xmp"])
def test_uploads_already_marked_as_ai_are_detected_as_ai_origin(people, media_dir, signing, marking):
    from content import services
    from content.provenance import add_digital_source_type, sign_ai_image
    from tests.content.factories import jpeg_bytes

    data = jpeg_bytes(f"marked-{marking}", (320, 240))
    if marking == "c2pa":
        data = sign_ai_image(data, "image/jpeg", title="made elsewhere")
    else:
        data = add_digital_source_type(data, "image/jpeg")
    asset = services.ingest(creator=people["a"], source=io.BytesIO(data), filename="found.jpg").asset
    assert asset.origin == Asset.Origin.AI
    assert asset.provenance_present == (marking == "c2pa")
    assert asset.ai_marker == ("c2pa:ai-manifest:trainedAlgorithmicMedia" if marking == "c2pa"
                               else "xmp:iptc-digital-source-type:trainedAlgorithmicMedia")


# --- likeness consent ---------------------------------------------------------------------------------


@pytest.fixture
def human(people, settings, tmp_path):
    """Creator A as a human creator with one performer behind it, verified adult, no consent yet."""
    from accounts.models import Creator
    from tests.compliance.factories import PerformerFactory, VerificationFactory, use_private_storage

    use_private_storage(settings, tmp_path)
    Creator.objects.filter(pk=people["a"].pk).update(kind=Creator.Kind.HUMAN)
    people["a"].refresh_from_db()
    performer = PerformerFactory(creators=[people["a"]])
    VerificationFactory(performer=performer)
    return people["a"], performer


def test_images_of_a_real_person_need_their_ai_likeness_consent(human, people, media_dir, signing, comfy,
                                                                 eager_celery, django_capture_on_commit_callbacks):
    from tests.compliance.factories import ConsentFactory

    creator, performer = human
    comfy_row(comfy)
    with pytest.raises(ValidationError, match="AI likeness"):
        studio.queue_image_job(creator=creator, prompt="a portrait", actor=people["bob"])
    refusal = AuditEvent.objects.get(action="generation.refused")
    assert refusal.changes["categories"] == ["likeness_consent"] and performer.legal_name not in str(refusal.changes)
    # A consent to publish is not a consent to be drawn by a model.
    ConsentFactory(performer=performer, uses=("publication",), max_rating="explicit")
    with pytest.raises(ValidationError, match="AI likeness"):
        studio.queue_image_job(creator=creator, prompt="a portrait")
    consent = ConsentFactory(performer=performer, uses=("publication", "ai_likeness"), max_rating="suggestive")
    with pytest.raises(ValidationError, match="explicit"):
        studio.queue_image_job(creator=creator, prompt="a portrait", rating="explicit")
    assert comfy.calls("POST", r"/prompt") == []

    job = studio.queue_image_job(creator=creator, prompt="a portrait", rating="suggestive")
    # Revoked between queueing and running: the worker refuses too.
    from compliance import services as compliance

    compliance.revoke_consent(consent, reason="withdrawn", actor=people["owner"])
    assert studio.run_job(job.pk).status == J.FAILED
    job.refresh_from_db()
    assert "AI likeness" in job.error and comfy.calls("POST", r"/prompt") == []


def test_a_human_creator_without_a_performer_on_record_cannot_be_generated(people, media_dir, signing, comfy):
    from accounts.models import Creator

    Creator.objects.filter(pk=people["a"].pk).update(kind=Creator.Kind.HYBRID)
    people["a"].refresh_from_db()
    comfy_row(comfy)
    with pytest.raises(ValidationError, match="record the performer"):
        studio.queue_image_job(creator=people["a"], prompt="a portrait")


def test_cancelling_a_running_comfyui_job_stops_polling_and_drops_the_prompt(people, media_dir, signing, comfy,
                                                                             monkeypatch):
    comfy.never_finish = True
    comfy_row(comfy, timeout_seconds=30)
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    checks = []

    def cancelled_after_two_polls(j):
        checks.append(j.pk)
        if len(checks) == 3:  # what `cancel_job` does while the worker polls
            GenerationJob.objects.filter(pk=j.pk).update(cancel_requested=True)
        return GenerationJob.objects.filter(pk=j.pk, cancel_requested=True).exists()

    monkeypatch.setattr(jobs, "_stop_requested", cancelled_after_two_polls)
    assert studio.run_job(job.pk).status == J.CANCELLED
    job.refresh_from_db()
    assert job.status == J.CANCELLED and not Asset.objects.exists()
    assert len(comfy.calls("GET", r"/history/.+")) == 2
    prompt_id = comfy.calls("GET", r"/history/.+")[0].path.rsplit("/", 1)[-1]
    assert [c.json() for c in comfy.calls("POST", r"/queue")] == [{"delete": [prompt_id]}]
    assert GenerationUsage.objects.get(job=job).images == 0
