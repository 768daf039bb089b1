"""Generation jobs on a real Celery worker and broker, with PostgreSQL: queued from the service,
run by the worker against a fake ComfyUI, landing as signed AI assets in review."""

from __future__ import annotations

import itertools
import time

import pytest
from celery.contrib.testing.worker import start_worker

from content import studio
from content.models import Asset, GenerationJob
from content.provenance import TRAINED_ALGORITHMIC_MEDIA, read_manifest
from tests.content.fakes_generation import FakeComfyUI
from tests.content.studio_fixtures import comfy_row
from tests.scheduling.fakes.base import serve

pytestmark = pytest.mark.usefixtures("personas")
J = GenerationJob.Status


@pytest.mark.worker
@pytest.mark.postgres  # SQLite's in-memory test database locks tables between threads
@pytest.mark.django_db(transaction=True)
def test_jobs_run_on_a_real_worker_one_at_a_time_per_backend(broker_app, people, media_dir, signing,
                                                             allow_loopback):
    broker_app.autodiscover_tasks(["content"], force=True)
    broker_app.set_current()
    with serve(FakeComfyUI()) as comfy:
        comfy.polls_before_done = 1
        comfy_row(comfy, max_concurrency=1)
        with start_worker(broker_app, pool="threads", concurrency=3, perform_ping_check=False,
                          shutdown_timeout=20):
            jobs = [studio.queue_image_job(creator=people["a"], prompt=f"portrait {n}") for n in range(3)]
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if not GenerationJob.objects.exclude(status__in=GenerationJob.FINISHED).exists():
                    break
                time.sleep(0.3)
            # Renditions are queued by each stored asset; wait for them too.
            while time.monotonic() < deadline and Asset.objects.exclude(processing="ready").exists():
                time.sleep(0.3)
        starts = sorted((j.started_at, j.finished_at) for j in GenerationJob.objects.all())
    for job in jobs:
        job.refresh_from_db()
        assert job.status == J.SUCCEEDED, job.error
    # The backend allows one job at a time: no two ran together.
    for (_, end), (start, _) in itertools.pairwise(starts):
        assert start >= end
    assets = Asset.objects.filter(generation_jobs__in=jobs)
    assert assets.count() == 3
    for asset in assets:
        assert asset.status == Asset.Status.IN_REVIEW and asset.origin == Asset.Origin.AI
        info = read_manifest(asset.file.storage.open(asset.file.name).read(), asset.mime)
        assert info.valid and info.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
