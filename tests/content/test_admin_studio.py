"""The AI studio in the admin: Generate through the compliance screen to signed assets in review, the
job page, backends and their write-only keys, usage totals, caption templates, the asset page's
provenance panel and the post form's caption suggestions — each across the tenant boundary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.base import ContentFile
from django.urls import reverse

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
from content.provenance import TRAINED_ALGORITHMIC_MEDIA, read_manifest
from tests.content.factories import AssetFactory
from tests.content.fakes_generation import FakeOpenAI
from tests.content.studio_fixtures import STUDIO_API_KEY, comfy_row
from tests.scheduling.fakes.base import serve

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("personas")]
J = GenerationJob.Status
API_KEY = STUDIO_API_KEY


def template_for(creator, **fields) -> PromptTemplate:
    defaults = {"name": "Beach teaser", "prompt": "photo of {persona} on a beach at {time}",
                "style": "35mm, soft light", "negative_prompt": "blurry, text", "rating": "sfw", "width": 512,
                "height": 768, "steps": 20, "count": 2}
    return PromptTemplate.objects.create(creator=creator, **{**defaults, **fields})


@pytest.fixture
def studio_setup(people, media_dir, eager_celery, signing, comfy):
    backend = comfy_row(comfy)
    return {**people, "backend": backend, "template": template_for(people["a"]), "comfy": comfy}


def login(client, user):
    client.force_login(user)
    return client


def generate_url(template: PromptTemplate) -> str:
    return reverse("admin:content_prompttemplate_generate", args=[template.pk])


def generate_from_template(client, setup, django_capture_on_commit_callbacks, **extra):
    data = {"var_persona": "Mila", "var_time": "sunset", "rating": "sfw", **extra}
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(generate_url(setup["template"]), data)


# --- Generate --------------------------------------------------------------------------------------


def test_generate_from_a_template_lands_signed_ai_assets_in_review(client, studio_setup,
                                                                   django_capture_on_commit_callbacks):
    login(client, studio_setup["alice"])
    page = client.get(generate_url(studio_setup["template"]))
    assert page.status_code == 200
    assert b'name="var_persona"' in page.content and b'name="var_time"' in page.content

    response = generate_from_template(client, studio_setup, django_capture_on_commit_callbacks)
    job = GenerationJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:content_generationjob_change", args=[job.pk])
    assert job.status == J.SUCCEEDED, job.error
    assert job.created_by == studio_setup["alice"] and job.template == studio_setup["template"]
    assert job.prompt == "photo of Mila on a beach at sunset, 35mm, soft light"
    assets = list(job.assets.order_by("pk"))
    assert len(assets) == 2
    for asset in assets:
        assert asset.origin == Asset.Origin.AI and asset.status == Asset.Status.IN_REVIEW
        data = asset.file.storage.open(asset.file.name).read()
        info = read_manifest(data, asset.mime)
        assert info.present and info.valid, info.validation_errors
        assert info.digital_source_type == TRAINED_ALGORITHMIC_MEDIA

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="job-result"') == 2
    for asset in assets:
        assert reverse("admin:content_asset_change", args=[asset.pk]) in html
    assert 'http-equiv="refresh"' not in html  # finished: no more refreshing
    assert "$0.06" in html
    # A finished job offers neither Cancel nor Try again.
    for name in ("cancel_detail", "retry_detail"):
        assert reverse(f"admin:content_generationjob_{name}", args=[job.pk]) not in html


def test_overrides_from_the_form_reach_the_job(client, studio_setup, django_capture_on_commit_callbacks):
    login(client, studio_setup["bob"])
    generate_from_template(client, studio_setup, django_capture_on_commit_callbacks, width=640, height=640,
                           steps=12, count=1, seed=42, negative_prompt="hands")
    job = GenerationJob.objects.get()
    assert job.params == {"width": 640, "height": 640, "steps": 12, "seed": 42, "count": 1}
    assert job.negative_prompt == "hands" and job.assets.count() == 1


def test_a_hard_blocked_prompt_is_refused_with_its_reason_and_never_sent(client, studio_setup,
                                                                         django_capture_on_commit_callbacks):
    login(client, studio_setup["alice"])
    url = reverse("admin:content_generationjob_generate")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"creator": studio_setup["a"].pk, "prompt": "a schoolgirl in uniform",
                                     "rating": "sfw"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="refusal"' in html and "hard-blocked" in html and "schoolgirl" in html
    assert studio_setup["comfy"].calls("POST", r"/prompt") == []
    assert not GenerationJob.objects.exists()
    event = AuditEvent.objects.get(action="generation.refused")
    assert event.creator == studio_setup["a"] and event.actor == studio_setup["alice"]


def test_a_blocked_variable_from_a_template_is_refused_too(client, studio_setup, django_capture_on_commit_callbacks):
    login(client, studio_setup["bob"])
    response = generate_from_template(client, studio_setup, django_capture_on_commit_callbacks,
                                      var_persona="a 15 year old")
    assert response.status_code == 400 and b'data-testid="refusal"' in response.content
    assert not GenerationJob.objects.exists() and studio_setup["comfy"].calls("POST", r"/prompt") == []


def test_service_validation_errors_are_form_errors(client, people, media_dir):
    """No backend configured: the service's message is shown, no job is made."""
    login(client, people["alice"])
    response = client.post(reverse("admin:content_generationjob_generate"),
                           {"creator": people["a"].pk, "prompt": "a lighthouse at dawn", "rating": "sfw"})
    assert response.status_code == 200
    assert b"No image backend is configured" in response.content
    assert not GenerationJob.objects.exists()


