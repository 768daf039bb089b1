"""Manual exports (OnlyFans, platforms without an API): a bundle a person can follow, the row
waiting as `exported`, and the URL pasted back making it `published`."""

from __future__ import annotations

import importlib
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from notifications.models import Notification
from scheduling import services
from scheduling.connectors import connector_for
from scheduling.connectors.base import AccountRef, MediaItem, PublishRequest
from scheduling.connectors.manual import ManualConnector
from scheduling.manual import mark_exported_published
from scheduling.models import Publication
from tests.scheduling.factories import approved_publication
from tests.scheduling.fixtures import IMAGE

S = Publication.Status


def exported_publication(w) -> Publication:
    pub = approved_publication(w.post, w.manual)
    outcome = services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    assert outcome.verdict.passed, outcome.verdict.reasons
    assert services.claim_due_publications() == [pub.pk]
    assert services.publish_publication(pub.pk) == S.EXPORTED
    pub.refresh_from_db()
    return pub


def test_manual_is_registered():
    assert isinstance(connector_for("manual"), ManualConnector)


@pytest.mark.django_db
def test_publish_writes_a_bundle_and_the_row_waits_as_exported(manual_world):
    pub = exported_publication(manual_world)
    assert pub.status == S.EXPORTED and pub.export_file.name.startswith("exports/")
    # In the private storage, never under the media folder a web server might serve.
    assert (manual_world.originals_dir / pub.export_file.name).exists()
    assert not (manual_world.media_dir / pub.export_file.name).exists()
    assert not list(manual_world.originals_dir.rglob("*.part"))
    with pub.export_file.open("rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as bundle:
        names = bundle.namelist()
        assert names == ["media/01-x.jpg", "caption.txt", "checklist.md"]
        assert bundle.read("media/01-x.jpg") == IMAGE
        assert bundle.read("caption.txt").decode() == "New set tonight\n"
        checklist = bundle.read("checklist.md").decode()
    assert "Target platform: onlyfans" in checklist and "@luna_of" in checklist
    assert "Rating: explicit" in checklist and "12.99 EUR" in checklist
    local = pub.scheduled_at.astimezone(manual_world.creator.tzinfo)
    assert f"{local:%Y-%m-%d %H:%M} Europe/Paris" in checklist
    assert "Upload then paste the URL back in Atelier" in checklist
    assert "AI disclosure" not in checklist  # nothing AI-made in this post
    notice = Notification.objects.get(kind="publication.exported")
    assert notice.creator_id == manual_world.creator.pk and notice.resolved_at is None


@pytest.mark.django_db
def test_checklist_carries_the_ai_disclosure(tmp_path, media_dir, originals_dir):
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG" + b"0" * 20)
    ref = AccountRef(id=0, platform="manual", handle="nova", external_id="", options={"target_platform": "fansly"},
                     credentials={})
    request = PublishRequest(idempotency_key="1f0e5c1a-0000-4000-8000-000000000000", account=ref, text="",
                             media=(MediaItem(path=str(image), mime="image/png", size=24),), rating="suggestive",
                             ai_generated=True, publish_at=datetime(2026, 12, 1, 18, 0, tzinfo=UTC).isoformat())
    connector = ManualConnector()
    assert connector.validate(request) == []
    result = connector.publish(request)
    assert result.exported and result.export_file.startswith("exports/")
    with zipfile.ZipFile(originals_dir / result.export_file) as bundle:
        checklist = bundle.read("checklist.md").decode()
    assert "Target platform: fansly" in checklist and "AI disclosure" in checklist
    assert "2026-12-01 18:00 UTC" in checklist and "free (no price)" in checklist
    assert connector.lookup(request) is None
    assert connector.unpublish(ref, "anything") is False


@pytest.mark.django_db
def test_mark_exported_published_moves_the_row_with_its_url(manual_world):
    pub = exported_publication(manual_world)
    for bad in ["", "not a url", "javascript:alert(1)", "http://onlyfans.com/123", "https://" + "a" * 600]:
        with pytest.raises(ValidationError):
            mark_exported_published(pub, bad, actor=manual_world.alice)
    mark_exported_published(pub, " https://onlyfans.com/123456/luna_of ", actor=manual_world.alice)
    pub.refresh_from_db()
    assert pub.status == S.PUBLISHED and pub.external_url == "https://onlyfans.com/123456/luna_of"
    assert pub.published_at is not None
    event = AuditEvent.objects.get(action="publication.published_manually")
    assert event.actor_id == manual_world.alice.pk and event.object_id == str(pub.pk)
    assert Notification.objects.get(kind="publication.exported").resolved_at is not None
    with pytest.raises(ValidationError):
        mark_exported_published(pub, "https://onlyfans.com/other", actor=manual_world.alice)


@pytest.mark.django_db
def test_admin_bundle_download_and_mark_uploaded(client, manual_world):
    pub = exported_publication(manual_world)
    bundle_url = reverse("admin:scheduling_publication_bundle", args=[pub.pk])
    mark_url = reverse("admin:scheduling_publication_mark_uploaded", args=[pub.pk])
    client.force_login(manual_world.charlie)
    assert client.get(bundle_url).status_code == 404
    assert client.post(mark_url, {"url": "https://onlyfans.com/1"}).status_code == 404
    client.force_login(manual_world.alice)
    page = client.get(reverse("admin:scheduling_publication_change", args=[pub.pk])).content.decode()
    assert bundle_url in page and mark_url in page
    response = client.get(bundle_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()[-1] == "checklist.md"
    assert AuditEvent.objects.filter(action="publication.bundle_downloaded").count() == 1
    assert client.get(f"/media/{pub.export_file.name}").status_code == 404  # only the admin view serves it
    assert "valid https" in client.post(mark_url, {"url": "ftp://x"}).content.decode()
    response = client.post(reverse("admin:scheduling_publication_changelist"), {
        "action": "mark_uploaded", "_selected_action": [pub.pk], "apply": "1",
        "url": "https://onlyfans.com/987/luna_of"})
    assert response.status_code == 302
    pub.refresh_from_db()
    assert pub.status == S.PUBLISHED and pub.external_url == "https://onlyfans.com/987/luna_of"


@pytest.mark.django_db
def test_migration_moves_existing_bundles_to_the_private_storage(manual_world):
    pub = exported_publication(manual_world)
    folder = Path(importlib.import_module("scheduling.migrations").__file__).parent
    module = next(p.stem for p in folder.glob("*_export_bundles_in_private_storage.py"))
    migration = importlib.import_module(f"scheduling.migrations.{module}")
    migration.to_default(django_apps, None)  # as bundles were stored before
    assert (manual_world.media_dir / pub.export_file.name).exists()
    migration.to_private(django_apps, None)
    assert (manual_world.originals_dir / pub.export_file.name).exists()
    assert not (manual_world.media_dir / pub.export_file.name).exists()
