"""Every class of input that once made the API answer 500, answered with a 4xx in the one error envelope.

Datetimes are normalised to UTC at the boundary (offsets PostgreSQL refuses are still instants) and years
that overflow on conversion are refused; a tampered cursor, JSON nested too deep, NUL characters, integers
past their column, oversized bodies, rows deleted mid-request and unique rows created concurrently each
get a clear 4xx.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from content.models import PromptTemplate
from scheduling.models import Publication

pytestmark = [pytest.mark.postgres]

FAR_OFFSET = "2026-11-01T00:00:00-16:14"  # a valid instant; PostgreSQL refuses the offset as written


def owner(api_world) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_world.keys['owner']}"}


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()["error"]
    assert body["code"] and body["message"]
    return body


def post_json(client, url, data, headers, **extra):
    payload = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(url, payload, content_type="application/json", **headers, **extra)


def scheduled_publication(api_world) -> Publication:
    return Publication.objects.filter(status="scheduled", post__creator=api_world.creators[0]).first()


# --- Datetimes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "param"), [
    ("/api/v1/publications/", "scheduled_at_after"),
    ("/api/v1/transactions/", "occurred_at_after"),
    ("/api/v1/subscriptions/", "started_at_before"),
    ("/api/v1/generation-jobs/", "created_at_after"),
    ("/api/v1/compliance/takedowns/", "due_before"),
])
def test_filter_offsets_beyond_postgres_range_are_read_as_instants(client, api_world, url, param):
    response = client.get(url, {param: FAR_OFFSET}, **owner(api_world))
    assert response.status_code == 200, response.content[:500]


def test_calendar_offsets_beyond_postgres_range_are_read_as_instants(client, api_world):
    response = client.get("/api/v1/calendar/", {"start": "2026-11-01T00:00:00+16:30",
                                                "end": "2026-12-20T00:00:00-16:14"}, **owner(api_world))
    assert response.status_code == 200, response.content[:500]


def test_due_time_with_a_far_offset_is_stored_in_utc(client, api_world):
    pub = scheduled_publication(api_world)
    at = "2027-03-01T20:00:00+16:30"
    response = post_json(client, f"/api/v1/publications/{pub.pk}/reschedule/", {"at": at}, owner(api_world))
    assert response.status_code == 200, response.content[:500]
    pub.refresh_from_db()
    assert pub.scheduled_at == datetime.fromisoformat(at).astimezone(UTC)
    assert response.json()["scheduled_at"].endswith("Z")


def test_takedown_received_with_a_far_offset_is_stored_in_utc(client, api_world):
    received = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    text = received.astimezone(datetime.strptime("-1614", "%z").tzinfo).isoformat()
    response = post_json(client, "/api/v1/compliance/takedowns/", {
        "creator": api_world.creators[0].pk, "requester_name": "R", "requester_contact": "r@example.test",
        "signature": "R", "content_description": "A clip", "content_locations": "https://example.test/x",
        "non_consent_statement": "I did not consent.", "received_at": text}, owner(api_world))
    assert response.status_code == 201, response.content[:500]
    assert response.json()["received_at"] == received.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00", "9999-12-31T23:00:00-05:00",
                                "9999-12-31T23:30"])
def test_due_times_at_the_edges_of_the_calendar_are_refused(client, api_world, at):
    pub = scheduled_publication(api_world)
    body = error(post_json(client, f"/api/v1/publications/{pub.pk}/reschedule/", {"at": at}, owner(api_world)), 400)
    assert "at" in body["details"]


@pytest.mark.parametrize(("url", "params"), [
    ("/api/v1/publications/", {"scheduled_at_after": "0001-01-01T00:00:00+01:00"}),
    ("/api/v1/transactions/", {"occurred_at_before": "9999-12-31T23:59:59-01:00"}),
    ("/api/v1/calendar/", {"start": "9999-12-31", "end": "9999-12-31T23:00:00-05:00"}),
    ("/api/v1/calendar/", {"start": "0001-01-01T00:00:00+05:00", "end": "0001-01-02"}),
])
def test_datetime_filters_at_the_edges_of_the_calendar_are_refused(client, api_world, url, params):
    error(client.get(url, params, **owner(api_world)), 400)


# --- Cursors ------------------------------------------------------------------------------------


def cursor(**tokens: str) -> str:
    return base64.b64encode(urlencode(tokens).encode()).decode()


@pytest.mark.parametrize(("url", "position"), [
    ("/api/v1/fans/", "not-a-number"),
    ("/api/v1/posts/", "1e400"),
    ("/api/v1/transactions/", "yesterday"),
    ("/api/v1/transactions/", "2026-11-01 00:00:00-16:14"),
    ("/api/v1/publications/", "0001-01-01 00:00:00+05:00"),
    ("/api/v1/notifications/", "99999999999999999999999"),
])
def test_a_tampered_cursor_is_a_bad_request(client, api_world, url, position):
    response = client.get(url, {"cursor": cursor(o="0", r="0", p=position)}, **owner(api_world))
    if response.status_code == 200:  # an instant out of PostgreSQL's spelling, read in UTC
        return
    body = error(response, 400)
    assert "cursor" in body["details"]


@pytest.mark.parametrize("value", ["%%%", "AAAA", base64.b64encode(b"o=-5&p=1").decode()])
def test_an_undecodable_cursor_is_a_bad_request_not_a_missing_page(client, api_world, value):
    body = error(client.get("/api/v1/posts/", {"cursor": value}, **owner(api_world)), 400)
    assert "cursor" in body["details"]


# --- Bodies -------------------------------------------------------------------------------------


def test_json_nested_a_thousand_levels_is_refused(client, api_world):
    body = '{"creator": ' + "[" * 1000 + "]" * 1000 + "}"
    error(post_json(client, "/api/v1/posts/", body, owner(api_world)), 400)


def test_json_nested_past_the_parser_limit_is_refused_even_when_python_could_read_it(client, api_world):
    options: dict = {}
    for _ in range(60):
        options = {"a": options}
    account = api_world.creators[0].platform_accounts.first()
    response = client.patch(f"/api/v1/platform-accounts/{account.pk}/", json.dumps({"options": options}),
                            content_type="application/json", **owner(api_world))
    assert "nested" in error(response, 400)["message"]


@pytest.mark.parametrize(("method", "url", "field"), [
    ("patch", "platform-accounts", "options"),
    ("post", "posts", "caption"),
    ("post", "generation-jobs", "variables"),
])
def test_nul_characters_in_json_are_refused(client, api_world, method, url, field):
    creator = api_world.creators[0]
    if method == "patch":
        account = creator.platform_accounts.first()
        response = client.patch(f"/api/v1/{url}/{account.pk}/", json.dumps({field: {"subreddit": "a\u0000b"}}),
                                content_type="application/json", **owner(api_world))
    else:
        value = {"place": "a\u0000b"} if field == "variables" else "a\u0000b"
        response = post_json(client, f"/api/v1/{url}/", {"creator": creator.pk, field: value}, owner(api_world))
    error(response, 400)


def test_a_nul_key_in_json_is_refused(client, api_world):
    account = api_world.creators[0].platform_accounts.first()
    response = client.patch(f"/api/v1/platform-accounts/{account.pk}/", '{"options": {"a\\u0000": 1}}',
                            content_type="application/json", **owner(api_world))
    error(response, 400)


@pytest.mark.parametrize("price", [2**31, 2**63, -1])
def test_prices_past_their_column_are_refused(client, api_world, price):
    creator = api_world.creators[0]
    body = error(post_json(client, "/api/v1/posts/", {"creator": creator.pk, "price_minor": price, "currency": "EUR"},
                           owner(api_world)), 400)
    assert "price_minor" in body["details"]
    post = creator.posts.first()
    response = client.patch(f"/api/v1/posts/{post.pk}/", json.dumps({"price_minor": price, "currency": "EUR"}),
                            content_type="application/json", **owner(api_world))
    assert "price_minor" in error(response, 400)["details"]


@pytest.mark.parametrize(("field", "value"), [("width", 2**31), ("count", 2**40), ("steps", 2**63)])
def test_studio_sizes_past_their_column_are_refused(client, api_world, field, value):
    response = post_json(client, "/api/v1/prompt-templates/", {
        "creator": api_world.creators[0].pk, "name": "Huge", "prompt": "A beach", field: value}, owner(api_world))
    assert field in error(response, 400)["details"]


def test_an_oversized_body_answers_413_in_the_api_format(client, api_world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = {"creator": api_world.creators[0].pk, "caption": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    err = error(post_json(client, "/api/v1/posts/", body, owner(api_world)), 413)
    assert err["code"] == "too_large"


# --- Rows that change under a request -----------------------------------------------------------


def wait_for_lock_waiter(timeout: float = 10.0) -> None:
    """Until another session of this database waits on a lock (the request has reached the row)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            if cur.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("no request ever waited on the row")