def test_free_prompt_page_preselects_a_reachable_creator_only(client, people):
    login(client, people["alice"])
    url = reverse("admin:content_generationjob_generate")
    response = client.get(url, {"creator": people["a"].pk})
    assert response.status_code == 200
    choices = [c.pk for c in response.context["form"].fields["creator"].queryset]
    assert choices == [people["a"].pk]
    assert response.context["form"].initial["creator"] == people["a"]
    assert client.get(url, {"creator": people["b"].pk}).status_code == 404


def test_the_creator_page_links_to_generate(client, people):
    response = login(client, people["alice"]).get(reverse("admin:accounts_creator_change", args=[people["a"].pk]))
    assert f'{reverse("admin:content_generationjob_generate")}?creator={people["a"].pk}'.encode() in response.content


def test_the_template_list_shows_placeholders_and_a_generate_link(client, people):
    template = template_for(people["a"])
    template_for(people["b"], name="Beta secret template")
    response = login(client, people["alice"]).get(reverse("admin:content_prompttemplate_changelist"))
    html = response.content.decode()
    assert "<code>{persona}</code>" in html and "<code>{time}</code>" in html
    assert generate_url(template) in html and "Beta secret template" not in html


# --- Tenancy ------------------------------------------------------------------------------------


def test_charlie_never_reaches_creator_a_studio_rows(client, studio_setup, django_capture_on_commit_callbacks):
    login(client, studio_setup["alice"])
    generate_from_template(client, studio_setup, django_capture_on_commit_callbacks)
    job = GenerationJob.objects.get()
    template = studio_setup["template"]

    login(client, studio_setup["charlie"])
    assert client.get(generate_url(template)).status_code == 404
    assert client.post(generate_url(template), {"var_persona": "x", "var_time": "y", "rating": "sfw"}
                       ).status_code == 404
    assert client.get(reverse("admin:content_prompttemplate_change", args=[template.pk])).status_code == 404
    assert client.get(reverse("admin:content_generationjob_change", args=[job.pk])).status_code == 404
    assert client.get(reverse("admin:content_generationjob_cancel_detail", args=[job.pk])).status_code == 404
    for name in ("prompttemplate", "generationjob", "generationusage"):
        response = client.get(reverse(f"admin:content_{name}_changelist"))
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [], name
    # A free prompt for A: A is not a choice, so the form refuses it and nothing is queued.
    response = client.post(reverse("admin:content_generationjob_generate"),
                           {"creator": studio_setup["a"].pk, "prompt": "a lighthouse", "rating": "sfw"})
    assert response.status_code == 200 and "creator" in response.context["form"].errors
    assert GenerationJob.objects.count() == 1
    assert client.get(reverse("admin:content_generationjob_generate"),
                      {"template": template.pk}).status_code == 404


