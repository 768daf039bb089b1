"""The 2257 record and the data-subject export list every depiction: each asset showing the
performer, its production date, and every URL where it went out — through a platform's API or
uploaded by hand from a manual export — with the date. Built end to end through the scheduling
services, so the record reads what publishing really wrote."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from compliance import records
from compliance.models import IdentityVerification, Performer
from content.models import Asset, Collection, CollectionItem
from scheduling import services
from scheduling.connectors import _load
from scheduling.connectors.base import PublishResult
from scheduling.connectors.noop import NoopConnector
from scheduling.depictions import depictions_of
from scheduling.manual import mark_exported_published
from scheduling.models import PlatformAccount, Post, Publication
from tests.compliance.factories import make_officer
from tests.scheduling.factories import PublicationFactory, approved_post, approved_publication
from tests.scheduling.fixtures import ManualWorld

S = Publication.Status
FANVUE_URL = "https://www.fanvue.com/luna/post/8812"
ONLYFANS_URL = "https://onlyfans.com/123456/luna_of"


class FanvueAnswersWithUrl(NoopConnector):
    """Fanvue accepts the post and answers with its id and public URL."""

    def publish(self, request):
        return PublishResult(external_id="fv-8812", url=FANVUE_URL)


def publish_now(pub: Publication) -> str:
    outcome = services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    assert outcome.verdict.passed, outcome.verdict.reasons
    assert services.claim_due_publications() == [pub.pk]
    return services.publish_publication(pub.pk)


@dataclass(frozen=True)
class TwoDepictions(ManualWorld):
    first: Asset
    second: Asset
    fanvue_pub: Publication
    onlyfans_pub: Publication
    oscar: User


@pytest.fixture
def two_depictions(manual_world, settings) -> TwoDepictions:
    """Two assets of one performer: a set published on Fanvue by the API, and a Valentine set
    exported for OnlyFans, uploaded by hand and marked uploaded with the URL the person pasted."""
    settings.SCHEDULING_CONNECTORS = {**settings.SCHEDULING_CONNECTORS,
                                      "fanvue": f"{__name__}.FanvueAnswersWithUrl"}
    _load.cache_clear()
    w = manual_world
    first = w.asset  # produced 2026-01-05
    Asset.objects.filter(pk=first.pk).update(title="Red dress set")
    fanvue_pub = approved_publication(w.post, w.fanvue)
    assert publish_now(fanvue_pub) == S.PUBLISHED

    second = Asset.objects.create(creator=w.creator, file="assets/x.jpg", kind="image", mime="image/jpeg",
                                  sha256="b" * 64, size_bytes=10, rating="explicit", status=Asset.Status.APPROVED,
                                  production_date=date(2026, 2, 14), title="Valentine set",
                                  original_name="valentine.jpg")
    second.performers.add(w.performer)
    post = approved_post(w.creator, second, caption="Valentine set")
    onlyfans_pub = approved_publication(post, w.manual)
    assert publish_now(onlyfans_pub) == S.EXPORTED
    assert depictions_of(w.performer.pk, None)[1]["publications"] == []  # exported, not yet online
    mark_exported_published(onlyfans_pub, ONLYFANS_URL, actor=w.alice)
    fanvue_pub.refresh_from_db()
    onlyfans_pub.refresh_from_db()
    oscar = make_officer("oscar", w.creator)
    return w.extended(TwoDepictions, first=first, second=second, fanvue_pub=fanvue_pub, onlyfans_pub=onlyfans_pub,
                      oscar=oscar)


def check_both_depictions(found: list[dict], w: TwoDepictions) -> None:
    assert [d["asset_id"] for d in found] == [w.first.pk, w.second.pk]  # oldest production first
    first, second = found
    assert first["production_date"] == "2026-01-05" and first["title"] == "Red dress set"
    assert first["sha256"] == "a" * 64 and first["creator"] == w.creator.stage_name
    assert first["publications"] == [{
        "publication_id": w.fanvue_pub.pk, "post_id": w.post.pk, "platform": "fanvue", "account": "luna",
        "account_id": w.fanvue.pk, "method": "platform API", "url": FANVUE_URL, "external_id": "fv-8812",
        "published_at": w.fanvue_pub.published_at.isoformat(), "removed_at": None, "status": "published"}]
    assert second["production_date"] == "2026-02-14" and second["file"] == "valentine.jpg"
    [uploaded] = second["publications"]
    assert uploaded["platform"] == "onlyfans" and uploaded["account"] == "luna_of"
    assert uploaded["method"] == "manual upload" and uploaded["url"] == ONLYFANS_URL
    # The date a person marked it uploaded.
    assert uploaded["published_at"] == w.onlyfans_pub.published_at.isoformat()


@pytest.mark.django_db
def test_2257_record_lists_a_fanvue_post_and_a_hand_uploaded_onlyfans_post(two_depictions):
    w = two_depictions
    record = records.record_2257(w.performer, actor=w.oscar)
    check_both_depictions(record["depictions"], w)
    event = AuditEvent.objects.get(action="performer.record_exported")
    assert event.changes["depictions"] == 2


@pytest.mark.django_db
def test_2257_downloads_list_both_depictions_with_dates_and_urls(client, two_depictions):
    w = two_depictions
    client.force_login(w.oscar)
    response = client.get(reverse("admin:compliance_performer_record_2257_json", args=[w.performer.pk]))
    assert response.status_code == 200
    check_both_depictions(json.loads(response.content)["depictions"], w)
    body = client.get(reverse("admin:compliance_performer_record_2257_print", args=[w.performer.pk])
                      ).content.decode()
    for text in (FANVUE_URL, ONLYFANS_URL, "2026-01-05", "2026-02-14", "Red dress set", "Valentine set",
                 "onlyfans", "@luna_of", "manual upload", w.onlyfans_pub.published_at.isoformat(), "b" * 64):
        assert text in body, text


@pytest.mark.django_db
def test_data_subject_export_includes_assets_and_publications(two_depictions):
    w = two_depictions
    data = records.export_performer_data(w.performer, actor=w.oscar)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        payload = json.loads(archive.read("performer.json"))
    check_both_depictions(payload["depictions"], w)
    assert payload["scope"]["complete"] is True


@pytest.mark.django_db
def test_depictions_under_another_creator_stay_out_of_reach_and_the_export_says_so(two_depictions):
    w = two_depictions
    elsewhere = Asset.objects.create(creator=w.creator_b, file="assets/y.jpg", kind="image", mime="image/jpeg",
                                     sha256="c" * 64, size_bytes=10, production_date=date(2025, 12, 1))
    elsewhere.performers.add(w.performer)
    shown = records.record_2257(w.performer, actor=w.oscar)["depictions"]
    assert elsewhere.pk not in {d["asset_id"] for d in shown}
    with zipfile.ZipFile(io.BytesIO(records.export_performer_data(w.performer, actor=w.oscar))) as archive:
        assert json.loads(archive.read("performer.json"))["scope"]["complete"] is False
    everything = records.record_2257(w.performer, actor=w.owner)["depictions"]
    assert [d["asset_id"] for d in everything] == [elsewhere.pk, w.first.pk, w.second.pk]


@pytest.mark.django_db
def test_erasure_keeps_every_name_and_the_record_still_lists_the_depictions(two_depictions,
                                                                            django_capture_on_commit_callbacks):
    w = two_depictions
    performer = w.performer
    for name, kind in [("Luna Lake", "stage"), ("Lulu", "alias"), ("Jeanne Martin", "former_legal")]:
        performer.names.create(name=name, kind=kind)
    Performer.objects.filter(pk=performer.pk).update(email="jeanne@mail.test", phone="+33 6 11", notes="Call after 6.")
    with django_capture_on_commit_callbacks(execute=True):
        result = records.erase_performer(performer, actor=w.oscar, reason="DSR-2026-101")
    assert result["records_held"] is True
    performer.refresh_from_db()
    assert (performer.email, performer.phone, performer.notes) == ("", "", "")
    assert performer.legal_name == "Jeanne Exemple" and performer.date_of_birth == date(1996, 4, 12)
    assert {"Luna Lake", "Lulu", "Jeanne Martin"} <= set(performer.names.values_list("name", flat=True))
    assert "names" not in result["removed"]
    assert any("depictions" in item["what"] for item in result["kept"])
    record = records.record_2257(performer, actor=w.oscar)
    check_both_depictions(record["depictions"], w)
    assert {"Luna Lake", "Lulu", "Jeanne Martin"} <= set(record["other_names"])


@pytest.mark.django_db
def test_published_depictions_alone_oblige_the_record(two_depictions, django_capture_on_commit_callbacks):
    """No approved identity check on file, yet the performer appeared in published material: the
    record is kept (legal name, date of birth, names) instead of being erased with the rest."""
    w = two_depictions
    performer = w.performer
    IdentityVerification.objects.filter(performer=performer).update(result=IdentityVerification.Result.REJECTED)
    performer.names.create(name="Lulu", kind="alias")
    assert records.records_held(performer) is True
    with django_capture_on_commit_callbacks(execute=True):
        result = records.erase_performer(performer, actor=w.oscar, reason="DSR-2026-102")
    performer.refresh_from_db()
    assert result["records_held"] is True
    assert performer.legal_name == "Jeanne Exemple" and performer.names.filter(name="Lulu").exists()


@pytest.mark.django_db
def test_an_asset_sold_in_a_pack_lists_the_pack_publications(two_depictions):
    w = two_depictions
    pack = Collection.objects.create(creator=w.creator, kind="pack", title="Winter pack", price_minor=999,
                                     currency="EUR")
    CollectionItem.objects.create(collection=pack, asset=w.second)
    post = Post.objects.create(creator=w.creator, caption="Winter pack", collection=pack)
    x = PlatformAccount.objects.get(creator=w.creator, platform="x")
    at = timezone.now() - timedelta(hours=1)
    sold = PublicationFactory(post=post, account=x, status=S.PUBLISHED, published_at=at,
                              external_url="https://x.com/luna_x/status/1")
    second = depictions_of(w.performer.pk, None)[1]
    assert [p["publication_id"] for p in second["publications"]] == [sold.pk, w.onlyfans_pub.pk]  # by date


@pytest.mark.django_db
def test_a_removed_publication_stays_on_the_record_with_its_dates(two_depictions):
    w = two_depictions
    removed_at = timezone.now()
    Publication.objects.filter(pk=w.fanvue_pub.pk).update(status=S.REMOVED, removed_at=removed_at)
    [pub] = depictions_of(w.performer.pk, None)[0]["publications"]
    assert pub["status"] == "removed" and pub["url"] == FANVUE_URL and pub["removed_at"] == removed_at.isoformat()
