"""An AI persona publishes media made elsewhere (Midjourney, a local ComfyUI): uploaded as AI-made, it is
marked as Atelier marks its own generations (IPTC DigitalSourceType + a signed C2PA manifest) and labelled,
the synthetic-media attestation is accepted for it, and the gate's AI rules pass for it — while an AI asset
that is not marked is still blocked."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from content import services, studio
from content.models import Asset
from content.provenance import TRAINED_ALGORITHMIC_MEDIA, read_digital_source_type, read_manifest
from scheduling import services as scheduling
from tests.content.factories import jpeg_bytes
from tests.scheduling.factories import PlatformAccountFactory, PostFactory, PublicationFactory

pytestmark = pytest.mark.django_db

AI_CODES = {"ai_disclosure_missing", "ai_provenance_missing"}


def stored(asset: Asset) -> bytes:
    with asset.file.open("rb") as fh:
        return fh.read()


def assert_marked(asset: Asset) -> None:
    data = stored(asset)
    assert asset.origin == Asset.Origin.AI and asset.provenance_present
    assert asset.disclosure_label == studio.AI_DISCLOSURE_LABEL
    assert read_digital_source_type(data, asset.mime) == TRAINED_ALGORITHMIC_MEDIA
    assert read_manifest(data, asset.mime).valid
    assert hashlib.sha256(data).hexdigest() == asset.sha256 and len(data) == asset.size_bytes


def gate_codes(asset: Asset) -> set[str]:
    account = PlatformAccountFactory(creator=asset.creator, platform="fanvue", handle="persona")
    post = PostFactory(creator=asset.creator, caption="Made in the studio", asset_ids=[asset.pk])
    pub = PublicationFactory(post=post, account=account)
    return set(scheduling.check(pub).codes)


def test_an_ai_made_upload_is_marked_labelled_and_passes_the_ai_rules(personas, media_dir, signing):
    result = services.ingest(creator=personas["a"], source=io.BytesIO(jpeg_bytes("midjourney")),
                             filename="mj.jpg", origin=Asset.Origin.AI, no_real_person_attested=True,
                             production_date=date(2026, 1, 5))
    asset = result.asset
    assert_marked(asset)
    assert asset.no_real_person_attested and asset.ai_marker
    codes = gate_codes(asset)
    assert not codes & AI_CODES, codes
    assert "depiction_undeclared" not in codes


def test_an_ai_asset_that_is_not_marked_is_still_blocked(personas):
    asset = Asset.objects.create(creator=personas["a"], file="assets/x.jpg", kind="image", mime="image/jpeg",
                                 sha256="e" * 64, size_bytes=10, origin=Asset.Origin.AI,
                                 no_real_person_attested=True)
    assert gate_codes(asset) >= AI_CODES


def test_the_upload_form_takes_the_origin_and_the_attestation(client, personas, media_dir, signing):
    client.force_login(personas["bob"])
    form = client.get(reverse("admin:content_asset_upload")).context["form"]
    assert {"origin", "no_real_person_attested"} <= set(form.fields)
    response = client.post(reverse("admin:content_asset_upload"), {
        "creator": personas["a"].pk, "rating": "sfw", "origin": "ai", "no_real_person_attested": "on",
        "files": SimpleUploadedFile("comfy.jpg", jpeg_bytes("comfy"), content_type="image/jpeg")})
    assert response.status_code == 200
    assert [o.state for o in response.context["outcomes"]] == ["uploaded"], response.context["outcomes"]
    asset = Asset.objects.get()
    assert_marked(asset)
    assert asset.no_real_person_attested


def test_the_attestation_is_refused_for_a_camera_photo_and_nothing_is_stored(client, personas, media_dir,
                                                                             signing):
    client.force_login(personas["bob"])
    response = client.post(reverse("admin:content_asset_upload"), {
        "creator": personas["a"].pk, "rating": "sfw", "origin": "upload", "no_real_person_attested": "on",
        "files": SimpleUploadedFile("photo.jpg", jpeg_bytes("photo"), content_type="image/jpeg")})
    assert "no_real_person_attested" in response.context["form"].errors
    assert not Asset.objects.exists()


def test_the_api_upload_marks_an_ai_made_image(client, personas, media_dir, signing):
    client.force_login(personas["bob"])
    upload = io.BytesIO(jpeg_bytes("api-ai"))
    upload.name = "ai.jpg"
    response = client.post("/api/v1/assets/", {"creator": personas["a"].pk, "file": upload, "origin": "ai",
                                               "no_real_person_attested": True})
    assert response.status_code == 201, response.content
    body = response.json()["asset"]
    assert body["origin"] == "ai" and body["provenance_present"] and body["disclosure_label"]
    assert_marked(Asset.objects.get(pk=body["id"]))


def test_an_upload_that_says_nothing_is_left_as_it_came(personas, media_dir, signing):
    data = jpeg_bytes("camera")
    asset = services.ingest(creator=personas["a"], source=io.BytesIO(data), filename="camera.jpg").asset
    assert asset.origin == Asset.Origin.UPLOAD and not asset.provenance_present and not asset.disclosure_label
    assert stored(asset) == data
