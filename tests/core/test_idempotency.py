"""`Idempotency-Key` on every POST of the API: retries are answered, never acted on twice.

The guard at the end walks every POST in the published schema, so an endpoint added later is covered
without anyone remembering to add it here.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from accounts import services as accounts_services
from accounts.models import ApiKey
from analytics.models import WebhookReceiver
from core import idempotency
from core.models import IdempotencyRecord
from scheduling.models import Post
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = [pytest.mark.postgres]

POSTS = "/api/v1/posts/"


@pytest.fixture
def keys(people):
    return {
        "owner": accounts_services.issue_api_key(owner=people["owner"], name="all", creators=[people["a"], people["b"]],
                                                 scope=ApiKey.Scope.WRITE).raw,
        "alice": accounts_services.issue_api_key(owner=people["alice"], name="a", creators=[people["a"]],
                                                 scope=ApiKey.Scope.WRITE).raw,
    }


def send(client, url, body, raw_key, idem=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    if idem is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idem
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_retried_post_gets_the_first_answer_and_creates_nothing(client, people, keys):
    body = {"creator": people["a"].pk, "caption": "New set tonight"}
    first = send(client, POSTS, body, keys["owner"], "k-1")
    again = send(client, POSTS, body, keys["owner"], "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Post.objects.filter(creator=people["a"]).count() == 1
    # Without a key, or with another key, the same body is a new post.
    assert send(client, POSTS, body, keys["owner"]).status_code == 201
    assert send(client, POSTS, body, keys["owner"], "k-2").status_code == 201
    assert Post.objects.filter(creator=people["a"]).count() == 3


@pytest.mark.django_db
def test_the_same_key_for_another_request_is_refused(client, people, keys):
    assert send(client, POSTS, {"creator": people["a"].pk, "caption": "One"}, keys["owner"], "k").status_code == 201
    response = send(client, POSTS, {"creator": people["a"].pk, "caption": "Two"}, keys["owner"], "k")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    other_path = send(client, "/api/v1/collections/", {"creator": people["a"].pk, "title": "Two"}, keys["owner"], "k")
    assert other_path.status_code == 422
    assert Post.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_their_principal(client, people, keys):
    body = {"creator": people["a"].pk, "caption": "Same key, two callers"}
    assert send(client, POSTS, body, keys["owner"], "shared").status_code == 201
    response = send(client, POSTS, body, keys["alice"], "shared")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Post.objects.count() == 2


@pytest.mark.django_db
def test_only_a_success_is_kept_so_a_fixed_request_may_reuse_the_key(client, people, keys):
    refused = send(client, POSTS, {"creator": people["a"].pk, "price_minor": 5}, keys["owner"], "fix-me")
    assert refused.status_code == 400
    fixed = send(client, POSTS, {"creator": people["a"].pk, "price_minor": 5, "currency": "EUR"}, keys["owner"],
                 "fix-me")
    assert fixed.status_code == 201


@pytest.mark.django_db
def test_an_answer_past_its_window_frees_the_key(client, people, keys, settings):
    body = {"creator": people["a"].pk, "caption": "Daily"}
    assert send(client, POSTS, body, keys["owner"], "daily").status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "Idempotent-Replayed" not in send(client, POSTS, body, keys["owner"], "daily")
    assert Post.objects.count() == 2
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency.purge_expired() == 1


@pytest.mark.django_db
def test_a_secret_shown_once_is_stored_encrypted_and_replayed(client, people, keys):
    account = PlatformAccountFactory(creator=people["a"], platform="fanvue", handle="luna")
    body = {"account_id": account.pk}
    first = send(client, "/api/v1/webhook-receivers/", body, keys["owner"], "receiver")
    assert first.status_code == 201, first.content
    secret = first.json()["secret"]
    assert secret not in IdempotencyRecord.objects.get().response_encrypted
    assert send(client, "/api/v1/webhook-receivers/", body, keys["owner"], "receiver").json()["secret"] == secret
    assert WebhookReceiver.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_ten_identical_concurrent_posts_create_one_row(people, keys):
    body = {"creator": people["a"].pk, "caption": "Ten times at once"}
    barrier = threading.Barrier(10)
    answers: list = [None] * 10

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            answers[i] = send(Client(raise_request_exception=False), POSTS, body, keys["owner"], "burst")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert all(a["Retry-After"] == "1" for a in answers if a.status_code == 409)
    assert Post.objects.filter(caption="Ten times at once").count() == 1
    replay = send(Client(), POSTS, body, keys["owner"], "burst")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"


def post_operations() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(path for path, item in schema["paths"].items() if "post" in item)


def test_every_post_in_the_schema_documents_the_header():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in schema["paths"].items():
        if "post" in item:
            names = [p["name"] for p in item["post"].get("parameters", []) if p["in"] == "header"]
            assert "Idempotency-Key" in names, path
            assert {"409", "422"} <= set(item["post"]["responses"]), path


@pytest.mark.django_db
@pytest.mark.parametrize("path", post_operations())
def test_every_post_in_the_schema_honours_the_header(client, people, keys, path):
    """Before any handler runs: a key in flight answers 409, a key used for another request 422, an
    answered key its stored answer. No valid body is needed, so every POST is checked the same way."""
    url = path.replace("{id}", "1")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {keys['owner']}"}
    principal = f"apikey:{ApiKey.objects.get(name='all').pk}"
    body = b"{}"
    print_ = idempotency.fingerprint("POST", url, "application/json", body)
    later = timezone.now() + timedelta(hours=1)
    IdempotencyRecord.objects.create(principal=principal, key="in-flight", method="POST", path=url,
                                     fingerprint=print_, expires_at=later)
    IdempotencyRecord.objects.create(principal=principal, key="other", method="POST", path=url,
                                     fingerprint="0" * 64, state="done", status_code=201, expires_at=later)
    IdempotencyRecord.objects.create(principal=principal, key="answered", method="POST", path=url,
                                     fingerprint=print_, state="done", status_code=201,
                                     content_type="application/json", expires_at=later,
                                     response_encrypted=idempotency._get_cipher()[0]('{"stored": true}'))

    def call(key: str):
        return client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **headers)

    in_flight = call("in-flight")
    assert in_flight.status_code == 409 and in_flight["Retry-After"] == "1", in_flight.content
    assert call("other").status_code == 422
    answered = call("answered")
    assert (answered.status_code, answered.json()) == (201, {"stored": True})
