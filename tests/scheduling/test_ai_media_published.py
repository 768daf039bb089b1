"""An AI persona's own AI-made image (uploaded, not generated here) goes through every step a person
takes — upload, review, post, approval, schedule — and reaches the platform through the gate carrying
its machine-readable provenance: the file the connector sends has a valid C2PA manifest and the IPTC
DigitalSourceType, and the platform is told the post is AI-made."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from content import services as content
from content.models import Asset
from content.provenance import TRAINED_ALGORITHMIC_MEDIA, read_digital_source_type, read_manifest
from scheduling import services
from scheduling.connectors import _load
from scheduling.connectors.base import PublishResult
from scheduling.connectors.noop import NoopConnector
from scheduling.models import Publication
from tests.content.factories import jpeg_bytes
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db


class RecordingConnector(NoopConnector):
    """Keeps the bytes of every file it is asked to upload, as a platform would receive them."""

    sent: list[tuple[bytes, str, bool]] = []
    idempotent_publish = False

    def publish(self, request):
        for item in request.media:
            type(self).sent.append((Path(item.path).read_bytes(), item.mime, request.ai_generated))
        return PublishResult(external_id=f"r-{request.idempotency_key}")


def test_an_uploaded_ai_image_is_published_through_the_gate_with_its_marking(
        personas, media_dir, signing, eager_celery, settings, django_capture_on_commit_callbacks):
    settings.SCHEDULING_CONNECTORS = {**settings.SCHEDULING_CONNECTORS,
                                      "fanvue": "tests.scheduling.test_ai_media_published.RecordingConnector"}
    _load.cache_clear()
    RecordingConnector.sent = []
    creator, editor, manager = personas["a"], personas["bob"], personas["alice"]
    with django_capture_on_commit_callbacks(execute=True):
        asset = content.ingest(creator=creator, source=io.BytesIO(jpeg_bytes("made-in-comfyui", (640, 480))),
                               filename="comfy.jpg", origin=Asset.Origin.AI, no_real_person_attested=True,
                               production_date=date(2026, 1, 5), actor=editor).asset
    asset.refresh_from_db()
    assert asset.processing == Asset.Processing.READY, asset.processing_error
    content.submit_for_review(asset, actor=editor)
    content.approve(asset, actor=manager)

    account = PlatformAccountFactory(creator=creator, platform="fanvue", handle="persona")
    post = services.create_post(creator_id=creator.pk, caption="New set from the studio", asset_ids=[asset.pk],
                                targets=[(account, "")], actor=editor)
    verdicts = services.approve_post(post, actor=manager)
    assert all(v.passed for v in verdicts.values()), {pk: v.codes for pk, v in verdicts.items()}
    [pub] = Publication.objects.filter(post=post)
    outcome = services.schedule(pub, at=timezone.now() + timedelta(seconds=1), actor=manager)
    assert outcome.verdict.passed, outcome.verdict.codes

    Publication.objects.filter(pk=pub.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    claimed = services.claim_due_publications()
    assert claimed == [pub.pk]
    assert services.publish_batch(claimed) == {pub.pk: Publication.Status.PUBLISHED}

    [(data, mime, ai_generated)] = RecordingConnector.sent
    assert ai_generated
    assert read_digital_source_type(data, mime) == TRAINED_ALGORITHMIC_MEDIA
    manifest = read_manifest(data, mime)
    assert manifest.valid and manifest.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
