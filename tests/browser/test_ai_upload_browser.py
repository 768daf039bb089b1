"""An editor uploads an image an AI persona had made elsewhere (Midjourney, a local ComfyUI) as AI-generated,
attests that nobody real is depicted, and finds it marked (IPTC + C2PA) and labelled; a camera photo cannot
carry that attestation, and a manager of another creator is not offered the persona at all."""

from __future__ import annotations

import pytest

from content import studio
from content.models import Asset
from content.provenance import TRAINED_ALGORITHMIC_MEDIA, read_digital_source_type, read_manifest
from tests.browser.conftest import admin_login
from tests.content import media_samples

PASSWORD = "correct-horse-battery"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_editor_uploads_an_ai_image_for_a_persona(page, live_server, personas, media_dir, tmp_path, signing,
                                                   eager_celery, artifacts_dir, browser):
    image = media_samples.jpeg_with_gps(tmp_path, name="midjourney.jpg", size=(640, 480))
    admin_login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/admin/content/asset/upload/")
    page.wait_for_selector("[data-testid=drop-zone]")
    page.select_option("select[name=creator]", str(personas["a"].pk))

    # A camera photo cannot say "no real person": the form refuses and stores nothing.
    page.locator("input[name=no_real_person_attested]").check(force=True)
    page.set_input_files("input[name=files]", str(image))
    page.click("[data-testid=upload-submit]")
    page.wait_for_selector("text=Only AI-generated media can attest")
    assert not Asset.objects.exists()

    page.select_option("select[name=creator]", str(personas["a"].pk))
    page.select_option("select[name=origin]", "ai")
    page.locator("input[name=no_real_person_attested]").check(force=True)
    page.set_input_files("input[name=files]", str(image))
    page.click("[data-testid=upload-submit]")
    outcome = page.locator("[data-testid=upload-outcome]")
    outcome.wait_for()
    assert outcome.get_attribute("data-state") == "uploaded", outcome.inner_text()
    page.locator("[data-testid=outcome-link]").click()
    page.wait_for_selector("[data-testid=asset-renditions]")
    page.screenshot(path=str(artifacts_dir / "ai-upload-marked.png"), full_page=True)

    # The asset page shows its marking: a valid C2PA manifest and the IPTC source type in the XMP.
    panel = page.locator("[data-testid=provenance-panel]")
    panel.scroll_into_view_if_needed()
    assert "manifest valid" in panel.locator("[data-testid=provenance-state]").inner_text()
    assert panel.locator("[data-testid=provenance-xmp]").inner_text().strip() == TRAINED_ALGORITHMIC_MEDIA
    panel.screenshot(path=str(artifacts_dir / "journey-ai-upload.png"))

    asset = Asset.objects.get(creator=personas["a"])
    assert asset.origin == Asset.Origin.AI and asset.no_real_person_attested and asset.provenance_present
    assert asset.disclosure_label == studio.AI_DISCLOSURE_LABEL
    with asset.file.open("rb") as fh:
        data = fh.read()
    assert read_digital_source_type(data, asset.mime) == TRAINED_ALGORITHMIC_MEDIA
    assert read_manifest(data, asset.mime).valid

    # charlie manages only B: A's media is not his to upload, the form does not even offer A.
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    other = context.new_page()
    admin_login(other, live_server, "charlie", PASSWORD)
    other.goto(f"{live_server.url}/admin/content/asset/upload/")
    other.wait_for_selector("[data-testid=drop-zone]")
    offered = other.locator("select[name=creator] option").evaluate_all("options => options.map(o => o.value)")
    assert str(personas["a"].pk) not in offered and str(personas["b"].pk) in offered
    context.close()
