"""The AI studio in a real browser: caption suggestions in the post form, and Generate from a template
through to the signed results on the job page."""

from __future__ import annotations

import pytest

from content.models import Asset, GenerationJob
from tests.browser.conftest import admin_login
from tests.content.studio_fixtures import comfy_row
from tests.content.test_admin_studio import template_for

pytestmark = pytest.mark.usefixtures("personas")

PASSWORD = "correct-horse-battery"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_editor_suggests_captions_and_uses_one(page, live_server, people, artifacts_dir):
    admin_login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/admin/scheduling/post/add/")
    page.wait_for_selector("[data-testid=caption-suggest]")
    page.select_option("select[name=creator]", str(people["a"].pk))
    page.select_option("[data-testid=suggest-platform]", "x")
    page.fill("[data-testid=suggest-topic]", "sunset at the beach")
    page.click("[data-testid=suggest-go]")
    page.wait_for_selector("[data-testid=suggestion]")

    # No text model is configured here: the page says the suggestions come from templates, and why.
    assert page.locator("[data-testid=suggest-source]").inner_text() == "Suggested from templates."
    assert "No text model" in page.locator("[data-testid=suggest-notes]").inner_text()
    first = page.locator("[data-testid=suggestion]").first
    text = first.locator("div").first.text_content()
    assert "chars" in first.inner_text()
    first.locator("[data-testid=suggestion-use]").click()
    assert page.locator("#id_caption").input_value() == text
    page.screenshot(path=str(artifacts_dir / "post-caption-suggestions.png"), full_page=True)

    # A hard-blocked topic is refused with its reason, and nothing is listed.
    page.fill("[data-testid=suggest-topic]", "schoolgirl outfit")
    page.click("[data-testid=suggest-go]")
    # A function, not a string expression: the page's CSP forbids evaluating strings.
    page.wait_for_function("() => document.getElementById('caption-suggest-errors').textContent"
                           ".includes('hard-blocked')")
    assert page.locator("[data-testid=suggestion]").count() == 0
    assert page.locator("#id_caption").input_value() == text  # the chosen caption stays


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_generates_from_a_template_and_reviews_the_results(page, live_server, people, media_dir,
                                                                    eager_celery, signing, comfy,
                                                                    artifacts_dir):
    comfy_row(comfy)
    template = template_for(people["a"])
    admin_login(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/admin/content/prompttemplate/{template.pk}/change/")
    page.click(f"a[href$='/prompttemplate/{template.pk}/generate/']")  # the page's own button, not the sidebar
    page.wait_for_selector("[data-testid=studio-generate]")
    page.fill("input[name=var_persona]", "Mila")
    page.fill("input[name=var_time]", "sunset")
    page.click("[data-testid=generate-submit]")

    # The worker ran eagerly after commit: the job page lists both images, signed and in review.
    page.wait_for_selector("[data-testid=job-result]", timeout=60000)
    assert page.locator("[data-testid=job-status]").inner_text() == "Succeeded"
    assert page.locator("[data-testid=job-result]").count() == 2
    page.screenshot(path=str(artifacts_dir / "studio-generate-job.png"), full_page=True)
    job = GenerationJob.objects.get()
    assert {a.status for a in job.assets.all()} == {Asset.Status.IN_REVIEW}

    page.locator("[data-testid=job-result]").first.click()
    page.wait_for_selector("[data-testid=provenance-panel]")
    assert page.locator("[data-testid=provenance-state]").inner_text().startswith("manifest valid")
    assert page.locator("[data-testid=provenance-xmp]").inner_text().endswith("trainedAlgorithmicMedia")
    page.locator("[data-testid=provenance-panel]").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "studio-asset-provenance.png"), full_page=True)