def in_thread(fn, *args):
    """Run `fn` in a thread with its own database connection; returns (thread, result list)."""
    out: list = []

    def run() -> None:
        try:
            out.append(fn(*args))
        except BaseException as exc:
            out.append(exc)
            raise
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def hold_then(step, started: threading.Event, release: threading.Event) -> None:
    """In one transaction: do `step`, say so, wait for the word, commit."""
    from django.db import transaction

    with transaction.atomic():
        step()
        started.set()
        assert release.wait(20)


@pytest.mark.django_db(transaction=True)
def test_a_row_deleted_while_the_request_waits_for_it_is_a_404(api_world):
    pub = scheduled_publication(api_world)
    started, release = threading.Event(), threading.Event()

    def delete() -> None:
        list(Publication.objects.select_for_update().filter(pk=pub.pk))
        Publication.objects.filter(pk=pub.pk).delete()

    holder, _ = in_thread(hold_then, delete, started, release)
    assert started.wait(10)
    request, answers = in_thread(lambda: Client().post(f"/api/v1/publications/{pub.pk}/cancel/", **owner(api_world)))
    wait_for_lock_waiter()
    release.set()
    holder.join(10)
    request.join(10)
    error(answers[0], 404)


@pytest.mark.django_db(transaction=True)
def test_a_prompt_template_name_taken_concurrently_is_a_409(api_world):
    creator = api_world.creators[0]
    started, release = threading.Event(), threading.Event()
    holder, _ = in_thread(hold_then, lambda: PromptTemplate.objects.create(creator=creator, name="Sunset",
                                                                         prompt="A sunset"), started, release)
    assert started.wait(10)
    request, answers = in_thread(lambda: post_json(Client(), "/api/v1/prompt-templates/", {
        "creator": creator.pk, "name": "Sunset", "prompt": "Another sunset"}, owner(api_world)))
    wait_for_lock_waiter()
    release.set()
    holder.join(10)
    request.join(10)
    body = error(answers[0], 409)
    assert body["code"] == "conflict"
    assert PromptTemplate.objects.filter(creator=creator, name="Sunset").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_webhook_receiver_opened_concurrently_is_a_409(api_world):
    from analytics import ingest
    from scheduling.models import PlatformAccount

    account = PlatformAccount.objects.filter(creator=api_world.creators[0], platform="x").first()
    started, release = threading.Event(), threading.Event()
    holder, _ = in_thread(hold_then, lambda: ingest.create_receiver(account, secret="whsec-first-0123456789"),
                          started, release)
    assert started.wait(10)
    request, answers = in_thread(lambda: post_json(Client(), "/api/v1/webhook-receivers/",
                                                   {"account_id": account.pk}, owner(api_world)))
    wait_for_lock_waiter()
    release.set()
    holder.join(10)
    request.join(10)
    error(answers[0], 409)
