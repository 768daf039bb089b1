"""Connecting Fanvue and X accounts from the admin (authorization code + PKCE), and the token
refresh job: fresh tokens stored encrypted, transient failures never disconnect, refused grants
ask for a reconnect, and one worker at a time per account."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from scheduling import oauth, services, tasks
from scheduling.connectors import _load
from scheduling.models import PlatformAccount
from tests.locks import held_elsewhere
from tests.scheduling.factories import PlatformAccountFactory
from tests.scheduling.fakes.base import Reply, serve
from tests.scheduling.fakes.fanvue import CLIENT_ID, CLIENT_SECRET, FakeFanvue
from tests.scheduling.fakes.x import challenge_of

CALLBACK = "admin:scheduling_platformaccount_oauth_callback"


@pytest.fixture
def fv(settings, people):
    settings.ATELIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.SCHEDULING_CONNECTORS = {}
    _load.cache_clear()
    with serve(FakeFanvue()) as fake:
        settings.FANVUE_API_URL = fake.url
        settings.FANVUE_AUTH_URL = "https://auth.fanvue.example/oauth2/auth"
        settings.FANVUE_TOKEN_URL = f"{fake.url}/oauth2/token"
        settings.FANVUE_CLIENT_ID, settings.FANVUE_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
        settings.FANVUE_REDIRECT_URI = ""
        settings.X_CLIENT_ID, settings.X_CLIENT_SECRET = "x-client", "x-secret"
        yield fake


def fanvue_account(people, handle="luna") -> PlatformAccount:
    return PlatformAccountFactory(creator=people["a"], platform="fanvue", handle=handle)


def start(client, account) -> dict[str, str]:
    response = client.get(reverse("admin:scheduling_platformaccount_oauth_connect", args=[account.pk]))
    assert response.status_code == 302, response.content
    query = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
    return {**query, "location": response["Location"]}


def connected(people, *, expires_in=timedelta(minutes=5), refresh="fv-refresh-1", handle="luna") -> PlatformAccount:
    account = fanvue_account(people, handle)
    services.store_credentials(account, {"access_token": "fv-access-1", "refresh_token": refresh},
                               expires_at=timezone.now() + expires_in, scopes="openid offline_access")
    return account


# --- Connect flow --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_connect_redirects_with_state_and_s256_challenge(client, fv, people, settings):
    account = fanvue_account(people)
    client.force_login(people["alice"])
    query = start(client, account)
    assert query["location"].startswith(settings.FANVUE_AUTH_URL + "?")
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http://testserver" + reverse(CALLBACK)
    assert "offline_access" in query["scope"].split()
    pending = client.session[oauth.SESSION_KEY][query["state"]]
    assert pending["account"] == account.pk
    assert query["code_challenge"] == challenge_of(pending["verifier"])
    assert 43 <= len(pending["verifier"]) <= 128 and pending["verifier"] not in query["location"]
    # Each attempt gets its own state and verifier.
    again = start(client, account)
    assert again["state"] != query["state"] and again["code_challenge"] != query["code_challenge"]


@pytest.mark.django_db
def test_x_connect_asks_for_offline_access(client, fv, people, settings):
    account = PlatformAccountFactory(creator=people["a"], platform="x", handle="luna_x")
    client.force_login(people["alice"])
    query = start(client, account)
    assert query["location"].startswith(settings.X_AUTH_URL + "?")
    assert query["code_challenge_method"] == "S256"
    assert {"tweet.write", "media.write", "offline.access"} <= set(query["scope"].split())


@pytest.mark.django_db
def test_connect_is_tenant_scoped(client, fv, people):
    account = fanvue_account(people)
    client.force_login(people["charlie"])
    response = client.get(reverse("admin:scheduling_platformaccount_oauth_connect", args=[account.pk]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_callback_with_wrong_or_missing_state_is_refused(client, fv, people):
    account = fanvue_account(people)
    client.force_login(people["alice"])
    query = start(client, account)
    fv.issue_code("code-1", query["code_challenge"], query["redirect_uri"])
    assert client.get(reverse(CALLBACK), {"code": "code-1", "state": "forged"}).status_code == 400
    assert client.get(reverse(CALLBACK), {"code": "code-1"}).status_code == 400
    account.refresh_from_db()
    assert account.credentials_encrypted == ""
    assert not fv.calls("POST", r"/oauth2/token")


@pytest.mark.django_db
def test_state_issued_for_another_account_is_refused(rf, fv, people):
    first, second = fanvue_account(people), fanvue_account(people, "luna_vip")
    request = rf.get("/")
    request.session, request.user = {}, people["alice"]
    location = oauth.authorize_url(first, request)
    state = parse_qs(urlsplit(location).query)["state"][0]
    with pytest.raises(oauth.OAuthError):
        oauth.complete(second, "code-1", state, request.session, actor=people["alice"])
    assert state not in request.session[oauth.SESSION_KEY]  # consumed: no second try with it
    assert AuditEvent.objects.filter(action="platform_account.oauth_refused", object_id=str(second.pk)).exists()


@pytest.mark.django_db
def test_callback_stores_encrypted_tokens_and_audits(client, fv, people):
    account = fanvue_account(people)
    client.force_login(people["alice"])
    query = start(client, account)
    fv.issue_code("code-1", query["code_challenge"], query["redirect_uri"])
    response = client.get(reverse(CALLBACK), {"code": "code-1", "state": query["state"]})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:scheduling_platformaccount_change", args=[account.pk])

    grant = fv.calls("POST", r"/oauth2/token")[0].form()
    assert grant["grant_type"] == "authorization_code" and grant["code_verifier"]
    account.refresh_from_db()
    assert account.credentials_encrypted and "fv-access" not in account.credentials_encrypted
    assert "fv-refresh" not in account.credentials_encrypted
    stored = services.read_credentials(account, purpose="test")
    assert stored["access_token"].startswith("fv-access-") and stored["refresh_token"].startswith("fv-refresh-")
    assert account.state == PlatformAccount.State.CONNECTED
    assert timedelta(minutes=55) < account.token_expires_at - timezone.now() <= timedelta(hours=1)
    assert "write:post" in account.scopes
    actions = set(AuditEvent.objects.filter(object_id=str(account.pk)).values_list("action", flat=True))
    assert {"platform_account.oauth_started", "platform_account.credentials_stored",
            "platform_account.connected"} <= actions
    connected_event = AuditEvent.objects.get(action="platform_account.connected", object_id=str(account.pk))
    assert connected_event.actor_id == people["alice"].pk and "fv-access" not in str(connected_event.changes)
    # The callback URL works once.
    assert client.get(reverse(CALLBACK), {"code": "code-1", "state": query["state"]}).status_code == 400


@pytest.mark.django_db
def test_declined_consent_says_so_and_stores_nothing(client, fv, people):
    account = fanvue_account(people)
    client.force_login(people["alice"])
    query = start(client, account)
    response = client.get(reverse(CALLBACK), {"error": "access_denied", "state": query["state"],
                                              "error_description": "The user denied the request"}, follow=True)
    assert "denied" in response.content.decode()
    account.refresh_from_db()
    assert account.credentials_encrypted == ""
    assert query["state"] not in client.session[oauth.SESSION_KEY]


@pytest.mark.django_db
def test_refused_code_exchange_is_shown(client, fv, people):
    account = fanvue_account(people)
    client.force_login(people["alice"])
    query = start(client, account)
    fv.issue_code("code-1", "another-challenge", query["redirect_uri"])  # PKCE check will fail
    response = client.get(reverse(CALLBACK), {"code": "code-1", "state": query["state"]}, follow=True)
    assert "refused the sign-in" in response.content.decode()
    account.refresh_from_db()
    assert account.credentials_encrypted == ""


@pytest.mark.django_db
def test_change_page_shows_token_state_and_connect_button(client, fv, people):
    account = fanvue_account(people)
    client.force_login(people["alice"])
    page = client.get(reverse("admin:scheduling_platformaccount_change", args=[account.pk])).content.decode()
    assert 'data-testid="oauth-panel"' in page and "Not connected yet" in page
    assert reverse("admin:scheduling_platformaccount_oauth_connect", args=[account.pk]) in page
    services.store_credentials(account, {"access_token": "fv-access-1"}, expires_at=timezone.now() + timedelta(hours=1),
                               scopes="read:self write:post")
    page = client.get(reverse("admin:scheduling_platformaccount_change", args=[account.pk])).content.decode()
    assert "Reconnect" in page and "read:self write:post" in page and "fv-access-1" not in page


# --- Refresh -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_expiring_refreshes_only_due_accounts(fv, people):
    due = connected(people)
    later = connected(people, expires_in=timedelta(hours=3), handle="luna_later")
    assert oauth.refresh_expiring() == {"refreshed": 1}
    due.refresh_from_db()
    fresh = services.read_credentials(due, purpose="test")
    assert fresh["access_token"] != "fv-access-1" and fresh["refresh_token"] != "fv-refresh-1"
    assert due.token_expires_at > timezone.now() + timedelta(minutes=55)
    assert due.refresh_failures == 0 and due.refreshed_at is not None
    assert "fv-access" not in due.credentials_encrypted
    later.refresh_from_db()
    assert services.read_credentials(later, purpose="test")["access_token"] == "fv-access-1"
    assert oauth.refresh_expiring() == {}  # nothing is due any more
    assert len(fv.calls("POST", r"/oauth2/token")) == 1


@pytest.mark.django_db
def test_transient_refresh_failure_keeps_the_account_connected(fv, people):
    account = connected(people)
    fv.fail_next("POST", r"/oauth2/token", Reply(503, {"error": "temporarily_unavailable",
                                                       "error_description": "Try again later"}))
    assert oauth.refresh_expiring() == {"failed": 1}
    account.refresh_from_db()
    assert account.state == PlatformAccount.State.CONNECTED
    assert account.refresh_failures == 1 and "Try again later" in account.last_error
    assert services.read_credentials(account, purpose="test")["refresh_token"] == "fv-refresh-1"
    # The next run succeeds with the same (unspent) refresh token and clears the failure count.
    assert oauth.refresh_expiring() == {"refreshed": 1}
    account.refresh_from_db()
    assert account.refresh_failures == 0 and account.last_error == ""


@pytest.mark.django_db
def test_unreachable_token_endpoint_keeps_the_account_connected(fv, people, settings):
    account = connected(people)
    settings.FANVUE_TOKEN_URL = "http://127.0.0.1:9/oauth2/token"
    assert oauth.refresh_expiring() == {"failed": 1}
    account.refresh_from_db()
    assert account.state == PlatformAccount.State.CONNECTED and account.refresh_failures == 1


@pytest.mark.django_db
def test_invalid_grant_marks_the_account_for_reauthorisation(fv, people):
    account = connected(people, refresh="fv-refresh-spent")
    assert tasks.refresh_tokens() == {"needs_reauth": 1}
    account.refresh_from_db()
    assert account.state == PlatformAccount.State.NEEDS_REAUTH
    assert "invalid" in account.last_error
    assert AuditEvent.objects.filter(action="platform_account.needs_reauth", object_id=str(account.pk)).exists()
    assert oauth.refresh_expiring() == {}  # a disconnected account is left for a person


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_account_locked_by_another_worker_is_skipped(fv, people):
    account = connected(people)
    with held_elsewhere(lambda: PlatformAccount.objects.select_for_update().get(pk=account.pk), hold_for=10):
        assert oauth.refresh_account(account.pk) == "skipped"
    assert not fv.calls("POST", r"/oauth2/token")
    assert oauth.refresh_expiring() == {"refreshed": 1}
