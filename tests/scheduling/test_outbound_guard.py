"""Connectors take their hosts from settings only: an account's options (which a manager can write)
never name a host, so a platform password or token is only ever sent to the platform's configured
host. Account options are checked against a schema of allowed keys per platform when saved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import ApiKey
from scheduling import oauth, services
from scheduling.connectors import bluesky as bluesky_module
from scheduling.connectors.base import AccountRef
from scheduling.connectors.bluesky import BlueskyConnector
from scheduling.connectors.options import PLATFORM_OPTIONS, clean_options
from scheduling.models import Platform, PlatformAccount
from tests.conftest import LISTENER_BODY
from tests.scheduling.factories import PlatformAccountFactory
from tests.scheduling.fakes.base import serve
from tests.scheduling.fakes.bluesky import FakeBluesky

ACCOUNTS = "/api/v1/platform-accounts/"


@pytest.fixture
def pds(settings):
    bluesky_module._sessions.clear()
    with serve(FakeBluesky()) as fake:
        settings.BLUESKY_PDS_URL = fake.url
        yield fake
    bluesky_module._sessions.clear()


def test_the_connector_ignores_a_pds_named_in_options(pds, listener):
    """Before: `options.pds` won, and the app password went to whatever host a manager typed in."""
    ref = AccountRef(id=5, platform="bluesky", handle=FakeBluesky.HANDLE, external_id=FakeBluesky.DID,
                     options={"pds": listener.url}, credentials={"identifier": FakeBluesky.HANDLE,
                                                                 "app_password": FakeBluesky.PASSWORD})
    creds = BlueskyConnector().refresh(ref)
    assert creds["accessJwt"]
    [login] = pds.calls("POST", r"/xrpc/com\.atproto\.server\.createSession")
    assert login.json()["password"] == FakeBluesky.PASSWORD
    assert not listener.reached


@pytest.mark.django_db
def test_a_stored_pds_option_cannot_pull_the_password_at_refresh(people, pds, listener):
    """A row saved before options were checked still carries `pds`: the refresh task sends the password
    to BLUESKY_PDS_URL only, and nothing the other host could answer reaches last_error."""
    account = PlatformAccountFactory(creator=people["a"], platform="bluesky", handle=FakeBluesky.HANDLE,
                                     options={"pds": listener.url}, checked=False)
    services.store_credentials(account, {"identifier": FakeBluesky.HANDLE, "app_password": "wrong-password"},
                               expires_at=timezone.now() + timedelta(minutes=1))
    assert oauth.refresh_account(account.pk) == "needs_reauth"  # the real PDS refused the wrong password
    account.refresh_from_db()
    assert LISTENER_BODY.decode() not in account.last_error
    assert len(pds.calls("POST", r"/xrpc/com\.atproto\.server\.createSession")) == 1
    assert not listener.reached


@pytest.mark.django_db
@pytest.mark.parametrize(("platform", "options", "message"), [
    ("bluesky", {"pds": "http://127.0.0.1:8080"}, "BLUESKY_PDS_URL"),
    ("bluesky", {"langs": ["en"], "service": "https://evil.example"}, "service"),
    ("fanvue", {"api_url": "http://169.254.169.254/"}, "api_url"),
    ("fanvue", {"creator_uuid": "../../admin/users?x="}, "UUID"),
    ("fanvue", {"audience": "everyone"}, "audience"),
    ("x", {"base_url": "http://10.0.0.1/"}, "base_url"),
    ("reddit", {"subreddit": "pics", "link_url": "javascript:alert(1)"}, "link_url"),
    ("reddit", {"subreddit": "pics", "link_url": "gopher://127.0.0.1:6379/_INFO"}, "link_url"),
    ("reddit", {"subreddit": "r/bad name!"}, "subreddit"),
    ("reddit", {"spoiler": "sometimes"}, "spoiler"),
    ("telegram", {"chat_id": "@chan", "star_count": "lots"}, "star_count"),
    ("telegram", {"chat_id": "@chan", "star_count": 99999}, "star_count"),
    ("telegram", {"chat_id": "https://t.me/evil"}, "chat_id"),
    ("instagram", {"graph_url": "http://127.0.0.1/"}, "graph_url"),
    ("manual", {"export_url": "http://127.0.0.1/"}, "export_url"),
])
def test_account_options_outside_the_schema_are_refused(people, platform, options, message):
    account = PlatformAccount(state="connected", creator=people["a"], platform=platform, handle="h", options=options,
                              target_platform="onlyfans" if platform == "manual" else "")
    with pytest.raises(ValidationError) as refused:
        services.save_account(account)
    assert "options" in refused.value.message_dict
    assert message in " ".join(refused.value.message_dict["options"])
    assert not PlatformAccount.objects.exists()


@pytest.mark.django_db
def test_options_inside_the_schema_are_kept_and_normalised(people):
    account = services.save_account(PlatformAccount(state="connected",
        creator=people["a"], platform="reddit", handle="h",
        options={"subreddit": "/r/atelier_test", "spoiler": True, "flair_text": "OC", "title": "Hello",
                 "link_url": "https://example.com/set"}))
    assert account.options == {"subreddit": "/r/atelier_test", "spoiler": True, "flair_text": "OC",
                               "title": "Hello", "link_url": "https://example.com/set"}
    services.save_account(PlatformAccount(state="connected", creator=people["a"], platform="telegram", handle="t",
                                          options={"chat_id": -1001234567890, "paid_media": True,
                                                   "stars_per_unit": 50}))
    services.save_account(PlatformAccount(state="connected", creator=people["a"], platform="fanvue", handle="f",
                                          options={"creator_uuid": "5b1f0a3e-8c2d-4e6f-9a7b-0c1d2e3f4a5b",
                                                   "audience": "followers"}))
    services.save_account(PlatformAccount(state="connected", creator=people["a"], platform="bluesky", handle="b",
                                          options={"langs": ["en", "fr"], "suggestive_label": "nudity"}))
    services.save_account(PlatformAccount(state="connected", creator=people["a"], platform="x", handle="x", options={}))


def test_every_platform_has_a_schema_and_none_takes_a_host():
    assert set(PLATFORM_OPTIONS) == {p.value for p in Platform}
    for platform, schema in PLATFORM_OPTIONS.items():
        assert not {"pds", "url", "base_url", "api_url", "host", "endpoint"} & set(schema), platform
    assert clean_options("x", {}) == {}
    with pytest.raises(ValidationError, match="JSON object"):
        clean_options("x", ["not", "an", "object"])


@pytest.mark.django_db
def test_a_manager_cannot_point_an_account_at_another_host_through_the_api(client, people, listener):
    key = accounts_services.issue_api_key(owner=people["alice"], name="rw", creators=[people["a"]],
                                          scope=ApiKey.Scope.WRITE).raw
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    created = client.post(ACCOUNTS, {"creator": people["a"].pk, "platform": "bluesky", "handle": "luna.bsky.social",
                                     "options": {"pds": listener.url}}, content_type="application/json", **headers)
    assert created.status_code == 400, created.content
    assert "BLUESKY_PDS_URL" in " ".join(created.json()["error"]["details"]["options"])
    created = client.post(ACCOUNTS, {"creator": people["a"].pk, "platform": "bluesky", "handle": "luna.bsky.social",
                                     "options": {"langs": "en"}}, content_type="application/json", **headers)
    assert created.status_code == 201, created.content
    patched = client.patch(f"{ACCOUNTS}{created.json()['id']}/", {"options": {"pds": listener.url}},
                           content_type="application/json", **headers)
    assert patched.status_code == 400
    assert PlatformAccount.objects.get().options == {"langs": "en"}
    assert not listener.reached


@pytest.mark.django_db
def test_the_admin_form_shows_the_refusal(client, people, listener):
    account = services.save_account(PlatformAccount(state="connected",
                                                    creator=people["a"], platform="bluesky", handle="luna"))
    client.force_login(people["alice"])
    response = client.post(reverse("admin:scheduling_platformaccount_change", args=[account.pk]), {
        "creator": people["a"].pk, "platform": "bluesky", "target_platform": "", "handle": "luna", "external_id": "",
        "state": account.state, "max_rating": "", "options": f'{{"pds": "{listener.url}"}}',
        "queue_slots-TOTAL_FORMS": "0", "queue_slots-INITIAL_FORMS": "0", "queue_slots-MIN_NUM_FORMS": "0",
        "queue_slots-MAX_NUM_FORMS": "1000"})
    assert response.status_code == 200
    assert "BLUESKY_PDS_URL" in response.content.decode()
    account.refresh_from_db()
    assert account.options == {}
    assert not listener.reached
