"""Crafted media against the upload path: every file is refused with a 4xx that says why (with the
file's real numbers), or becomes an asset whose processing ends ready or failed with its reason;
never an HTTP 500, never an asset left processing.

The web request reads headers only; decoding runs in a child of the worker under a memory and a
time limit; a beat-driven reaper fails processing that outlived its limit.
"""

from __future__ import annotations

import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import ImageFile

from accounts import services as accounts_services
from accounts.models import AuditEvent
from content import services, tasks
from content.models import Asset
from content.pipeline.probe import Limits, MediaError, validate
from core.beat import BEAT_ENTRIES
from tests.content import media_samples as samples
from tests.content.factories import AssetFactory, stored_files

pytestmark = pytest.mark.django_db

ASSETS = "/api/v1/assets/"
MB = 1024 * 1024

# (builder, code, the uploader's message — with the file's own numbers)
REFUSED = {
    "gif-frame-bomb": (samples.gif_frame_bomb, "pixel_bomb",
                       "This image has 100 frames of 10000×10000 = 10.0 gigapixels; the limit is 0.5 gigapixels "
                       "across all frames."),
    "webp-frame-bomb": (samples.webp_frame_bomb, "pixel_bomb",
                        "This image has 100 frames of 10000×10000 = 10.0 gigapixels; the limit is 0.5 gigapixels "
                        "across all frames."),
    "tiff-hidden-page": (samples.tiff_hidden_page, "pixel_bomb",
                         "Frame 2 of this 2-frame image is 13000×13000 = 169 megapixels; the limit is 120 "
                         "megapixels per frame. Resize it and upload again."),
    "mpo-hidden-frame": (samples.mpo_hidden_frame, "pixel_bomb",
                         "Frame 2 of this 2-frame image is 13000×13000 = 169 megapixels; the limit is 120 "
                         "megapixels per frame. Resize it and upload again."),
    "id3-then-video": (samples.id3_then_video, "type_mismatch",
                       "This file starts like MP3 audio but holds a 12000×12000 video (nut). Export it again in "
                       "one format and upload that."),
    "truncated-jpeg": (samples.truncated_jpeg, "corrupt",
                       "This image is damaged or incomplete (it may have been cut off during upload)."),
}


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("crafted")
    return {name: make(directory) for name, (make, _, _) in REFUSED.items()}


@pytest.fixture
def key_a(people) -> str:
    return accounts_services.issue_api_key(owner=people["owner"], name="dam", creators=[people["a"]],
                                           scope="write").raw


def api_upload(client, key: str, creator, path: Path, *, name: str | None = None,
               content_type: str = "application/octet-stream"):
    upload = SimpleUploadedFile(name or path.name, path.read_bytes(), content_type=content_type)
    return client.post(ASSETS, {"creator": creator.pk, "file": upload}, HTTP_AUTHORIZATION=f"Bearer {key}")


def admin_upload(client, user, creator, path: Path, *, name: str | None = None):
    client.force_login(user)
    upload = SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="application/octet-stream")
    response = client.post(reverse("admin:content_asset_upload"),
                           {"creator": creator.pk, "rating": "sfw", "files": [upload]})
    assert response.status_code == 200
    [outcome] = response.context["outcomes"]
    return outcome


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if anything in the web path decodes pixels."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"{self.format} pixels were decoded in the upload request")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- Refused in the request, with the real numbers ---------------------------------------------------


@pytest.mark.parametrize("name", list(REFUSED))
def test_crafted_file_is_refused_from_its_headers(crafted, name, no_decoding):
    _, code, message = REFUSED[name]
    with pytest.raises(MediaError) as caught:
        validate(crafted[name])
    assert (caught.value.code, caught.value.message) == (code, message)


