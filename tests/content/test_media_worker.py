"""Uploads processed by a real Celery worker and broker, with PostgreSQL: whatever the file does to
the decoder, every asset ends ready or failed with its reason, never processing."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from content import services
from content.models import Asset
from tests.content import media_samples as samples

MB = 1024 * 1024


@pytest.mark.worker
@pytest.mark.postgres  # SQLite's in-memory test database locks tables between threads
@pytest.mark.django_db(transaction=True)
def test_every_upload_ends_ready_or_failed_on_a_real_worker(broker_app, people, media_dir, tmp_path,
                                                            settings):
    broker_app.autodiscover_tasks(["content"], force=True)
    broker_app.set_current()
    settings.CONTENT_RENDER_MEMORY_BYTES = 400 * MB
    files = {
        "good": samples.jpeg_with_gps(tmp_path),
        "orientation-inf": samples.png_exif_after_idat(tmp_path),
        "bad-pixels": samples.png_bad_pixels(tmp_path),
        # 10000×10000 declared: within the header limits, over the render child's memory.
        "decode-bomb": samples.png_header_bomb(tmp_path, 10_000, 10_000),
    }
    with start_worker(broker_app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30):
        ids = {name: services.ingest(creator=people["a"], source=path, filename=path.name).asset.pk
               for name, path in files.items()}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and Asset.objects.filter(
                processing__in=[Asset.Processing.PENDING, Asset.Processing.RUNNING]).exists():
            time.sleep(0.3)
    outcome = {name: Asset.objects.values_list("processing", "processing_error").get(pk=pk)
               for name, pk in ids.items()}
    assert outcome["good"] == ("ready", "")
    assert outcome["orientation-inf"] == ("ready", "")
    assert outcome["bad-pixels"] == (
        "failed", "This image is damaged or incomplete (it may have been cut off during upload).")
    assert outcome["decode-bomb"][0] == "failed" and "400 MB" in outcome["decode-bomb"][1]
