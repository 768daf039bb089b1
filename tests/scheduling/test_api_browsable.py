"""The browsable API (text/html) on the post actions, as a signed-in manager: it renders, never a 5xx."""

from __future__ import annotations

import pytest

from tests.scheduling.test_api import approved_post

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html"}


def test_browsable_post_approve_renders_for_a_manager(client, api_world):
    post = approved_post(api_world)
    post.caption = "Changed since approval"
    post.save(update_fields=["caption"])
    client.force_login(api_world.alice)
    url = f"/api/v1/posts/{post.pk}/approve/"
    get = client.get(url, **HTML)
    assert get.status_code == 405 and get["Content-Type"].startswith("text/html")
    response = client.post(url, **HTML)
    assert response.status_code < 500, response.content[:2000]
    assert response["Content-Type"].startswith("text/html")
