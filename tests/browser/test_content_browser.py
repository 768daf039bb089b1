"""An editor uploads a phone photo through the admin and watches its renditions arrive."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import storages
from PIL import Image

from content.models import Asset
from tests.browser.conftest import admin_login
from tests.content import factories, media_samples

PASSWORD = "correct-horse-battery"
GPS_IFD = 0x8825


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_editor_uploads_a_photo_and_sees_renditions_without_gps(page, live_server, people, media_dir, tmp_path,
                                                                 eager_celery, artifacts_dir):
    photo = media_samples.jpeg_with_gps(tmp_path, name="beach.jpg", size=(640, 480))
    with Image.open(photo) as original:
        assert original.getexif().get_ifd(GPS_IFD), "the sample must carry GPS for this test to mean anything"

    admin_login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/admin/content/asset/")
    page.get_by_role("link", name="Upload").first.click()
    page.wait_for_selector("[data-testid=drop-zone]")
    page.select_option("select[name=creator]", str(people["a"].pk))
    page.set_input_files("input[name=files]", str(photo))
    assert "beach.jpg" in page.locator("#drop-summary").inner_text()
    assert page.locator("input[name=tags]").input_value() == ""  # the file's name lands nowhere else
    page.click("[data-testid=upload-submit]")
    outcome = page.locator("[data-testid=upload-outcome]")
    outcome.wait_for()
    assert outcome.get_attribute("data-state") == "uploaded", outcome.inner_text()

    page.locator("[data-testid=outcome-link]").click()
    page.wait_for_selector("[data-testid=asset-renditions]")
    # The block fills from the JSON feed while processing runs; no reload is ever issued here.
    page.wait_for_selector("[data-testid=rendition-row]", timeout=60000)
    page.wait_for_function(
        "document.getElementById('asset-processing').textContent.trim() === 'Ready'", timeout=60000)
    page.screenshot(path=str(artifacts_dir / "asset-upload.png"), full_page=True)

    asset = Asset.objects.get(creator=people["a"], original_name="beach.jpg")
    assert asset.uploaded_by == people["bob"] and asset.processing == Asset.Processing.READY
    assert not asset.tags.exists()
    renditions = list(asset.renditions.all())
    assert renditions and {"thumb"} <= {r.preset for r in renditions}
    shown = page.locator("[data-testid=rendition-row]").count()
    assert shown == len(renditions)
    storage = storages["default"]
    for rendition in renditions:
        with storage.open(rendition.file.name, "rb") as handle:
            data = handle.read()
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif().get_ifd(GPS_IFD), f"{rendition.preset} carries GPS"
            assert "exif" not in image.info, f"{rendition.preset} carries EXIF"
        assert b"Exif\x00\x00" not in data, f"{rendition.preset} carries an EXIF block"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_asset_page_picks_up_renditions_while_open(page, live_server, people, media_dir):
    """Processing finishes while the page is open: the block refreshes itself from the feed."""
    asset = factories.AssetFactory(creator=people["a"], uploaded_by=people["bob"], title="Waiting photo")
    admin_login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/admin/content/asset/{asset.pk}/change/")
    assert page.locator("[data-testid=asset-processing]").inner_text().strip() == "Waiting"
    assert page.locator("[data-testid=rendition-row]").count() == 0
    page.evaluate("window.__same_document = true")

    factories.add_rendition(asset, "thumb")
    Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.READY)

    page.wait_for_selector("[data-testid=rendition-row]", timeout=10000)
    page.wait_for_function("() => document.getElementById('asset-processing').textContent.trim() === 'Ready'")
    assert page.evaluate("window.__same_document === true")  # no reload happened
    assert page.locator("#asset-preview-body img").count() == 1