@pytest.mark.parametrize("name", list(REFUSED))
def test_crafted_file_gets_a_400_from_the_api_and_nothing_is_kept(client, people, key_a, media_dir, crafted,
                                                                   name):
    response = api_upload(client, key_a, people["a"], crafted[name], name="holiday.mp3", content_type="audio/mpeg")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["file"] == [REFUSED[name][2]]
    assert not Asset.objects.exists() and stored_files(media_dir) == set()


@pytest.mark.parametrize("name", list(REFUSED))
def test_crafted_file_is_refused_in_the_admin_upload(client, people, media_dir, crafted, name):
    outcome = admin_upload(client, people["bob"], people["a"], crafted[name])
    assert (outcome.state, outcome.message) == ("refused", REFUSED[name][2])
    assert not Asset.objects.exists()


def test_frame_limit_counts_frames_without_decoding_them(tmp_path, no_decoding):
    bomb = samples.gif_frame_bomb(tmp_path, width=10, height=10, frames=1500)
    with pytest.raises(MediaError) as caught:
        validate(bomb)
    assert caught.value.message == "This image has more than 1,000 frames; the limit is 1,000."
    small = samples.gif_frame_bomb(tmp_path, width=10, height=10, frames=50)
    assert validate(small).frames == 50


def test_legitimate_images_validate_without_decoding(tmp_path, no_decoding):
    for path in (samples.jpeg_with_gps(tmp_path), samples.png_alpha(tmp_path),
                 samples.simple(tmp_path, "GIF", "anim.gif"), samples.simple(tmp_path, "WEBP", "a.webp"),
                 samples.simple(tmp_path, "TIFF", "a.tif")):
        info = validate(path)
        assert info.kind == "image" and info.width and info.height


def test_an_over_limit_image_names_both_sizes(tmp_path):
    path = samples.jpeg_with_gps(tmp_path)
    size = path.stat().st_size
    with pytest.raises(MediaError) as caught:
        validate(path, Limits(max_image_bytes=size - 1))
    assert caught.value.message == f"This image is {size:,} bytes; the limit is {size - 1:,} bytes."


def test_metadata_cannot_forge_the_stream_list(tmp_path):
    # A title tag holding what ffmpeg prints for a stream (and a duration) must not be read as one:
    # the first "stream" would otherwise stand in for the real, larger one.
    forged = "x\n  Duration: 00:00:00.50, start: 0\n  Stream #0:5: Video: h264, yuv420p, 8x8, 25 fps"
    clip = samples.video(tmp_path, extra=["-metadata", f"title={forged}"])
    info = validate(clip)
    assert (info.width, info.height) == (160, 120)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)


# --- Accepted and processed, never stuck -----------------------------------------------------------


@pytest.mark.parametrize("make", [samples.jpeg_orientation_inf, samples.png_exif_after_idat],
                         ids=["jpeg-exif-inf", "png-exif-after-idat"])
