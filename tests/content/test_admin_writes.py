"""Content admin forms write through content.services: the rules the services keep hold on the forms too.

The attacks: the asset form saved its performers straight into the table, so someone who reaches
two creators could name a performer of one as depicted in the other's asset (and the publish gate
would then check the wrong person's consent); the collection inline rewrote items without an audit
event.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import AuditEvent
from content.models import Asset, CollectionItem
from tests.compliance.factories import PerformerFactory, use_private_storage
from tests.content.factories import AssetFactory, CollectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sides(people, media_dir, settings, tmp_path):
    """alice manages A and B; a performer on record for each; an asset of A."""
    use_private_storage(settings, tmp_path)
    account_services.add_membership(user=people["alice"], creator=people["b"], role="manager")
    mine = PerformerFactory(legal_name="Amelie Durand", creators=[people["a"]])
    theirs = PerformerFactory(legal_name="Bianca Rossi", creators=[people["b"]])
    asset = AssetFactory(creator=people["a"], uploaded_by=people["bob"], title="Beach set")
    return {**people, "mine": mine, "theirs": theirs, "asset": asset}


def asset_form(asset: Asset, **changes) -> dict:
    data = {"title": asset.title, "rating": asset.rating, "notes": "", "production_date": "",
            "disclosure_label": "", "performers": [], "tags": []}
    data.update(changes)
    return data


def test_an_asset_cannot_name_another_creators_performer(client, two_sides):
    client.force_login(two_sides["alice"])
    url = reverse("admin:content_asset_change", args=[two_sides["asset"].pk])
    response = client.post(url, asset_form(two_sides["asset"], performers=[two_sides["theirs"].pk]))
    assert response.status_code == 200  # the refusal is shown on the form
    assert "not on record for this creator" in response.content.decode()
    assert not two_sides["asset"].performers.exists()
    assert not AuditEvent.objects.filter(action="asset.updated").exists()


def test_an_asset_edit_is_saved_and_audited_by_the_service(client, two_sides):
    client.force_login(two_sides["alice"])
    url = reverse("admin:content_asset_change", args=[two_sides["asset"].pk])
    response = client.post(url, asset_form(two_sides["asset"], title="Beach set, day two",
                                           performers=[two_sides["mine"].pk]))
    assert response.status_code == 302
    asset = Asset.objects.get(pk=two_sides["asset"].pk)
    assert asset.title == "Beach set, day two" and list(asset.performers.all()) == [two_sides["mine"]]
    event = AuditEvent.objects.get(action="asset.updated", object_id=str(asset.pk))
    assert event.changes == {"fields": ["performers", "title"]} and event.actor_id == two_sides["alice"].pk


def test_collection_items_are_reordered_swapped_and_removed_through_the_service(client, people, media_dir):
    a1, a2, a3, a4 = (AssetFactory(creator=people["a"], title=f"A{n}") for n in range(1, 5))
    folder = CollectionFactory(creator=people["a"], title="Folder")
    first = CollectionItem.objects.create(collection=folder, asset=a1, position=1)
    second = CollectionItem.objects.create(collection=folder, asset=a2, position=2)
    third = CollectionItem.objects.create(collection=folder, asset=a3, position=3)
    client.force_login(people["alice"])
    data = {"creator": people["a"].pk, "kind": "folder", "title": "Folder", "description": "", "cover": "",
            "price": "", "currency": "", "items-TOTAL_FORMS": "3", "items-INITIAL_FORMS": "3",
            "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000",
            "items-0-id": first.pk, "items-0-collection": folder.pk, "items-0-position": "5", "items-0-asset": a1.pk,
            "items-1-id": second.pk, "items-1-collection": folder.pk, "items-1-position": "2",
            "items-1-asset": a4.pk,
            "items-2-id": third.pk, "items-2-collection": folder.pk, "items-2-position": "3", "items-2-asset": a3.pk,
            "items-2-DELETE": "on"}
    response = client.post(reverse("admin:content_collection_change", args=[folder.pk]), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    held = dict(CollectionItem.objects.filter(collection=folder).values_list("asset_id", "position"))
    assert held == {a1.pk: 5, a4.pk: 2}
    actions = list(AuditEvent.objects.filter(object_type="content.collection", object_id=str(folder.pk))
                   .values_list("action", flat=True))
    assert "collection.items_changed" in actions and "collection.assets_added" in actions
