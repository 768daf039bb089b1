from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from scheduling import services
from scheduling.models import Publication
from tests.scheduling.factories import PublicationFactory, approved_publication

S = Publication.Status


@pytest.mark.django_db
def test_publication_admin_tenancy_and_block_reasons(client, world, django_capture_on_commit_callbacks):
    from compliance import services as compliance

    pub = approved_publication(world.post, world.fanvue)
    services.schedule(pub, at=timezone.now() + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(world.consent, reason="Withdrawn", actor=world.owner)
    client.force_login(world.alice)
    changelist = client.get(reverse("admin:scheduling_publication_changelist"))
    assert changelist.status_code == 200 and "New set tonight" in changelist.content.decode()
    page = client.get(reverse("admin:scheduling_publication_change", args=[pub.pk])).content.decode()
    assert "consent_revoked" in page  # the reason is visible to the manager
    client.force_login(world.charlie)
    assert client.get(reverse("admin:scheduling_publication_change", args=[pub.pk])).status_code == 404
    assert "New set tonight" not in client.get(reverse("admin:scheduling_publication_changelist")).content.decode()


@pytest.mark.django_db
def test_cancel_action_goes_through_the_service(client, world):
    pub = approved_publication(world.post, world.fanvue)
    client.force_login(world.alice)
    client.post(reverse("admin:scheduling_publication_changelist"),
                {"action": "cancel_selected", "_selected_action": [pub.pk]})
    pub.refresh_from_db()
    assert pub.status == S.CANCELLED


@pytest.mark.django_db
def test_a_person_resolves_unknown_outcomes_from_the_changelist(client, world):
    out, not_out = (PublicationFactory(post=world.post, account=world.x, status=S.UNKNOWN,
                                       scheduled_at=timezone.now()) for _ in range(2))
    client.force_login(world.alice)
    url = reverse("admin:scheduling_publication_changelist")
    client.post(url, {"action": "mark_uploaded", "_selected_action": [out.pk], "apply": "1",
                      "url": "https://x.com/luna_x/status/1"})
    client.post(url, {"action": "retry_unknown", "_selected_action": [not_out.pk]})
    out.refresh_from_db()
    not_out.refresh_from_db()
    assert out.status == S.PUBLISHED and out.external_url == "https://x.com/luna_x/status/1"
    assert not_out.status == S.SCHEDULED
    # Outside reach: nothing happens.
    other = PublicationFactory(post=world.post, account=world.x, status=S.UNKNOWN)
    client.force_login(world.charlie)
    client.post(url, {"action": "retry_unknown", "_selected_action": [other.pk]})
    other.refresh_from_db()
    assert other.status == S.UNKNOWN


@pytest.mark.django_db
def test_an_account_rating_can_only_be_stricter_than_the_platform(world):
    from django.core.exceptions import ValidationError

    from scheduling.models import PlatformAccount

    insta = PlatformAccount(state="connected",
                            creator=world.creator, platform="instagram", handle="luna_ig", max_rating="explicit")
    with pytest.raises(ValidationError) as refused:
        insta.full_clean()
    assert "max_rating" in refused.value.message_dict
    insta.max_rating = "sfw"
    insta.full_clean()
    stricter = PlatformAccount(state="connected",
                               creator=world.creator, platform="fanvue", handle="luna_sfw", max_rating="suggestive")
    stricter.full_clean()