def test_orientation_of_infinity_is_ignored_and_the_asset_is_processed(client, people, key_a, media_dir, tmp_path,
                                                                     eager_celery, make,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_upload(client, key_a, people["a"], make(tmp_path))
    assert response.status_code == 201, response.content
    assert (response.json()["asset"]["width"], response.json()["asset"]["height"]) == (64, 48)
    asset = Asset.objects.get(pk=response.json()["asset"]["id"])
    assert asset.processing == Asset.Processing.READY, asset.processing_error
    assert {"thumb", "fanvue"} <= set(asset.renditions.values_list("preset", flat=True))


def test_orientation_of_infinity_through_the_admin_upload(client, people, media_dir, tmp_path, eager_celery,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = admin_upload(client, people["bob"], people["a"], samples.jpeg_orientation_inf(tmp_path))
    assert outcome.state == "uploaded"
    assert Asset.objects.get().processing == Asset.Processing.READY


def test_a_file_that_only_decoding_finds_broken_fails_with_its_reason(client, people, key_a, media_dir, tmp_path,
                                                                     eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_upload(client, key_a, people["a"], samples.png_bad_pixels(tmp_path))
    assert response.status_code == 201, response.content
    asset_id = response.json()["asset"]["id"]
    body = client.get(f"{ASSETS}{asset_id}/", HTTP_AUTHORIZATION=f"Bearer {key_a}").json()
    assert body["processing"] == "failed"
    assert body["processing_error"] == "This image is damaged or incomplete (it may have been cut off during upload)."
    client.force_login(people["alice"])
    feed = client.get(reverse("admin:content_asset_renditions", args=[asset_id])).json()
    assert feed["processing_error"] == body["processing_error"]


def test_reuploading_a_failed_asset_processes_it_again(client, people, key_a, media_dir, tmp_path, eager_celery,
                                                       django_capture_on_commit_callbacks):
    path = samples.jpeg_with_gps(tmp_path)
    with django_capture_on_commit_callbacks(execute=False):
        first = api_upload(client, key_a, people["a"], path)
    asset = Asset.objects.get(pk=first.json()["asset"]["id"])
    # As a worker that died with it would have left it: running, long ago.
    Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.RUNNING,
                                             processing_started_at=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        again = api_upload(client, key_a, people["a"], path)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert "being processed again" in again.json()["message"]
    asset.refresh_from_db()
    assert asset.processing == Asset.Processing.READY
    assert AuditEvent.objects.filter(action="asset.processing_requeued", object_id=str(asset.pk)).exists()


def test_rendering_over_the_memory_limit_fails_the_asset(people, media_dir, tmp_path, settings,
                                                         django_capture_on_commit_callbacks):
    # 10000×10000 declared (100 MP: within the header limits), so only decoding allocates.
    bomb = samples.png_header_bomb(tmp_path, 10_000, 10_000)
    with django_capture_on_commit_callbacks(execute=False):
        asset = services.ingest(creator=people["a"], source=bomb, filename="big.png").asset
    settings.CONTENT_RENDER_MEMORY_BYTES = 300 * MB
    services.process_asset(asset.pk)
    asset.refresh_from_db()
    assert asset.processing == Asset.Processing.FAILED
    assert "300 MB" in asset.processing_error and "memory" in asset.processing_error


def test_rendering_over_the_time_limit_fails_the_asset(people, media_dir, tmp_path, settings,
                                                       django_capture_on_commit_callbacks):
    clip = samples.video(tmp_path, seconds=2)
    with django_capture_on_commit_callbacks(execute=False):
        asset = services.ingest(creator=people["a"], source=clip, filename="clip.mp4").asset
    # Far below what starting the render child alone takes, so the deadline always strikes first.
    settings.CONTENT_PROCESSING_SECONDS = 0.01
    services.process_asset(asset.pk)
    asset.refresh_from_db()
    assert asset.processing == Asset.Processing.FAILED
    assert asset.processing_error.startswith("Processing took longer than ")
    assert asset.processing_error.endswith(", the limit, and was stopped.")
    assert not asset.renditions.exists()


def test_an_unexpected_error_fails_the_asset_instead_of_leaving_it_running(people, media_dir, monkeypatch):
    asset = AssetFactory(creator=people["a"])

    def explode(*args, **kwargs):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(services, "render_isolated", explode)
    services.process_asset(asset.pk)
    asset.refresh_from_db()
    assert asset.processing == Asset.Processing.FAILED
    assert "OverflowError" in asset.processing_error


# --- The reaper ------------------------------------------------------------------------------------


def test_the_reaper_fails_processing_that_outlived_its_limit(people, media_dir, settings):
    settings.CONTENT_PROCESSING_SECONDS = 600
    now = timezone.now()
    stalled = AssetFactory(creator=people["a"], processing=Asset.Processing.RUNNING,
                           processing_started_at=now - timedelta(seconds=600 + 301))
    legacy = AssetFactory(creator=people["a"], processing=Asset.Processing.RUNNING, processing_started_at=None)
    busy = AssetFactory(creator=people["a"], processing=Asset.Processing.RUNNING,
                        processing_started_at=now - timedelta(seconds=60))
    done = AssetFactory(creator=people["a"], processing=Asset.Processing.READY,
                        processing_started_at=now - timedelta(days=3))
    assert tasks.reap_stalled_processing() == 2
    for asset in (stalled, legacy, busy, done):
        asset.refresh_from_db()
    assert stalled.processing == legacy.processing == Asset.Processing.FAILED
    assert stalled.processing_error == ("Processing did not finish within 10 min, the limit; the worker may have "
                                        "stopped. Upload the file again to process it again.")
    assert busy.processing == Asset.Processing.RUNNING and done.processing == Asset.Processing.READY
    assert AuditEvent.objects.filter(action="asset.processing_reaped").count() == 2
    assert tasks.reap_stalled_processing() == 0


def test_the_reaper_runs_on_the_beat():
    assert any(e.task == "content.tasks.reap_stalled_processing" and e.every_seconds for e in BEAT_ENTRIES)


# --- The 200 MB image at the limit -------------------------------------------------------------------


def test_a_200_mb_image_at_the_limit_streams_through_ingest(people, media_dir, originals_dir, tmp_path, settings,
                                                            django_capture_on_commit_callbacks):
    limit = settings.CONTENT_LIMITS["max_image_bytes"]
    assert limit == 200 * MB
    big = samples.png_at_size(tmp_path, limit)
    assert limit - MB < big.stat().st_size <= limit
    # As Django's upload handler leaves it: a temporary file on disk.
    upload = TemporaryUploadedFile("big.png", "image/png", big.stat().st_size, None)
    with big.open("rb") as src:
        while chunk := src.read(8 * MB):
            upload.write(chunk)
    upload.flush()
    tracemalloc.start()
    try:
        with django_capture_on_commit_callbacks(execute=False):
            result = services.ingest(creator=people["a"], source=upload, filename="big.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload.close()
    assert result.created and result.asset.size_bytes == big.stat().st_size
    assert peak < 16 * MB  # the bytes were streamed and hashed in chunks, never read whole
    stored = originals_dir / result.asset.file.name
    assert stored.stat().st_size == big.stat().st_size


def test_just_over_the_limit_is_refused_with_both_sizes(client, people, key_a, media_dir, tmp_path, settings):
    settings.CONTENT_LIMITS = {**settings.CONTENT_LIMITS, "max_image_bytes": 2 * MB}
    big = samples.png_at_size(tmp_path, 2 * MB + 32 * 1024)
    assert 2 * MB < big.stat().st_size < 2 * MB + 32 * 1024
    response = api_upload(client, key_a, people["a"], big)
    assert response.status_code == 400
    size = big.stat().st_size
    assert response.json()["error"]["details"]["file"] == [
        f"This image is {size:,} bytes; the limit is {2 * MB:,} bytes."]


# --- Files whose name and content type lie -----------------------------------------------------------


def test_a_png_named_jpg_is_filed_as_png(client, people, key_a, media_dir, tmp_path):
    response = api_upload(client, key_a, people["a"], samples.simple(tmp_path, "PNG", "a.png"), name="photo.jpg",
                          content_type="image/jpeg")
    assert response.status_code == 201 and response.json()["asset"]["mime"] == "image/png"


def test_a_program_named_jpg_is_refused(client, people, key_a, media_dir, tmp_path):
    response = api_upload(client, key_a, people["a"], samples.renamed_exe(tmp_path), content_type="image/jpeg")
    assert response.status_code == 400
    assert "Windows program" in response.json()["error"]["details"]["file"][0]


def test_a_truncated_png_is_refused(client, people, key_a, media_dir, tmp_path):
    whole = tmp_path / "whole.png"
    samples.noise((64, 64)).save(whole, "PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:-40])
    response = api_upload(client, key_a, people["a"], cut)
    assert response.status_code == 400
    assert "cut off" in response.json()["error"]["details"]["file"][0]
