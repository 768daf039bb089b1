"""The creator hub: tenancy (404 out of reach), sections per role, consent states and the onboarding checklist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Creator
from compliance import services as compliance
from scheduling import services as scheduling
from scheduling.models import PlatformAccount, Post
from tests.compliance.factories import ConsentFactory, PerformerFactory, VerificationFactory
from tests.factories import CreatorFactory
from tests.scheduling.factories import PlatformAccountFactory, approved_publication


def hub_url(creator: Creator) -> str:
    return f"/admin/creators/{creator.pk}/hub/"


def page(client: Any, user: Any, creator: Creator) -> str:
    client.force_login(user)
    response = client.get(hub_url(creator))
    assert response.status_code == 200
    return response.content.decode()


def step(body: str, key: str) -> str:
    """'yes' or 'no' for one checklist step."""
    marker = f'data-testid="step-{key}" data-done="'
    at = body.index(marker) + len(marker)
    return body[at:at + 3].rstrip('"')


@pytest.mark.django_db
def test_hub_is_404_out_of_reach(team, client):
    a = team["a"]
    client.force_login(team["charlie"])  # manager of B only
    assert client.get(hub_url(a)).status_code == 404
    assert client.get("/admin/creators/999999/hub/").status_code == 404
    client.logout()
    assert client.get(hub_url(a)).status_code == 302  # to the login page


@pytest.mark.django_db
def test_new_creator_has_everything_missing(team, client):
    body = page(client, team["owner"], team["a"])
    assert [step(body, k) for k in ("identity", "consent", "accounts", "first_post")] == ["no"] * 4
    assert "No performer is linked to this creator yet." in body
    assert 'data-testid="fix-identity" href="/admin/compliance/performer/add/"' not in body  # attribute order
    assert 'href="/admin/compliance/performer/add/" data-testid="fix-identity"' in body
    assert f'href="/admin/scheduling/platformaccount/add/?creator={team["a"].pk}" data-testid="fix-accounts"' in body
    assert f'href="/admin/scheduling/post/add/?creator={team["a"].pk}" data-testid="fix-first_post"' in body


@pytest.mark.django_db
def test_fix_links_only_for_roles_that_may_fix(team, client):
    body = page(client, team["alice"], team["a"])  # a manager may not add performers
    assert step(body, "identity") == "no"
    assert 'data-testid="fix-identity"' not in body
    assert "A compliance officer does this" in body
    assert 'data-testid="fix-accounts"' in body  # but may add accounts


@pytest.mark.django_db
def test_ai_persona_needs_no_identity_or_consent(team, client):
    persona = CreatorFactory(stage_name="Synth", kind=Creator.Kind.AI_PERSONA)
    body = page(client, team["owner"], persona)
    assert step(body, "identity") == "yes" and step(body, "consent") == "yes"


@pytest.mark.django_db
def test_unverified_performer_without_consent(team, client):
    performer = PerformerFactory(legal_name="Jeanne Exemple", creators=[team["a"]],
                                 other_names=[("Luna Star", "stage")])
    body = page(client, team["oscar_a"], team["a"])  # compliance officer: may fix both, sees the legal name
    assert step(body, "identity") == "no" and step(body, "consent") == "no"
    add_check, add_consent = "/admin/compliance/identityverification/add/", "/admin/compliance/consentrecord/add/"
    assert f'href="{add_check}?performer={performer.pk}" data-testid="fix-identity"' in body
    assert f'href="{add_consent}?performer={performer.pk}" data-testid="fix-consent"' in body
    assert "Jeanne Exemple" in body
    manager = page(client, team["alice"], team["a"])
    assert "Luna Star" in manager and "Jeanne" not in manager  # legal names are not the manager's to see


@pytest.mark.django_db
def test_consent_states_and_a_revoked_consent_is_missing(team, client, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None}}}
    performer = PerformerFactory(legal_name="Jeanne Exemple", creators=[team["a"]])
    VerificationFactory(performer=performer, actor=team["owner"])
    now = timezone.now()
    ConsentFactory(performer=performer, signed_at=now - timedelta(days=400), valid_until=now - timedelta(days=10))
    live = ConsentFactory(performer=performer, platforms=("fanvue",), max_rating="suggestive")
    body = page(client, team["owner"], team["a"])
    assert step(body, "identity") == "yes" and step(body, "consent") == "yes"
    assert "Expired" in body and "Valid" in body and "fanvue, up to suggestive" in body

    compliance.revoke_consent(live, reason="withdrawn", actor=team["owner"])
    body = page(client, team["owner"], team["a"])
    assert step(body, "consent") == "no"
    assert "Revoked" in body and "No valid consent for Jeanne Exemple." in body


@pytest.mark.django_db
def test_accounts_step(team, client):
    a = team["a"]
    account = PlatformAccountFactory(creator=a, handle="alpha_x", state=PlatformAccount.State.NEEDS_REAUTH)
    body = page(client, team["alice"], a)
    assert step(body, "accounts") == "no" and "Needs re-authorisation" in body
    assert f'href="/admin/scheduling/platformaccount/{account.pk}/change/" data-testid="fix-accounts"' in body
    PlatformAccountFactory(creator=a, handle="alpha_fv")
    assert step(page(client, team["alice"], a), "accounts") == "yes"


@pytest.mark.django_db
def test_first_post_step_and_publication_counts(world, client):
    a = world.creator
    body = page(client, world.alice, a)
    assert step(body, "first_post") == "no" and "Posts exist, none scheduled yet." in body
    pub = approved_publication(world.post, world.fanvue)
    outcome = scheduling.schedule(pub, at=timezone.now() + timedelta(days=3))
    assert outcome.verdict.passed, outcome.verdict.reasons
    body = page(client, world.alice, a)
    assert [step(body, k) for k in ("identity", "consent", "accounts", "first_post")] == ["yes"] * 4
    assert 'data-testid="pub-status-scheduled"' in body
    assert f"?creator={a.pk}&amp;status__exact=scheduled" in body
    assert f'/admin/scheduling/publication/calendar/?creator={a.pk}' in body
    assert f'/admin/analytics/dailyrollup/dashboard/?creator={a.pk}' in body


@pytest.mark.django_db
def test_sections_follow_the_role(world, client, team):
    a = world.creator
    chatter = page(client, team["chloe"], a)
    for section in ("hub-accounts", "hub-posts", "hub-performers", "hub-calendar"):
        assert f'data-testid="{section}"' not in chatter
    assert 'data-testid="hub-checklist"' in chatter
    analyst = page(client, team["ana"], a)
    assert 'data-testid="hub-posts"' in analyst and 'data-testid="hub-performers"' not in analyst


@pytest.mark.django_db
def test_creator_pages_link_to_the_hub(team, client):
    client.force_login(team["alice"])
    a = team["a"]
    assert hub_url(a) in client.get("/admin/accounts/creator/").content.decode()
    assert hub_url(a) in client.get(f"/admin/accounts/creator/{a.pk}/change/").content.decode()
    assert Post.objects.count() == 0