def test_a_template_cannot_be_moved_to_an_unreachable_creator(client, people):
    template = template_for(people["a"])
    login(client, people["alice"])
    url = reverse("admin:content_prompttemplate_change", args=[template.pk])
    response = client.post(url, {"creator": people["b"].pk, "name": "Moved", "rating": "sfw", "prompt": "x",
                                 "width": 512, "height": 512, "steps": 20, "count": 1, "active": "on"})
    assert response.status_code == 200 and "creator" in response.context["adminform"].form.errors
    template.refresh_from_db()
    assert template.creator == people["a"]


def test_a_manager_creates_a_template_through_the_service(client, people):
    from content.models import PromptCategory

    category = PromptCategory.objects.create(name="Teasers")
    login(client, people["alice"])
    response = client.post(reverse("admin:content_prompttemplate_add"), {
        "creator": people["a"].pk, "name": "Studio", "category": category.pk, "rating": "sfw",
        "prompt": "portrait of {persona}", "width": 512, "height": 512, "steps": 20, "count": 1, "active": "on"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    template = PromptTemplate.objects.get(name="Studio")
    assert template.category == category
    assert AuditEvent.objects.filter(action="prompt_template.created", object_id=str(template.pk)).exists()


def test_a_template_with_a_blocked_term_is_refused_on_the_form_and_audited(client, people):
    login(client, people["alice"])
    response = client.post(reverse("admin:content_prompttemplate_add"), {
        "creator": people["a"].pk, "name": "Bad", "rating": "sfw", "prompt": "a schoolgirl at {place}",
        "width": 512, "height": 512, "steps": 20, "count": 1, "active": "on"})
    assert response.status_code == 200
    assert "hard-blocked" in " ".join(response.context["adminform"].form.non_field_errors())
    assert not PromptTemplate.objects.filter(name="Bad").exists()
    event = AuditEvent.objects.get(action="generation.refused")
    assert event.changes["kind"] == "template" and event.actor == people["alice"]


# --- Backends -----------------------------------------------------------------------------------


def backend_post(**fields):
    data = {"name": "Own GPU", "kind": "comfyui", "purpose": "images", "base_url": "https://gpu.example.com:8188",
            "model": "sd_xl_base_1.0.safetensors", "enabled": "on", "timeout_seconds": 60, "max_concurrency": 2,
            "cost_per_image_minor": 0, "cost_per_mtok_in_minor": 0, "cost_per_mtok_out_minor": 0,
            "cost_per_hour_minor": 90, "currency": "EUR", "options": "{}"}
    data.update(fields)
    return data


def test_the_api_key_is_write_only(client, people):
    login(client, people["owner"])
    response = client.post(reverse("admin:content_generationbackend_add"), backend_post(api_key=API_KEY))
    assert response.status_code == 302, response.context["adminform"].form.errors
    backend = GenerationBackend.objects.get(name="Own GPU")
    assert crypto.decrypt_text(backend.api_key_encrypted) == API_KEY
    change = reverse("admin:content_generationbackend_change", args=[backend.pk])
    for url in (change, reverse("admin:content_generationbackend_changelist")):
        page = client.get(url)
        assert page.status_code == 200
        assert API_KEY.encode() not in page.content and backend.api_key_encrypted.encode() not in page.content
    assert b"stored (encrypted)" in client.get(change).content

    # Blank keeps the key; the clear box clears it. Neither ever echoes it back.
    client.post(change, backend_post(max_concurrency=3))
    backend.refresh_from_db()
    assert backend.max_concurrency == 3 and crypto.decrypt_text(backend.api_key_encrypted) == API_KEY
    client.post(change, backend_post(clear_api_key="on"))
    backend.refresh_from_db()
    assert backend.api_key_encrypted == ""
    events = AuditEvent.objects.filter(object_type="content.generationbackend").values_list("action", "changes")
    assert API_KEY not in json.dumps(list(events))


def test_a_bad_backend_config_is_a_form_error(client, people):
    login(client, people["owner"])
    response = client.post(reverse("admin:content_generationbackend_add"), backend_post(base_url="ftp://gpu"))
    assert response.status_code == 200
    assert not GenerationBackend.objects.filter(name="Own GPU").exists()


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_managers_and_editors_only_read_backends(client, people, who):
    backend = studio.save_backend(GenerationBackend(name="GPU", kind="comfyui", base_url="http://127.0.0.1:8188"),
                                  api_key=API_KEY)
    login(client, people[who])
    assert client.get(reverse("admin:content_generationbackend_changelist")).status_code == 200
    change = reverse("admin:content_generationbackend_change", args=[backend.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="api_key"' not in page.content and API_KEY.encode() not in page.content
    assert client.post(change, backend_post(name="Hijacked", api_key="other")).status_code == 403
    assert client.get(reverse("admin:content_generationbackend_add")).status_code == 403
    assert client.get(reverse("admin:content_generationbackend_check_health_detail",
                              args=[backend.pk])).status_code == 403
    backend.refresh_from_db()
    assert backend.name == "GPU" and crypto.decrypt_text(backend.api_key_encrypted) == API_KEY


def test_environment_backends_are_read_only_and_health_is_checked(client, people, comfy):
    backend = comfy_row(comfy)
    GenerationBackend.objects.filter(pk=backend.pk).update(managed_by_env=True)
    login(client, people["owner"])
    change = reverse("admin:content_generationbackend_change", args=[backend.pk])
    assert b'name="base_url"' not in client.get(change).content
    assert client.post(change, backend_post()).status_code == 403

    url = reverse("admin:content_generationbackend_check_health_detail", args=[backend.pk])
    assert client.get(url).status_code == 200  # a confirmation first; nothing is called on a GET
    assert comfy.calls("GET", r"/system_stats") == []
    response = client.post(url, follow=True)
    backend.refresh_from_db()
    assert backend.last_health_ok is True and backend.last_checked_at is not None
    listing = client.get(reverse("admin:content_generationbackend_changelist")).content.decode()
    assert "ok" in listing and "environment" in listing
    assert response.status_code == 200


# --- Jobs ---------------------------------------------------------------------------------------


def queued_job(creator, backend=None, **fields) -> GenerationJob:
    defaults = {"kind": "image", "prompt": "a lighthouse", "params": {"width": 512, "height": 512, "steps": 20,
                                                                      "seed": None, "count": 1},
                "currency": "USD"}
    return GenerationJob.objects.create(creator=creator, backend=backend, **{**defaults, **fields})


def test_a_queued_job_page_refreshes_and_can_be_cancelled_then_retried(client, people, comfy,
                                                                       django_capture_on_commit_callbacks):
    backend = comfy_row(comfy)
    job = queued_job(people["a"], backend)
    login(client, people["bob"])
    page = client.get(reverse("admin:content_generationjob_change", args=[job.pk]))
    assert b'http-equiv="refresh" content="5"' in page.content
    assert b'name="prompt"' not in page.content  # read-only page

    url = reverse("admin:content_generationjob_cancel_detail", args=[job.pk])
    assert client.get(url).status_code == 200
    client.post(url)
    job.refresh_from_db()
    assert job.status == J.CANCELLED
    page = client.get(reverse("admin:content_generationjob_change", args=[job.pk]))
    assert url.encode() not in page.content and b'http-equiv="refresh"' not in page.content
    assert client.post(url).status_code == 403  # the buttons follow the job's state

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("admin:content_generationjob_retry_detail", args=[job.pk]))
    again = GenerationJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("admin:content_generationjob_change", args=[again.pk])
    assert again.prompt == job.prompt and again.status == J.QUEUED


def test_the_job_list_is_read_only_and_shows_cost(client, people, comfy):
    backend = comfy_row(comfy)
    queued_job(people["a"], backend, status=J.SUCCEEDED, cost_minor=1234, currency="EUR", seconds=75)
    queued_job(people["b"], backend, prompt="beta secret prompt")
    login(client, people["alice"])
    response = client.get(reverse("admin:content_generationjob_changelist"))
    html = response.content.decode()
    assert "€12.34" in html and "1:15" in html and "beta secret" not in html
    assert client.get(reverse("admin:content_generationjob_add")).status_code == 403
    job = GenerationJob.objects.get(creator=people["a"])
    assert client.post(reverse("admin:content_generationjob_delete", args=[job.pk])).status_code == 403


def test_bulk_cancel_skips_unreachable_jobs(client, people, comfy):
    backend = comfy_row(comfy)
    mine, theirs = queued_job(people["a"], backend), queued_job(people["b"], backend)
    login(client, people["alice"])
    client.post(reverse("admin:content_generationjob_changelist"),
                {"action": "cancel_selected", ACTION_CHECKBOX_NAME: [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == J.CANCELLED and theirs.status == J.QUEUED


# --- Usage --------------------------------------------------------------------------------------


def usage(creator, at, *, currency="USD", cost=0, name="GPU", **fields) -> GenerationUsage:
    return GenerationUsage.objects.create(creator=creator, backend_name=name, kind=fields.pop("kind", "image"),
                                          currency=currency, cost_minor=cost, at=at, **fields)


def test_monthly_totals_sum_per_currency_within_reach_and_filters(client, people):
    nov, dec = datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    usage(people["a"], nov, cost=300, images=3, seconds=30)
    usage(people["a"], nov.replace(day=20), cost=200, images=2, seconds=3600)
    usage(people["a"], nov, currency="EUR", cost=150, name="Writer", kind="caption", tokens_in=1000, tokens_out=200)
    usage(people["a"], dec, cost=99, images=1)
    usage(people["b"], dec, cost=10_000, images=50)

    login(client, people["alice"])
    response = client.get(reverse("admin:content_generationusage_changelist"))
    assert b'data-testid="monthly-totals-link"' in response.content
    response = client.get(reverse("admin:content_generationusage_monthly"))
    assert response.status_code == 200
    rows = {(r["month"].strftime("%Y-%m"), r["backend_name"], r["currency"]): r for r in response.context["rows"]}
    assert set(rows) == {("2026-11", "GPU", "USD"), ("2026-11", "Writer", "EUR"), ("2026-12", "GPU", "USD")}
    nov_gpu = rows[("2026-11", "GPU", "USD")]
    assert (nov_gpu["calls"], nov_gpu["images"], nov_gpu["cost_minor"]) == (2, 5, 500)
    assert nov_gpu["gpu_time"] == "1:00:30"
    assert rows[("2026-11", "Writer", "EUR")]["tokens_in"] == 1000
    totals = {t["currency"]: t["cost_minor"] for t in response.context["totals"]}
    assert totals == {"USD": 599, "EUR": 150}  # B's 100.00 USD is out of reach
    html = response.content.decode()
    assert "$5.99" in html and "€1.50" in html and "100.00" not in html

    # The changelist's filters carry over.
    response = client.get(reverse("admin:content_generationusage_monthly"), {"kind__exact": "caption"})
    assert [r["currency"] for r in response.context["rows"]] == ["EUR"]

    login(client, people["owner"])
    totals = {t["currency"]: t["cost_minor"]
              for t in client.get(reverse("admin:content_generationusage_monthly")).context["totals"]}
    assert totals == {"USD": 10_599, "EUR": 150}


def test_usage_is_read_only_even_for_the_owner(client, people):
    row = usage(people["a"], datetime(2026, 11, 5, tzinfo=UTC), cost=1)
    login(client, people["owner"])
    assert client.get(reverse("admin:content_generationusage_add")).status_code == 403
    assert client.post(reverse("admin:content_generationusage_delete", args=[row.pk])).status_code == 403


# --- Caption templates and hashtag sets -----------------------------------------------------------


def test_agency_wide_caption_templates_are_read_by_all_and_written_by_owners(client, people):
    shared = CaptionTemplate.objects.create(text="New drop: {topic}", platform="fanvue")
    own_b = CaptionTemplate.objects.create(creator=people["b"], text="Beta only {topic}")
    login(client, people["alice"])
    listing = client.get(reverse("admin:content_captiontemplate_changelist"))
    assert {t.pk for t in listing.context["cl"].result_list} == {shared.pk}
    assert own_b.pk not in [t.pk for t in listing.context["cl"].result_list]
    change = reverse("admin:content_captiontemplate_change", args=[shared.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"text": "Hijacked {topic}", "language": "en", "active": "on"}).status_code == 403

    add = reverse("admin:content_captiontemplate_add")
    response = client.post(add, {"text": "Mine {topic}", "language": "en", "active": "on"})
    assert response.status_code == 200 and "creator" in response.context["adminform"].form.errors
    response = client.post(add, {"creator": people["b"].pk, "text": "Theirs {topic}", "language": "en"})
    assert response.status_code == 200 and "creator" in response.context["adminform"].form.errors
    response = client.post(add, {"creator": people["a"].pk, "text": "Mine {topic}", "language": "en",
                                 "active": "on"})
    assert response.status_code == 302
    assert CaptionTemplate.objects.get(text="Mine {topic}").creator == people["a"]

    login(client, people["owner"])
    response = client.post(add, {"text": "For all {topic}", "language": "en", "active": "on"})
    assert response.status_code == 302
    assert CaptionTemplate.objects.get(text="For all {topic}").creator is None


def test_hashtag_sets_follow_the_same_rule(client, people):
    login(client, people["bob"])
    add = reverse("admin:content_hashtagset_add")
    response = client.post(add, {"name": "Beach", "tags": "#beach #sun", "language": "en"})
    assert "creator" in response.context["adminform"].form.errors
    response = client.post(add, {"creator": people["a"].pk, "name": "Beach", "tags": "#beach #sun",
                                 "language": "en", "active": "on"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="hashtagset.created").exists()


def test_caption_material_with_a_hard_blocked_term_is_refused_and_audited(client, people):
    login(client, people["alice"])
    response = client.post(reverse("admin:content_captiontemplate_add"), {
        "creator": people["a"].pk, "text": "{topic} for my schoolgirl fans", "language": "en", "active": "on"})
    assert response.status_code == 200 and "hard-blocked" in response.content.decode()
    response = client.post(reverse("admin:content_hashtagset_add"), {
        "creator": people["a"].pk, "name": "Bad", "tags": "#beach #teen", "language": "en", "active": "on"})
    assert response.status_code == 200 and "hard-blocked" in response.content.decode()
    assert not CaptionTemplate.objects.exists() and not HashtagSet.objects.exists()
    refusals = AuditEvent.objects.filter(action="generation.refused")
    assert [e.changes["kind"] for e in refusals] == ["caption_material", "caption_material"]
    assert all(e.creator == people["a"] for e in refusals)


# --- Asset provenance panel ---------------------------------------------------------------------


def provenance_html(client, asset) -> str:
    response = client.get(reverse("admin:content_asset_change", args=[asset.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('data-testid="provenance-panel"')
    return html[start:html.index("</div>", start)]


def test_the_provenance_panel_reads_the_stored_file(client, studio_setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = studio.queue_image_job(creator=studio_setup["a"], template=studio_setup["template"],
                                     variables={"persona": "Mila", "time": "noon"},
                                     params=studio.ImageParams(width=512, height=512, steps=20, count=1))
    job.refresh_from_db()
    generated = job.assets.get()
    plain = AssetFactory(creator=studio_setup["a"], title="Phone photo")
    login(client, studio_setup["alice"])

    panel = provenance_html(client, generated)
    assert "manifest valid" in panel and "trainedAlgorithmicMedia" in panel
    assert 'data-testid="provenance-renditions"' in panel
    assert "manifest invalid" not in panel

    assert "no manifest" in provenance_html(client, plain)

    # One flipped byte in the pixels: the manifest no longer matches.
    storage = generated.file.storage
    data = bytearray(storage.open(generated.file.name).read())
    pos = data.find(b"IDAT") + 8 if generated.mime == "image/png" else data.rfind(b"\xff\xda") + 20
    data[pos] ^= 0x55
    storage.delete(generated.file.name)
    storage.save(generated.file.name, ContentFile(bytes(data)))
    panel = provenance_html(client, generated)
    assert "manifest invalid" in panel and "Invalid" in panel


def test_the_provenance_panel_survives_a_missing_file_and_skips_large_ones(client, people, media_dir,
                                                                           monkeypatch):
    from content import views_studio

    asset = AssetFactory(creator=people["a"])
    login(client, people["alice"])
    monkeypatch.setattr(views_studio, "PROVENANCE_MAX_BYTES", 10)
    assert "Not read: the file is" in provenance_html(client, asset)
    monkeypatch.undo()
    asset.file.storage.delete(asset.file.name)
    panel = provenance_html(client, asset)
    assert "could not be read" in panel


def test_the_asset_list_never_reads_provenance(client, people, media_dir, monkeypatch):
    from content import views_studio

    AssetFactory(creator=people["a"])
    monkeypatch.setattr(views_studio, "provenance_report", lambda asset: pytest.fail("read in the list"))
    assert login(client, people["alice"]).get(reverse("admin:content_asset_changelist")).status_code == 200


# --- Caption suggestions in the post form ----------------------------------------------------------


SUGGEST = "admin:scheduling_post_suggest_captions"


def test_the_post_form_offers_caption_suggestions(client, people):
    response = login(client, people["bob"]).get(reverse("admin:scheduling_post_add"))
    assert b'data-testid="caption-suggest"' in response.content
    assert reverse(SUGGEST).encode() in response.content


def test_suggestions_come_from_templates_without_a_text_model(client, people):
    login(client, people["bob"])
    response = client.post(reverse(SUGGEST), json.dumps({"creator": people["a"].pk, "platform": "x",
                                                         "topic": "sunset at the beach"}),
                           content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["path"] == "templates" and body["source"] == "from templates"
    assert body["variants"] and all({"text", "length", "fits"} <= set(v) for v in body["variants"])
    assert any("No text model" in note for note in body["notes"])


def test_suggestions_from_a_text_model_name_it(client, people, allow_loopback):
    with serve(FakeOpenAI(api_key=API_KEY)) as fake:
        studio.save_backend(GenerationBackend(name="Writer", kind="openai", purpose="text", base_url=fake.url,
                                              model="gpt-4o-mini", timeout_seconds=10, is_default=True),
                            api_key=API_KEY)
        fake.chat_reply = "1. Sun, sand and you\n2. Golden hour never looked this good\n3. Salt in my hair"
        login(client, people["alice"])
        response = client.post(reverse(SUGGEST), {"creator": people["a"].pk, "platform": "x", "topic": "beach day"})
    body = response.json()
    assert response.status_code == 200, body
    assert body["path"] == "model" and body["source"] == "from model Writer"
    assert body["variants"][1]["text"].startswith("Golden hour")
    assert API_KEY not in response.content.decode()


def test_a_caption_job_page_shows_its_texts(client, people):
    job = queued_job(people["a"], kind="caption", status=J.SUCCEEDED, path="templates",
                     texts=["First caption #AI", "Second caption #AI"], notes=["No text model is configured."])
    page = login(client, people["bob"]).get(reverse("admin:content_generationjob_change", args=[job.pk]))
    html = page.content.decode()
    assert 'data-testid="job-texts"' in html and "Second caption #AI" in html and "from templates" in html
    assert 'data-testid="job-results"' not in html


def test_the_job_list_costs_a_fixed_number_of_queries(client, people, comfy, django_assert_max_num_queries):
    backend = comfy_row(comfy)
    for n in range(25):
        queued_job(people["a"], backend, prompt=f"prompt {n}")
    login(client, people["alice"])
    client.get(reverse("admin:content_generationjob_changelist"))
    with django_assert_max_num_queries(20):
        response = client.get(reverse("admin:content_generationjob_changelist"))
    assert len(response.context["cl"].result_list) == 25


def test_a_refused_topic_answers_400_with_reasons(client, people):
    login(client, people["alice"])
    response = client.post(reverse(SUGGEST), {"creator": people["a"].pk, "platform": "fanvue",
                                              "topic": "schoolgirl outfit"})
    assert response.status_code == 400
    body = response.json()
    assert body["refused"] is True and any("hard-blocked" in r for r in body["reasons"])
    assert AuditEvent.objects.filter(action="generation.refused", creator=people["a"]).exists()


def test_suggestions_are_tenancy_checked_and_post_only(client, people):
    login(client, people["charlie"])
    response = client.post(reverse(SUGGEST), {"creator": people["a"].pk, "platform": "x", "topic": "beach"})
    assert response.status_code == 404
    assert client.get(reverse(SUGGEST)).status_code == 405
    response = client.post(reverse(SUGGEST), {"creator": people["b"].pk, "platform": "myspace", "topic": "beach"})
    assert response.status_code == 400 and response.json()["errors"]


def test_suggestions_need_a_csrf_token(people):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["bob"])
    response = strict.post(reverse(SUGGEST), {"creator": people["a"].pk, "platform": "x", "topic": "beach"})
    assert response.status_code == 403


# --- Navigation ---------------------------------------------------------------------------------


def test_the_sidebar_lists_the_studio(client, people):
    html = login(client, people["alice"]).get(reverse("admin:index")).content.decode()
    assert reverse("admin:content_generationjob_generate") in html
    assert reverse("admin:content_prompttemplate_changelist") in html
    assert reverse("admin:content_generationusage_changelist") in html
