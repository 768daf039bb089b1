"""The AI studio API as the owner, alice (manager of A), bob (editor of A), charlie (manager of B) and keys:
jobs against fake backends on loopback, refusals, caption suggestions, cancel/retry, templates, backends
(never their keys), usage totals, and the tenant boundary on every endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from content import studio
from content.models import Asset, GenerationBackend, GenerationJob, GenerationUsage, PromptCategory, PromptTemplate
from tests.api import auth
from tests.content.studio_fixtures import STUDIO_API_KEY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("personas", "media_dir")]

J = GenerationJob.Status
JOBS = "/api/v1/generation-jobs/"
TEMPLATES = "/api/v1/prompt-templates/"
CATEGORIES = "/api/v1/prompt-categories/"
BACKENDS = "/api/v1/generation-backends/"
USAGE = "/api/v1/generation-usage/"
SUGGEST = "/api/v1/captions/suggest/"
API_KEY = STUDIO_API_KEY


def image_backend(url: str = "http://127.0.0.1:9", **fields) -> GenerationBackend:
    defaults = {"name": "Studio GPU", "kind": "comfyui", "purpose": "images", "base_url": url,
                "model": "persona_v2.safetensors", "options": {"poll_interval": 0.02}, "timeout_seconds": 10,
                "is_default": True, "cost_per_image_minor": 3}
    return studio.save_backend(GenerationBackend(**{**defaults, **fields}))


def text_backend(url: str, **fields) -> GenerationBackend:
    defaults = {"name": "Writer", "kind": "openai", "purpose": "text", "base_url": url, "model": "gpt-4o-mini",
                "timeout_seconds": 10, "is_default": True, "cost_per_mtok_in_minor": 15,
                "cost_per_mtok_out_minor": 60}
    return studio.save_backend(GenerationBackend(**{**defaults, **fields}), api_key=API_KEY)


def template_for(creator, **fields) -> PromptTemplate:
    defaults = {"name": "Beach teaser", "prompt": "photo of {persona} on a beach at {time}", "style": "35mm",
                "negative_prompt": "blurry", "rating": "sfw", "width": 512, "height": 768, "steps": 20, "count": 2}
    return PromptTemplate.objects.create(creator=creator, **{**defaults, **fields})


def listed(response) -> set[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    return {item["id"] for item in (body["results"] if isinstance(body, dict) else body)}


def post(client, url, data, headers):
    return client.post(url, data, content_type="application/json", **headers)


def error_of(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


# --- Image jobs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["bob", "key_a"])
def test_an_image_job_through_the_api_lands_ai_assets_in_review(client, principals, people, eager_celery, signing,
                                                                 comfy, who, django_capture_on_commit_callbacks):
    image_backend(comfy.url)
    template = template_for(people["a"])
    headers = auth(client, principals, who)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, JOBS, {"creator": people["a"].pk, "kind": "image", "template": template.pk,
                                       "variables": {"persona": "Mila", "time": "sunset"}}, headers)
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["status"] == "queued" and accepted["kind"] == "image"
    assert accepted["prompt"] == "photo of Mila on a beach at sunset, 35mm"
    assert accepted["params"]["width"] == 512 and accepted["params"]["count"] == 2
    assert comfy.calls("POST", r"/prompt")

    detail = client.get(f"{JOBS}{accepted['id']}/", **headers).json()
    assert detail["status"] == "succeeded", detail["error"]
    assert detail["cost_minor"] == 6 and detail["currency"] == "USD" and detail["backend_name"] == "Studio GPU"
    assert detail["finished_at"] and detail["started_at"]
    assert len(detail["assets"]) == 2 and {a["status"] for a in detail["assets"]} == {"in_review"}
    for asset in Asset.objects.filter(pk__in=[a["id"] for a in detail["assets"]]):
        assert asset.origin == Asset.Origin.AI and asset.provenance_present and asset.creator == people["a"]
    assert GenerationJob.objects.get().created_by == people["bob" if who == "bob" else "owner"]


def test_image_params_override_the_template_and_bad_values_are_400(client, principals, people):
    image_backend()
    template = template_for(people["a"])
    headers = auth(client, principals, "alice")
    response = post(client, JOBS, {"creator": people["a"].pk, "template": template.pk, "width": 640, "seed": 7,
                                   "variables": {"persona": "Mila", "time": "noon"}, "rating": "suggestive"}, headers)
    assert response.status_code == 202, response.content
    params = response.json()["params"]
    assert (params["width"], params["height"], params["steps"], params["seed"], params["count"]) == (640, 768, 20, 7, 2)
    assert response.json()["rating"] == "suggestive"
    assert "Width and height" in error_of(post(client, JOBS, {"creator": people["a"].pk, "prompt": "a portrait",
                                                              "width": 10}, headers))["details"]["non_field_errors"][0]
    missing = error_of(post(client, JOBS, {"creator": people["a"].pk, "template": template.pk}, headers))
    assert "persona" in missing["details"]["non_field_errors"][0]
    assert error_of(post(client, JOBS, {"creator": people["a"].pk}, headers))["code"] == "invalid"
    other = template_for(people["b"], name="B's")
    assert "template" in error_of(post(client, JOBS, {"creator": people["a"].pk, "template": other.pk,
                                                      "variables": {"persona": "x", "time": "y"}}, headers))["details"]


def test_a_hard_blocked_prompt_is_refused_before_any_job_or_backend_call(client, principals, people, eager_celery,
                                                                         signing, comfy,
                                                                         django_capture_on_commit_callbacks):
    image_backend(comfy.url)
    headers = auth(client, principals, "bob")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, JOBS, {"creator": people["a"].pk, "prompt": "a schoolgirl in uniform"}, headers)
    error = error_of(response)
    assert error["code"] == "prompt_refused"
    assert error["details"] and "hard-blocked" in error["details"][0]
    assert comfy.calls("POST", r"/prompt") == [] and not GenerationJob.objects.exists()
    event = AuditEvent.objects.get(action="generation.refused")
    assert event.creator == people["a"] and event.actor == people["bob"] and event.changes["kind"] == "image"


# --- Text jobs and caption suggestions ----------------------------------------------------------------


def test_a_caption_job_runs_on_the_worker_path(client, principals, people, eager_celery,
                                               django_capture_on_commit_callbacks):
    headers = auth(client, principals, "bob")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, JOBS, {"creator": people["a"].pk, "kind": "caption", "platform": "instagram",
                                       "topic": "beach day", "count": 2}, headers)
    assert response.status_code == 202, response.content
    detail = client.get(f"{JOBS}{response.json()['id']}/", **headers).json()
    assert detail["status"] == "succeeded" and detail["path"] == "templates" and len(detail["texts"]) == 2
    assert "platform" in error_of(post(client, JOBS, {"creator": people["a"].pk, "kind": "hashtags",
                                                      "topic": "x"}, headers))["details"]
    gpu = image_backend()
    wrong = error_of(post(client, JOBS, {"creator": people["a"].pk, "kind": "caption", "platform": "x",
                                         "topic": "beach", "backend": gpu.pk}, headers))
    assert "backend" in wrong["details"]


def test_caption_suggestions_without_a_model_come_from_templates(client, principals, people):
    headers = auth(client, principals, "bob")
    response = post(client, SUGGEST, {"creator": people["a"].pk, "platform": "instagram", "topic": "beach day",
                                      "count": 3}, headers)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["path"] == "templates" and body["backend"] == "" and len(body["variants"]) == 3
    assert any("No text model" in n for n in body["notes"])
    assert set(body["variants"][0]) == {"text", "hashtags", "length", "fits"}
    assert not GenerationJob.objects.exists()


def test_caption_suggestions_with_a_text_model_come_from_it(client, principals, people, openai):
    backend = text_backend(openai.url)
    openai.chat_reply = "1. Sun, sand and you #beach\n2. Golden hour never looked this good\n3. Salt in my hair"
    headers = auth(client, principals, "key_a")
    response = post(client, SUGGEST, {"creator": people["a"].pk, "platform": "x", "topic": "beach day"}, headers)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["path"] == "model" and body["backend"] == backend.name
    assert body["variants"][1]["text"].startswith("Golden hour")
    assert GenerationUsage.objects.get().creator == people["a"]
    assert API_KEY not in response.content.decode()


def test_a_blocked_caption_topic_is_refused(client, principals, people, openai):
    text_backend(openai.url)
    headers = auth(client, principals, "alice")
    error = error_of(post(client, SUGGEST, {"creator": people["a"].pk, "platform": "x",
                                            "topic": "back to school, barely legal"}, headers))
    assert error["code"] == "prompt_refused" and error["details"]
    assert openai.calls("POST", r"/v1/chat/completions") == []
    assert AuditEvent.objects.get(action="generation.refused").changes["kind"] == "caption"
    bad = error_of(post(client, SUGGEST, {"creator": people["a"].pk, "platform": "myspace", "topic": "x"}, headers))
    assert "platform" in bad["details"]


# --- Cancel and retry ----------------------------------------------------------------------------------


def test_cancel_then_retry(client, principals, people):
    image_backend()
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait", actor=people["bob"])  # stays queued
    headers = auth(client, principals, "bob")
    response = post(client, f"{JOBS}{job.pk}/cancel/", {}, headers)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert "already cancelled" in error_of(post(client, f"{JOBS}{job.pk}/cancel/", {}, headers))[
        "details"]["non_field_errors"][0]
    assert AuditEvent.objects.filter(action="generation.cancelled", object_id=str(job.pk)).exists()

    response = post(client, f"{JOBS}{job.pk}/retry/", {}, headers)
    assert response.status_code == 201, response.content
    new = response.json()
    assert new["id"] != job.pk and new["status"] == "queued" and new["prompt"] == "a portrait"
    assert "failed or cancelled" in error_of(post(client, f"{JOBS}{new['id']}/retry/", {}, headers))[
        "details"]["non_field_errors"][0]


def test_a_running_job_is_marked_for_cancellation(client, principals, people):
    image_backend()
    job = studio.queue_image_job(creator=people["a"], prompt="a portrait")
    GenerationJob.objects.filter(pk=job.pk).update(status=J.RUNNING)
    body = post(client, f"{JOBS}{job.pk}/cancel/", {}, auth(client, principals, "alice")).json()
    assert body["status"] == "running" and body["cancel_requested"] is True


# --- Tenancy -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudioRows:
    """One image backend, and on each of A and B a prompt template, a queued job and its usage."""

    gpu: GenerationBackend
    template_a: PromptTemplate
    template_b: PromptTemplate
    job_a: GenerationJob
    job_b: GenerationJob
    usage_a: GenerationUsage
    usage_b: GenerationUsage


@pytest.fixture
def studio_rows(people) -> StudioRows:
    a, b = people["a"], people["b"]
    gpu = image_backend()
    template_a, template_b = template_for(a), template_for(b, name="B teaser")
    job_a = studio.queue_image_job(creator=a, prompt="a portrait")
    job_b = studio.queue_image_job(creator=b, prompt="a landscape")
    return StudioRows(gpu=gpu, template_a=template_a, template_b=template_b, job_a=job_a, job_b=job_b,
                      usage_a=studio.log_usage(a, gpu, kind="image", images=2, job=job_a),
                      usage_b=studio.log_usage(b, gpu, kind="image", images=1, job=job_b))


SEES_A = {"owner": True, "alice": True, "bob": True, "key_a": True, "charlie": False, "key_b": False}


@pytest.mark.parametrize("who", list(SEES_A))
def test_lists_and_details_stay_within_reach(client, principals, studio_rows, who):
    rows = studio_rows
    headers = auth(client, principals, who)
    sees_b = who in ("owner", "charlie", "key_b")
    for url, of_a, of_b in ((JOBS, rows.job_a, rows.job_b), (TEMPLATES, rows.template_a, rows.template_b),
                            (USAGE, rows.usage_a, rows.usage_b)):
        expected = ({of_a.pk} if SEES_A[who] else set()) | ({of_b.pk} if sees_b else set())
        assert listed(client.get(url, **headers)) == expected, url
        assert listed(client.get(url, {"creator": principals["a"].pk}, **headers)) == (
            {of_a.pk} if SEES_A[who] else set()), url
    for url, row in ((JOBS, rows.job_a), (TEMPLATES, rows.template_a)):
        response = client.get(f"{url}{row.pk}/", **headers)
        if SEES_A[who]:
            assert response.status_code == 200
        else:
            assert error_of(response, 404)["code"] == "not_found"


@pytest.mark.parametrize("who", ["charlie", "key_b"])
def test_b_cannot_create_for_cancel_or_retry_a(client, principals, studio_rows, who):
    a, b, job_a = principals["a"], principals["b"], studio_rows.job_a
    headers = auth(client, principals, who)
    assert "creator" in error_of(post(client, JOBS, {"creator": a.pk, "prompt": "a portrait"}, headers))["details"]
    assert "creator" in error_of(post(client, SUGGEST, {"creator": a.pk, "platform": "x", "topic": "beach"},
                                      headers))["details"]
    assert "creator" in error_of(post(client, TEMPLATES, {"creator": a.pk, "name": "Mine", "prompt": "x"},
                                      headers))["details"]
    assert error_of(post(client, f"{JOBS}{job_a.pk}/cancel/", {}, headers), 404)["code"] == "not_found"
    GenerationJob.objects.filter(pk=job_a.pk).update(status=J.FAILED)
    assert error_of(post(client, f"{JOBS}{job_a.pk}/retry/", {}, headers), 404)["code"] == "not_found"
    assert error_of(client.patch(f"{TEMPLATES}{studio_rows.template_a.pk}/", {"name": "x"},
                                 content_type="application/json", **headers), 404)
    # B's template cannot be used for A either way, nor A's for B.
    assert "template" in error_of(post(client, JOBS, {"creator": b.pk, "template": studio_rows.template_a.pk},
                                       headers))["details"]
    job_a.refresh_from_db()
    assert job_a.status == J.FAILED and GenerationJob.objects.count() == 2
    assert not AuditEvent.objects.filter(action="generation.refused").exists()


def test_a_read_only_key_reads_but_cannot_create_or_cancel(client, principals, studio_rows):
    a = principals["a"]
    headers = auth(client, principals, "key_ro")
    assert listed(client.get(JOBS, **headers)) == {studio_rows.job_a.pk}
    assert error_of(post(client, JOBS, {"creator": a.pk, "prompt": "a portrait"}, headers), 403)
    assert error_of(post(client, SUGGEST, {"creator": a.pk, "platform": "x", "topic": "beach"}, headers), 403)
    assert error_of(post(client, f"{JOBS}{studio_rows.job_a.pk}/cancel/", {}, headers), 403)
    assert error_of(post(client, TEMPLATES, {"creator": a.pk, "name": "Mine", "prompt": "x"}, headers), 403)
    assert GenerationJob.objects.count() == 2


# --- Jobs list -----------------------------------------------------------------------------------------


def test_job_filters_and_cursor_pagination(client, principals, studio_rows):
    old = GenerationJob.objects.create(creator=principals["a"], kind="caption", prompt="old", status=J.SUCCEEDED,
                                       params={"platform": "x"})
    GenerationJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    headers = auth(client, principals, "alice")
    assert listed(client.get(JOBS, {"kind": "caption"}, **headers)) == {old.pk}
    assert listed(client.get(JOBS, {"status": ["succeeded", "failed"]}, **headers)) == {old.pk}
    assert listed(client.get(JOBS, {"backend": studio_rows.gpu.pk}, **headers)) == {studio_rows.job_a.pk}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert listed(client.get(JOBS, {"created_at_after": since}, **headers)) == {studio_rows.job_a.pk}
    assert listed(client.get(JOBS, {"created_at_before": since}, **headers)) == {old.pk}
    page = client.get(JOBS, {"page_size": 1}, **headers).json()
    assert len(page["results"]) == 1 and "cursor=" in page["next"]
    assert len(client.get(page["next"], **headers).json()["results"]) == 1


# --- Prompt templates and categories ------------------------------------------------------------------


def test_prompt_templates_are_created_changed_and_deleted_through_the_service(client, principals, studio_rows):
    a, b = principals["a"], principals["b"]
    category = PromptCategory.objects.create(name="Teasers")
    headers = auth(client, principals, "bob")
    response = post(client, TEMPLATES, {"creator": a.pk, "name": "Pool", "prompt": "{persona} by the pool",
                                        "category": category.pk, "rating": "suggestive",
                                        "backend": studio_rows.gpu.pk}, headers)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["placeholders"] == ["persona"] and body["category"] == category.pk and body["width"] == 1024
    assert AuditEvent.objects.filter(action="prompt_template.created", object_id=str(body["id"])).exists()
    url = f"{TEMPLATES}{body['id']}/"

    assert listed(client.get(TEMPLATES, {"category": category.pk}, **headers)) == {body["id"]}
    assert listed(client.get(TEMPLATES, {"rating": "suggestive", "active": "true"}, **headers)) == {body["id"]}
    changed = client.patch(url, {"active": False}, content_type="application/json", **headers)
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert listed(client.get(TEMPLATES, {"active": "false"}, **headers)) == {body["id"]}

    assert "creator" in error_of(client.patch(url, {"creator": b.pk}, content_type="application/json",
                                              **headers))["details"]
    duplicate = post(client, TEMPLATES, {"creator": a.pk, "name": "Pool", "prompt": "x"}, headers)
    assert duplicate.status_code == 400
    assert "prompt" in error_of(post(client, TEMPLATES, {"creator": a.pk, "name": "Bad",
                                                         "prompt": "{0} and {}"}, headers))["details"]
    text = text_backend("http://127.0.0.1:9")
    assert "backend" in error_of(post(client, TEMPLATES, {"creator": a.pk, "name": "T", "prompt": "x",
                                                          "backend": text.pk}, headers))["details"]

    # An editor may not delete; a manager may, and it is audited.
    assert client.delete(url, **headers).status_code == 403
    assert client.delete(url, **auth(client, principals, "alice")).status_code == 204
    assert not PromptTemplate.objects.filter(pk=body["id"]).exists()
    assert AuditEvent.objects.filter(action="prompt_template.deleted", object_id=str(body["id"])).exists()


@pytest.mark.parametrize("who", ["owner", "alice", "bob", "charlie", "key_a", "key_ro"])
def test_agency_wide_lists_backends_never_show_key_material(client, principals, studio_rows, openai, who):
    writer = text_backend(openai.url)
    PromptCategory.objects.create(name="Lifestyle")
    headers = auth(client, principals, who)
    response = client.get(BACKENDS, **headers)
    assert listed(response) == {studio_rows.gpu.pk, writer.pk}
    writer.refresh_from_db()
    text = response.content.decode()
    assert API_KEY not in text and writer.api_key_encrypted not in text and "127.0.0.1" not in text
    for row in response.json():
        assert not {k for k in row if "key" in k or "url" in k or "option" in k}
    assert {"id", "name", "kind", "purpose", "model", "enabled", "is_default", "last_health_ok",
            "last_checked_at"} <= set(response.json()[0])
    assert client.get(f"{BACKENDS}{writer.pk}/", **headers).status_code == 200
    assert [c["name"] for c in client.get(CATEGORIES, **headers).json()] == ["Lifestyle"]
    assert client.post(BACKENDS, {"name": "x"}, content_type="application/json", **headers).status_code in (403, 405)


def test_someone_without_studio_rights_sees_no_backends(client, studio_rows):
    from tests.factories import UserFactory

    outsider = UserFactory(username="outsider")
    client.force_login(outsider)
    assert listed(client.get(BACKENDS)) == set() and client.get(CATEGORIES).json() == []


# --- Usage ---------------------------------------------------------------------------------------------


def test_usage_monthly_sums_per_currency_within_reach(client, principals, studio_rows):
    a, b = principals["a"], principals["b"]
    euro = GenerationBackend.objects.create(name="EU", kind="comfyui", purpose="images", base_url="http://y",
                                            cost_per_image_minor=2, currency="EUR")
    studio.log_usage(a, euro, kind="image", images=5)
    studio.log_usage(a, studio_rows.gpu, kind="image", images=1)
    headers = auth(client, principals, "alice")
    response = client.get(f"{USAGE}monthly/", **headers)
    assert response.status_code == 200, response.content
    rows = response.json()
    by_currency = {r["currency"]: r for r in rows}
    assert set(by_currency) == {"USD", "EUR"} and {r["creator"] for r in rows} == {a.stage_name}
    assert by_currency["USD"]["cost_minor"] == 9 and by_currency["USD"]["calls"] == 2
    assert by_currency["EUR"]["cost_minor"] == 10 and by_currency["EUR"]["images"] == 5
    assert by_currency["USD"]["month"] == timezone.localdate().replace(day=1).isoformat()
    # Filters apply to the totals too.
    only_eu = client.get(f"{USAGE}monthly/", {"backend": euro.pk}, **headers).json()
    assert [r["currency"] for r in only_eu] == ["EUR"]
    today = timezone.localdate().isoformat()
    assert len(listed(client.get(USAGE, {"at_after": today, "at_before": today, "kind": "image"}, **headers))) == 3
    # The owner sees B as well; charlie only B.
    owner_rows = client.get(f"{USAGE}monthly/", **auth(client, principals, "owner")).json()
    assert {r["creator"] for r in owner_rows} == {a.stage_name, b.stage_name}
    charlie_rows = client.get(f"{USAGE}monthly/", **auth(client, principals, "charlie")).json()
    assert [(r["creator"], r["cost_minor"]) for r in charlie_rows] == [(b.stage_name, 3)]


def test_a_template_with_a_hard_blocked_term_is_refused_when_saved(people):
    template = PromptTemplate(creator=people["a"], name="Bad", prompt="a schoolgirl portrait")
    with pytest.raises(studio.PromptRefused):
        studio.save_prompt_template(template, actor=people["alice"])
    assert not PromptTemplate.objects.exists()
    assert AuditEvent.objects.get(action="generation.refused").changes["kind"] == "template"
